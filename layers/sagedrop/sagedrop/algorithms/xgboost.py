"""XGBoost (the open-source SageMaker XGBoost container in algorithm mode): gradient boosted trees.

Facts from the Amazon SageMaker AI developer guide and, where the guide defers to it ("for the full
set of hyperparameters ..."), the validation code of the container itself
(github.com/aws/sagemaker-xgboost-container, src/sagemaker_xgboost_container/algorithm_mode/
hyperparameter_validation.py, constants/xgb_constants.py, data_utils.py). Cited above each table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sagedrop import codecs
from sagedrop.algorithms.accounts import REPOSITORIES, XGBOOST, XGBOOST_CPU_PY3_VERSIONS, XGBOOST_VERSIONS
from sagedrop.algorithms.base import (
    LIBSVM_TYPES,
    Algorithm,
    Bool,
    ChannelSpec,
    Choice,
    DirectoryLoading,
    Float,
    HyperParameter,
    Int,
    InvokeRequest,
    Metric,
    ParamType,
    PredictionInput,
    ServingContext,
    Text,
    is_gpu_instance,
    row_requests,
)
from sagedrop.errors import Problem

DEFAULT_VERSION = "1.7-1"

# github.com/aws/sagemaker-xgboost-container, src/sagemaker_xgboost_container/algorithm_mode/serve_utils.py,
# get_loaded_booster(): every regular file of os.listdir(model_dir) is a model, tried with pickle.load
# then Booster.load_model, whatever its name ("Model ... cannot be loaded" otherwise). From 1.2-2 the
# serving code passes ensemble=is_ensemble_enabled(), true unless SAGEMAKER_INFERENCE_ENSEMBLE says
# otherwise (sagedrop does not set it), so every file is loaded; before, only the first one listed.
# 1.2-1 and 1.3-1 on skip dotfiles (_get_model_files / _get_full_model_paths); 1.0-1 and 1.2-2 do not.
_SERVE_UTILS = "src/sagemaker_xgboost_container/algorithm_mode/serve_utils.py"
MODEL_DIRECTORY_LOADING = {
    version: DirectoryLoading(skips_dotfiles, every_file, f"aws/sagemaker-xgboost-container@{commit} {_SERVE_UTILS}")
    for version, skips_dotfiles, every_file, commit in (
        ("1.0-1", False, False, "0c7a3b8942f8cd75ea1c9e3c32bb83ea4b69b0a5"),
        ("1.2-1", True, False, "0d8f55de0bec7e7afe29923b217714a592ff5d77"),
        ("1.2-2", False, True, "dd637a025b8e644ab356a182fab4cd628b123b97"),
        ("1.3-1", True, True, "07ece4c7b4984690560406ec66a68176820ee921"),
        ("1.5-1", True, True, "4eef773aab5c9e38a9ba945c8ad31c24d764d44a"),
        ("1.7-1", True, True, "f7a93a21e50e44b4077f0889a7f676cad8c226f3"),
    )
}

# https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost.html ("Supported versions"): algorithm mode
# 1.2-1, 1.2-2, 1.3-1, 1.5-1, 1.7-1; "You can use XGBoost v1.0-1, but it's not officially supported";
# 0.90 is deprecated. The 3.x containers are left out on purpose: XGBoost 3 dropped tree_method
# gpu_hist and the predictor parameter that the table below accepts.
SUPPORTED_VERSIONS: tuple[str, ...] = tuple(
    v for v in ("1.7-1", "1.5-1", "1.3-1", "1.2-2", "1.2-1", "1.0-1") if v in XGBOOST_VERSIONS
)

# Objectives the container accepts (hyperparameter_validation.py, "objective" range).
OBJECTIVES = (
    "binary:hinge",
    "binary:logistic",
    "binary:logitraw",
    "count:poisson",
    "multi:softmax",
    "multi:softprob",
    "rank:map",
    "rank:ndcg",
    "rank:pairwise",
    "reg:gamma",
    "reg:linear",
    "reg:logistic",
    "reg:pseudohubererror",
    "reg:squarederror",
    "reg:squaredlogerror",
    "reg:tweedie",
    "survival:aft",
    "survival:cox",
)
MULTI_OBJECTIVES = ("multi:softmax", "multi:softprob")

# Metric names and directions: constants/xgb_constants.py (XGB_MAXIMIZE_METRICS, XGB_MINIMIZE_METRICS).
# The container defines each as "validation:<name>"; https://docs.aws.amazon.com/sagemaker/latest/dg/
# xgboost-tuning.html lists the common ones (accuracy, auc, error, f1, logloss, mae, map, merror,
# mlogloss, mse, ndcg, rmse) with the same directions.
MAXIMIZE_METRICS = (
    "accuracy",
    "auc",
    "aucpr",
    "balanced_accuracy",
    "f1",
    "f1_binary",
    "f1_macro",
    "map",
    "ndcg",
    "precision",
    "precision_macro",
    "precision_micro",
    "r2",
    "recall",
    "recall_macro",
    "recall_micro",
)
MINIMIZE_METRICS = (
    "aft-nloglik",
    "cox-nloglik",
    "error",
    "gamma-deviance",
    "gamma-nloglik",
    "interval-regression-accuracy",
    "logloss",
    "mae",
    "mape",
    "merror",
    "mlogloss",
    "mphe",
    "mse",
    "poisson-nloglik",
    "rmse",
    "rmsle",
    "tweedie-nloglik",
)
METRICS: tuple[Metric, ...] = tuple(
    [Metric(f"validation:{name}", "max") for name in MAXIMIZE_METRICS]
    + [Metric(f"validation:{name}", "min") for name in MINIMIZE_METRICS]
)

# xgboost's default eval_metric per objective ("eval_metric [default according to objective]" in the
# XGBoost 1.7 parameter docs: rmse for regression, logloss for classification, mlogloss for multiclass,
# mean average precision for ranking). The container reports only eval_metric's metrics (or this default).
DEFAULT_EVAL_METRIC = {
    "binary:hinge": "error",
    "binary:logistic": "logloss",
    "binary:logitraw": "logloss",
    "count:poisson": "poisson-nloglik",
    "multi:softmax": "mlogloss",
    "multi:softprob": "mlogloss",
    "rank:map": "map",
    "rank:ndcg": "ndcg",
    "rank:pairwise": "map",
    "reg:gamma": "gamma-nloglik",
    "reg:linear": "rmse",
    "reg:logistic": "rmse",
    "reg:pseudohubererror": "mphe",
    "reg:squarederror": "rmse",
    "reg:squaredlogerror": "rmsle",
    "reg:tweedie": "tweedie-nloglik",
    "survival:aft": "aft-nloglik",
    "survival:cox": "cox-nloglik",
}

# updater plug-ins the container accepts (hyperparameter_validation.py, "updater").
UPDATERS = (
    "coord_descent",
    "distcol",
    "grow_colmaker",
    "grow_histmaker",
    "grow_local_histmaker",
    "grow_quantile_histmaker",
    "grow_skmaker",
    "prune",
    "refresh",
    "shotgun",
    "sync",
)


@dataclass(frozen=True)
class EvalMetrics(ParamType):
    """Comma-separated eval_metric names; ``error``, ``ndcg`` and ``map`` take an ``@<number>`` threshold."""

    @property
    def expected(self) -> str:  # type: ignore[override]
        return 'comma-separated XGBoost metric names (e.g. "auc" or "error@0.7,logloss")'

    def convert(self, value: Any) -> tuple[Any, str]:
        items = value if isinstance(value, list) else str(value).split(",") if isinstance(value, str) else None
        if not items:
            raise ValueError(f"got {value!r}")
        names = []
        for raw in items:
            item = str(raw).strip()
            name, at, threshold = item.partition("@")
            if at:
                if name not in ("error", "ndcg", "map"):
                    raise ValueError(f"got {item!r}; only error, ndcg and map take an @threshold")
                if not re.fullmatch(r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*", threshold):
                    raise ValueError(f"got {item!r}; the threshold after @ must be a number")
            elif name not in MAXIMIZE_METRICS + MINIMIZE_METRICS:
                raise ValueError(f"got {item!r}")
            names.append(item)
        return tuple(names), ",".join(names)


_TUPLE = r"\(\s*-?[01](\s*,\s*-?[01])*\s*,?\s*\)"
_NESTED = r"\[\s*\[\s*\d+(\s*,\s*\d+)*\s*\](\s*,\s*\[\s*\d+(\s*,\s*\d+)*\s*\])*\s*\]"
_UPDATER = r"\s*(" + "|".join(UPDATERS) + r")(\s*,\s*(" + "|".join(UPDATERS) + r"))*\s*"


def _unit(min_open: bool = False) -> Float:
    return Float(minimum=0, maximum=1, min_open=min_open)


# Every hyperparameter on https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost_hyperparameters.html,
# with the ranges the container enforces (hyperparameter_validation.py) where they are stricter than the
# page (subsample and colsample_* in (0,1], sketch_eps in (0,1), scale_pos_weight > 0, num_class >= 2),
# plus the few names the container also accepts (aliases learning_rate, min_split_loss, reg_lambda,
# reg_alpha; dsplit, predictor, num_parallel_tree, save_model_on_termination, aft_loss_distribution,
# aft_loss_distribution_scale, prob_buffer_row). Flags the page gives as 0/1 go as 1/0; those it gives
# as "true"/"false" strings go as true/false.
HYPERPARAMETERS: tuple[HyperParameter, ...] = (
    HyperParameter("num_round", Int(minimum=1), required=True),
    HyperParameter("num_class", Int(minimum=2)),
    HyperParameter("alpha", Float(minimum=0)),
    HyperParameter("aft_loss_distribution", Choice(("normal", "logistic", "extreme"))),
    HyperParameter("aft_loss_distribution_scale", Float(minimum=0)),
    HyperParameter("base_score", Float(minimum=0)),
    HyperParameter("booster", Choice(("gbtree", "gblinear", "dart"))),
    HyperParameter("colsample_bylevel", _unit(min_open=True)),
    HyperParameter("colsample_bynode", _unit(min_open=True)),
    HyperParameter("colsample_bytree", _unit(min_open=True)),
    HyperParameter("csv_weights", Bool(style="numeric")),
    HyperParameter("deterministic_histogram", Bool()),
    HyperParameter("dsplit", Choice(("row", "col"))),
    HyperParameter("early_stopping_rounds", Int(minimum=1)),
    HyperParameter("eta", _unit()),
    HyperParameter("eval_metric", EvalMetrics()),
    HyperParameter("gamma", Float(minimum=0)),
    HyperParameter("grow_policy", Choice(("depthwise", "lossguide"))),
    HyperParameter(
        "interaction_constraints",
        Text(_NESTED, 'a nested list of feature indices as a string, e.g. "[[1,2],[3,4,5]]"'),
    ),
    HyperParameter("lambda", Float(minimum=0)),
    HyperParameter("lambda_bias", _unit()),
    HyperParameter("learning_rate", _unit()),
    HyperParameter("max_bin", Int(minimum=0)),
    HyperParameter("max_delta_step", Float(minimum=0)),
    HyperParameter("max_depth", Int(minimum=0)),
    HyperParameter("max_leaves", Int(minimum=0)),
    HyperParameter("min_child_weight", Float(minimum=0)),
    HyperParameter("min_split_loss", Float(minimum=0)),
    HyperParameter(
        "monotone_constraints",
        Text(_TUPLE, 'a tuple of -1, 0 and 1 as a string, e.g. "(0,1,-1)"'),
    ),
    HyperParameter("normalize_type", Choice(("tree", "forest"))),
    HyperParameter("nthread", Int(minimum=1)),
    HyperParameter("num_parallel_tree", Int(minimum=1)),
    HyperParameter("objective", Choice(OBJECTIVES)),
    HyperParameter("one_drop", Bool(style="numeric")),
    HyperParameter("predictor", Choice(("auto", "cpu_predictor", "gpu_predictor"))),
    HyperParameter("prob_buffer_row", Int(minimum=2)),
    HyperParameter("process_type", Choice(("default", "update"))),
    HyperParameter("rate_drop", _unit()),
    HyperParameter("refresh_leaf", Bool(style="numeric")),
    HyperParameter("reg_alpha", Float(minimum=0)),
    HyperParameter("reg_lambda", Float(minimum=0)),
    HyperParameter("sample_type", Choice(("uniform", "weighted"))),
    HyperParameter("sampling_method", Choice(("uniform", "gradient_based"))),
    HyperParameter("save_model_on_termination", Bool()),
    HyperParameter("scale_pos_weight", Float(minimum=0, min_open=True)),
    HyperParameter("seed", Int(minimum=-(2**31) + 1, maximum=2**31 - 2)),
    HyperParameter("single_precision_histogram", Bool()),
    HyperParameter("sketch_eps", Float(minimum=0, maximum=1, min_open=True, max_open=True)),
    HyperParameter("skip_drop", _unit()),
    HyperParameter("subsample", _unit(min_open=True)),
    HyperParameter("tree_method", Choice(("auto", "exact", "approx", "hist", "gpu_hist"))),
    HyperParameter("tweedie_variance_power", Float(minimum=1, maximum=2, min_open=True, max_open=True)),
    HyperParameter("updater", Text(_UPDATER, 'comma-separated updater names, e.g. "grow_colmaker,prune"')),
    HyperParameter("use_dask_gpu_training", Bool()),
    HyperParameter("verbosity", Int(minimum=0, maximum=3)),
)

# Aliases the container declares (declare_alias): giving both spellings is ambiguous.
ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda", "reg_alpha": "alpha"}

# https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost.html ("Input/Output interface"):
# text/libsvm (default), text/csv (label first, no header), application/x-parquet,
# application/x-recordio-protobuf. The container (data_utils.py) also accepts text/x-libsvm; Pipe mode
# reads CSV, Parquet and RecordIO-protobuf, not LibSVM.
_CONTENT_TYPES = {
    ".csv": "text/csv",
    ".libsvm": "text/libsvm",
    ".svm": "text/libsvm",
    ".parquet": "application/x-parquet",
    ".pbr": "application/x-recordio-protobuf",
    ".recordio": "application/x-recordio-protobuf",
    ".protobuf": "application/x-recordio-protobuf",
}
_ALLOWED = ("text/csv", "text/libsvm", "text/x-libsvm", "application/x-parquet", "application/x-recordio-protobuf")
# https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost.html ("Distributed GPU training"): Dask
# training reads CSV and Parquet only.
DASK_CONTENT_TYPES = ("text/csv", "application/x-parquet")

CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec("train", True, _CONTENT_TYPES, "text/csv", _ALLOWED, "training data, label first"),
    ChannelSpec("validation", False, _CONTENT_TYPES, "text/csv", _ALLOWED, "validation data for eval_metric"),
)


def _is_multi(values: Mapping[str, Any]) -> bool:
    return values.get("objective") in MULTI_OBJECTIVES


class XGBoost(Algorithm):
    """The SageMaker XGBoost algorithm (framework container in algorithm mode)."""

    name = "xgboost"
    title = "XGBoost"
    repository = REPOSITORIES["xgboost"]
    accounts = XGBOOST
    default_version = DEFAULT_VERSION
    versions = SUPPORTED_VERSIONS
    channels = CHANNELS
    hyperparameters = HYPERPARAMETERS
    metrics = METRICS
    # https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost.html ("EC2 instance recommendation"):
    # memory-bound, so general purpose (M5) over compute optimized; GPU (P3, G4dn, G5) with
    # tree_method gpu_hist from 1.2-2; CPU or GPU for inference; distributed CPU training with
    # ShardedByS3Key, distributed GPU training with Dask from 1.5-1.
    default_training_instance = "ml.m5.xlarge"
    default_hosting_instance = "ml.m5.large"
    gpu_only_training = False
    gpu_only_hosting = False
    supports_serverless = True
    supports_distributed = True
    supports_network_isolation = True
    input_modes = ("File", "Pipe")
    # The container saves the booster as "xgboost-model" (algorithm_mode/train.py) but serves the
    # file(s) it finds in the model directory whatever their names: see directory_loading().
    serving_files = ()

    def directory_loading(self, version: str) -> DirectoryLoading | None:
        """What each version's container loads from the model directory (serve_utils.get_loaded_booster)."""
        return MODEL_DIRECTORY_LOADING.get(version)

    def accounts_for(self, version: str) -> Mapping[str, str]:
        """Every framework version shares one account map."""
        return XGBOOST

    def repository_for(self, version: str) -> str:
        return REPOSITORIES["xgboost"]

    def image_tag(self, version: str) -> str:
        """1.0-1 and older are tagged ``<version>-cpu-py3``; later ones by the version alone."""
        return f"{version}-cpu-py3" if version in XGBOOST_CPU_PY3_VERSIONS else version

    def check_hyperparameters(self, values: dict[str, Any], path: str) -> list[Problem]:
        """Rules from the docs and the container's dependency validators."""
        problems: list[Problem] = []
        objective = values.get("objective")
        if _is_multi(values) and "num_class" not in values:
            problems.append(
                Problem(
                    f"{path}.num_class",
                    f"objective {objective} requires num_class",
                    "add num_class: the number of classes; labels must be 0..num_class-1",
                )
            )
        elif not _is_multi(values) and "num_class" in values:
            problems.append(
                Problem(
                    f"{path}.num_class",
                    f"num_class applies to multi:softmax and multi:softprob only, objective is "
                    f"{objective or 'reg:squarederror (the default)'}",
                    "remove num_class, or set objective to multi:softmax or multi:softprob",
                )
            )
        metrics = values.get("eval_metric") or ()
        if "auc" in metrics and not str(objective or "").startswith(("binary:", "rank:")):
            problems.append(
                Problem(
                    f"{path}.eval_metric",
                    "eval_metric auc applies to binary classification and ranking objectives only",
                    "use a binary:* or rank:* objective, or another metric (e.g. rmse, merror)",
                )
            )
        if "aft-nloglik" in metrics and objective != "survival:aft":
            problems.append(
                Problem(
                    f"{path}.eval_metric",
                    "eval_metric aft-nloglik applies to objective survival:aft only",
                    "set objective to survival:aft or choose another metric",
                )
            )
        tree_method = values.get("tree_method", "auto")
        if "monotone_constraints" in values and tree_method not in ("exact", "hist"):
            problems.append(
                Problem(
                    f"{path}.monotone_constraints",
                    f"monotone_constraints needs tree_method exact or hist, tree_method is {tree_method}",
                    'set tree_method to "exact" or "hist"',
                )
            )
        if "interaction_constraints" in values and tree_method not in ("exact", "hist", "approx"):
            problems.append(
                Problem(
                    f"{path}.interaction_constraints",
                    f"interaction_constraints needs tree_method exact, hist or approx, tree_method is {tree_method}",
                    'set tree_method to "exact", "hist" or "approx"',
                )
            )
        if values.get("grow_policy") == "lossguide" and tree_method not in ("hist", "gpu_hist"):
            problems.append(
                Problem(
                    f"{path}.grow_policy",
                    f"grow_policy lossguide needs tree_method hist, tree_method is {tree_method}",
                    'set tree_method to "hist"',
                )
            )
        if values.get("use_dask_gpu_training") is True and tree_method != "gpu_hist":
            problems.append(
                Problem(
                    f"{path}.use_dask_gpu_training",
                    "Dask GPU training needs tree_method gpu_hist",
                    'set tree_method to "gpu_hist" and train on GPU instances (XGBoost 1.5-1 or later)',
                )
            )
        for alias, canonical in ALIASES.items():
            if alias in values and canonical in values:
                problems.append(
                    Problem(
                        f"{path}.{alias}",
                        f"{alias} is another name for {canonical}, and both are set",
                        f"keep only {canonical}",
                    )
                )
        return problems

    def check_channels(self, channels: Mapping[str, str | None], values: Mapping[str, Any], path: str) -> list[Problem]:
        """The defaults, plus: Dask GPU training reads CSV or Parquet only."""
        problems = super().check_channels(channels, values, path)
        if values.get("use_dask_gpu_training") is True:
            for name, content_type in channels.items():
                if content_type and content_type not in DASK_CONTENT_TYPES and self.channel(name):
                    problems.append(
                        Problem(
                            f"{path}.{name}.content_type",
                            f"Dask GPU training (use_dask_gpu_training) reads CSV or Parquet, not {content_type}",
                            "convert the data to CSV or Parquet, or turn use_dask_gpu_training off",
                        )
                    )
        return problems

    def check_label(self, label: float, values: Mapping[str, Any]) -> str | None:
        """Label rules per objective (container error messages and XGBoost's own checks)."""
        objective = values.get("objective", "reg:squarederror")
        if objective in MULTI_OBJECTIVES:
            classes = values.get("num_class")
            if not float(label).is_integer() or label < 0 or (isinstance(classes, int) and label >= classes):
                top = f"{classes - 1}" if isinstance(classes, int) else "num_class-1"
                return f"must be an integer from 0 to {top} for {objective}"
        elif objective.startswith("binary:") or objective == "reg:logistic":
            if not 0.0 <= label <= 1.0:
                return f"must be in [0, 1] for {objective}"
        elif objective in ("count:poisson", "reg:tweedie"):
            if label < 0:
                return f"must not be negative for {objective}"
        elif objective == "reg:gamma":
            if label <= 0:
                return "must be positive for reg:gamma"
        elif objective == "reg:squaredlogerror" and label <= -1:
            return "must be greater than -1 for reg:squaredlogerror"
        return None

    def check_training_instance(self, instance_type: str, values: Mapping[str, Any], path: str) -> list[Problem]:
        """tree_method gpu_hist trains on a GPU: on a CPU instance the job would fail after start-up."""
        if values.get("tree_method") == "gpu_hist" and not is_gpu_instance(instance_type):
            return [
                Problem(
                    path,
                    f"tree_method gpu_hist needs a GPU instance, {instance_type} has none",
                    "use a GPU instance such as ml.g5.xlarge, or tree_method hist on CPU",
                )
            ]
        return []

    def reported_metrics(self, values: Mapping[str, Any]) -> tuple[str, ...] | None:
        names = values.get("eval_metric") or ()
        if not names:
            names = (DEFAULT_EVAL_METRIC.get(str(values.get("objective") or "reg:squarederror"), ""),)
        names = tuple(name.split("@", 1)[0] for name in names if name)
        return tuple(f"{channel}:{name}" for channel in ("train", "validation") for name in names)

    def class_count(self, values: Mapping[str, Any]) -> int | None:
        if _is_multi(values) and isinstance(values.get("num_class"), int):
            return values["num_class"]
        if str(values.get("objective", "")).startswith("binary:"):
            return 2
        return None

    # ---- inference ------------------------------------------------------------------------
    # https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost.html ("Input/Output interface"): inference
    # takes text/csv (features only, no label), text/libsvm or recordio-protobuf. The container
    # (algorithm_mode/serve.py) answers text/csv: ",".join(str(p) for p in predictions), so one number
    # per row ("0.2,0.87"), or for multi:softprob one list per row ("[0.1, 0.2, 0.7],[0.3, 0.3, 0.4]");
    # newline-separated in batch mode. multi:softmax answers the class index as a float ("2.0").

    request_content_types = ("text/csv", *LIBSVM_TYPES)

    def encode_request(self, payload: PredictionInput, ctx: ServingContext) -> list[InvokeRequest]:
        self.check_media_type(payload)
        return row_requests(payload, ctx, accept="text/csv", allow_missing=True)

    def decode_response(
        self, body: bytes, content_type: str, request: InvokeRequest, ctx: ServingContext
    ) -> list[dict[str, Any]]:
        if body.lstrip()[:1] == b"{":  # a JSON answer (Accept: application/json on newer containers)
            values = _json_scores(body)
        else:
            values = codecs.parse_csv_values(body, "the xgboost endpoint")
        objective = ctx.hyperparameters.get("objective")
        classes = ctx.hyperparameters.get("num_class")
        if (
            objective == "multi:softprob"
            and isinstance(classes, int)
            and values
            and all(not isinstance(v, list) for v in values)
            and len(values) == request.count * classes
        ):
            values = [values[i : i + classes] for i in range(0, len(values), classes)]  # a flat answer
        return [self.named(_prediction(value, objective), ctx) for value in values]


def _json_scores(body: bytes) -> list[float | list[float]]:
    """The ``score`` of each prediction in a JSON answer ({"predictions": [{"score": ...}]})."""
    answer = codecs.parse_json_response(body, "the xgboost endpoint")
    items = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) and "score" in i for i in items):
        raise codecs.BadModelResponse(f"the xgboost endpoint answered JSON without scores: {codecs.preview(body)}")
    return [item["score"] for item in items]


def _prediction(value: float | list[float], objective: str | None) -> dict[str, Any]:
    """One row's answer in the uniform shape, per objective (the container's own conventions)."""
    if isinstance(value, list):  # multi:softprob: class probabilities
        if not value:
            raise codecs.BadModelResponse("the xgboost endpoint answered an empty list of class probabilities")
        return {"score": value, "predicted_label": codecs.top_indices(value, 1)[0]}
    if objective in ("multi:softmax", "binary:hinge"):
        index = codecs.as_int(value)
        return {"predicted_label": index} if index is not None else {"score": value}
    if objective == "binary:logistic":
        return {"score": value, "predicted_label": int(value > 0.5)}
    if objective == "binary:logitraw":
        return {"score": value, "predicted_label": int(value > 0)}
    return {"score": value}


ALGORITHM = XGBoost()
