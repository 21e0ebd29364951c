"""XGBoost as SageMaker's XGBoost container runs it in algorithm mode, with the xgboost library.

What follows the container (github.com/aws/sagemaker-xgboost-container):

* hyperparameters: checked the way ``algorithm_mode/hyperparameter_validation.py`` checks them,
  with the toolkit's messages (``Missing required hyperparameter: num_round``, ``Extraneous
  hyperparameter found: ...``, ``Hyperparameter eta: 2.0 is not in [0, 1]``); the aliases it
  declares (learning_rate, min_split_loss, reg_lambda, reg_alpha); everything else goes to
  ``xgboost.train`` as the container passes it, so xgboost's own errors surface as they do there
  (``XGB train call failed with exception: ...``; the messages the container lists in
  ``CUSTOMER_ERRORS`` are user errors);
* data (``xgboost_data``): train and validation channels in text/csv (label first, no header; ``csv_weights=1``
  puts instance weights in the second column), text/libsvm (the container's default when no
  content type is given) or application/x-recordio-protobuf;
* metrics: the watchlist is ``train`` then ``validation``; each eval_metric is reported as
  ``train:<metric>`` / ``validation:<metric>`` with its value after the last round, as the
  container's log lines (``[n]#011train-rmse:...``) and SageMaker's metric regexes give them.
  eval_metric names the container computes itself (accuracy, f1, mse, r2, ...:
  ``metrics/custom_metrics.py``) are computed here too;
* the artifact: ``xgboost-model``. The 1.3-1 to 1.7-1 containers write it with
  ``bst.save_model(model_location)`` (algorithm_mode/train.py, branch 1.7-1 at f7a93a2), the
  1.0-1 and 1.2-x ones pickle the Booster. Here it is XGBoost JSON adjusted so that xgboost 1.7
  loads it and predicts the same numbers (``portable_model``); ``base_score`` is 1.x's constant
  0.5 unless given;
* inference: ``xgboost_serving`` (the container's model server and wire formats).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sagedrop.algorithms.xgboost import MAXIMIZE_METRICS, MINIMIZE_METRICS
from sagedrop_local.algorithms import xgboost_serving
from sagedrop_local.algorithms.common import (
    AlgorithmError,
    Log,
    Serving,
    TrainResult,
    binary_scores,
    client_error,
    macro_scores,
)
from sagedrop_local.algorithms.xgboost_data import load_matrices, parse_libsvm

__all__ = [
    "MODEL_FILE",
    "XGBoostPredictor",
    "load",
    "parse_libsvm",
    "portable_model",
    "train",
    "validate_hyperparameters",
]

MODEL_FILE = xgboost_serving.MODEL_FILE
XGBoostPredictor = xgboost_serving.XGBoostPredictor

# --------------------------------------------------------------------------------------------
# Hyperparameters: the container's table (hyperparameter_validation.py), closed/open intervals
# --------------------------------------------------------------------------------------------

INF = float("inf")


@dataclass(frozen=True)
class _Interval:
    low: float = -INF
    high: float = INF
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if value < self.low or (self.low_open and value == self.low):
            return False
        return not (value > self.high or (self.high_open and value == self.high))

    def __str__(self) -> str:  # the toolkit's Interval.__str__
        left = "(-inf, " if self.low == -INF else f"{'(' if self.low_open else '['}{_num(self.low)}, "
        right = "+inf)" if self.high == INF else f"{_num(self.high)}{')' if self.high_open else ']'}"
        return left + right


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


_UNIT = _Interval(0, 1)
_UNIT_OPEN_LOW = _Interval(0, 1, low_open=True)
_NON_NEGATIVE = _Interval(0)
_FLAG = _Interval(0, 1)

# name -> ("int" | "float", interval)
_NUMERIC: dict[str, tuple[str, _Interval]] = {
    "num_round": ("int", _Interval(1)),
    "csv_weights": ("int", _FLAG),
    "early_stopping_rounds": ("int", _Interval(1)),
    "silent": ("int", _FLAG),
    "verbosity": ("int", _Interval(0, 3)),
    "nthread": ("int", _Interval(1)),
    "eta": ("float", _UNIT),
    "gamma": ("float", _NON_NEGATIVE),
    "max_depth": ("int", _NON_NEGATIVE),
    "min_child_weight": ("float", _NON_NEGATIVE),
    "max_delta_step": ("float", _NON_NEGATIVE),
    "subsample": ("float", _UNIT_OPEN_LOW),
    "colsample_bytree": ("float", _UNIT_OPEN_LOW),
    "colsample_bylevel": ("float", _UNIT_OPEN_LOW),
    "colsample_bynode": ("float", _UNIT_OPEN_LOW),
    "lambda": ("float", _NON_NEGATIVE),
    "alpha": ("float", _NON_NEGATIVE),
    "sketch_eps": ("float", _Interval(0, 1, low_open=True, high_open=True)),
    "scale_pos_weight": ("float", _Interval(0, low_open=True)),
    "refresh_leaf": ("int", _FLAG),
    "max_leaves": ("int", _NON_NEGATIVE),
    "max_bin": ("int", _NON_NEGATIVE),
    "rate_drop": ("float", _UNIT),
    "one_drop": ("int", _FLAG),
    "skip_drop": ("float", _UNIT),
    "lambda_bias": ("float", _UNIT),
    "tweedie_variance_power": ("float", _Interval(1, 2, low_open=True, high_open=True)),
    "num_class": ("int", _Interval(2)),
    "base_score": ("float", _NON_NEGATIVE),
    "seed": ("int", _Interval()),
    "num_parallel_tree": ("int", _Interval(1)),
    "aft_loss_distribution_scale": ("float", _NON_NEGATIVE),
    "prob_buffer_row": ("float", _Interval(1, low_open=True)),
}

OBJECTIVES = (
    "binary:logistic",
    "binary:logitraw",
    "binary:hinge",
    "count:poisson",
    "multi:softmax",
    "multi:softprob",
    "rank:pairwise",
    "rank:ndcg",
    "rank:map",
    "reg:linear",
    "reg:squarederror",
    "reg:logistic",
    "reg:gamma",
    "reg:pseudohubererror",
    "reg:squaredlogerror",
    "reg:tweedie",
    "survival:aft",
    "survival:cox",
)
_CATEGORICAL: dict[str, tuple[str, ...]] = {
    "objective": OBJECTIVES,
    "booster": ("gbtree", "gblinear", "dart"),
    "tree_method": ("auto", "exact", "approx", "hist", "gpu_hist"),
    "grow_policy": ("depthwise", "lossguide"),
    "dsplit": ("row", "col"),
    "process_type": ("default", "update"),
    "sample_type": ("uniform", "weighted"),
    "normalize_type": ("tree", "forest"),
    "predictor": ("auto", "cpu_predictor", "gpu_predictor"),
    "aft_loss_distribution": ("normal", "logistic", "extreme"),
    "sampling_method": ("uniform", "gradient_based"),
    "deterministic_histogram": ("true", "false"),
    "single_precision_histogram": ("true", "false"),
    "save_model_on_termination": ("true", "false"),
    "use_dask_gpu_training": ("true", "false"),
}
_FREE = ("eval_metric", "updater", "monotone_constraints", "interaction_constraints", "_tuning_objective_metric")
KNOWN = frozenset(_NUMERIC) | frozenset(_CATEGORICAL) | frozenset(_FREE)
ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda", "reg_alpha": "alpha"}

# Handled by the container itself, never given to xgboost.train's params.
_CONTAINER_ONLY = (
    "num_round",
    "csv_weights",
    "early_stopping_rounds",
    "eval_metric",
    "_tuning_objective_metric",
    "save_model_on_termination",
    "use_dask_gpu_training",
)
# Accepted by the 1.x containers, gone from xgboost 2/3 (it would only warn "not used"): dropped with a log line.
_RETIRED = (
    "silent",
    "predictor",
    "dsplit",
    "lambda_bias",
    "prob_buffer_row",
    "single_precision_histogram",
    "deterministic_histogram",
)

# constants/xgb_constants.py: XGB_MAXIMIZE_METRICS + XGB_MINIMIZE_METRICS (the facts live in the layer's module)
EVAL_METRICS = MAXIMIZE_METRICS + MINIMIZE_METRICS
# constants/xgb_constants.py CUSTOMER_ERRORS: xgboost failures the container reports as the user's error.
CUSTOMER_ERRORS = (
    "label must be in [0,1] for logistic regression",
    "label must be in (0, 1) for logistic regression",
    "label must be in [0, num_class)",
    "label must be discrete values in the range of [0, num_class)",
    "Target is multiclass but average='binary'",
    "feature_names mismatch",
    "Check failed: preds.size() == info.labels_.size()",
    "the dataset only contains pos or neg samples",
    "base_score must be in (0,1) for logistic loss",
    "label must be nonnegative",
    "Parameter reg_lambda should be greater equal to 0",
    "Number of columns does not match",
)


def _user(message: str) -> AlgorithmError:
    return client_error(message)


def validate_hyperparameters(given: Mapping[str, str]) -> dict[str, Any]:
    """The container's validation, in its order: aliases, required, names, parsing, ranges, dependencies."""
    values: dict[str, Any] = {ALIASES.get(name, name): value for name, value in given.items()}
    if "num_round" not in values:
        raise _user("Missing required hyperparameter: num_round")
    for name in values:
        if name not in KNOWN:
            raise _user(f"Extraneous hyperparameter found: {name}")
    parsed: dict[str, Any] = {}
    for name, raw in values.items():
        text = str(raw).strip()
        if name in _NUMERIC:
            kind, _interval = _NUMERIC[name]
            try:
                parsed[name] = int(text) if kind == "int" else float(text)
            except ValueError:
                raise _user(f"Hyperparameter {name}: could not parse value (caused by ValueError)") from None
        elif name == "eval_metric":
            parsed[name] = [item.strip() for item in text.split(",")]
        else:
            parsed[name] = text
    for name, value in parsed.items():
        if name in _NUMERIC:
            interval = _NUMERIC[name][1]
            if value not in interval:
                raise _user(f"Hyperparameter {name}: {value} is not in {interval}")
        elif name in _CATEGORICAL:
            options = _CATEGORICAL[name]
            check = value.lower() if name.endswith(("histogram", "termination", "training")) else value
            if check not in options:
                raise _user(f"Hyperparameter {name}: {value} is not in {list(options)}")
        elif name == "eval_metric":
            _check_eval_metrics(value, parsed.get("objective", "reg:squarederror"))
    objective = parsed.get("objective")
    if objective in ("multi:softmax", "multi:softprob") and "num_class" not in parsed:
        raise _user("Require input for parameter 'num_class' for multi-classification")
    return parsed


def _check_eval_metrics(metrics: list[str], objective: str) -> None:
    for metric in metrics:
        if "@" in metric:
            name, _, threshold = metric.partition("@")
            if name.strip() not in ("error", "ndcg", "map"):
                raise _user(
                    f"Metric '{metric}' is not supported. Parameter 'eval_metric' with customized threshold should "
                    "be one of these options: 'error', 'ndcg', 'map'."
                )
            try:
                float(threshold)
            except ValueError:
                raise _user(f"Threshold value 't' in '{name.strip()}@t' expects float input.") from None
        elif metric not in EVAL_METRICS:
            raise _user(f"Hyperparameter eval_metric: value {metrics} not in range {list(EVAL_METRICS)}")
    if "auc" in metrics and not objective.startswith(("binary:", "rank:")):
        raise _user("Metric 'auc' can only be applied for classification and ranking problems.")


# --------------------------------------------------------------------------------------------
# Custom metrics the container computes itself (metrics/custom_metrics.py), in numpy
# --------------------------------------------------------------------------------------------


def _class_labels(preds: np.ndarray, objective: str) -> np.ndarray:
    """Class ids from xgboost's transformed predictions (probabilities, class ids or margins)."""
    if preds.ndim == 2:
        return np.argmax(preds, axis=1)
    if objective == "binary:logitraw":
        return (preds > 0.0).astype(np.int64)
    if objective in ("multi:softmax",):
        return np.rint(preds).astype(np.int64)
    return (preds > 0.5).astype(np.int64)


def _classification(kind: str, average: str) -> Callable[[np.ndarray, np.ndarray, str], float]:
    def compute(preds: np.ndarray, labels: np.ndarray, objective: str) -> float:
        predicted = _class_labels(preds, objective)
        truth = labels.astype(np.int64)
        classes = int(max(truth.max(initial=0), predicted.max(initial=0))) + 1
        if kind == "accuracy":
            return float(np.mean(predicted == truth)) if truth.size else 0.0
        if kind == "balanced_accuracy":
            present = np.unique(truth)
            return float(np.mean([np.mean(predicted[truth == c] == c) for c in present])) if present.size else 0.0
        if average == "binary":
            if classes > 2:
                raise ValueError(
                    "Target is multiclass but average='binary'. Please choose another average setting, one of "
                    "[None, 'micro', 'macro', 'weighted']."
                )
            return binary_scores(truth, predicted)["f_beta" if kind == "f1" else kind]
        if average == "micro":  # micro precision = micro recall = accuracy for single-label data
            return float(np.mean(predicted == truth)) if truth.size else 0.0
        present = np.union1d(np.unique(truth), np.unique(predicted))
        scores = macro_scores(truth, predicted, classes)
        # sklearn's macro average runs over the labels present in truth or prediction only
        scale = classes / present.size if present.size else 0.0
        return scores["f_beta" if kind == "f1" else kind] * scale

    return compute


def _regression(kind: str) -> Callable[[np.ndarray, np.ndarray, str], float]:
    def compute(preds: np.ndarray, labels: np.ndarray, objective: str) -> float:
        error = preds.reshape(-1) - labels
        if kind == "mse":
            return float(np.mean(error**2))
        if kind == "rmse":
            return float(np.sqrt(np.mean(error**2)))
        if kind == "mae":
            return float(np.mean(np.abs(error)))
        total = float(np.sum((labels - labels.mean()) ** 2))
        return 1.0 - float(np.sum(error**2)) / total if total else 0.0

    return compute


CUSTOM_METRICS: dict[str, Callable[[np.ndarray, np.ndarray, str], float]] = {
    "accuracy": _classification("accuracy", ""),
    "balanced_accuracy": _classification("balanced_accuracy", ""),
    "f1": _classification("f1", "macro"),
    "f1_binary": _classification("f1", "binary"),
    "f1_macro": _classification("f1", "macro"),
    "mse": _regression("mse"),
    "rmse": _regression("rmse"),
    "mae": _regression("mae"),
    "precision": _classification("precision", "binary"),
    "precision_macro": _classification("precision", "macro"),
    "precision_micro": _classification("precision", "micro"),
    "r2": _regression("r2"),
    "recall": _classification("recall", "binary"),
    "recall_macro": _classification("recall", "macro"),
    "recall_micro": _classification("recall", "micro"),
}


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def _xgboost_message(exc: Exception) -> str:
    """xgboost's error text without its native stack trace and the ``[time] file:line:`` prefix."""
    text = str(exc).split("\nStack trace:", 1)[0].strip()
    return re.sub(r"^\[\d\d:\d\d:\d\d\] [^\s]+:\d+: ", "", text)


def _round_logger(log: Log) -> Any:
    import xgboost as xgb

    class RoundLog(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Mapping[str, Mapping[str, list[Any]]]) -> bool:
            parts = [
                f"{data}-{metric}:{values[-1]:.5f}"
                for data, metrics in evals_log.items()
                for metric, values in metrics.items()
            ]
            log(f"[{epoch}]\t" + "\t".join(parts))
            return False

    return RoundLog()


def train(
    hyperparameters: Mapping[str, str],
    channels: Mapping[str, Path],
    content_types: Mapping[str, str | None],
    model_dir: Path,
    log: Log,
) -> TrainResult:
    config = validate_hyperparameters(hyperparameters)
    dtrain, dval = load_matrices(config, channels, content_types, log)
    watchlist = [(dtrain, "train")] + ([(dval, "validation")] if dval is not None else [])
    results: dict[str, dict[str, list[float]]] = {}
    booster = _boost(config, dtrain, watchlist, results, log)

    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / MODEL_FILE).write_bytes(portable_model(booster))
    final = [
        (f"{data}:{metric}", float(values[-1])) for data, found in results.items() for metric, values in found.items()
    ]
    attributes = booster.attributes()
    if "best_iteration" in attributes and config.get("early_stopping_rounds"):
        log(f"best iteration {attributes['best_iteration']} of {booster.num_boosted_rounds()} rounds")
    return TrainResult(final)


def _booster_params(config: Mapping[str, Any], native_metrics: list[str], log: Log) -> dict[str, Any]:
    """What xgboost.train receives: the hyperparameters minus the container's own and the retired ones."""
    import xgboost as xgb

    params = {k: v for k, v in config.items() if k not in _CONTAINER_ONLY and k not in _RETIRED}
    for retired in (k for k in config if k in _RETIRED):
        log(f"hyperparameter {retired} is ignored: XGBoost {xgb.__version__} no longer has it")
    if native_metrics:
        params["eval_metric"] = native_metrics
    # One thread unless nthread is given: the container uses every core, but on small local data
    # OpenMP threads only spin against the rest of the local stack (seconds instead of milliseconds).
    params.setdefault("nthread", 1)
    # The 1.x containers run xgboost 1.x (1.7-1: xgboost 1.7.4, docker/1.7-1/base/Dockerfile.cpu), whose
    # base_score is the constant 0.5 unless given; xgboost 2+ estimates it from the labels instead
    # (https://xgboost.readthedocs.io/en/stable/tutorials/intercept.html): the constant keeps the
    # container's training and a model file that xgboost 1.x reads (portable_model).
    params.setdefault("base_score", 0.5)
    return params


def _custom_metric(custom: list[str], objective: str) -> Any:
    """The container's own metrics (CUSTOM_METRICS) as one xgboost custom_metric, or None."""
    if not custom:
        return None

    def custom_metric(preds: np.ndarray, dmatrix: Any) -> list[tuple[str, float]]:
        labels = dmatrix.get_label()
        try:
            return [(m, CUSTOM_METRICS[m](preds, labels, objective)) for m in custom]
        except ValueError as exc:
            raise _user(str(exc)) from None

    return custom_metric


def _boost(
    config: Mapping[str, Any],
    dtrain: Any,
    watchlist: list[tuple[Any, str]],
    results: dict[str, dict[str, list[float]]],
    log: Log,
) -> Any:
    """xgboost.train with the container's metrics; its errors become the container's FailureReasons."""
    import xgboost as xgb

    objective = config.get("objective", "reg:squarederror")
    metrics = config.get("eval_metric") or []
    custom = [m for m in metrics if m in CUSTOM_METRICS]
    native = [m for m in metrics if m not in CUSTOM_METRICS]
    params = _booster_params(config, native, log)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            booster = xgb.train(
                params,
                dtrain,
                num_boost_round=int(config["num_round"]),
                evals=watchlist,
                early_stopping_rounds=config.get("early_stopping_rounds"),
                evals_result=results,
                verbose_eval=False,
                callbacks=[_round_logger(log)],
                custom_metric=_custom_metric(custom, objective),
            )
        for warning in caught:
            log(f"xgboost warning: {str(warning.message).strip()}")
    except AlgorithmError:
        raise
    except Exception as exc:
        message = _xgboost_message(exc)
        if any(known in message for known in CUSTOMER_ERRORS):
            raise _user(message) from None
        raise AlgorithmError(f"AlgorithmError: XGB train call failed with exception:\n {message}") from None
    return booster


# --------------------------------------------------------------------------------------------
# The artifact: a model file the 1.x containers load
# --------------------------------------------------------------------------------------------


def portable_model(booster: Any) -> bytes:
    """The booster as XGBoost JSON that xgboost 1.7 (the 1.7-1 container) loads and predicts identically.

    * JSON, not a pickle: XGBoost guarantees that models saved with ``save_model`` load in later
      versions, while a pickle is a memory snapshot that is neither portable nor stable
      (https://xgboost.readthedocs.io/en/release_3.2.0/tutorials/saving_model.html). The container
      tries ``pickle.load`` first and then ``Booster.load_model`` (serve_utils.get_loaded_booster);
      a JSON file without a ``.json`` extension is recognised by its leading ``{``.
    * ``base_score``: xgboost 3.1+ writes it as a vector string (``"[5E-1]"``), which xgboost 1.7
      does not parse as the intercept: the model loads but predicts differently (measured with
      ``benchmarks/xgboost_portability.py``). All elements are equal here (``train`` gives 1.x's
      constant ``base_score``), so the scalar is written.
    * ``best_ntree_limit``: xgboost 1.7 restores this attribute on load and the container predicts
      with ``ntree_limit=best_ntree_limit`` (serve_utils.predict); xgboost 3 only records
      ``best_iteration``, so the attribute is added after early stopping.
    """
    document = json.loads(bytes(booster.save_raw("json")))
    learner = document["learner"]
    score = str(learner["learner_model_param"]["base_score"])
    if score.startswith("["):
        values = {float(item) for item in score.strip("[]").split(",") if item.strip()}
        if len(values) != 1:
            raise AlgorithmError(
                f"AlgorithmError: the model has several intercepts {sorted(values)}, which XGBoost 1.x cannot hold"
            )
        learner["learner_model_param"]["base_score"] = score.strip("[]").split(",")[0].strip()
    attributes = learner.setdefault("attributes", {})
    if "best_iteration" in attributes:
        parallel = xgboost_serving.booster_config(booster)[2]
        attributes["best_ntree_limit"] = str((int(attributes["best_iteration"]) + 1) * parallel)
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def load(model_dir: Path, serving: Serving | None = None) -> XGBoostPredictor:
    """The container's model server for an extracted model.tar.gz (see ``xgboost_serving``)."""
    return xgboost_serving.load(model_dir, serving)
