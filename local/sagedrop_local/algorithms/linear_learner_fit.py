"""Linear learner's training of one model: the optimizers, scaling, example weights, early stopping and
the binary classifier's threshold calibration (linear-learner.html, ll_hyperparameters.html).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sagedrop_local.algorithms.common import Log, binary_scores
from sagedrop_local.algorithms.linear_learner_model import LinearModel, loss_and_gradient


@dataclass
class _Optimizer:
    kind: str
    lr: float
    values: Mapping[str, Any]
    state: dict[str, list[np.ndarray]] = field(default_factory=dict)
    steps: int = 0

    def step(self, params: list[np.ndarray], grads: list[np.ndarray], lr_mults: list[float]) -> None:
        self.steps += 1
        beta_1 = 0.9 if self.values["beta_1"] == "auto" else self.values["beta_1"]
        beta_2 = 0.999 if self.values["beta_2"] == "auto" else self.values["beta_2"]
        momentum = 0.9 if self.values["momentum"] == "auto" else self.values["momentum"]
        for index, (param, grad, mult) in enumerate(zip(params, grads, lr_mults, strict=True)):
            lr = self.lr * mult
            if self.kind == "adam":
                m, v = self.state.setdefault(f"adam{index}", [np.zeros_like(param), np.zeros_like(param)])
                m *= beta_1
                m += (1 - beta_1) * grad
                v *= beta_2
                v += (1 - beta_2) * grad * grad
                m_hat = m / (1 - beta_1**self.steps)
                v_hat = v / (1 - beta_2**self.steps)
                param -= lr * m_hat / (np.sqrt(v_hat) + 1e-8)
            elif self.kind == "rmsprop":
                (square,) = self.state.setdefault(f"rms{index}", [np.zeros_like(param)])
                square *= beta_2
                square += (1 - beta_2) * grad * grad
                param -= lr * grad / (np.sqrt(square) + 1e-8)
            else:
                (velocity,) = self.state.setdefault(f"sgd{index}", [np.zeros_like(param)])
                velocity *= momentum
                velocity -= lr * grad
                param += velocity


@dataclass
class ScaledData:
    """A channel as training sees it (scaled) and as metrics see it (raw)."""

    x: np.ndarray  # scaled features
    y: np.ndarray  # labels in training units (regressor: normalized)
    raw_x: np.ndarray
    raw_y: np.ndarray


def feature_scaler(x: np.ndarray, values: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) per feature from the first num_point_for_scaler rows (unbias_data, normalize_data)."""
    sample = x[: values["num_point_for_scaler"]]
    unbias = values["use_bias"] if values["unbias_data"] == "auto" else values["unbias_data"]
    normalize = values["normalize_data"] if values["normalize_data"] != "auto" else True
    mean = sample.mean(axis=0) if unbias else np.zeros(x.shape[1])
    scale = sample.std(axis=0) if normalize else np.ones(x.shape[1])
    scale = np.where(scale > 0, scale, 1.0)
    return mean, scale


def label_scaler(y: np.ndarray, values: Mapping[str, Any], log: Log) -> tuple[float, float]:
    """(mean, scale) of the regressor's label (unbias_label, normalize_label); (0, 1) for classifiers."""
    if values["predictor_type"] != "regressor":
        if values["normalize_label"] is True or values["unbias_label"] is True:
            log("normalize_label/unbias_label apply to the regressor only: ignored")
        return 0.0, 1.0
    sample = y[: values["num_point_for_scaler"]]
    unbias = values["use_bias"] if values["unbias_label"] == "auto" else values["unbias_label"]
    normalize = True if values["normalize_label"] == "auto" else values["normalize_label"]
    mean = float(sample.mean()) if unbias else 0.0
    scale = float(sample.std()) if normalize else 1.0
    return mean, (scale if scale > 0 else 1.0)


def _example_weights(y: np.ndarray, values: Mapping[str, Any]) -> np.ndarray:
    weights = np.ones_like(y, dtype=np.float64)
    predictor = values["predictor_type"]
    if predictor == "binary_classifier":
        mult = values["positive_example_weight_mult"]
        if mult == "balanced":
            positives = max(float(np.sum(y == 1)), 1.0)
            mult = float(np.sum(y == 0)) / positives
        elif mult == "auto":
            mult = 1.0
        weights[y == 1] = float(mult)
    elif predictor == "multiclass_classifier" and values["balance_multiclass_weights"]:
        classes = values["num_classes"]
        counts = np.bincount(y.astype(np.int64), minlength=classes).astype(np.float64)
        per_class = np.where(counts > 0, len(y) / (classes * np.maximum(counts, 1)), 0.0)
        weights = per_class[y.astype(np.int64)]
    return weights


def calibrate(scores: np.ndarray, labels: np.ndarray, values: Mapping[str, Any], default: float) -> tuple[float, float]:
    """(threshold, criterion value): the threshold on ``scores`` that best serves
    binary_classifier_model_selection_criteria, over every cut between distinct scores (sorted once)."""
    criterion = values["binary_classifier_model_selection_criteria"]
    if scores.size == 0:
        return default, 0.0
    order = np.argsort(-scores, kind="mergesort")
    ranked, truth = scores[order], labels[order].astype(np.float64)
    n = scores.size
    positives = float(truth.sum())
    # cut i predicts the i highest scores positive; only cuts between distinct scores are thresholds
    cuts = np.arange(n + 1)
    valid = np.ones(n + 1, dtype=bool)
    valid[1:n] = ranked[:-1] != ranked[1:]
    tp = np.concatenate(([0.0], np.cumsum(truth)))
    fp = cuts - tp
    tn = (n - positives) - fp
    precision = np.divide(tp, cuts, out=np.zeros(n + 1), where=cuts > 0)
    recall = tp / positives if positives else np.zeros(n + 1)
    b2 = values["f_beta"] ** 2
    denominator = b2 * precision + recall
    f_beta = np.divide((1 + b2) * precision * recall, denominator, out=np.zeros(n + 1), where=denominator > 0)
    accuracy = (tp + tn) / n
    if criterion == "loss_function":
        predicted = (scores > default).astype(np.int64)
        return default, binary_scores(labels, predicted, values["f_beta"])["accuracy"]
    if criterion == "accuracy":
        value = accuracy
    elif criterion == "f_beta":
        value = f_beta
    elif criterion == "precision_at_target_recall":
        value = np.where(recall >= values["target_recall"], precision, recall - 1.0)
    else:  # recall_at_target_precision
        value = np.where(precision >= values["target_precision"], recall, precision - 1.0)
    value = np.where(valid, value, -np.inf)
    best = int(np.argmax(value))
    if best == 0:
        threshold = float(ranked[0])
    elif best == n:
        threshold = float(ranked[-1]) - 1.0
    else:
        threshold = float((ranked[best - 1] + ranked[best]) / 2.0)
    return threshold, float(value[best])


def _selection_score(model: LinearModel, data: ScaledData, values: Mapping[str, Any]) -> float:
    """Higher is better: the model selection criterion (binary) or minus the objective loss."""
    if (
        model.predictor_type == "binary_classifier"
        and values["binary_classifier_model_selection_criteria"] != "loss_function"
    ):
        return calibrate(model.scores(data.raw_x), data.raw_y, values, model.threshold)[1]
    return -model.objective_loss(data.raw_x, data.raw_y)


@dataclass(frozen=True)
class _StepSettings:
    """The per-step hyperparameters with their ``auto`` values resolved (ll_hyperparameters.html)."""

    wd: float
    l1: float
    bias_lr: float
    bias_wd: float
    step_every: int
    factor: float
    minimum_lr: float

    @classmethod
    def of(cls, values: Mapping[str, Any], rows: int) -> _StepSettings:
        batches_per_epoch = max(1, math.ceil(rows / values["mini_batch_size"]))
        return cls(
            wd=0.0 if values["wd"] == "auto" else values["wd"],
            l1=0.0 if values["l1"] == "auto" else values["l1"],
            bias_lr=1.0 if values["bias_lr_mult"] == "auto" else values["bias_lr_mult"],
            bias_wd=0.0 if values["bias_wd_mult"] == "auto" else values["bias_wd_mult"],
            step_every=batches_per_epoch if values["lr_scheduler_step"] == "auto" else values["lr_scheduler_step"],
            factor=0.99 if values["lr_scheduler_factor"] == "auto" else values["lr_scheduler_factor"],
            minimum_lr=1e-5 if values["lr_scheduler_minimum_lr"] == "auto" else values["lr_scheduler_minimum_lr"],
        )


def _initial_model(template: LinearModel, values: Mapping[str, Any], rng: np.random.Generator) -> LinearModel:
    """``template`` with weights drawn by init_method (init_sigma/init_scale) and the bias at init_bias."""
    features, outputs = template.weights.shape
    if values["init_method"] == "normal":
        weights = rng.normal(0.0, values["init_sigma"], size=(features, outputs))
    else:
        weights = rng.uniform(-values["init_scale"], values["init_scale"], size=(features, outputs))
    bias = np.full(outputs, values["init_bias"] if values["use_bias"] else 0.0)
    return LinearModel(**{**template.__dict__, "weights": weights, "bias": bias})


def _minibatch_step(
    model: LinearModel,
    optimizer: _Optimizer,
    batch: tuple[np.ndarray, np.ndarray, np.ndarray],
    values: Mapping[str, Any],
    settings: _StepSettings,
) -> None:
    """One optimizer step on one minibatch (features, labels, example weights), then l1 and the scheduler."""
    x, y, w = batch
    z = x @ model.weights + model.bias
    _, grad_z = loss_and_gradient(model.loss, z, y, values)
    grad_z = grad_z * (w / max(w.sum(), 1e-12))[:, None]
    grad_w = x.T @ grad_z + settings.wd * model.weights
    params, grads, mults = [model.weights], [grad_w], [1.0]
    if values["use_bias"]:
        params.append(model.bias)
        grads.append(grad_z.sum(axis=0) + settings.wd * settings.bias_wd * model.bias)
        mults.append(settings.bias_lr)
    optimizer.step(params, grads, mults)
    if settings.l1 > 0:
        shrink = optimizer.lr * settings.l1
        model.weights[:] = np.sign(model.weights) * np.maximum(np.abs(model.weights) - shrink, 0.0)
    if values["use_lr_scheduler"] and optimizer.steps % settings.step_every == 0:
        optimizer.lr = max(optimizer.lr * settings.factor, settings.minimum_lr)


def train_one(
    train: ScaledData,
    selection: ScaledData,
    template: LinearModel,
    lr: float,
    seed: int,
    values: Mapping[str, Any],
    log: Log,
    tag: str,
) -> tuple[LinearModel, float]:
    """One model trained from ``template`` at learning rate ``lr``: the best epoch's model and its score."""
    rng = np.random.default_rng(seed)
    model = _initial_model(template, values, rng)
    optimizer = _Optimizer("adam" if values["optimizer"] == "auto" else values["optimizer"], lr, values)
    batch = values["mini_batch_size"]
    rows = train.x.shape[0]
    settings = _StepSettings.of(values, rows)
    example_weights = _example_weights(train.y, values)
    best_score, best_state, stale = -math.inf, (model.weights.copy(), model.bias.copy()), 0
    for epoch in range(values["epochs"]):
        order = rng.permutation(rows)
        for start in range(0, rows, batch):
            index = order[start : start + batch]
            minibatch = (train.x[index], train.y[index], example_weights[index])
            _minibatch_step(model, optimizer, minibatch, values, settings)
        score = _selection_score(model, selection, values)
        improved = best_score == -math.inf or score - best_score > values["early_stopping_tolerance"] * max(
            abs(best_score), 1e-12
        )
        if score > best_score:
            best_score, best_state = score, (model.weights.copy(), model.bias.copy())
        stale = 0 if improved else stale + 1
        if stale >= values["early_stopping_patience"]:
            log(f"{tag} early stopping after epoch {epoch + 1}: no improvement for {stale} epochs")
            break
    model.weights, model.bias = best_state
    log(
        f"{tag} (learning_rate {lr:g}): {epoch + 1} epoch(s), train objective_loss "
        f"{model.objective_loss(train.raw_x, train.raw_y):.6f}, selection score {best_score:.6f}"
    )
    return model, best_score
