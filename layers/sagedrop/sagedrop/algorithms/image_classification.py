"""Image classification (MXNet ResNet): trains from scratch or by transfer learning on GPU instances.

Facts from the Amazon SageMaker AI developer guide (pages cited above each table).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sagedrop import codecs
from sagedrop.algorithms.accounts import BUILTIN, BUILTIN_VERSION
from sagedrop.algorithms.base import (
    Algorithm,
    BatchFormat,
    BatchSupport,
    Bool,
    ChannelSpec,
    Choice,
    Float,
    HyperParameter,
    InferenceOption,
    Int,
    IntList,
    InvokeRequest,
    Metric,
    ParamType,
    PredictionInput,
    ServingContext,
)
from sagedrop.errors import Problem

# https://docs.aws.amazon.com/sagemaker/latest/dg/IC-Hyperparameter.html (num_layers): ResNet depths
# for large images, for small images, and the only ones with pretrained weights (transfer learning).
LARGE_IMAGE_LAYERS = (18, 34, 50, 101, 152, 200)
SMALL_IMAGE_LAYERS = (20, 32, 44, 56, 110)
PRETRAINED_SIZE = (224, 224)


@dataclass(frozen=True)
class IntChoice(ParamType):
    """An integer from a fixed set."""

    options: tuple[int, ...] = ()

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(str(o) for o in self.options)

    def convert(self, value: Any) -> tuple[Any, str]:
        number, _ = Int().convert(value)
        if number not in self.options:
            raise ValueError(f"got {number}")
        return number, str(number)


def _unit() -> Float:
    return Float(minimum=0, maximum=1)


# Every hyperparameter on https://docs.aws.amazon.com/sagemaker/latest/dg/IC-Hyperparameter.html.
# 0/1 flags (multi_label, use_pretrained_model, use_weighted_loss) go as 1/0; early_stopping as True/False.
HYPERPARAMETERS: tuple[HyperParameter, ...] = (
    HyperParameter("num_classes", Int(minimum=1), required=True),
    HyperParameter("num_training_samples", Int(minimum=1), required=True),
    HyperParameter("augmentation_type", Choice(("crop", "crop_color", "crop_color_transform"))),
    HyperParameter("beta_1", _unit()),
    HyperParameter("beta_2", _unit()),
    HyperParameter("checkpoint_frequency", Int(minimum=1)),
    HyperParameter("early_stopping", Bool(style="title")),
    HyperParameter("early_stopping_min_epochs", Int(minimum=1)),
    HyperParameter("early_stopping_patience", Int(minimum=1)),
    HyperParameter("early_stopping_tolerance", _unit()),
    HyperParameter("epochs", Int(minimum=1)),
    HyperParameter("eps", _unit()),
    HyperParameter("gamma", _unit()),
    HyperParameter(
        "image_shape",
        IntList(length=3, minimum=1, description='"num_channels,height,width", e.g. "3,224,224"'),
    ),
    HyperParameter("kv_store", Choice(("dist_sync", "dist_async"))),
    HyperParameter("learning_rate", _unit()),
    HyperParameter("lr_scheduler_factor", _unit()),
    HyperParameter("lr_scheduler_step", IntList(minimum=1, description='comma-separated epochs, e.g. "10,20"')),
    HyperParameter("mini_batch_size", Int(minimum=1)),
    HyperParameter("momentum", _unit()),
    HyperParameter("multi_label", Bool(style="numeric")),
    HyperParameter("num_layers", IntChoice(LARGE_IMAGE_LAYERS + SMALL_IMAGE_LAYERS)),
    HyperParameter("optimizer", Choice(("sgd", "adam", "rmsprop", "nag"))),
    HyperParameter("precision_dtype", Choice(("float32", "float16"))),
    HyperParameter("resize", Int(minimum=1)),
    HyperParameter("top_k", Int(minimum=2)),
    HyperParameter("use_pretrained_model", Bool(style="numeric")),
    HyperParameter("use_weighted_loss", Bool(style="numeric")),
    HyperParameter("weight_decay", _unit()),
)
DEFAULT_EPOCHS = 30
DEFAULT_NUM_LAYERS = 152
DEFAULT_IMAGE_SHAPE = (3, 224, 224)

# https://docs.aws.amazon.com/sagemaker/latest/dg/IC-tuning.html: one metric, maximized.
METRICS: tuple[Metric, ...] = (Metric("validation:accuracy", "max"),)

# https://docs.aws.amazon.com/sagemaker/latest/dg/image-classification.html ("Input/Output interface"):
# RecordIO (application/x-recordio): one .rec file in train and one in validation. Image format
# (image/png, image/jpeg, application/x-image): .jpg/.png files in train and validation plus one .lst
# file in each of train_lst and validation_lst, all four channels application/x-image. Incremental
# training: a "model" channel (application/x-sagemaker-model) with a previous model.tar.gz.
# File mode reads both formats; Pipe mode reads RecordIO (or an augmented manifest).
RECORDIO = "application/x-recordio"
IMAGE_TYPES = ("application/x-image", "image/jpeg", "image/png")
MODEL_TYPE = "application/x-sagemaker-model"
_DATA_TYPES = {
    ".rec": RECORDIO,
    ".recordio": RECORDIO,
    ".jpg": "application/x-image",
    ".jpeg": "application/x-image",
    ".png": "application/x-image",
    ".lst": "application/x-image",
}
_LST_TYPES = {".lst": "application/x-image"}
CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec("train", True, _DATA_TYPES, RECORDIO, (RECORDIO, *IMAGE_TYPES), "one .rec file, or images"),
    ChannelSpec("validation", True, _DATA_TYPES, RECORDIO, (RECORDIO, *IMAGE_TYPES), "one .rec file, or images"),
    ChannelSpec("train_lst", False, _LST_TYPES, "application/x-image", IMAGE_TYPES, "one .lst file (image format)"),
    ChannelSpec(
        "validation_lst", False, _LST_TYPES, "application/x-image", IMAGE_TYPES, "one .lst file (image format)"
    ),
    ChannelSpec(
        "model",
        False,
        {".tar.gz": MODEL_TYPE},
        MODEL_TYPE,
        (MODEL_TYPE,),
        "model.tar.gz to start from",
        holds_records=False,
    ),
)


class ImageClassification(Algorithm):
    """The SageMaker image classification (MXNet) built-in algorithm."""

    name = "image-classification"
    title = "Image Classification"
    # The "repository" field of image_uri_config/image-classification.json (sources and commits: accounts.py).
    repository = "image-classification"
    accounts = BUILTIN
    default_version = BUILTIN_VERSION
    versions = (BUILTIN_VERSION,)
    channels = CHANNELS
    hyperparameters = HYPERPARAMETERS
    metrics = METRICS
    # https://docs.aws.amazon.com/sagemaker/latest/dg/image-classification.html ("EC2 instance
    # recommendation"): GPU instances (P2, P3) for training, multi-GPU and multi-machine distributed
    # training; CPU (such as C4) or GPU for inference.
    default_training_instance = "ml.p3.2xlarge"
    default_hosting_instance = "ml.m5.large"
    gpu_only_training = True
    gpu_only_hosting = False
    supports_serverless = True
    supports_distributed = True
    supports_network_isolation = True
    input_modes = ("File", "Pipe")
    # Not in the docs: the job writes the MXNet checkpoint pair image-classification-symbol.json and
    # image-classification-<epoch>.params (with model-shapes.json) into model.tar.gz.
    serving_files = ("image-classification-symbol.json", "image-classification-*.params")
    serving_hint = (
        "the Image Classification container loads image-classification-symbol.json "
        "and image-classification-<epoch>.params"
    )
    # Batch transform: one image per file (SplitType None), answered with a JSON list of class probabilities
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/image-classification.html, "Input/Output Interface":
    # inference accepts image/png, image/jpeg and application/x-image). An image cannot be joined to JSON.
    batch = BatchSupport(
        formats=(
            BatchFormat("application/x-image", "None", "application/json"),
            BatchFormat("image/jpeg", "None", "application/json"),
            BatchFormat("image/png", "None", "application/json"),
        ),
        source="https://docs.aws.amazon.com/sagemaker/latest/dg/image-classification.html",
    )

    def check_hyperparameters(self, values: dict[str, Any], path: str) -> list[Problem]:
        """Transfer learning needs a pretrained depth and 224x224 images; checkpoints within epochs."""
        problems: list[Problem] = []
        if values.get("use_pretrained_model") is True:
            layers = values.get("num_layers", DEFAULT_NUM_LAYERS)
            if layers not in LARGE_IMAGE_LAYERS:
                problems.append(
                    Problem(
                        f"{path}.num_layers",
                        f"use_pretrained_model needs num_layers in {', '.join(map(str, LARGE_IMAGE_LAYERS))}, "
                        f"got {layers}",
                        "pretrained weights exist for those ResNet depths only",
                    )
                )
            shape = values.get("image_shape", DEFAULT_IMAGE_SHAPE)
            if tuple(shape[1:]) != PRETRAINED_SIZE:
                problems.append(
                    Problem(
                        f"{path}.image_shape",
                        f"pretrained models use 224x224 images, image_shape is {','.join(map(str, shape))}",
                        'set image_shape to "3,224,224" (or use_pretrained_model to 0)',
                    )
                )
        resize = values.get("resize")
        shape = values.get("image_shape", DEFAULT_IMAGE_SHAPE)
        if isinstance(resize, int) and len(shape) == 3 and resize <= max(shape[1], shape[2]):
            # https://docs.aws.amazon.com/sagemaker/latest/dg/IC-Hyperparameter.html, resize: "The parameter
            # should be larger than both the width and height components of image_shape to prevent
            # training failure." (larger: strictly)
            problems.append(
                Problem(
                    f"{path}.resize",
                    f"resize ({resize}) must be larger than both the height and width of image_shape "
                    f"({shape[1]}x{shape[2]}), or training fails",
                    f"use resize {max(shape[1], shape[2]) + 1} or more (e.g. 256 for 224x224)",
                )
            )
        epochs = values.get("epochs", DEFAULT_EPOCHS)
        if values.get("checkpoint_frequency", 0) > epochs:
            problems.append(
                Problem(
                    f"{path}.checkpoint_frequency",
                    f"checkpoint_frequency ({values['checkpoint_frequency']}) is larger than epochs ({epochs})",
                    "use a checkpoint_frequency no greater than epochs",
                )
            )
        steps = values.get("lr_scheduler_step")
        if steps and list(steps) != sorted(set(steps)):
            problems.append(
                Problem(
                    f"{path}.lr_scheduler_step",
                    'lr_scheduler_step epochs must increase, e.g. "10,20"',
                    "list each epoch once, in increasing order",
                )
            )
        return problems

    def check_channels(self, channels: Mapping[str, str | None], values: Mapping[str, Any], path: str) -> list[Problem]:
        """RecordIO: train and validation .rec; image format: train, validation, train_lst, validation_lst."""
        problems = super().check_channels(channels, values, path)
        train = channels.get("train")
        if train is None:
            return problems
        if train == RECORDIO:
            for name in ("validation",):
                if channels.get(name) in IMAGE_TYPES:
                    problems.append(
                        Problem(
                            f"{path}.{name}.content_type",
                            "train is RecordIO but validation holds images",
                            "use one format for both: a .rec file in each, or images plus .lst files",
                        )
                    )
            for name in ("train_lst", "validation_lst"):
                if name in channels:
                    problems.append(
                        Problem(
                            f"{path}.{name}",
                            f"the {name} channel is for image-format training, train is RecordIO",
                            f"remove {name}: a RecordIO file carries its own labels",
                        )
                    )
        elif train in IMAGE_TYPES:
            if channels.get("validation") == RECORDIO:
                problems.append(
                    Problem(
                        f"{path}.validation.content_type",
                        "train holds images but validation is RecordIO",
                        "use one format for both: a .rec file in each, or images plus .lst files",
                    )
                )
            for name in ("train_lst", "validation_lst"):
                if name not in channels:
                    problems.append(
                        Problem(
                            f"{path}.{name}",
                            f"image-format training needs a {name} channel",
                            f"put one .lst file (index, label, relative path; tab-separated) under {name}/",
                        )
                    )
            if "resize" not in values:
                root = path.rsplit(".", 1)[0] if "." in path else "$"
                problems.append(
                    Problem(
                        f"{root}.hyperparameters.resize",
                        "resize is required when training on image files",
                        "add hyperparameter resize: the shortest image side in pixels, e.g. 256",
                    )
                )
        return problems

    def check_channel_modes(
        self, channels: Mapping[str, tuple[str | None, str, str]], values: Mapping[str, Any], path: str
    ) -> list[Problem]:
        """Pipe mode reads RecordIO, FullyReplicated.

        https://docs.aws.amazon.com/sagemaker/latest/dg/image-classification.html ("Input/Output
        interface"): RecordIO and images "for training in file mode", "the RecordIO
        (application/x-recordio) content type for training in pipe mode"; images in Pipe mode only
        "by using the augmented manifest format" (which sagedrop does not build); "When using the
        RecordIO content type in pipe mode, you must set the S3DataDistributionType of the
        S3DataSource to FullyReplicated".
        """
        problems = []
        for name, (content_type, input_mode, distribution) in channels.items():
            if input_mode != "Pipe" or name == "model":
                continue
            if content_type is not None and content_type != RECORDIO:
                problems.append(
                    Problem(
                        f"{path}.{name}",
                        f"image classification reads {content_type} in File mode only (Pipe mode takes RecordIO "
                        "or an augmented manifest, which sagedrop does not build)",
                        'use input_mode "File", or pack the images into a .rec file (sagedrop prepare)',
                    )
                )
            elif distribution == "ShardedByS3Key":
                problems.append(
                    Problem(
                        f"{path}.{name}.distribution",
                        "RecordIO in Pipe mode must be FullyReplicated for image classification",
                        'remove distribution or set it to "FullyReplicated"',
                    )
                )
        return problems

    def check_label(self, label: float, values: Mapping[str, Any]) -> str | None:
        """Class indices run 0..num_classes-1."""
        classes = values.get("num_classes")
        if not float(label).is_integer() or label < 0 or (isinstance(classes, int) and label >= classes):
            top = classes - 1 if isinstance(classes, int) else "num_classes-1"
            return f"must be an integer class index from 0 to {top}"
        return None

    def class_count(self, values: Mapping[str, Any]) -> int | None:
        classes = values.get("num_classes")
        return classes if isinstance(classes, int) else None

    # ---- inference ------------------------------------------------------------------------
    # https://docs.aws.amazon.com/sagemaker/latest/dg/image-classification.html ("Inference"): the
    # endpoint takes one encoded image per request (image/jpeg, image/png or application/x-image) and
    # answers the probability of every class as a JSON list, index i = class i.

    request_content_types = ("image/jpeg", "image/png", "application/x-image")
    inference_options = (
        InferenceOption("top_k", Int(minimum=1), "how many classes to list per image, best first (default 5)"),
    )

    def encode_request(self, payload: PredictionInput, ctx: ServingContext) -> list[InvokeRequest]:
        self.check_media_type(payload)
        if payload.body is not None:
            images = [(payload.body, payload.content_type, f"the {payload.content_type} body")]
        else:
            images = []
            problems = codecs.ProblemList()
            for index, item in enumerate(self.instances_of(payload)):
                where = f"$.instances[{index}]"
                try:
                    images.append((codecs.decode_base64(item, where), "application/x-image", where))
                except codecs.BadInput as exc:
                    for problem in exc.problems:
                        problems.add(problem.path, problem.message, "send each image as a base64 string")
            problems.raise_if_any()
        requests = []
        for index, (data, declared, where) in enumerate(images):
            actual = codecs.check_image(data, declared, where)
            if len(data) > ctx.max_body_bytes:
                raise codecs.PayloadTooLarge(
                    f"{where} is {codecs.size_text(len(data))}, over the {codecs.size_text(ctx.max_body_bytes)} "
                    "limit of one InvokeEndpoint request: send a smaller image"
                )
            requests.append(InvokeRequest(data, actual, "application/json", 1, index))
        return requests

    def decode_response(
        self, body: bytes, content_type: str, request: InvokeRequest, ctx: ServingContext
    ) -> list[dict[str, Any]]:
        answer = codecs.parse_json_response(body, "the image-classification endpoint")
        if isinstance(answer, list) and len(answer) == 1 and isinstance(answer[0], list):
            answer = answer[0]
        if (
            not isinstance(answer, list)
            or not answer
            or not all(isinstance(p, int | float) and not isinstance(p, bool) for p in answer)
        ):
            raise codecs.BadModelResponse(
                f"the image-classification endpoint answered no list of class probabilities: {codecs.preview(body)}"
            )
        k = min(ctx.options.get("top_k", 5), len(answer))
        top = [self.named({"predicted_label": i, "probability": answer[i]}, ctx) for i in codecs.top_indices(answer, k)]
        return [{**top[0], "top": top, "probabilities": answer}]


ALGORITHM = ImageClassification()
