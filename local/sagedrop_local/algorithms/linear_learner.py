"""Linear learner, written in numpy after the SageMaker developer guide (the real one is closed source).

What follows the documentation (linear-learner.html, ll_hyperparameters.html, linear-learner-tuning.html,
LL-in-formats.html):

* predictor types regressor, binary_classifier and multiclass_classifier; every documented loss
  (logistic, hinge_loss, softmax_loss, squared_loss, absolute_loss, eps_insensitive_squared_loss,
  eps_insensitive_absolute_loss, quantile_loss, huber_loss; ``auto`` picks logistic, softmax_loss
  or squared_loss);
* minibatch training for ``epochs`` passes of ``mini_batch_size`` rows with the adam (the ``auto``
  optimizer), sgd (momentum) or rmsprop optimizers, ``wd`` (L2) and ``l1`` (proximal) penalties,
  ``bias_lr_mult``/``bias_wd_mult``, ``use_bias``, the step learning-rate scheduler, the
  ``init_*`` parameters, ``positive_example_weight_mult`` and ``balance_multiclass_weights``;
* ``unbias_data``/``normalize_data`` (features centred/scaled with statistics from the first
  ``num_point_for_scaler`` rows) and ``unbias_label``/``normalize_label`` for the regressor;
* several models in parallel when ``learning_rate`` is ``auto`` (a small grid, or ``num_models``
  rates), the best one kept by the validation channel (the training loss without one), early
  stopping with ``early_stopping_patience``/``early_stopping_tolerance``, and for the binary
  classifier the decision threshold calibrated for ``binary_classifier_model_selection_criteria``
  (accuracy, f_beta, precision_at_target_recall, recall_at_target_precision, loss_function);
* metrics ``train:objective_loss`` and, for the validation and test channels, the documented
  ``<channel>:objective_loss``, ``binary_classification_accuracy``, ``binary_f_beta``,
  ``precision``, ``recall``, ``roc_auc_score``, ``multiclass_accuracy``,
  ``multiclass_top_k_accuracy``, ``macro_f_beta``, ``macro_precision``, ``macro_recall``, ``mse``
  and ``absolute_loss``;
* inference: ``linear_learner_serving`` (the documented request and response formats).

The artifact is one file named ``model_algo-1`` as in the real model.tar.gz, but it holds a numpy
``.npz`` archive, not the real MXNet parameter zip: a model trained here serves here only.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sagedrop.algorithms.linear_learner import LOSSES_BY_PREDICTOR, PREDICTOR_TYPES
from sagedrop_local.algorithms.common import (
    RECORDIO_PROTOBUF,
    DataError,
    Log,
    TrainResult,
    base_content_type,
    binary_scores,
    channel_files,
    client_error,
    content_type_parameters,
    is_auto,
    macro_scores,
    parse_bool,
    parse_float,
    parse_int,
    read_csv_files,
    read_recordio_files,
    relative_name,
    roc_auc,
)

MODEL_FILE = "model_algo-1"
FORMAT = "sagedrop-local linear-learner 1"
LOSSES = LOSSES_BY_PREDICTOR  # the documented losses per predictor_type (facts in the layer's module)
AUTO_LOSS = {"binary_classifier": "logistic", "multiclass_classifier": "softmax_loss", "regressor": "squared_loss"}
CRITERIA = ("accuracy", "f_beta", "precision_at_target_recall", "recall_at_target_precision", "loss_function")
AUTO_LEARNING_RATES = {"adam": (0.1, 0.03, 0.01), "rmsprop": (0.03, 0.01, 0.003), "sgd": (0.3, 0.1, 0.03)}
SEED = 0


def _bad_hyperparameter(detail: str) -> Exception:
    return client_error(f"Unable to initialize the algorithm. Failed to validate hyperparameters: {detail}")


# --------------------------------------------------------------------------------------------
# Hyperparameters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    kind: str  # int, float, bool, choice
    default: Any = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    auto: bool = False
    choices: tuple[str, ...] = ()

    def parse(self, name: str, raw: str) -> Any:
        text = str(raw).strip()
        if self.auto and is_auto(text):
            return "auto"
        try:
            if self.kind == "choice":
                if text not in self.choices:
                    raise ValueError(f"one of {', '.join(self.choices)}")
                return text
            if self.kind == "bool":
                return parse_bool(text)
            value: float = parse_int(text) if self.kind == "int" else parse_float(text)
        except ValueError:
            raise _bad_hyperparameter(f"{name}={raw!r} is not {self.expected()}") from None
        if (self.low is not None and (value < self.low or (self.low_open and value == self.low))) or (
            self.high is not None and (value > self.high or (self.high_open and value == self.high))
        ):
            raise _bad_hyperparameter(f"{name}={raw!r} is not {self.expected()}")
        return value

    def expected(self) -> str:
        if self.kind == "choice":
            text = "one of " + ", ".join(self.choices)
        elif self.kind == "bool":
            text = "true or false"
        else:
            text = "an integer" if self.kind == "int" else "a number"
            bounds = []
            if self.low is not None:
                bounds.append(f"{'>' if self.low_open else '>='} {self.low:g}")
            if self.high is not None:
                bounds.append(f"{'<' if self.high_open else '<='} {self.high:g}")
            text += (" " + " and ".join(bounds)) if bounds else ""
        return text + (' or "auto"' if self.auto else "")


def _int(default: Any, low: float = 1, high: float | None = None, auto: bool = False) -> _Spec:
    return _Spec("int", default, low, high, auto=auto)


def _float(default: Any, low: float | None = 0, low_open: bool = False, high: float | None = None, **kw: Any) -> _Spec:
    return _Spec("float", default, low, high, low_open=low_open, **kw)


# ll_hyperparameters.html: every name, its range and its default
SPECS: dict[str, _Spec] = {
    "predictor_type": _Spec("choice", None, choices=PREDICTOR_TYPES),
    "feature_dim": _int("auto", auto=True),
    "num_classes": _int(None, low=3, high=1_000_000),
    "accuracy_top_k": _int(3),
    "balance_multiclass_weights": _Spec("bool", False),
    "beta_1": _float(0.9, high=1, high_open=True, auto=True),
    "beta_2": _float(0.999, high=1, high_open=True, auto=True),
    "bias_lr_mult": _float("auto", low_open=True, auto=True),
    "bias_wd_mult": _float("auto", auto=True),
    "binary_classifier_model_selection_criteria": _Spec("choice", "accuracy", choices=CRITERIA),
    "early_stopping_patience": _int(3),
    "early_stopping_tolerance": _float(0.001, low_open=True),
    "epochs": _int(15),
    "f_beta": _float(1.0, low_open=True),
    "huber_delta": _float(1.0, low_open=True),
    "init_bias": _float(0.0, low=None),
    "init_method": _Spec("choice", "uniform", choices=("uniform", "normal")),
    "init_scale": _float(0.07, low_open=True),
    "init_sigma": _float(0.01, low_open=True),
    "l1": _float("auto", auto=True),
    "learning_rate": _float("auto", low_open=True, auto=True),
    "loss": _Spec("choice", "auto", choices=tuple(dict.fromkeys(x for v in LOSSES.values() for x in v))),
    "loss_insensitivity": _float(0.01, low_open=True),
    "lr_scheduler_factor": _float("auto", low_open=True, high=1, auto=True),
    "lr_scheduler_minimum_lr": _float("auto", low_open=True, auto=True),
    "lr_scheduler_step": _int("auto", auto=True),
    "margin": _float(1.0, low_open=True),
    "mini_batch_size": _int(1000),
    "momentum": _float("auto", high=1, high_open=True, auto=True),
    "normalize_data": _Spec("bool", True, auto=True),
    "normalize_label": _Spec("bool", "auto", auto=True),
    "num_calibration_samples": _int("auto", auto=True),
    "num_models": _int("auto", auto=True),
    "num_point_for_scaler": _int(10_000),
    "optimizer": _Spec("choice", "auto", choices=("auto", "sgd", "adam", "rmsprop")),
    "positive_example_weight_mult": _Spec("float", 1.0, 0, None, low_open=True),
    "quantile": _float(0.5, low_open=True, high=1, high_open=True),
    "target_precision": _float(0.8, low_open=True, high=1, high_open=True),
    "target_recall": _float(0.8, low_open=True, high=1, high_open=True),
    "unbias_data": _Spec("bool", "auto", auto=True),
    "unbias_label": _Spec("bool", "auto", auto=True),
    "use_bias": _Spec("bool", True),
    "use_lr_scheduler": _Spec("bool", True),
    "wd": _float("auto", auto=True),
}


def parse_hyperparameters(given: Mapping[str, str], log: Log) -> dict[str, Any]:
    """Typed values with the documented defaults; a missing, unknown or bad value is a ClientError."""
    values: dict[str, Any] = {}
    for name, raw in given.items():
        if name.startswith("_"):  # SageMaker-internal names (_tuning_objective_metric, _kvstore, ...)
            log(f"hyperparameter {name} is ignored locally")
            continue
        spec = SPECS.get(name)
        if spec is None:
            raise _bad_hyperparameter(f"Additional properties are not allowed ({name!r} was unexpected)")
        if name == "positive_example_weight_mult" and str(raw).strip().lower() in ("auto", "balanced"):
            values[name] = str(raw).strip().lower()
            continue
        values[name] = spec.parse(name, raw)
    if "predictor_type" not in values:
        raise _bad_hyperparameter("'predictor_type' is a required property")
    for name, spec in SPECS.items():
        values.setdefault(name, spec.default)
    predictor = values["predictor_type"]
    if predictor == "multiclass_classifier" and values["num_classes"] is None:
        raise _bad_hyperparameter("num_classes is required when predictor_type is multiclass_classifier")
    if predictor != "multiclass_classifier" and "num_classes" in given:
        raise _bad_hyperparameter(f"num_classes applies to predictor_type multiclass_classifier only, not {predictor}")
    if values["loss"] not in LOSSES[predictor]:
        raise _bad_hyperparameter(
            f"loss {values['loss']} is not valid for predictor_type {predictor}: "
            f"use one of {', '.join(LOSSES[predictor])}"
        )
    return values


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------

_CSV = "text/csv"


def _read_channel(channel: str, root: Path, content_type: str | None) -> tuple[np.ndarray, np.ndarray] | None:
    files = channel_files(root)
    if not files:
        return None
    base = base_content_type(content_type) or RECORDIO_PROTOBUF

    def name(path: Path) -> str:
        return relative_name(path, channel, root)

    requested = f"Requested content type is '{content_type or RECORDIO_PROTOBUF}'"
    try:
        if base == _CSV:
            label_size = content_type_parameters(content_type).get("label_size", "1")
            if label_size != "1":
                raise DataError(f"label_size={label_size}: linear learner reads one label column")
            matrix = read_csv_files(files, name)
            if matrix.size == 0:
                return None
            if np.isnan(matrix).any():
                row, column = np.argwhere(np.isnan(matrix))[0]
                raise DataError(
                    f"data row {row + 1}, column {column + 1} is empty: linear learner does not accept missing values"
                )
            if matrix.shape[1] < 2:
                raise DataError("each row needs the label first and at least one feature")
            return matrix[:, 1:], matrix[:, 0]
        if base == RECORDIO_PROTOBUF:
            from sagedrop.recordio import starts_with_magic

            with open(files[0], "rb") as handle:
                if not starts_with_magic(handle.read(4)):
                    hint = "" if content_type else " (the default when the channel has no ContentType)"
                    raise DataError(
                        f"{name(files[0])} is not RecordIO-protobuf{hint}; "
                        "for CSV set the channel's ContentType to text/csv"
                    )
            matrix, labels = read_recordio_files(files, name)
            if matrix.shape[0] == 0:
                return None
            return np.asarray(matrix.toarray(), dtype=np.float64), labels
    except DataError as exc:
        raise client_error(f"Unable to read data channel '{channel}'. {requested}. {exc}") from None
    raise client_error(
        f"Unable to read data channel '{channel}'. {requested}. "
        f"Linear learner reads text/csv and {RECORDIO_PROTOBUF} only."
    )


def _check_labels(labels: np.ndarray, values: Mapping[str, Any], channel: str) -> None:
    predictor = values["predictor_type"]
    bad: np.ndarray | None = None
    rule = ""
    if predictor == "binary_classifier":
        bad = ~np.isin(labels, (0.0, 1.0))
        rule = "must be 0 or 1 for predictor_type binary_classifier"
    elif predictor == "multiclass_classifier":
        classes = values["num_classes"]
        bad = (labels < 0) | (labels >= classes) | (labels != np.round(labels))
        rule = f"must be an integer from 0 to {classes - 1} (num_classes={classes}) for multiclass_classifier"
    elif not np.isfinite(labels).all():
        bad = ~np.isfinite(labels)
        rule = "must be a finite number"
    if bad is not None and bad.any():
        row = int(np.argmax(bad))
        raise client_error(f"Invalid label in channel '{channel}', data row {row + 1}: {labels[row]:g} {rule}")


# --------------------------------------------------------------------------------------------
# Losses: value per row and gradient with respect to the raw output z
# --------------------------------------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def loss_and_gradient(
    loss: str, z: np.ndarray, y: np.ndarray, values: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row loss and dLoss/dz (z: (n, k) raw outputs; y: (n,) labels in training units)."""
    if loss == "softmax_loss":
        p = _softmax(z)
        rows = np.arange(z.shape[0])
        picked = np.clip(p[rows, y.astype(np.int64)], 1e-15, 1.0)
        grad = p.copy()
        grad[rows, y.astype(np.int64)] -= 1.0
        return -np.log(picked), grad
    z1 = z[:, 0]
    if loss == "logistic":
        # log(1 + e^-z) for y=1, log(1 + e^z) for y=0, computed stably
        signed = np.where(y > 0.5, z1, -z1)
        value = np.logaddexp(0.0, -signed)
        grad = _sigmoid(z1) - y
    elif loss == "hinge_loss":
        sign = 2.0 * y - 1.0
        gap = values["margin"] - sign * z1
        value = np.maximum(gap, 0.0)
        grad = np.where(gap > 0, -sign, 0.0)
    else:
        r = z1 - y
        if loss == "squared_loss":
            value, grad = r * r, 2.0 * r
        elif loss == "absolute_loss":
            value, grad = np.abs(r), np.sign(r)
        elif loss == "eps_insensitive_squared_loss":
            excess = np.maximum(np.abs(r) - values["loss_insensitivity"], 0.0)
            value, grad = excess * excess, 2.0 * excess * np.sign(r)
        elif loss == "eps_insensitive_absolute_loss":
            excess = np.abs(r) - values["loss_insensitivity"]
            value, grad = np.maximum(excess, 0.0), np.where(excess > 0, np.sign(r), 0.0)
        elif loss == "quantile_loss":
            q = values["quantile"]
            value = np.where(r < 0, -q * r, (1 - q) * r)
            grad = np.where(r < 0, -q, 1 - q)
        elif loss == "huber_loss":
            delta = values["huber_delta"]
            small = np.abs(r) <= delta
            value = np.where(small, 0.5 * r * r, delta * (np.abs(r) - 0.5 * delta))
            grad = np.where(small, r, delta * np.sign(r))
        else:  # pragma: no cover - parse_hyperparameters admits only the losses above
            raise client_error(f"loss {loss} is not implemented locally")
    return value, grad[:, None]


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


@dataclass
class LinearModel:
    predictor_type: str
    loss: str
    weights: np.ndarray  # (features, outputs) in scaled feature space
    bias: np.ndarray  # (outputs,)
    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: float = 0.0
    y_scale: float = 1.0
    threshold: float = 0.5
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_dim(self) -> int:
        return int(self.weights.shape[0])

    def raw(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.x_mean) / self.x_scale) @ self.weights + self.bias

    def scores(self, features: np.ndarray) -> np.ndarray:
        """binary: probability (logistic) or margin (hinge); multiclass: (n, k) probabilities; regressor: value."""
        z = self.raw(features)
        if self.predictor_type == "multiclass_classifier":
            return _softmax(z)
        if self.predictor_type == "binary_classifier":
            return _sigmoid(z[:, 0]) if self.loss == "logistic" else z[:, 0]
        return z[:, 0] * self.y_scale + self.y_mean

    def labels(self, scores: np.ndarray) -> np.ndarray:
        if self.predictor_type == "multiclass_classifier":
            return np.argmax(scores, axis=1)
        return (scores > self.threshold).astype(np.int64)

    def objective_loss(self, features: np.ndarray, labels: np.ndarray) -> float:
        z = self.raw(features)
        if self.predictor_type == "regressor":
            z = z * self.y_scale + self.y_mean
        value, _ = loss_and_gradient(self.loss, z, labels, self.options)
        return float(np.mean(value)) if value.size else 0.0

    def save(self, path: Path) -> None:
        meta = {
            "format": FORMAT,
            "predictor_type": self.predictor_type,
            "loss": self.loss,
            "y_mean": self.y_mean,
            "y_scale": self.y_scale,
            "threshold": self.threshold,
            "options": self.options,
        }
        buffer = io.BytesIO()
        np.savez(
            buffer,
            meta=np.array(json.dumps(meta)),
            weights=self.weights,
            bias=self.bias,
            x_mean=self.x_mean,
            x_scale=self.x_scale,
        )
        path.write_bytes(buffer.getvalue())  # np.savez(path) would append ".npz" to the name

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        try:
            with np.load(path, allow_pickle=False) as arrays:
                meta = json.loads(str(arrays["meta"]))
                if meta.get("format") != FORMAT:
                    raise ValueError(f"format {meta.get('format')!r}")
                return cls(
                    meta["predictor_type"],
                    meta["loss"],
                    arrays["weights"],
                    arrays["bias"],
                    arrays["x_mean"],
                    arrays["x_scale"],
                    float(meta["y_mean"]),
                    float(meta["y_scale"]),
                    float(meta["threshold"]),
                    dict(meta["options"]),
                )
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise RuntimeError(
                f"{path.name} is not a model written by the local linear learner ({exc}); a model trained by "
                "SageMaker's linear learner (an MXNet archive) cannot be served locally"
            ) from None


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


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
class _Data:
    x: np.ndarray  # scaled features
    y: np.ndarray  # labels in training units (regressor: normalized)
    raw_x: np.ndarray
    raw_y: np.ndarray


def _scaler(x: np.ndarray, values: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    sample = x[: values["num_point_for_scaler"]]
    unbias = values["use_bias"] if values["unbias_data"] == "auto" else values["unbias_data"]
    normalize = values["normalize_data"] if values["normalize_data"] != "auto" else True
    mean = sample.mean(axis=0) if unbias else np.zeros(x.shape[1])
    scale = sample.std(axis=0) if normalize else np.ones(x.shape[1])
    scale = np.where(scale > 0, scale, 1.0)
    return mean, scale


def _label_scaler(y: np.ndarray, values: Mapping[str, Any], log: Log) -> tuple[float, float]:
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


def _calibrate(
    scores: np.ndarray, labels: np.ndarray, values: Mapping[str, Any], default: float
) -> tuple[float, float]:
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


def _selection_score(model: LinearModel, data: _Data, values: Mapping[str, Any]) -> float:
    """Higher is better: the model selection criterion (binary) or minus the objective loss."""
    if (
        model.predictor_type == "binary_classifier"
        and values["binary_classifier_model_selection_criteria"] != "loss_function"
    ):
        return _calibrate(model.scores(data.raw_x), data.raw_y, values, model.threshold)[1]
    return -model.objective_loss(data.raw_x, data.raw_y)


def _train_one(
    train: _Data,
    selection: _Data,
    template: LinearModel,
    lr: float,
    seed: int,
    values: Mapping[str, Any],
    log: Log,
    tag: str,
) -> tuple[LinearModel, float]:
    rng = np.random.default_rng(seed)
    features, outputs = template.weights.shape
    if values["init_method"] == "normal":
        weights = rng.normal(0.0, values["init_sigma"], size=(features, outputs))
    else:
        weights = rng.uniform(-values["init_scale"], values["init_scale"], size=(features, outputs))
    bias = np.full(outputs, values["init_bias"] if values["use_bias"] else 0.0)
    model = LinearModel(**{**template.__dict__, "weights": weights, "bias": bias})
    optimizer_kind = "adam" if values["optimizer"] == "auto" else values["optimizer"]
    optimizer = _Optimizer(optimizer_kind, lr, values)
    wd = 0.0 if values["wd"] == "auto" else values["wd"]
    l1 = 0.0 if values["l1"] == "auto" else values["l1"]
    bias_lr = 1.0 if values["bias_lr_mult"] == "auto" else values["bias_lr_mult"]
    bias_wd = 0.0 if values["bias_wd_mult"] == "auto" else values["bias_wd_mult"]
    batch = values["mini_batch_size"]
    rows = train.x.shape[0]
    batches_per_epoch = max(1, math.ceil(rows / batch))
    step_every = batches_per_epoch if values["lr_scheduler_step"] == "auto" else values["lr_scheduler_step"]
    factor = 0.99 if values["lr_scheduler_factor"] == "auto" else values["lr_scheduler_factor"]
    minimum_lr = 1e-5 if values["lr_scheduler_minimum_lr"] == "auto" else values["lr_scheduler_minimum_lr"]
    example_weights = _example_weights(train.y, values)
    best_score, best_state, stale = -math.inf, (weights.copy(), bias.copy()), 0
    for epoch in range(values["epochs"]):
        order = rng.permutation(rows)
        for start in range(0, rows, batch):
            index = order[start : start + batch]
            x, y, w = train.x[index], train.y[index], example_weights[index]
            z = x @ model.weights + model.bias
            _, grad_z = loss_and_gradient(model.loss, z, y, values)
            grad_z = grad_z * (w / max(w.sum(), 1e-12))[:, None]
            grad_w = x.T @ grad_z + wd * model.weights
            params, grads, mults = [model.weights], [grad_w], [1.0]
            if values["use_bias"]:
                params.append(model.bias)
                grads.append(grad_z.sum(axis=0) + wd * bias_wd * model.bias)
                mults.append(bias_lr)
            optimizer.step(params, grads, mults)
            if l1 > 0:
                shrink = optimizer.lr * l1
                model.weights[:] = np.sign(model.weights) * np.maximum(np.abs(model.weights) - shrink, 0.0)
            if values["use_lr_scheduler"] and optimizer.steps % step_every == 0:
                optimizer.lr = max(optimizer.lr * factor, minimum_lr)
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


def train(
    hyperparameters: Mapping[str, str],
    channels: Mapping[str, Path],
    content_types: Mapping[str, str | None],
    model_dir: Path,
    log: Log,
) -> TrainResult:
    values = parse_hyperparameters(hyperparameters, log)
    for name in channels:
        if name not in ("train", "validation", "test"):
            raise client_error(
                "Unable to initialize the algorithm. Failed to validate input data configuration: "
                f"channel {name!r} is not one of train, validation, test"
            )
    if "train" not in channels:
        raise client_error(
            "Unable to initialize the algorithm. Failed to validate input data configuration: "
            "the train channel is required"
        )
    loaded: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, root in channels.items():
        data = _read_channel(name, root, content_types.get(name))
        if data is None:
            raise client_error(f"No data in channel '{name}': {root} holds no data file")
        loaded[name] = data
    x, y = loaded["train"]
    declared = values["feature_dim"]
    if declared != "auto" and declared != x.shape[1]:
        raise client_error(
            f"Customer Error: the train channel has {x.shape[1]} features per row but feature_dim is {declared}"
        )
    for name, (features, labels) in loaded.items():
        if features.shape[1] != x.shape[1]:
            raise client_error(
                f"Channel '{name}' has {features.shape[1]} features per row, the train channel {x.shape[1]}"
            )
        _check_labels(labels, values, name)
    predictor = values["predictor_type"]
    loss = AUTO_LOSS[predictor] if values["loss"] == "auto" else values["loss"]
    outputs = values["num_classes"] if predictor == "multiclass_classifier" else 1
    x_mean, x_scale = _scaler(x, values)
    y_mean, y_scale = _label_scaler(y, values, log)
    options = {k: values[k] for k in ("margin", "loss_insensitivity", "quantile", "huber_delta")}
    threshold = 0.5 if loss == "logistic" else 0.0
    template = LinearModel(
        predictor,
        loss,
        np.zeros((x.shape[1], outputs)),
        np.zeros(outputs),
        x_mean,
        x_scale,
        y_mean,
        y_scale,
        threshold,
        options,
    )

    def prepare(features: np.ndarray, labels: np.ndarray) -> _Data:
        scaled_y = (labels - y_mean) / y_scale if predictor == "regressor" else labels
        return _Data((features - x_mean) / x_scale, scaled_y, features, labels)

    train_data = prepare(x, y)
    selection = prepare(*loaded["validation"]) if "validation" in loaded else train_data
    optimizer = "adam" if values["optimizer"] == "auto" else values["optimizer"]
    if values["learning_rate"] == "auto":
        rates: tuple[float, ...] = AUTO_LEARNING_RATES[optimizer]
        if values["num_models"] != "auto":
            rates = tuple(float(r) for r in np.geomspace(rates[0], rates[-1], values["num_models"]))
        candidates = [(rate, SEED) for rate in rates]
    else:
        count = 1 if values["num_models"] == "auto" else values["num_models"]
        candidates = [(values["learning_rate"], SEED + i) for i in range(count)]
    log(
        f"training {len(candidates)} model(s) ({predictor}, loss {loss}, optimizer {optimizer}, "
        f"learning rates {', '.join(f'{r:g}' for r, _ in candidates)}) on {x.shape[0]} rows x {x.shape[1]} features"
    )
    # "If you haven't specified validation data, the metric is always the same as the value specified
    # for the loss hyperparameter and is evaluated on the training data" (early_stopping_patience).
    selecting = (
        values if "validation" in loaded else {**values, "binary_classifier_model_selection_criteria": "loss_function"}
    )
    best_model, best_score = None, -math.inf
    for number, (rate, seed) in enumerate(candidates):
        model, score = _train_one(train_data, selection, template, rate, seed, selecting, log, f"model {number}")
        if best_model is None or score > best_score:
            best_model, best_score = model, score
    assert best_model is not None
    if predictor == "binary_classifier":
        calibration = loaded.get("validation", (x, y))
        limit = None if values["num_calibration_samples"] == "auto" else values["num_calibration_samples"]
        scores = best_model.scores(calibration[0][:limit])
        best_model.threshold = _calibrate(scores, calibration[1][:limit], values, best_model.threshold)[0]
        log(f"decision threshold {best_model.threshold:.6g} ({values['binary_classifier_model_selection_criteria']})")

    model_dir.mkdir(parents=True, exist_ok=True)
    best_model.save(model_dir / MODEL_FILE)
    metrics = [("train:objective_loss", best_model.objective_loss(x, y))]
    for channel in ("validation", "test"):
        if channel in loaded:
            for name, value in channel_metrics(best_model, *loaded[channel], values):
                metrics.append((f"{channel}:{name}", value))
    for name, value in metrics:
        log(f"#quality_metric: host=algo-1, {name.replace(':', ' ')} <score>={value}")
    return TrainResult(metrics)


def channel_metrics(
    model: LinearModel, x: np.ndarray, y: np.ndarray, values: Mapping[str, Any]
) -> list[tuple[str, float]]:
    """The documented metrics of one channel for the model's predictor type."""
    scores = model.scores(x)
    metrics = [("objective_loss", model.objective_loss(x, y))]
    if model.predictor_type == "binary_classifier":
        stats = binary_scores(y, model.labels(scores), values["f_beta"])
        metrics += [
            ("binary_classification_accuracy", stats["accuracy"]),
            ("binary_f_beta", stats["f_beta"]),
            ("precision", stats["precision"]),
            ("recall", stats["recall"]),
            ("roc_auc_score", roc_auc(y, scores)),
        ]
    elif model.predictor_type == "multiclass_classifier":
        predicted = model.labels(scores)
        classes = scores.shape[1]
        stats = macro_scores(y, predicted, classes, values["f_beta"])
        k = min(values["accuracy_top_k"], classes)
        top_k = np.argsort(-scores, axis=1)[:, :k]
        metrics += [
            ("multiclass_accuracy", stats["accuracy"]),
            ("multiclass_top_k_accuracy", float(np.mean(np.any(top_k == y.astype(np.int64)[:, None], axis=1)))),
            ("macro_f_beta", stats["f_beta"]),
            ("macro_precision", stats["precision"]),
            ("macro_recall", stats["recall"]),
        ]
    else:
        error = scores - y
        metrics += [("mse", float(np.mean(error * error))), ("absolute_loss", float(np.mean(np.abs(error))))]
    return metrics


def load(model_dir: Path) -> Any:
    """The model server for an extracted model.tar.gz (``linear_learner_serving``)."""
    from sagedrop_local.algorithms import linear_learner_serving

    return linear_learner_serving.load(model_dir)
