"""The manifest (``training.json``): parsing and validation that reports every problem at once.

Each problem names its JSON path, what was expected and how to fix it. Only ``algorithm`` is
required where the algorithm's required hyperparameters have safe defaults; everything else
has a default (docs/manifest.md; docs/architecture.md, Contracts: Manifest).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sagedrop import algorithms, naming
from sagedrop.algorithms.base import Algorithm
from sagedrop.errors import ManifestError, Problem

MAX_MANIFEST_BYTES = 64 * 1024
MAX_RUNTIME_LIMIT_S = 28 * 24 * 3600  # SageMaker's MaxRuntimeInSeconds upper bound (28 days)
DEFAULT_MAX_RUNTIME_S = 24 * 3600
DEFAULT_VOLUME_GB = 30
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
SERVERLESS_MAX_CONCURRENCY = 200
DISTRIBUTIONS = ("FullyReplicated", "ShardedByS3Key")
CONVERSIONS = ("recordio-protobuf",)

TOP_LEVEL = (
    "algorithm",
    "name",
    "version",
    "hyperparameters",
    "channels",
    "content_type",
    "training",
    "deploy",
    "labels",
    "convert",
    "label_bins",
    "description",
)
TRAINING_KEYS = ("instance_type", "instance_count", "volume_gb", "max_runtime_s", "spot", "max_wait_s", "input_mode")
DEPLOY_KEYS = (
    "endpoint_name",
    "instance_type",
    "instance_count",
    "serverless",
    "gate",
    "must_beat_current",
    "idle_minutes",
    "keep_alive",
)
CHANNEL_KEYS = ("s3_uri", "folder", "content_type", "distribution", "input_mode", "compression")


@dataclass(frozen=True)
class Defaults:
    """Stack-wide defaults (template parameters), used where the manifest is silent."""

    training_instance_type: str = "ml.m5.xlarge"
    gpu_training_instance_type: str = "ml.g5.xlarge"
    hosting_instance_type: str = "ml.m5.large"
    gpu_hosting_instance_type: str = "ml.g5.xlarge"
    idle_minutes: int = 120


@dataclass(frozen=True)
class ChannelRequest:
    """A channel as the manifest asks for it; ``s3_uri``/``folder`` None means the sibling folder."""

    name: str
    s3_uri: str | None = None
    folder: str | None = None
    content_type: str | None = None
    distribution: str | None = None
    input_mode: str | None = None
    compression: str | None = None


@dataclass(frozen=True)
class TrainingSettings:
    instance_type: str
    instance_count: int = 1
    volume_gb: int = DEFAULT_VOLUME_GB
    max_runtime_s: int = DEFAULT_MAX_RUNTIME_S
    spot: bool = False
    max_wait_s: int | None = None
    input_mode: str = "File"


@dataclass(frozen=True)
class Gate:
    metric: str
    minimum: float | None = None
    maximum: float | None = None
    better: str = "max"
    """Which direction is better for the metric ("max" or "min"): used by must_beat_current."""

    def verdict(self, value: float) -> str | None:
        """Why ``value`` fails the gate, or None when it passes."""
        if self.minimum is not None and value < self.minimum:
            return f"{self.metric} = {value:g} is below the minimum {self.minimum:g}"
        if self.maximum is not None and value > self.maximum:
            return f"{self.metric} = {value:g} is above the maximum {self.maximum:g}"
        return None

    def beats(self, value: float, current: float) -> bool:
        return value > current if self.better == "max" else value < current


@dataclass(frozen=True)
class Serverless:
    memory_mb: int = 2048
    max_concurrency: int = 5


@dataclass(frozen=True)
class DeploySettings:
    endpoint_name: str | None = None
    instance_type: str | None = None
    instance_count: int = 1
    serverless: Serverless | None = None
    gate: Gate | None = None
    must_beat_current: bool = False
    idle_minutes: int = 120
    keep_alive: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form, stored with each job so deploy needs no second manifest read."""
        return {
            "endpoint_name": self.endpoint_name,
            "instance_type": self.instance_type,
            "instance_count": self.instance_count,
            "serverless": None
            if self.serverless is None
            else {"memory_mb": self.serverless.memory_mb, "max_concurrency": self.serverless.max_concurrency},
            "gate": None
            if self.gate is None
            else {
                "metric": self.gate.metric,
                "min": self.gate.minimum,
                "max": self.gate.maximum,
                "better": self.gate.better,
            },
            "must_beat_current": self.must_beat_current,
            "idle_minutes": self.idle_minutes,
            "keep_alive": self.keep_alive,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeploySettings:
        serverless = data.get("serverless")
        gate = data.get("gate")
        return cls(
            endpoint_name=data.get("endpoint_name"),
            instance_type=data.get("instance_type"),
            instance_count=int(data.get("instance_count") or 1),
            serverless=None
            if not serverless
            else Serverless(int(serverless["memory_mb"]), int(serverless["max_concurrency"])),
            gate=None
            if not gate
            else Gate(
                gate["metric"],
                None if gate.get("min") is None else float(gate["min"]),
                None if gate.get("max") is None else float(gate["max"]),
                gate.get("better", "max"),
            ),
            must_beat_current=bool(data.get("must_beat_current")),
            idle_minutes=int(data.get("idle_minutes") or 120),
            keep_alive=bool(data.get("keep_alive")),
        )


@dataclass(frozen=True)
class Manifest:
    algorithm: Algorithm
    name: str
    version: str
    hyperparameters: dict[str, Any]
    """Typed values after validation (defaults applied)."""
    wire_hyperparameters: dict[str, str]
    """What SageMaker receives: every value a string."""
    channels: dict[str, ChannelRequest] | None
    """None: discover the sibling folders the algorithm knows."""
    content_type: str | None
    training: TrainingSettings
    deploy: DeploySettings | None
    labels: tuple[str, ...] | None
    convert: str | None = None
    label_bins: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    warnings: tuple[Problem, ...] = ()
    """Settings the documentation says the algorithm ignores: recorded and notified, not refused."""


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------


def load_json(body: bytes, source: str = "training.json", size: int | None = None) -> dict[str, Any]:
    """Bytes -> JSON object, with size, encoding and syntax errors said precisely.

    ``size`` is the whole object's size when ``body`` is only its first bytes (a ranged read).
    """
    size = max(len(body), size or 0)
    if size > MAX_MANIFEST_BYTES:
        raise ManifestError(
            Problem("$", f"the manifest is {size:,} bytes", f"keep it under {MAX_MANIFEST_BYTES:,} bytes (64 KiB)"),
            source=source,
        )
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(
            Problem(
                "$", f"the manifest is not UTF-8 (byte {exc.start} is 0x{body[exc.start]:02x})", "save it as UTF-8"
            ),
            source=source,
        ) from None
    if not text.strip():
        raise ManifestError(
            Problem("$", "the manifest is empty", 'write at least {"algorithm": "xgboost"}'), source=source
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(
            Problem("$", f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", "fix the JSON syntax"),
            source=source,
        ) from None
    if not isinstance(data, dict):
        raise ManifestError(
            Problem("$", f"expected a JSON object, got {_json_type(data)}", 'write {"algorithm": "..."}'),
            source=source,
        )
    return data


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


class _Checker:
    """Collects problems while reading typed values out of nested JSON."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem(path, message, hint))

    def unknown_keys(self, data: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> None:
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else "allowed: " + ", ".join(allowed)
                self.add(f"{path}.{key}", f"unknown field {key!r}", hint)

    def string(self, data: Mapping[str, Any], key: str, path: str, default: str | None = None) -> str | None:
        value = data.get(key, default)
        if value is None or (isinstance(value, str) and value):
            return value
        self.add(f"{path}.{key}", f"expected a non-empty string, got {_json_type(value)}")
        return default

    def integer(
        self, data: Mapping[str, Any], key: str, path: str, default: int | None, low: int, high: int | None = None
    ) -> int | None:
        value = data.get(key, default)
        if value is None:
            return None
        ok = isinstance(value, int) and not isinstance(value, bool)
        ok = ok or (isinstance(value, float) and value.is_integer())
        bounds = f">= {low:,}" + (f" and <= {high:,}" if high is not None else "")
        if not ok:
            self.add(f"{path}.{key}", f"expected an integer {bounds}, got {_json_type(value)} {value!r}")
            return default
        value = int(value)
        if value < low or (high is not None and value > high):
            self.add(f"{path}.{key}", f"expected an integer {bounds}, got {value:,}")
            return default
        return value

    def number(self, data: Mapping[str, Any], key: str, path: str) -> float | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(f"{path}.{key}", f"expected a number, got {_json_type(value)} {value!r}")
            return None
        return float(value)

    def boolean(self, data: Mapping[str, Any], key: str, path: str, default: bool = False) -> bool:
        value = data.get(key, default)
        if isinstance(value, bool):
            return value
        self.add(f"{path}.{key}", f"expected true or false, got {_json_type(value)} {value!r}")
        return default

    def obj(self, data: Mapping[str, Any], key: str, path: str) -> dict[str, Any] | None:
        value = data.get(key)
        if value is None or isinstance(value, dict):
            return value
        self.add(f"{path}.{key}", f"expected an object, got {_json_type(value)}")
        return None


def parse(
    data: Mapping[str, Any],
    *,
    default_name: str = "",
    defaults: Defaults | None = None,
    source: str = "training.json",
) -> Manifest:
    """Validate a manifest object; ManifestError lists every problem found."""
    defaults = defaults or Defaults()
    check = _Checker()
    check.unknown_keys(data, TOP_LEVEL, "$")

    algorithm: Algorithm | None = None
    raw_algorithm = data.get("algorithm")
    if raw_algorithm is None:
        check.add(
            "$.algorithm",
            "the manifest must name an algorithm",
            'add "algorithm": one of ' + ", ".join(algorithms.NAMES),
        )
    elif not isinstance(raw_algorithm, str):
        check.add("$.algorithm", f"expected a string, got {_json_type(raw_algorithm)}")
    else:
        try:
            algorithm = algorithms.get(raw_algorithm.strip().lower())
        except algorithms.UnknownAlgorithm as exc:
            check.add("$.algorithm", exc.message)

    name = check.string(data, "name", "$") or default_name
    if "name" in data or name:
        check.problems.extend(naming.check_model_name(name, "$.name" if "name" in data else "$ (folder name)"))
    else:
        check.add(
            "$.name",
            "the manifest sits at the top of the bucket, so it has no folder to name the model after",
            'put it in a folder (my-model/training.json) or set "name"',
        )

    description = data.get("description")
    if description is not None and not isinstance(description, str):
        check.add("$.description", f"expected a string, got {_json_type(description)}")

    labels = _labels(data, check)
    content_type = check.string(data, "content_type", "$")
    convert = check.string(data, "convert", "$")
    if convert is not None and convert not in CONVERSIONS:
        check.add("$.convert", f"unknown conversion {convert!r}", "use " + ", ".join(CONVERSIONS))
    label_bins = check.integer(data, "label_bins", "$", None, 2, 1000)

    hyper_raw = check.obj(data, "hyperparameters", "$") or {}
    channels = _channels(data, check)
    training_raw = check.obj(data, "training", "$") or {}
    deploy_raw = data.get("deploy", {})

    if algorithm is None:
        # Without an algorithm nothing else can be checked meaningfully; report what we have.
        raise ManifestError(check.problems, source=source)

    version = check.string(data, "version", "$", algorithm.default_version) or algorithm.default_version
    if version not in algorithm.versions:
        check.add(
            "$.version",
            f"{algorithm.name} has no version {version!r}",
            "use one of " + ", ".join(algorithm.versions),
        )

    known_version = version if version in algorithm.versions else None
    typed, wire, hp_problems = algorithm.resolve_hyperparameters(hyper_raw, version=known_version)
    check.problems.extend(hp_problems)
    warnings = () if hp_problems else tuple(algorithm.hyperparameter_warnings(typed, "$.hyperparameters"))

    training = _training(training_raw, algorithm, typed, defaults, check)
    deploy = _deploy(deploy_raw, algorithm, defaults, check, known_version)
    if deploy is not None and deploy.gate is not None and not hp_problems:
        reported = algorithm.reported_metrics(typed)
        emitted = algorithm.metric(deploy.gate.metric, known_version)
        if reported is not None and deploy.gate.metric not in reported and emitted:
            check.add(
                "$.deploy.gate.metric",
                f"with these hyperparameters the job reports {', '.join(reported)}, not {deploy.gate.metric}",
                f'add "eval_metric": "{deploy.gate.metric.split(":", 1)[1]}" to the hyperparameters, '
                "or gate on a metric the job reports",
            )

    if channels is not None:
        requested = {name: (channels[name].content_type or content_type) for name in channels}
        check.problems.extend(algorithm.check_channels(requested, typed, "$.channels"))
        if training is not None:
            modes = channel_modes(channels, content_type, training)
            check.problems.extend(algorithm.check_channel_modes(modes, typed, "$.channels"))
        for channel in channels.values():
            if channel.distribution == "ShardedByS3Key" and not algorithm.supports_distributed:
                check.add(
                    f"$.channels.{channel.name}.distribution",
                    f"{algorithm.name} does not train distributed, so ShardedByS3Key has no use",
                    "remove distribution or use FullyReplicated",
                )
            if channel.input_mode and channel.input_mode not in algorithm.input_modes:
                check.add(
                    f"$.channels.{channel.name}.input_mode",
                    f"{algorithm.name} does not read {channel.input_mode!r} input",
                    "use one of " + ", ".join(algorithm.input_modes),
                )

    if labels is not None:
        classes = algorithm.class_count(typed)
        if classes is not None and len(labels) != classes:
            check.add(
                "$.labels",
                f"{len(labels)} labels for a model with {classes} classes",
                f"give exactly {classes} class names, in class-index order",
            )
    if label_bins is not None:
        classes = algorithm.class_count(typed)
        if algorithm.name not in ("linear-learner", "xgboost"):
            check.add(
                "$.label_bins",
                f"{algorithm.name} has no numeric label column to bin",
                "label_bins applies to linear-learner and xgboost CSV data",
            )
        elif classes is None:
            check.add(
                "$.label_bins",
                "label_bins turns the label into classes, but the hyperparameters train a regressor",
                "use predictor_type multiclass_classifier with num_classes (linear-learner) "
                "or objective multi:softmax with num_class (xgboost), equal to label_bins",
            )
        elif classes != label_bins:
            check.add(
                "$.label_bins",
                f"{label_bins} bins but the hyperparameters say {classes} classes",
                "make label_bins equal the number of classes",
            )
    if convert is not None and algorithm.name not in ("linear-learner", "xgboost"):
        check.add(
            "$.convert",
            f"{algorithm.name} data cannot be converted to RecordIO-protobuf",
            "convert applies to linear-learner and xgboost CSV channels",
        )

    if check.problems:
        raise ManifestError(check.problems, source=source)
    assert training is not None
    return Manifest(
        algorithm=algorithm,
        name=name,
        version=version,
        hyperparameters=typed,
        wire_hyperparameters=wire,
        channels=channels,
        content_type=content_type,
        training=training,
        deploy=deploy,
        labels=labels,
        convert=convert,
        label_bins=label_bins,
        raw=dict(data),
        warnings=warnings,
    )


def channel_modes(
    channels: Mapping[str, Any], content_type: str | None, training: TrainingSettings
) -> dict[str, tuple[str | None, str, str]]:
    """Each channel's (content type, input mode, distribution) as the job will get them.

    ``channels`` holds ChannelRequest or datacheck's ResolvedChannel objects (both have ``content_type``,
    ``input_mode`` and ``distribution``); a channel's own input mode overrides the job's.
    """
    return {
        name: (
            channel.content_type or content_type,
            channel.input_mode or training.input_mode,
            channel.distribution or "FullyReplicated",
        )
        for name, channel in channels.items()
    }


def parse_bytes(body: bytes, **kwargs: Any) -> Manifest:
    return parse(load_json(body, kwargs.get("source", "training.json")), **kwargs)


# ------------------------------------------------------------------------------------------------
# Sections on their own (deploy.json reuses training.json's deploy section and labels)
# ------------------------------------------------------------------------------------------------


def deploy_section(
    raw: Any, algorithm: Algorithm, defaults: Defaults | None = None
) -> tuple[DeploySettings | None, list[Problem]]:
    """The ``deploy`` section validated as in training.json: the settings and every problem found."""
    check = _Checker()
    settings = _deploy(raw, algorithm, defaults or Defaults(), check)
    return settings, check.problems


def labels_section(data: Mapping[str, Any]) -> tuple[tuple[str, ...] | None, list[Problem]]:
    """``labels`` validated as in training.json: the class names and every problem found."""
    check = _Checker()
    labels = _labels(data, check)
    return labels, check.problems


def unknown_fields(data: Mapping[str, Any], allowed: tuple[str, ...], path: str = "$") -> list[Problem]:
    """A problem for each key of ``data`` not in ``allowed`` (with a close match as the hint)."""
    check = _Checker()
    check.unknown_keys(data, allowed, path)
    return check.problems


def json_type(value: Any) -> str:
    """How a JSON value is named in error messages ("a string", "a list", ...)."""
    return _json_type(value)


# ------------------------------------------------------------------------------------------------
# Sections
# ------------------------------------------------------------------------------------------------


def _labels(data: Mapping[str, Any], check: _Checker) -> tuple[str, ...] | None:
    labels = data.get("labels")
    if labels is None:
        return None
    if not isinstance(labels, list) or not labels:
        check.add(
            "$.labels",
            f"expected a non-empty list of class names, got {_json_type(labels)}",
            'e.g. ["low", "medium", "high"]',
        )
        return None
    seen: dict[str, int] = {}
    for index, label in enumerate(labels):
        if not isinstance(label, str) or not label.strip():
            check.add(f"$.labels[{index}]", f"expected a non-empty string, got {_json_type(label)} {label!r}")
        elif label in seen:
            check.add(f"$.labels[{index}]", f"{label!r} repeats $.labels[{seen[label]}]", "class names must be unique")
        else:
            seen[label] = index
    return tuple(str(label) for label in labels)


def _channels(data: Mapping[str, Any], check: _Checker) -> dict[str, ChannelRequest] | None:
    raw = data.get("channels")
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw:
        check.add(
            "$.channels",
            f"expected an object of channel name -> folder, got {_json_type(raw)}",
            'e.g. {"train": "train/", "validation": "validation/"} or leave it out to use the sibling folders',
        )
        return None
    channels: dict[str, ChannelRequest] = {}
    for name, spec in raw.items():
        path = f"$.channels.{name}"
        if isinstance(spec, str) and spec:
            if spec.startswith("s3://"):
                channels[name] = ChannelRequest(name, s3_uri=spec)
            else:
                channels[name] = ChannelRequest(name, folder=spec)
            continue
        if not isinstance(spec, dict):
            check.add(
                path,
                f"expected a folder, an s3:// URI or an object, got {_json_type(spec)}",
                'e.g. "train/" or {"s3_uri": "s3://bucket/data/train/", "content_type": "text/csv"}',
            )
            continue
        check.unknown_keys(spec, CHANNEL_KEYS, path)
        s3_uri = check.string(spec, "s3_uri", path)
        folder = check.string(spec, "folder", path)
        if s3_uri is not None and not s3_uri.startswith("s3://"):
            check.add(f"{path}.s3_uri", f"{s3_uri!r} is not an s3:// URI", "write s3://bucket/prefix/")
        if s3_uri and folder:
            check.add(path, "give either s3_uri or folder, not both")
        distribution = check.string(spec, "distribution", path)
        if distribution is not None and distribution not in DISTRIBUTIONS:
            check.add(
                f"{path}.distribution", f"unknown distribution {distribution!r}", "use " + " or ".join(DISTRIBUTIONS)
            )
        compression = check.string(spec, "compression", path)
        if compression is not None and compression not in ("None", "Gzip"):
            check.add(f"{path}.compression", f"unknown compression {compression!r}", "use None or Gzip")
        channels[name] = ChannelRequest(
            name,
            s3_uri=s3_uri,
            folder=folder,
            content_type=check.string(spec, "content_type", path),
            distribution=distribution,
            input_mode=check.string(spec, "input_mode", path),
            compression=compression,
        )
    return channels


def _training(
    raw: Mapping[str, Any], algorithm: Algorithm, values: Mapping[str, Any], defaults: Defaults, check: _Checker
) -> TrainingSettings | None:
    path = "$.training"
    check.unknown_keys(raw, TRAINING_KEYS, path)
    default_type = (
        defaults.gpu_training_instance_type if algorithm.gpu_only_training else defaults.training_instance_type
    )
    instance_type = check.string(raw, "instance_type", path, default_type) or default_type
    check.problems.extend(algorithm.instance_problems(instance_type, "training", f"{path}.instance_type"))
    check.problems.extend(algorithm.check_training_instance(instance_type, values, f"{path}.instance_type"))
    count = check.integer(raw, "instance_count", path, 1, 1, 100) or 1
    check.problems.extend(algorithm.check_instance_count(count, values, f"{path}.instance_count"))
    volume = check.integer(raw, "volume_gb", path, DEFAULT_VOLUME_GB, 1, 16384) or DEFAULT_VOLUME_GB
    runtime = check.integer(raw, "max_runtime_s", path, DEFAULT_MAX_RUNTIME_S, 60, MAX_RUNTIME_LIMIT_S)
    runtime = runtime or DEFAULT_MAX_RUNTIME_S
    spot = check.boolean(raw, "spot", path)
    max_wait = check.integer(raw, "max_wait_s", path, None, 60, MAX_RUNTIME_LIMIT_S)
    if max_wait is not None and not spot:
        check.add(f"{path}.max_wait_s", "max_wait_s applies to spot training only", 'set "spot": true or remove it')
    if spot:
        max_wait = max_wait if max_wait is not None else min(2 * runtime, MAX_RUNTIME_LIMIT_S)
        if max_wait < runtime:
            check.add(
                f"{path}.max_wait_s",
                f"{max_wait:,} s is shorter than max_runtime_s {runtime:,} s",
                "SageMaker needs max_wait_s >= max_runtime_s for spot training",
            )
    input_mode = check.string(raw, "input_mode", path, "File") or "File"
    if input_mode not in algorithm.input_modes:
        check.add(
            f"{path}.input_mode",
            f"{algorithm.name} does not read {input_mode!r} input",
            "use one of " + ", ".join(algorithm.input_modes),
        )
    return TrainingSettings(instance_type, count, volume, runtime, spot, max_wait, input_mode)


def _deploy(
    raw: Any, algorithm: Algorithm, defaults: Defaults, check: _Checker, version: str | None = None
) -> DeploySettings | None:
    path = "$.deploy"
    if raw is False:
        return None
    if raw is True or raw is None:
        raw = {}
    if not isinstance(raw, dict):
        check.add(
            path,
            f"expected false or an object, got {_json_type(raw)}",
            'e.g. {"instance_type": "ml.m5.large"} or false to train only',
        )
        return None
    check.unknown_keys(raw, DEPLOY_KEYS, path)

    endpoint = check.string(raw, "endpoint_name", path)
    if endpoint is not None:
        check.problems.extend(
            p for p in naming.check_model_name(endpoint, f"{path}.endpoint_name") if "characters long" not in p.message
        )
        if len(endpoint) > naming.MAX_NAME:
            check.add(f"{path}.endpoint_name", f"{len(endpoint)} characters", f"use at most {naming.MAX_NAME}")

    serverless: Serverless | None = None
    serverless_raw = raw.get("serverless")
    if serverless_raw is not None and serverless_raw is not False:
        serverless = _serverless(serverless_raw, algorithm, check)
    instance_type = check.string(raw, "instance_type", path)
    if serverless is not None and (instance_type is not None or "instance_count" in raw):
        check.add(
            path,
            "give either serverless or instance_type/instance_count, not both",
            "serverless endpoints have no instances",
        )
    if serverless is None:
        instance_type = instance_type or algorithm.hosting_instance(
            defaults.hosting_instance_type, defaults.gpu_hosting_instance_type
        )
        check.problems.extend(algorithm.instance_problems(instance_type, "hosting", f"{path}.instance_type"))
    count = check.integer(raw, "instance_count", path, 1, 1, 100) or 1

    gate = _gate(raw, algorithm, check, version)
    must_beat = check.boolean(raw, "must_beat_current", path)
    if must_beat and gate is None:
        check.add(
            f"{path}.must_beat_current",
            "must_beat_current compares a metric, but there is no gate",
            'add "gate": {"metric": "<metric name>"} to say which metric',
        )
    idle = check.integer(raw, "idle_minutes", path, defaults.idle_minutes, 5, 43200) or defaults.idle_minutes
    keep_alive = check.boolean(raw, "keep_alive", path)
    return DeploySettings(
        endpoint_name=endpoint,
        instance_type=None if serverless else instance_type,
        instance_count=count,
        serverless=serverless,
        gate=gate,
        must_beat_current=must_beat,
        idle_minutes=idle,
        keep_alive=keep_alive,
    )


def _serverless(raw: Any, algorithm: Algorithm, check: _Checker) -> Serverless | None:
    path = "$.deploy.serverless"
    if raw is True:
        raw = {}
    if not isinstance(raw, dict):
        check.add(path, f"expected an object, got {_json_type(raw)}", 'e.g. {"memory_mb": 2048, "max_concurrency": 5}')
        return None
    if not algorithm.supports_serverless:
        example = algorithm.default_hosting_instance
        check.add(
            path,
            f"{algorithm.name} cannot be served serverless ({algorithm.serverless_refusal})",
            f'remove serverless and use "instance_type", e.g. {example}',
        )
    check.unknown_keys(raw, ("memory_mb", "max_concurrency"), path)
    memory = check.integer(raw, "memory_mb", path, 2048, 1024, 6144) or 2048
    if memory not in SERVERLESS_MEMORY_MB:
        check.add(
            f"{path}.memory_mb",
            f"{memory} MB is not a serverless memory size",
            "use one of " + ", ".join(str(m) for m in SERVERLESS_MEMORY_MB),
        )
    concurrency = check.integer(raw, "max_concurrency", path, 5, 1, SERVERLESS_MAX_CONCURRENCY) or 5
    return Serverless(memory, concurrency)


def _gate(raw: Mapping[str, Any], algorithm: Algorithm, check: _Checker, version: str | None = None) -> Gate | None:
    path = "$.deploy.gate"
    gate = check.obj(raw, "gate", "$.deploy")
    if gate is None:
        return None
    check.unknown_keys(gate, ("metric", "min", "max"), path)
    metric_name = check.string(gate, "metric", path)
    if metric_name is None:
        check.add(f"{path}.metric", "the gate needs a metric", 'e.g. "validation:accuracy"')
        return None
    metric = algorithm.metric(metric_name, version)
    if metric is None:
        names = [m.name for m in algorithm.metrics_for(version)]
        close = difflib.get_close_matches(metric_name, names, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "metrics: " + ", ".join(names)
        if version is not None and algorithm.metric(metric_name) is not None:
            hint = f"other {algorithm.name} image versions emit it: change version, or gate on one of " + ", ".join(
                names
            )
        where = f" (version {version})" if version is not None and algorithm.versions != (version,) else ""
        check.add(f"{path}.metric", f"{algorithm.name}{where} does not emit {metric_name!r}", hint)
    minimum = check.number(gate, "min", path)
    maximum = check.number(gate, "max", path)
    if minimum is not None and maximum is not None and minimum > maximum:
        check.add(path, f"min {minimum:g} is greater than max {maximum:g}", "swap them")
    if minimum is None and maximum is None and not raw.get("must_beat_current"):
        check.add(path, "the gate has neither min nor max", 'add "min" (higher is better) or "max" (lower is better)')
    return Gate(metric_name, minimum, maximum, metric.better if metric else "max")
