"""Image classification: SageMaker's ResNet trainer rewritten in torch (CPU), with its inputs, metrics and answers.

What follows the developer guide (image-classification.html, IC-Hyperparameter.html, IC-tuning.html):

* channels ``train`` and ``validation`` (both required) of MXNet ``.rec`` files
  (``application/x-recordio``) or of image files listed by ``train_lst``/``validation_lst`` ``.lst``
  files (``application/x-image``, ``image/jpeg``, ``image/png``); see ``image_data``;
* every hyperparameter of IC-Hyperparameter.html, validated with the layer's spec
  (``sagedrop.algorithms.image_classification.HYPERPARAMETERS``) and its documented defaults:
  ``num_layers`` (the ResNets of ``image_resnet``), ``image_shape``, ``num_classes``, ``epochs``,
  ``learning_rate``, ``lr_scheduler_factor``/``lr_scheduler_step`` (the rate is multiplied by the
  factor after each listed epoch), ``mini_batch_size``, ``optimizer`` sgd/nag (``momentum``,
  ``weight_decay``), adam (``beta_1``, ``beta_2``, ``eps``) and rmsprop (``gamma``, ``eps``), ``resize``,
  ``augmentation_type``, ``top_k`` (top-k accuracy logged each epoch), ``multi_label`` (sigmoid outputs,
  binary cross-entropy, "average accuracy across all classes"; ``use_weighted_loss`` weighs each
  class's positives by its negatives/positives ratio), ``early_stopping`` with ``_min_epochs``,
  ``_patience`` and ``_tolerance`` (relative improvement of the validation accuracy),
  ``checkpoint_frequency`` (a checkpoint every so many epochs and at the last one, the endpoint serving
  the latest; by default only the epoch with the best validation accuracy, which the endpoint serves);
* the ``model`` channel (incremental training) takes a model.tar.gz trained by the local stack with the
  same ``num_layers``, ``image_shape`` and ``num_classes``; an MXNet archive from SageMaker is refused;
* ``use_pretrained_model=1`` fails: the ImageNet weights it loads cannot be fetched by the local
  stack. ``precision_dtype=float16`` fails too: half precision is a GPU feature, and torch's float16
  autocast on this CPU ran a ResNet-20 batch about 200 times slower than float32 (measured: 26 s
  against 0.14 s). ``kv_store`` only concerns distributed training and is ignored with a log line;
* metrics: each epoch logs ``Epoch[n] Train-accuracy=...`` and ``Epoch[n] Validation-accuracy=...``
  as the container does (its log, aws/amazon-sagemaker-examples issue #2746), and the job reports the
  last epoch's ``train:accuracy`` and ``validation:accuracy`` (IC-tuning.html names the validation
  metric; SageMaker's metric definitions keep the last value logged);
* inference (image-classification.html, "Inference"): one encoded image per request as
  ``application/x-image``, ``image/jpeg`` or ``image/png``; the answer is the JSON list of the
  probabilities of every class (``application/json``) or, for ``Accept: application/jsonlines`` (batch
  transform), one line ``{"prediction": [...]}``. Other request types are refused with 415, other
  Accept types with 406 (the statuses a model server gives; the guide names none). The request image is
  resized to ``image_shape``'s height and width with bilinear filtering: a local choice, the guide does
  not say how the container fits an image to the network.

Artifacts: the container's file names, ``image-classification-symbol.json``,
``image-classification-<epoch>.params`` and ``model-shapes.json`` (a model.tar.gz of the real
algorithm lists exactly these, e.g. aws/amazon-sagemaker-examples issue #2746 and public notebooks that
unpack one). ``model-shapes.json`` has the container's layout (``[{"name": "data", "shape": [n, c, h,
w]}]``); the symbol file is a JSON description of the local network and the ``.params`` files are torch
state dicts, not MXNet's: a model trained here serves here only, and an MXNet archive from SageMaker is
refused by the local endpoint with a message that says so.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sagedrop.algorithms.image_classification import ALGORITHM as SPEC
from sagedrop.algorithms.image_classification import HYPERPARAMETERS, IMAGE_TYPES, MODEL_TYPE, RECORDIO
from sagedrop_local.algorithms import image_data
from sagedrop_local.algorithms.common import (
    InvokeError,
    Log,
    TrainResult,
    base_content_type,
    channel_files,
    client_error,
    content_type_parameters,
    dumps,
)

SYMBOL_FILE = "image-classification-symbol.json"
SHAPES_FILE = "model-shapes.json"
PARAMS_PATTERN = "image-classification-{epoch:04d}.params"
FORMAT = "sagedrop-local image-classification 1"
SEED = 0
JSONLINES = "application/jsonlines"

# Defaults from https://docs.aws.amazon.com/sagemaker/latest/dg/IC-Hyperparameter.html
DEFAULTS: dict[str, Any] = {
    "augmentation_type": None,
    "beta_1": 0.9,
    "beta_2": 0.999,
    "checkpoint_frequency": None,
    "early_stopping": False,
    "early_stopping_min_epochs": 10,
    "early_stopping_patience": 5,
    "early_stopping_tolerance": 0.0,
    "epochs": 30,
    "eps": 1e-8,
    "gamma": 0.9,
    "image_shape": [3, 224, 224],
    "kv_store": None,
    "learning_rate": 0.1,
    "lr_scheduler_factor": 0.1,
    "lr_scheduler_step": [],
    "mini_batch_size": 32,
    "momentum": 0.9,
    "multi_label": False,
    "num_layers": 152,
    "optimizer": "sgd",
    "precision_dtype": "float32",
    "resize": None,
    "top_k": None,
    "use_pretrained_model": False,
    "use_weighted_loss": False,
    "weight_decay": 0.0001,
}
_SPECS = {hp.name: hp for hp in HYPERPARAMETERS}


def _bad(detail: str) -> Exception:
    return client_error(f"Unable to initialize the algorithm. Failed to validate hyperparameters: {detail}")


def parse_hyperparameters(given: Mapping[str, str], log: Log) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, raw in given.items():
        if name.startswith(("_", "sagemaker_")):
            log(f"hyperparameter {name} is ignored locally")
            continue
        spec = _SPECS.get(name)
        if spec is None:
            raise _bad(f"Additional properties are not allowed ({name!r} was unexpected)")
        try:
            values[name], _ = spec.type.convert(raw)
        except ValueError as exc:
            raise _bad(f"{name}={raw!r} is not {spec.type.expected} ({exc})") from None
    for name in ("num_classes", "num_training_samples"):
        if name not in values:
            raise _bad(f"{name!r} is a required property")
    problems = SPEC.check_hyperparameters(values, "$.hyperparameters")
    if problems:
        raise _bad("; ".join(f"{p.message} ({p.hint})" if p.hint else p.message for p in problems))
    for name, default in DEFAULTS.items():
        values.setdefault(name, default)
    if values["use_pretrained_model"]:
        raise client_error(
            "use_pretrained_model=1 is not available locally: transfer learning starts from ImageNet weights that "
            "the local stack cannot download; train from scratch (use_pretrained_model=0) or run this job on "
            "AWS SageMaker, where it works"
        )
    if values["precision_dtype"] == "float16":
        raise client_error(
            "precision_dtype=float16 is not available locally: half-precision training needs the GPU instances "
            "SageMaker trains on (CPU float16 kernels are about 200 times slower here); use float32 locally"
        )
    if values["kv_store"]:
        log(f"kv_store={values['kv_store']} only concerns distributed training: ignored on one local machine")
    if values["use_weighted_loss"] and not values["multi_label"]:
        log("use_weighted_loss is used only when multi_label=1: ignored")
    return values


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def _formats(channels: Mapping[str, Path], content_types: Mapping[str, str | None]) -> tuple[str, bool]:
    """("recordio" | "image", class-id labels) from the channels and their content types."""
    for name in channels:
        if name not in ("train", "validation", "train_lst", "validation_lst", "model"):
            raise client_error(
                f"Unable to initialize the algorithm. Failed to validate input data configuration: channel {name!r} "
                "is not supported (channels: train, validation, train_lst, validation_lst, model)"
            )
    for name in ("train", "validation"):
        if name not in channels:
            raise client_error(
                "Unable to initialize the algorithm. Failed to validate input data configuration: the train and "
                f"validation channels are required, {name} is missing"
            )
    kinds = set()
    class_ids = False
    for name, content_type in content_types.items():
        base = base_content_type(content_type)
        if base is None or (name == "model" and base == MODEL_TYPE):
            continue
        if base not in (RECORDIO, *IMAGE_TYPES):
            raise client_error(
                f"Channel '{name}': content type {content_type} is not supported, use application/x-recordio "
                "(.rec files) or application/x-image (images with .lst files)"
            )
        if name in ("train", "validation"):
            kinds.add("recordio" if base == RECORDIO else "image")
        class_ids = class_ids or content_type_parameters(content_type).get("label-format") == "class-id"
    listed = "train_lst" in channels or "validation_lst" in channels
    if kinds == {"image"} or (not kinds and listed):
        for name in ("train_lst", "validation_lst"):
            if name not in channels:
                raise client_error(f"image-format training needs the {name} channel with one .lst file")
        return "image", class_ids
    if len(kinds) > 1:
        raise client_error("train and validation must use one format: .rec files in both, or images in both")
    if listed:
        raise client_error("the train_lst/validation_lst channels are for image files, train is RecordIO")
    return "recordio", class_ids


def load_data(
    values: Mapping[str, Any], channels: Mapping[str, Path], content_types: Mapping[str, str | None], log: Log
) -> tuple[image_data.Dataset, image_data.Dataset, image_data.Spec]:
    kind, class_ids = _formats(channels, content_types)
    channels_count, height, width = values["image_shape"]
    if channels_count not in (1, 3):
        raise _bad(f"image_shape has {channels_count} channels: images are decoded as 3 (RGB) or 1 (grayscale)")
    spec = image_data.Spec(
        channels_count, height, width, values["num_classes"], bool(values["multi_label"]), values["resize"]
    )
    sets = []
    for name in ("train", "validation"):
        if kind == "recordio":
            data = image_data.read_recordio(channels[name], name, spec, class_ids)
        else:
            data = image_data.read_listed_images(channels[name], channels[f"{name}_lst"], name, spec, class_ids)
        image_data.require_images(data, name)
        sets.append(data)
    train, validation = sets
    log(f"read {len(train.images)} training and {len(validation.images)} validation images ({kind} format)")
    if len(train.images) != values["num_training_samples"]:
        log(
            f"num_training_samples={values['num_training_samples']} but the train channel holds "
            f"{len(train.images)} images (IC-Hyperparameter.html: lr_scheduler_step is then undefined)"
        )
    return train, validation, spec


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def _threads() -> int:
    """Half the usable cores, at most 4: on a 2-core machine shared with other work one thread trains
    about ten times faster than two (OpenMP threads that wait on each other for a core), measured here."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(4, cores // 2))


def _optimizer(values: Mapping[str, Any], parameters: Any) -> Any:
    import torch

    name, rate = values["optimizer"], values["learning_rate"]
    if name in ("sgd", "nag"):
        momentum = values["momentum"]
        return torch.optim.SGD(
            parameters,
            lr=rate,
            momentum=momentum,
            weight_decay=values["weight_decay"],
            nesterov=name == "nag" and momentum > 0,
        )
    if name == "adam":
        return torch.optim.Adam(parameters, lr=rate, betas=(values["beta_1"], values["beta_2"]), eps=values["eps"])
    return torch.optim.RMSprop(parameters, lr=rate, alpha=values["gamma"], eps=values["eps"])


def _scores(outputs: np.ndarray, labels: np.ndarray, multi_label: bool, top_k: int | None) -> dict[str, float]:
    """Accuracy (multi-label: averaged over classes and images at a 0.5 threshold) and top-k accuracy."""
    if multi_label:
        return {"accuracy": float(np.mean((outputs > 0.5) == (labels > 0.5)))}
    scores = {"accuracy": float(np.mean(outputs.argmax(axis=1) == labels))}
    if top_k:
        best = np.argsort(-outputs, axis=1)[:, :top_k]
        scores[f"top_k_accuracy_{top_k}"] = float(np.mean((best == labels[:, None]).any(axis=1)))
    return scores


def _batches(count: int, size: int, order: np.ndarray) -> list[np.ndarray]:
    """Mini-batches over ``order``; the last one is filled up from the start (MXNet's round_batch)."""
    batches = []
    for start in range(0, count, size):
        batch = order[start : start + size]
        if len(batch) < size and count > size:
            batch = np.concatenate([batch, order[: size - len(batch)]])
        batches.append(batch)
    return batches


class Trainer:
    """One training run: network, optimizer, schedule, epochs, checkpoints."""

    def __init__(self, values: dict[str, Any], spec: image_data.Spec, log: Log) -> None:
        import torch

        from sagedrop_local.algorithms.image_resnet import ResNet

        self.values, self.spec, self.log = values, spec, log
        torch.manual_seed(SEED)
        self.rng = np.random.default_rng(SEED)
        self.model = ResNet(values["num_layers"], spec.num_classes, (spec.channels, spec.height, spec.width))
        self.optimizer = _optimizer(values, self.model.parameters())

    def _forward(self, batch: np.ndarray) -> Any:
        import torch

        return self.model(torch.from_numpy(np.ascontiguousarray(batch)).float().div_(255.0))

    def _loss(self, logits: Any, targets: Any, pos_weight: Any) -> Any:
        import torch.nn.functional as F

        if self.spec.multi_label:
            return F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pos_weight)
        return F.cross_entropy(logits, targets)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (softmax, or sigmoid per class for multi-label) for an NCHW uint8 array."""
        import torch

        self.model.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(images), 256):
                logits = self._forward(images[start : start + 256])
                probs = torch.sigmoid(logits) if self.spec.multi_label else torch.softmax(logits, dim=1)
                out.append(probs.numpy())
        return np.concatenate(out)

    def run(self, train: image_data.Dataset, validation: image_data.Dataset, model_dir: Path) -> TrainResult:
        import torch

        values, spec = self.values, self.spec
        steps = sorted(values["lr_scheduler_step"])
        scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, steps, gamma=values["lr_scheduler_factor"])
        pos_weight = self._pos_weight(train)
        val_images = image_data.stack_centered(validation.images, spec.height, spec.width)
        train_fixed = (
            image_data.stack_centered(train.images, spec.height, spec.width)
            if values["augmentation_type"] is None
            else None
        )
        best, best_epoch, stale = -1.0, 0, 0
        metrics: dict[str, float] = {}
        frequency = values["checkpoint_frequency"]
        for epoch in range(values["epochs"]):
            started = time.monotonic()
            metrics["train:accuracy"] = self._train_epoch(epoch, train, train_fixed, pos_weight)
            scheduler.step()
            self.log(f"Epoch[{epoch}] Train-accuracy={metrics['train:accuracy']:f}")
            self.log(f"Epoch[{epoch}] Time cost={time.monotonic() - started:.3f}")
            scores = _scores(self.predict(val_images), validation.labels, spec.multi_label, values["top_k"])
            metrics["validation:accuracy"] = scores["accuracy"]
            for name, value in scores.items():
                self.log(f"Epoch[{epoch}] Validation-{name}={value:f}")
            accuracy = scores["accuracy"]
            improved = accuracy > best * (1.0 + values["early_stopping_tolerance"]) if best > 0 else accuracy > best
            if accuracy > best:
                self.log(f"Storing the best model with validation accuracy: {accuracy:f}")
                best, best_epoch = accuracy, epoch + 1
                if frequency is None:
                    self._save(model_dir, best_epoch, replace=True)
            stale = 0 if improved else stale + 1
            if frequency is not None and (epoch + 1) % frequency == 0:
                self._save(model_dir, epoch + 1, replace=False)
            if (
                values["early_stopping"]
                and epoch + 1 >= values["early_stopping_min_epochs"]
                and stale >= values["early_stopping_patience"]
            ):
                self.log(f"Early stopping after epoch {epoch}: no improvement for {stale} epochs")
                break
        if frequency is not None and _latest_epoch(model_dir) != epoch + 1:
            self._save(model_dir, epoch + 1, replace=False)  # the last epoch is kept too (early stop, remainder)
        self._describe(model_dir, best_epoch if frequency is None else _latest_epoch(model_dir))
        return TrainResult(metrics=[(name, float(value)) for name, value in metrics.items()])

    def _pos_weight(self, train: image_data.Dataset) -> Any:
        """use_weighted_loss (multi-label): each class's positives weighted by negatives / positives; else None."""
        import torch

        if not (self.spec.multi_label and self.values["use_weighted_loss"]):
            return None
        positives = train.labels.sum(axis=0)
        return torch.tensor((len(train.labels) - positives) / np.maximum(positives, 1.0), dtype=torch.float32)

    def _train_epoch(
        self, epoch: int, train: image_data.Dataset, train_fixed: np.ndarray | None, pos_weight: Any
    ) -> float:
        """One pass over the shuffled train set (augmented unless ``train_fixed``): the train accuracy."""
        import torch

        values, spec = self.values, self.spec
        targets_all = torch.from_numpy(train.labels)
        count = len(train.images)
        self.model.train()
        correct = seen = 0.0
        for index in _batches(count, values["mini_batch_size"], self.rng.permutation(count)):
            if train_fixed is not None:
                batch = train_fixed[index]
            else:
                picked = [train.images[i] for i in index]
                augmentation = values["augmentation_type"]
                batch = image_data.augmented_batch(picked, spec.height, spec.width, augmentation, self.rng)
            logits = self._forward(batch)
            targets = targets_all[index]
            loss = self._loss(logits, targets, pos_weight)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            with torch.no_grad():
                if spec.multi_label:
                    correct += float(((logits > 0) == (targets > 0.5)).float().mean()) * len(index)
                else:
                    correct += float((logits.argmax(dim=1) == targets).sum())
                seen += len(index)
            if not math.isfinite(float(loss.detach())):
                raise client_error(
                    f"the training loss diverged (NaN or infinite) in epoch {epoch}: lower learning_rate "
                    f"(now {values['learning_rate']:g})"
                )
        return correct / max(seen, 1.0)

    def _save(self, model_dir: Path, epoch: int, replace: bool) -> None:
        import torch

        if replace:
            for old in model_dir.glob("image-classification-*.params"):
                old.unlink()
        path = model_dir / PARAMS_PATTERN.format(epoch=epoch)
        torch.save(self.model.state_dict(), path)
        self.log(f'Saved checkpoint to "{path.name}"')

    def _describe(self, model_dir: Path, epoch: int) -> None:
        spec, values = self.spec, self.values
        shape = [spec.channels, spec.height, spec.width]
        description = {
            "format": FORMAT,
            "num_layers": values["num_layers"],
            "num_classes": spec.num_classes,
            "image_shape": shape,
            "multi_label": spec.multi_label,
            "epoch": epoch,
            "note": "sagedrop local model: a torch ResNet, not an MXNet symbol; it serves on the local stack only",
        }
        (model_dir / SYMBOL_FILE).write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
        shapes = [{"name": "data", "shape": [values["mini_batch_size"], *shape]}]
        (model_dir / SHAPES_FILE).write_text(json.dumps(shapes) + "\n", encoding="utf-8")


def _latest_epoch(model_dir: Path) -> int:
    epochs = [int(p.stem.rsplit("-", 1)[1]) for p in model_dir.glob("image-classification-*.params")]
    return max(epochs, default=0)


def train(
    hyperparameters: Mapping[str, str],
    channels: Mapping[str, Path],
    content_types: Mapping[str, str | None],
    model_dir: Path,
    log: Log,
) -> TrainResult:
    import torch

    values = parse_hyperparameters(hyperparameters, log)
    train_set, validation, spec = load_data(values, channels, content_types, log)
    torch.set_num_threads(_threads())
    model_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(values, spec, log)
    if "model" in channels:
        _start_from(trainer, values, channels["model"], log)
    log(
        f"ResNet-{values['num_layers']} on {spec.channels}x{spec.height}x{spec.width} images, {spec.num_classes} "
        f"classes, optimizer {values['optimizer']}, {torch.get_num_threads()} CPU threads"
    )
    result = trainer.run(train_set, validation, model_dir)
    if values["epochs"] and _latest_epoch(model_dir) == 0:
        raise client_error("no checkpoint was written: no epoch produced a validation accuracy")
    return result


# --------------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------------


class Predictor:
    def __init__(self, trainer: Trainer, spec: image_data.Spec) -> None:
        self.trainer = trainer
        self.spec = spec

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        base = base_content_type(content_type)
        if base not in IMAGE_TYPES:
            raise InvokeError(
                415, f"Content type {content_type} is not supported: send one encoded image as {', '.join(IMAGE_TYPES)}"
            )
        answer_type = base_content_type(accept) or "application/json"
        if answer_type in ("*/*", "application/*"):
            answer_type = "application/json"
        if answer_type not in ("application/json", JSONLINES):
            raise InvokeError(406, f"Accept {accept} is not supported: use application/json or {JSONLINES}")
        image = self._image(body)
        probabilities = [float(p) for p in self.trainer.predict(image[None])[0]]
        if answer_type == JSONLINES:
            return dumps({"prediction": probabilities}) + b"\n", JSONLINES
        return dumps(probabilities), "application/json"

    def _image(self, body: bytes) -> np.ndarray:
        """The request's image resized to the network's height and width, CHW uint8."""
        from PIL import Image

        try:
            with Image.open(io.BytesIO(body)) as image:
                image.load()
                converted = image.convert("RGB" if self.spec.channels == 3 else "L")
        except Exception as exc:
            raise InvokeError(400, f"Unable to decode the request body as an image: {exc}") from None
        size = (self.spec.width, self.spec.height)
        if converted.size != size:
            converted = converted.resize(size, Image.Resampling.BILINEAR)
        array = np.asarray(converted, dtype=np.uint8)
        array = array[:, :, None] if array.ndim == 2 else array
        return array.transpose(2, 0, 1)


def _start_from(trainer: Trainer, values: Mapping[str, Any], root: Path, log: Log) -> None:
    """Incremental training (image-classification.html, "Incremental Training"): the model channel's
    model.tar.gz seeds the network; num_layers, image_shape and num_classes must match."""
    import tarfile
    import tempfile

    import torch

    archives = [p for p in channel_files(root) if p.name.endswith(".tar.gz")]
    if len(archives) != 1:
        raise client_error(f"the model channel needs one model.tar.gz (image classification), not {len(archives)}")
    with tempfile.TemporaryDirectory(prefix="sagedrop-ic-model-") as tmp:
        try:
            with tarfile.open(archives[0], mode="r:gz") as archive:
                archive.extractall(tmp, filter="data")
            description, params = _describe_archive(Path(tmp))
        except (tarfile.TarError, OSError, RuntimeError) as exc:
            raise client_error(f"the model channel's {archives[0].name} cannot seed this job: {exc}") from None
        for name in ("num_layers", "image_shape", "num_classes"):
            if list(np.atleast_1d(description[name])) != list(np.atleast_1d(values[name])):
                raise client_error(
                    f"the model channel's model has {name}={description[name]}, this job {values[name]}: incremental "
                    "training needs the same num_layers, image_shape and num_classes"
                )
        trainer.model.load_state_dict(torch.load(params, map_location="cpu", weights_only=True))
    log(f"starting from the model channel's model (epoch {description['epoch']} of its job)")


def _describe_archive(model_dir: Path) -> tuple[dict[str, Any], Path]:
    """The local symbol description and the parameter file it names; RuntimeError for anything else."""
    symbol = model_dir / SYMBOL_FILE
    if not symbol.is_file():
        raise RuntimeError(f"model.tar.gz has no {SYMBOL_FILE}: it is not an image-classification model")
    try:
        description = json.loads(symbol.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RuntimeError(f"{SYMBOL_FILE} is not JSON: {exc}") from None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise RuntimeError(
            f"{SYMBOL_FILE} is an MXNet symbol (a model trained by SageMaker): the local stack serves only image "
            "classification models it trained itself; deploy this one on AWS SageMaker"
        )
    params = model_dir / PARAMS_PATTERN.format(epoch=int(description["epoch"]))
    if not params.is_file():
        raise RuntimeError(f"model.tar.gz lacks {params.name}, named by {SYMBOL_FILE}")
    return description, params


def load(model_dir: Path) -> Predictor:
    import torch

    description, params = _describe_archive(model_dir)
    channels, height, width = description["image_shape"]
    spec = image_data.Spec(
        channels, height, width, int(description["num_classes"]), bool(description["multi_label"]), None
    )
    values = {**DEFAULTS, "num_layers": int(description["num_layers"]), "image_shape": [channels, height, width]}
    torch.set_num_threads(_threads())
    trainer = Trainer(values, spec, log=lambda _line: None)
    trainer.model.load_state_dict(torch.load(params, map_location="cpu", weights_only=True))
    trainer.model.eval()
    return Predictor(trainer, spec)
