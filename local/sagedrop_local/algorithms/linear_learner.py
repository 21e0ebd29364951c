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

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

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
    macro_scores,
    read_csv_files,
    read_recordio_files,
    relative_name,
    roc_auc,
)
from sagedrop_local.algorithms.linear_learner_fit import (
    ScaledData,
    calibrate,
    feature_scaler,
    label_scaler,
    train_one,
)
from sagedrop_local.algorithms.linear_learner_hyperparameters import (
    AUTO_LOSS,
    CRITERIA,
    LOSSES,
    SPECS,
    parse_hyperparameters,
)
from sagedrop_local.algorithms.linear_learner_model import FORMAT, MODEL_FILE, LinearModel, loss_and_gradient

__all__ = [
    "AUTO_LOSS",
    "CRITERIA",
    "FORMAT",
    "LOSSES",
    "MODEL_FILE",
    "SPECS",
    "LinearModel",
    "binary_scores",
    "calibrate",
    "channel_metrics",
    "load",
    "loss_and_gradient",
    "parse_hyperparameters",
    "train",
]

AUTO_LEARNING_RATES = {"adam": (0.1, 0.03, 0.01), "rmsprop": (0.03, 0.01, 0.003), "sgd": (0.3, 0.1, 0.03)}
SEED = 0


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


def train(
    hyperparameters: Mapping[str, str],
    channels: Mapping[str, Path],
    content_types: Mapping[str, str | None],
    model_dir: Path,
    log: Log,
) -> TrainResult:
    values = parse_hyperparameters(hyperparameters, log)
    _check_channel_names(channels)
    loaded = _load_channels(channels, content_types, values)
    x, y = loaded["train"]
    template = _template(x, y, values, log)

    def prepare(features: np.ndarray, labels: np.ndarray) -> ScaledData:
        scaled_y = (labels - template.y_mean) / template.y_scale if template.predictor_type == "regressor" else labels
        return ScaledData((features - template.x_mean) / template.x_scale, scaled_y, features, labels)

    train_data = prepare(x, y)
    selection = prepare(*loaded["validation"]) if "validation" in loaded else train_data
    optimizer = "adam" if values["optimizer"] == "auto" else values["optimizer"]
    candidates = _candidates(values, optimizer)
    log(
        f"training {len(candidates)} model(s) ({template.predictor_type}, loss {template.loss}, optimizer "
        f"{optimizer}, learning rates {', '.join(f'{r:g}' for r, _ in candidates)}) on {x.shape[0]} rows x "
        f"{x.shape[1]} features"
    )
    # "If you haven't specified validation data, the metric is always the same as the value specified
    # for the loss hyperparameter and is evaluated on the training data" (early_stopping_patience).
    selecting = (
        values if "validation" in loaded else {**values, "binary_classifier_model_selection_criteria": "loss_function"}
    )
    best_model, best_score = None, -math.inf
    for number, (rate, seed) in enumerate(candidates):
        model, score = train_one(train_data, selection, template, rate, seed, selecting, log, f"model {number}")
        if best_model is None or score > best_score:
            best_model, best_score = model, score
    assert best_model is not None
    if best_model.predictor_type == "binary_classifier":
        _calibrate_threshold(best_model, loaded.get("validation", (x, y)), values, log)

    model_dir.mkdir(parents=True, exist_ok=True)
    best_model.save(model_dir / MODEL_FILE)
    return TrainResult(_final_metrics(best_model, loaded, values, log))


def _check_channel_names(channels: Mapping[str, Path]) -> None:
    """train is required; validation and test are optional; nothing else is a linear learner channel."""
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


def _load_channels(
    channels: Mapping[str, Path], content_types: Mapping[str, str | None], values: Mapping[str, Any]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each channel's (features, labels), every channel as wide as train (and as feature_dim), labels valid."""
    loaded: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, root in channels.items():
        data = _read_channel(name, root, content_types.get(name))
        if data is None:
            raise client_error(f"No data in channel '{name}': {root} holds no data file")
        loaded[name] = data
    width = loaded["train"][0].shape[1]
    declared = values["feature_dim"]
    if declared != "auto" and declared != width:
        raise client_error(
            f"Customer Error: the train channel has {width} features per row but feature_dim is {declared}"
        )
    for name, (features, labels) in loaded.items():
        if features.shape[1] != width:
            raise client_error(f"Channel '{name}' has {features.shape[1]} features per row, the train channel {width}")
        _check_labels(labels, values, name)
    return loaded


def _template(x: np.ndarray, y: np.ndarray, values: Mapping[str, Any], log: Log) -> LinearModel:
    """The model every candidate starts from: loss, output count, scalers, default threshold (no weights yet)."""
    predictor = values["predictor_type"]
    loss = AUTO_LOSS[predictor] if values["loss"] == "auto" else values["loss"]
    outputs = values["num_classes"] if predictor == "multiclass_classifier" else 1
    x_mean, x_scale = feature_scaler(x, values)
    y_mean, y_scale = label_scaler(y, values, log)
    options = {k: values[k] for k in ("margin", "loss_insensitivity", "quantile", "huber_delta")}
    threshold = 0.5 if loss == "logistic" else 0.0
    return LinearModel(
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


def _candidates(values: Mapping[str, Any], optimizer: str) -> list[tuple[float, int]]:
    """(learning rate, seed) of each model trained in parallel: a small grid when learning_rate is auto."""
    if values["learning_rate"] == "auto":
        rates: tuple[float, ...] = AUTO_LEARNING_RATES[optimizer]
        if values["num_models"] != "auto":
            rates = tuple(float(r) for r in np.geomspace(rates[0], rates[-1], values["num_models"]))
        return [(rate, SEED) for rate in rates]
    count = 1 if values["num_models"] == "auto" else values["num_models"]
    return [(values["learning_rate"], SEED + i) for i in range(count)]


def _calibrate_threshold(
    model: LinearModel, calibration: tuple[np.ndarray, np.ndarray], values: Mapping[str, Any], log: Log
) -> None:
    """The binary classifier's decision threshold, set for binary_classifier_model_selection_criteria."""
    limit = None if values["num_calibration_samples"] == "auto" else values["num_calibration_samples"]
    scores = model.scores(calibration[0][:limit])
    model.threshold = calibrate(scores, calibration[1][:limit], values, model.threshold)[0]
    log(f"decision threshold {model.threshold:.6g} ({values['binary_classifier_model_selection_criteria']})")


def _final_metrics(
    model: LinearModel,
    loaded: Mapping[str, tuple[np.ndarray, np.ndarray]],
    values: Mapping[str, Any],
    log: Log,
) -> list[tuple[str, float]]:
    """train:objective_loss and each validation/test channel's metrics, logged as the container does."""
    x, y = loaded["train"]
    metrics = [("train:objective_loss", model.objective_loss(x, y))]
    for channel in ("validation", "test"):
        if channel in loaded:
            for name, value in channel_metrics(model, *loaded[channel], values):
                metrics.append((f"{channel}:{name}", value))
    for name, value in metrics:
        log(f"#quality_metric: host=algo-1, {name.replace(':', ' ')} <score>={value}")
    return metrics


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
