"""Linear learner: binary and multiclass classification and regression on tabular data.

Facts from the Amazon SageMaker AI developer guide (pages cited above each table).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from sagedrop import codecs
from sagedrop.algorithms.accounts import BUILTIN_VERSION, LINEAR_LEARNER
from sagedrop.algorithms.base import (
    Algorithm,
    BatchFormat,
    BatchSupport,
    Bool,
    ChannelSpec,
    Choice,
    Float,
    HyperParameter,
    Int,
    InvokeRequest,
    Metric,
    ParamType,
    PredictionInput,
    ServingContext,
    row_requests,
)
from sagedrop.errors import Problem

PREDICTOR_TYPES = ("binary_classifier", "multiclass_classifier", "regressor")

# Loss functions allowed per predictor_type; "auto" picks logistic, softmax_loss or squared_loss.
# https://docs.aws.amazon.com/sagemaker/latest/dg/ll_hyperparameters.html (loss) and
# https://docs.aws.amazon.com/sagemaker/latest/dg/linear-learner.html ("softmax_loss for multiclass").
LOSSES_BY_PREDICTOR: dict[str, tuple[str, ...]] = {
    "binary_classifier": ("auto", "logistic", "hinge_loss"),
    "multiclass_classifier": ("auto", "softmax_loss"),
    "regressor": (
        "auto",
        "squared_loss",
        "absolute_loss",
        "eps_insensitive_squared_loss",
        "eps_insensitive_absolute_loss",
        "quantile_loss",
        "huber_loss",
    ),
}
ALL_LOSSES = (
    "auto",
    "logistic",
    "squared_loss",
    "absolute_loss",
    "hinge_loss",
    "eps_insensitive_squared_loss",
    "eps_insensitive_absolute_loss",
    "quantile_loss",
    "huber_loss",
    "softmax_loss",
)


@dataclass(frozen=True)
class PositiveOrWords(ParamType):
    """A positive number or one of a few words (positive_example_weight_mult: ``auto``/``balanced``)."""

    words: tuple[str, ...] = ()

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "a number > 0 or " + " or ".join(f'"{w}"' for w in self.words)

    def convert(self, value: Any) -> tuple[Any, str]:
        if isinstance(value, str) and value.strip().lower() in self.words:
            word = value.strip().lower()
            return word, word
        return Float(minimum=0, min_open=True).convert(value)


def _positive_int(auto: bool = False) -> Int:
    return Int(minimum=1, auto=auto)


def _positive_float(auto: bool = False) -> Float:
    return Float(minimum=0, min_open=True, auto=auto)


def _unit(auto: bool = False, open_ends: bool = False) -> Float:
    return Float(minimum=0, maximum=1, min_open=open_ends, max_open=open_ends, auto=auto)


# Every hyperparameter on https://docs.aws.amazon.com/sagemaker/latest/dg/ll_hyperparameters.html
# (current page: feature_dim is optional, "auto" or a positive integer, default "auto").
# Where the page says "between 0 and 1" for a target/quantile, the ends are excluded as in the
# SageMaker Python SDK's validation (sagemaker/amazon/linear_learner.py): 0 and 1 are meaningless there.
HYPERPARAMETERS: tuple[HyperParameter, ...] = (
    HyperParameter("predictor_type", Choice(PREDICTOR_TYPES), required=True),
    HyperParameter("num_classes", Int(minimum=3, maximum=1_000_000)),
    HyperParameter("accuracy_top_k", _positive_int()),
    HyperParameter("balance_multiclass_weights", Bool()),
    HyperParameter("beta_1", _unit(auto=True)),
    HyperParameter("beta_2", _unit(auto=True)),
    HyperParameter("bias_lr_mult", _positive_float(auto=True)),
    HyperParameter("bias_wd_mult", Float(minimum=0, auto=True)),
    HyperParameter(
        "binary_classifier_model_selection_criteria",
        Choice(("accuracy", "f_beta", "precision_at_target_recall", "recall_at_target_precision", "loss_function")),
    ),
    HyperParameter("early_stopping_patience", _positive_int()),
    HyperParameter("early_stopping_tolerance", _positive_float()),
    HyperParameter("epochs", _positive_int()),
    HyperParameter("f_beta", _positive_float()),
    HyperParameter("feature_dim", _positive_int(auto=True)),
    HyperParameter("huber_delta", _positive_float()),
    HyperParameter("init_bias", Float()),
    HyperParameter("init_method", Choice(("uniform", "normal"))),
    HyperParameter("init_scale", _positive_float()),
    HyperParameter("init_sigma", _positive_float()),
    HyperParameter("l1", Float(minimum=0, auto=True)),
    HyperParameter("learning_rate", _positive_float(auto=True)),
    HyperParameter("loss", Choice(ALL_LOSSES)),
    HyperParameter("loss_insensitivity", _positive_float()),
    HyperParameter("lr_scheduler_factor", Float(minimum=0, maximum=1, min_open=True, auto=True)),
    HyperParameter("lr_scheduler_minimum_lr", _positive_float(auto=True)),
    HyperParameter("lr_scheduler_step", _positive_int(auto=True)),
    HyperParameter("margin", _positive_float()),
    HyperParameter("mini_batch_size", _positive_int()),
    HyperParameter("momentum", _unit(auto=True)),
    HyperParameter("normalize_data", Bool(auto=True)),
    HyperParameter("normalize_label", Bool(auto=True)),
    HyperParameter("num_calibration_samples", _positive_int(auto=True)),
    HyperParameter("num_models", _positive_int(auto=True)),
    HyperParameter("num_point_for_scaler", _positive_int()),
    HyperParameter("optimizer", Choice(("auto", "sgd", "adam", "rmsprop"))),
    HyperParameter("positive_example_weight_mult", PositiveOrWords(words=("auto", "balanced"))),
    HyperParameter("quantile", _unit(open_ends=True)),
    HyperParameter("target_precision", _unit(open_ends=True)),
    HyperParameter("target_recall", _unit(open_ends=True)),
    HyperParameter("unbias_data", Bool(auto=True)),
    HyperParameter("unbias_label", Bool(auto=True)),
    HyperParameter("use_bias", Bool()),
    HyperParameter("use_lr_scheduler", Bool()),
    HyperParameter("wd", Float(minimum=0, auto=True)),
)

# https://docs.aws.amazon.com/sagemaker/latest/dg/linear-learner-tuning.html ("Metrics computed by
# the linear learner algorithm"): test:* on the test channel, validation:* on the validation channel.
_METRIC_DIRECTIONS = {
    "absolute_loss": "min",
    "binary_classification_accuracy": "max",
    "binary_f_beta": "max",
    "dcg": "max",
    "macro_f_beta": "max",
    "macro_precision": "max",
    "macro_recall": "max",
    "mse": "min",
    "multiclass_accuracy": "max",
    "multiclass_top_k_accuracy": "max",
    "objective_loss": "min",
    "precision": "max",
    "recall": "max",
    "roc_auc_score": "max",
}
# The page lists validation:rmse ("The root mean square error of the final model on the validation
# dataset. This objective metric is only valid for regression.", Minimize) but no test:rmse (also
# awsdocs/amazon-sagemaker-developer-guide @ a869fa5c9bd1, doc_source/linear-learner-tuning.md).
METRICS: tuple[Metric, ...] = (
    *(
        Metric(f"{channel}:{name}", better)
        for channel in ("test", "validation")
        for name, better in _METRIC_DIRECTIONS.items()
    ),
    Metric("validation:rmse", "min"),
)

# https://docs.aws.amazon.com/sagemaker/latest/dg/linear-learner.html ("Input/Output interface"):
# train, validation (optional), test (optional); recordIO-wrapped protobuf (Float32 only) or CSV
# (label first, no header); File or Pipe mode for both.
_CONTENT_TYPES = {
    ".csv": "text/csv",
    ".pbr": "application/x-recordio-protobuf",
    ".recordio": "application/x-recordio-protobuf",
    ".protobuf": "application/x-recordio-protobuf",
}
_ALLOWED = ("text/csv", "application/x-recordio-protobuf")


def _channel(name: str, required: bool, description: str) -> ChannelSpec:
    return ChannelSpec(name, required, _CONTENT_TYPES, "text/csv", _ALLOWED, description)


CHANNELS: tuple[ChannelSpec, ...] = (
    _channel("train", True, "training data: CSV with the label first and no header, or RecordIO-protobuf"),
    _channel("validation", False, "validation data (FullyReplicated): calibrates and selects the best model"),
    _channel("test", False, "test data: the logs include the final model's test score"),
)


class LinearLearner(Algorithm):
    """The SageMaker linear learner built-in algorithm."""

    name = "linear-learner"
    title = "Linear Learner"
    # The "repository" field of image_uri_config/linear-learner.json (sources and commits: accounts.py).
    repository = "linear-learner"
    accounts = LINEAR_LEARNER
    default_version = BUILTIN_VERSION
    versions = (BUILTIN_VERSION,)
    channels = CHANNELS
    hyperparameters = HYPERPARAMETERS
    metrics = METRICS
    # https://docs.aws.amazon.com/sagemaker/latest/dg/linear-learner.html ("EC2 instance
    # recommendation"): CPU and GPU (P2, P3, G4dn, G5) for training and inference.
    default_training_instance = "ml.m5.xlarge"
    default_hosting_instance = "ml.m5.large"
    gpu_only_training = False
    gpu_only_hosting = False
    supports_serverless = True
    # https://docs.aws.amazon.com/sagemaker/latest/dg/common-info-all-im-models.html: parallelizable.
    supports_distributed = True
    # https://docs.aws.amazon.com/sagemaker/latest/dg/mkt-algo-model-internet-free.html: only Chainer and
    # Reinforcement Learning containers lack network isolation.
    supports_network_isolation = True
    input_modes = ("File", "Pipe")
    # https://docs.aws.amazon.com/sagemaker/latest/dg/cdf-training.html ("Trained model deserialization"):
    # the archive of these algorithms holds "model_algo-1" (the page's example is k-means); whether the
    # (non-public) container insists on that name is not documented.
    serving_files = ("model_algo-*",)
    serving_hint = "the Linear Learner container loads model_algo-1 (what its training job writes)"
    # CSV training data is label first, no header, and the train channel also takes RecordIO-protobuf
    # (linear-learner.html "Input/Output interface", cited at CHANNELS): label_bins and convert apply.
    numeric_csv_label = True
    multiclass_hint = "predictor_type multiclass_classifier with num_classes"
    converts_csv_to_recordio = True
    # Batch transform (https://docs.aws.amazon.com/sagemaker/latest/dg/cdf-inference.html, "Use batch transform
    # with built-in algorithms"; answers per LL-in-formats.html "JSONLINES response formats": one JSON object per
    # record, so a .out line is one input row). Linear Learner answers no CSV, so a CSV input cannot be joined.
    batch = BatchSupport(
        formats=(
            BatchFormat("text/csv", "Line", "application/jsonlines"),
            BatchFormat("application/jsonlines", "Line", "application/jsonlines", joinable=True),
            BatchFormat("application/x-recordio-protobuf", "RecordIO", "application/jsonlines"),
        ),
        source="https://docs.aws.amazon.com/sagemaker/latest/dg/LL-in-formats.html",
    )

    def check_hyperparameters(self, values: dict[str, Any], path: str) -> list[Problem]:
        """num_classes exactly for multiclass; loss must suit predictor_type."""
        problems: list[Problem] = []
        predictor = values.get("predictor_type")
        if predictor == "multiclass_classifier" and "num_classes" not in values:
            problems.append(
                Problem(
                    f"{path}.num_classes",
                    "predictor_type multiclass_classifier requires num_classes",
                    "add num_classes: the number of classes (3 to 1,000,000), labels 0..num_classes-1",
                )
            )
        loss = values.get("loss")
        if predictor in LOSSES_BY_PREDICTOR and loss is not None and loss not in LOSSES_BY_PREDICTOR[predictor]:
            problems.append(
                Problem(
                    f"{path}.loss",
                    f"loss {loss!r} does not apply to predictor_type {predictor}",
                    "use one of " + ", ".join(LOSSES_BY_PREDICTOR[predictor]),
                )
            )
        return problems

    def hyperparameter_warnings(self, values: Mapping[str, Any], path: str) -> list[Problem]:
        """num_classes outside multiclass: https://docs.aws.amazon.com/sagemaker/latest/dg/ll_hyperparameters.html,
        num_classes: "Required when predictor_type is multiclass_classifier. Otherwise, the algorithm
        ignores it." """
        predictor = values.get("predictor_type")
        if predictor in ("binary_classifier", "regressor") and "num_classes" in values:
            return [
                Problem(
                    f"{path}.num_classes",
                    f"num_classes is ignored for predictor_type {predictor} (it applies to multiclass_classifier)",
                    "remove num_classes, or set predictor_type to multiclass_classifier",
                )
            ]
        return []

    def check_channel_modes(
        self, channels: Mapping[str, tuple[str | None, str, str]], values: Mapping[str, Any], path: str
    ) -> list[Problem]:
        """https://docs.aws.amazon.com/sagemaker/latest/dg/linear-learner.html ("Input/Output interface"):
        "If you provide validation data, the S3DataDistributionType should be FullyReplicated." """
        validation = channels.get("validation")
        if validation is not None and validation[2] == "ShardedByS3Key":
            return [
                Problem(
                    f"{path}.validation.distribution",
                    "the linear learner validation channel must be FullyReplicated (it calibrates and "
                    "selects the model on every instance)",
                    'remove distribution or set it to "FullyReplicated"',
                )
            ]
        return []

    def check_label(self, label: float, values: Mapping[str, Any]) -> str | None:
        """Binary: 0 or 1; multiclass: an integer 0..num_classes-1; regression: any number."""
        predictor = values.get("predictor_type")
        if predictor == "binary_classifier" and label not in (0.0, 1.0):
            return "must be 0 or 1 for a binary_classifier"
        if predictor == "multiclass_classifier":
            classes = values.get("num_classes")
            if not float(label).is_integer() or label < 0 or (isinstance(classes, int) and label >= classes):
                top = f"{classes - 1}" if isinstance(classes, int) else "num_classes-1"
                return f"must be an integer from 0 to {top} for a multiclass_classifier"
        return None

    def expected_feature_count(self, values: Mapping[str, Any]) -> int | None:
        """feature_dim when it is a number (not "auto")."""
        feature_dim = values.get("feature_dim")
        return feature_dim if isinstance(feature_dim, int) else None

    def class_count(self, values: Mapping[str, Any]) -> int | None:
        predictor = values.get("predictor_type")
        if predictor == "binary_classifier":
            return 2
        if predictor == "multiclass_classifier" and isinstance(values.get("num_classes"), int):
            return values["num_classes"]
        return None

    # ---- inference ------------------------------------------------------------------------
    # https://docs.aws.amazon.com/sagemaker/latest/dg/cdf-inference.html: requests are text/csv (the
    # features of one example per line, no label), application/json or recordio-protobuf.
    # https://docs.aws.amazon.com/sagemaker/latest/dg/LL-in-formats.html: with Accept application/json
    # the answer is {"predictions": [{"score": s, "predicted_label": l}]}; binary: score is the
    # probability of class 1; multiclass: score is the list of class probabilities; regressor: score
    # only. sagedrop always sends CSV (the most compact form) and asks for JSON.

    request_content_types = ("text/csv",)

    def encode_request(self, payload: PredictionInput, ctx: ServingContext) -> list[InvokeRequest]:
        self.check_media_type(payload)
        return row_requests(payload, ctx, accept="application/json")

    def decode_response(
        self, body: bytes, content_type: str, request: InvokeRequest, ctx: ServingContext
    ) -> list[dict[str, Any]]:
        answer = codecs.parse_json_response(body, "the linear-learner endpoint")
        items = answer.get("predictions") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise codecs.BadModelResponse(
                f'the linear-learner endpoint answered without a "predictions" list: {codecs.preview(body)}'
            )
        plain = _plain_predictions(items, ctx.labels)
        if plain is not None:
            return plain
        predictions = []
        for item in items:
            score = item.get("score") if isinstance(item, dict) else None
            if not _is_score(score):
                raise codecs.BadModelResponse(
                    f"the linear-learner endpoint answered a prediction without a numeric score: {item!r:.120}"
                )
            prediction: dict[str, Any] = {"score": score}
            if "predicted_label" in item:
                index = codecs.as_int(item["predicted_label"])
                prediction["predicted_label"] = index if index is not None else item["predicted_label"]
            predictions.append(self.named(prediction, ctx))
        return predictions


def _plain_predictions(items: list[Any], labels: tuple[str, ...] | None) -> list[dict[str, Any]] | None:
    """What ``decode_response``'s per-item loop gives for the usual answer, without a Python step per item
    (issue 16: the handler's own work per request): every item an object whose ``score`` is a number, and
    either none or every one with a ``predicted_label`` that is an int or, in every item, a whole float
    (``1.0`` -> 1), named from ``labels``. None for anything else (multiclass score lists, other labels, a
    problem to report): the loop decides. tests/unit/test_linear_learner_answers.py compares both."""
    if set(map(type, items)) != {dict}:
        return None
    scores = list(map(dict.get, items, repeat("score")))
    if not set(map(type, scores)) <= {float, int}:  # bool and list scores: the loop decides
        return None
    given = sum(map(dict.__contains__, items, repeat("predicted_label")))
    if not given:
        return [{"score": score} for score in scores]
    indices = list(map(dict.get, items, repeat("predicted_label")))
    kinds = set(map(type, indices))
    if kinds == {float} and all(map(float.is_integer, indices)):  # False for inf and nan
        indices = list(map(int, indices))
    elif kinds != {int} or given != len(items):
        return None
    count = len(labels) if labels else 0
    return [
        {"score": score, "predicted_label": index, "label": labels[index]}  # type: ignore[index]
        if 0 <= index < count
        else {"score": score, "predicted_label": index}
        for score, index in zip(scores, indices, strict=True)
    ]


def _is_score(value: Any) -> bool:
    """A number, or (multiclass) a non-empty list of numbers."""
    if isinstance(value, list):
        return bool(value) and all(_is_score(v) and not isinstance(v, list) for v in value)
    return isinstance(value, int | float) and not isinstance(value, bool)


ALGORITHM = LinearLearner()
