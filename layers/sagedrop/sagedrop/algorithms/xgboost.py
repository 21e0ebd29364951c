"""XGBoost (the open-source SageMaker XGBoost container in algorithm mode): gradient boosted trees.

Facts from the Amazon SageMaker AI developer guide and, where the guide defers to it ("for the full
set of hyperparameters ..."), the validation code of the container itself
(github.com/aws/sagemaker-xgboost-container, src/sagemaker_xgboost_container/algorithm_mode/
hyperparameter_validation.py, constants/xgb_constants.py, data_utils.py). Cited above each table.
The hyperparameters and metrics differ per image version: one table per version, with the branch and
commit it was read at, in xgboost_hyperparameters.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagedrop import codecs
from sagedrop.algorithms import xgboost_hyperparameters as xhp
from sagedrop.algorithms.accounts import (
    XGBOOST,
    XGBOOST_CPU_PY3_VERSIONS,
    XGBOOST_LEGACY_REPOSITORY,
    XGBOOST_VERSIONS,
)
from sagedrop.algorithms.base import (
    LIBSVM_TYPES,
    Algorithm,
    BatchFormat,
    BatchSupport,
    ChannelSpec,
    DirectoryLoading,
    HyperParameter,
    InvokeRequest,
    Metric,
    PredictionInput,
    ServingContext,
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

MULTI_OBJECTIVES = ("multi:softmax", "multi:softprob")

# Metric names and directions per image version: constants/xgb_constants.py (XGB_MAXIMIZE_METRICS,
# XGB_MINIMIZE_METRICS), which algorithm_mode/metrics.py turns into "validation:<name>" metric
# definitions (see xgboost_hyperparameters.TABLES). https://docs.aws.amazon.com/sagemaker/latest/dg/
# xgboost-tuning.html lists the common ones with the same directions. These two are the default
# version's (the local trainer reads them).
MAXIMIZE_METRICS = xhp.TABLES[DEFAULT_VERSION].maximize_metrics
MINIMIZE_METRICS = xhp.TABLES[DEFAULT_VERSION].minimize_metrics


def _metrics(table_names: list[xhp.VersionTable]) -> tuple[Metric, ...]:
    better = {name: "max" for t in table_names for name in t.maximize_metrics}
    better.update({name: "min" for t in table_names for name in t.minimize_metrics})
    return tuple(Metric(f"validation:{name}", direction) for name, direction in better.items())


METRICS_BY_VERSION: dict[str, tuple[Metric, ...]] = {v: _metrics([t]) for v, t in xhp.TABLES.items()}
METRICS: tuple[Metric, ...] = _metrics(list(xhp.TABLES.values()))

# xgboost's default eval_metric per objective ("eval_metric [default according to objective]" in the
# XGBoost 1.7 parameter docs: rmse for regression, logloss for classification, mlogloss for multiclass,
# mean average precision for ranking; reg:absoluteerror logs validation-mae with xgboost 1.7.6).
# The container reports only eval_metric's metrics (or this default).
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
    "reg:absoluteerror": "mae",
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

# The hyperparameters of every version (per-version tables: xgboost_hyperparameters.py, read from each
# version branch of github.com/aws/sagemaker-xgboost-container). Aliases: declare_alias in every
# version; giving both spellings is ambiguous.
HYPERPARAMETERS: tuple[HyperParameter, ...] = xhp.hyperparameters_for(None)
ALIASES = xhp.ALIASES

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
    # The "repository" field of image_uri_config/xgboost.json (sources and commits: accounts.py).
    repository = "sagemaker-xgboost"
    accounts = XGBOOST  # every framework version shares one account map
    # The SDK's legacy first-party repository (version "1"): sagedrop builds no URI for it, but the
    # execution role may pull it (template.yaml) and the local stack reads its images as XGBoost.
    extra_repositories = (XGBOOST_LEGACY_REPOSITORY,)
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
    # CSV label first and RecordIO-protobuf in train (cited at CHANNELS): label_bins and convert apply.
    numeric_csv_label = True
    multiclass_hint = "objective multi:softmax with num_class"
    converts_csv_to_recordio = True
    # The container saves the booster as "xgboost-model" (algorithm_mode/train.py) but serves the
    # file(s) it finds in the model directory whatever their names: see directory_loading().
    serving_files = ()
    # Batch transform: CSV without the label column, libsvm, RecordIO-protobuf
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost.html, "Input/Output Interface for the XGBoost
    # Algorithm"; cdf-inference.html "Use batch transform with built-in algorithms"). A text/csv answer is one
    # score line per record, so CSV input can be joined to it.
    batch = BatchSupport(
        formats=(
            BatchFormat("text/csv", "Line", "text/csv", joinable=True),
            BatchFormat("text/libsvm", "Line", "text/csv"),
            BatchFormat("application/x-recordio-protobuf", "RecordIO", "text/csv"),
        ),
        source="https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost.html",
    )

    def directory_loading(self, version: str) -> DirectoryLoading | None:
        """What each version's container loads from the model directory (serve_utils.get_loaded_booster)."""
        return MODEL_DIRECTORY_LOADING.get(version)

    def image_tag(self, version: str) -> str:
        """1.0-1 and older are tagged ``<version>-cpu-py3``; later ones by the version alone."""
        return f"{version}-cpu-py3" if version in XGBOOST_CPU_PY3_VERSIONS else version

    # ---- per-version hyperparameters (xgboost_hyperparameters.TABLES) ----------------------

    def hyperparameters_for(self, version: str | None = None) -> tuple[HyperParameter, ...]:
        return xhp.hyperparameters_for(version if version in xhp.TABLES else None)

    def metrics_for(self, version: str | None = None) -> tuple[Metric, ...]:
        return METRICS_BY_VERSION.get(version or "", METRICS)

    def resolve_hyperparameters(
        self, given: Mapping[str, Any], path: str = "$.hyperparameters", version: str | None = None
    ) -> tuple[dict[str, Any], dict[str, str], list[Problem]]:
        """The shared checks against ``version``'s table, then its dependency validators."""
        version = version if version in xhp.TABLES else None
        typed, wire, problems = super().resolve_hyperparameters(given, path, version)
        if not problems and version is not None:
            problems.extend(xhp.dependency_problems(typed, path, version))
        return typed, wire, problems

    def unknown_hyperparameter(self, key: str, path: str, version: str | None) -> Problem:
        """A name another image version declares says so ("available from", "removed in")."""
        if version not in xhp.TABLES:
            return super().unknown_hyperparameter(key, path, version)
        where = xhp.name_availability(key, version)
        if where == "internal":
            return Problem(
                path,
                f"{key!r} is set by SageMaker itself (automatic model tuning or cross-validation)",
                "remove it: sagedrop runs plain training jobs",
            )
        if where:
            return Problem(
                path,
                f"xgboost {version} has no hyperparameter {key!r}: {where}",
                f"remove it, or set version to one that declares it ({xhp.TABLES[version].source})",
            )
        return super().unknown_hyperparameter(key, path, version)

    def refused_value_hint(self, key: str, value: Any, version: str | None) -> str:
        where = xhp.value_availability(key, value, version) if version in xhp.TABLES else ""
        return f"{value!r} is {where}" if where else ""

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
            # Not ignored: the container passes it on (objective_validator only refuses a missing one),
            # and XGBoost then grows num_class outputs per row and fails the job: xgboost 1.7.6
            # src/objective/regression_obj.cu:52 "Check failed: info.labels.Size() == preds.Size()
            # (100 vs. 300) : Invalid shape of labels" (run here with binary:logistic, reg:squarederror
            # and reg:absoluteerror; the SageMaker page only says it is required for multi:*).
            problems.append(
                Problem(
                    f"{path}.num_class",
                    f"num_class applies to multi:softmax and multi:softprob only, objective is "
                    f"{objective or 'reg:squarederror (the default)'}; XGBoost fails such a job "
                    "(Invalid shape of labels)",
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

    def check_channel_modes(
        self, channels: Mapping[str, tuple[str | None, str, str]], values: Mapping[str, Any], path: str
    ) -> list[Problem]:
        """Pipe mode reads CSV, Parquet and RecordIO-protobuf, not LibSVM: data_utils.py
        VALID_PIPED_CONTENT_TYPES, and get_libsvm_dmatrix raises "Pipe mode not supported for LibSVM."
        (github.com/aws/sagemaker-xgboost-container, every version branch; 1.7-1 @ f7a93a21e50e)."""
        problems = []
        for name, (content_type, input_mode, _) in channels.items():
            if input_mode == "Pipe" and content_type in LIBSVM_TYPES:
                problems.append(
                    Problem(
                        f"{path}.{name}",
                        f"the xgboost container reads {content_type} in File mode only (Pipe mode takes CSV, "
                        "Parquet and RecordIO-protobuf)",
                        'use input_mode "File", or convert the data to CSV, Parquet or RecordIO-protobuf',
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
    # takes text/csv (features only, no label), text/libsvm or recordio-protobuf. The text/csv answer
    # depends on the image: 0.90-x, 1.0-1 and 1.2-1 join the predictions with commas ("0.2,0.87", for
    # multi:softprob one list per row); 1.2-2 and later (algorithm_mode/serve.py at f7a93a21e50e on
    # branch 1.7-1) write them through sagemaker-containers' array_to_csv, one value (or one
    # comma-joined probability row) per line. The decoder below reads both layouts. multi:softmax
    # answers the class index as a float ("2.0").

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
        return _predictions(values, objective, ctx.labels)


def _json_scores(body: bytes) -> list[float | list[float]]:
    """The ``score`` of each prediction in a JSON answer ({"predictions": [{"score": ...}]})."""
    answer = codecs.parse_json_response(body, "the xgboost endpoint")
    items = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) and "score" in i for i in items):
        raise codecs.BadModelResponse(f"the xgboost endpoint answered JSON without scores: {codecs.preview(body)}")
    return [item["score"] for item in items]


_LABEL_ABOVE = {"binary:logistic": 0.5, "binary:logitraw": 0}
"""Objectives whose score is labelled 1 above a threshold (the container's own conventions)."""


def _predictions(values: list[Any], objective: str | None, labels: Any) -> list[dict[str, Any]]:
    """``Algorithm.named(_prediction(value))`` of every value. The usual answer (plain numbers, one per
    row, binary:logistic or binary:logitraw) is built in one pass over the request, the class names
    looked up once; anything else goes value by value."""
    threshold = _LABEL_ABOVE.get(objective or "")
    if threshold is None or not set(map(type, values)) <= {float, int}:
        return _named_all([_prediction(value, objective) for value in values], labels)
    names = [labels[i] if labels and i < len(labels) else None for i in (0, 1)]
    if names[0] is None or names[1] is None:
        return _named_all([{"score": v, "predicted_label": int(v > threshold)} for v in values], labels)
    one, zero = names[1], names[0]
    return [
        {"score": v, "predicted_label": 1, "label": one}
        if v > threshold
        else {"score": v, "predicted_label": 0, "label": zero}
        for v in values
    ]


def _named_all(predictions: list[dict[str, Any]], labels: Any) -> list[dict[str, Any]]:
    """``Algorithm.named`` over a request's predictions: the class names looked up once per request."""
    if not labels:
        return predictions
    count = len(labels)
    for prediction in predictions:
        index = prediction.get("predicted_label")
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < count:
            prediction["label"] = labels[index]
    return predictions


def _prediction(value: float | list[float], objective: str | None) -> dict[str, Any]:
    """One row's answer in the uniform shape, per objective (the container's own conventions)."""
    if isinstance(value, list):  # multi:softprob: class probabilities
        if not value:
            raise codecs.BadModelResponse("the xgboost endpoint answered an empty list of class probabilities")
        return {"score": value, "predicted_label": codecs.top_indices(value, 1)[0]}
    if objective in ("multi:softmax", "binary:hinge"):
        index = codecs.as_int(value)
        return {"predicted_label": index} if index is not None else {"score": value}
    threshold = _LABEL_ABOVE.get(objective or "")
    if threshold is not None:
        return {"score": value, "predicted_label": int(value > threshold)}
    return {"score": value}


ALGORITHM = XGBoost()
