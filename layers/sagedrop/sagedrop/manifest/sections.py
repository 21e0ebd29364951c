"""The manifest's training sections: ``labels``, ``channels`` and ``training``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagedrop.algorithms.base import Algorithm
from sagedrop.manifest.fields import Checker, json_type
from sagedrop.manifest.schema import (
    CHANNEL_KEYS,
    DEFAULT_MAX_RUNTIME_S,
    DEFAULT_VOLUME_GB,
    DISTRIBUTIONS,
    MAX_RUNTIME_LIMIT_S,
    TRAINING_KEYS,
    ChannelRequest,
    Defaults,
    TrainingSettings,
)


def read_labels(data: Mapping[str, Any], check: Checker) -> tuple[str, ...] | None:
    """``$.labels``: the class names, in class-index order."""
    labels = data.get("labels")
    if labels is None:
        return None
    if not isinstance(labels, list) or not labels:
        check.add(
            "$.labels",
            f"expected a non-empty list of class names, got {json_type(labels)}",
            'e.g. ["low", "medium", "high"]',
        )
        return None
    seen: dict[str, int] = {}
    for index, label in enumerate(labels):
        if not isinstance(label, str) or not label.strip():
            check.add(f"$.labels[{index}]", f"expected a non-empty string, got {json_type(label)} {label!r}")
        elif label in seen:
            check.add(f"$.labels[{index}]", f"{label!r} repeats $.labels[{seen[label]}]", "class names must be unique")
        else:
            seen[label] = index
    return tuple(str(label) for label in labels)


def read_channels(data: Mapping[str, Any], check: Checker) -> dict[str, ChannelRequest] | None:
    """``$.channels``: each channel as asked for (None: discover the sibling folders)."""
    raw = data.get("channels")
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw:
        check.add(
            "$.channels",
            f"expected an object of channel name -> folder, got {json_type(raw)}",
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
                f"expected a folder, an s3:// URI or an object, got {json_type(spec)}",
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


def read_training(
    raw: Mapping[str, Any], algorithm: Algorithm, values: Mapping[str, Any], defaults: Defaults, check: Checker
) -> TrainingSettings | None:
    """``$.training``: instance, volume, runtime, spot and input mode, checked against the algorithm."""
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
