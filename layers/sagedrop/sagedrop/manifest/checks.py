"""Checks across the manifest's sections, once each section is read on its own.

Each adds its problems to the shared ``Checker``; the order of the checks is the order of the problems
in the ManifestError.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagedrop import algorithms
from sagedrop.algorithms.base import Algorithm
from sagedrop.manifest.fields import Checker
from sagedrop.manifest.schema import ChannelRequest, DeploySettings, TrainingSettings

# The algorithms whose CSV data has a numeric label column (label_bins) and converts to RecordIO (convert).


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


def check_gate_is_reported(
    deploy: DeploySettings | None,
    algorithm: Algorithm,
    typed: Mapping[str, Any],
    version: str | None,
    check: Checker,
) -> None:
    """The gate's metric must be one that the job, with these hyperparameters, reports."""
    if deploy is None or deploy.gate is None:
        return
    reported = algorithm.reported_metrics(typed)
    emitted = algorithm.metric(deploy.gate.metric, version)
    if reported is not None and deploy.gate.metric not in reported and emitted:
        check.add(
            "$.deploy.gate.metric",
            f"with these hyperparameters the job reports {', '.join(reported)}, not {deploy.gate.metric}",
            f'add "eval_metric": "{deploy.gate.metric.split(":", 1)[1]}" to the hyperparameters, '
            "or gate on a metric the job reports",
        )


def check_channels(
    channels: dict[str, ChannelRequest] | None,
    content_type: str | None,
    training: TrainingSettings | None,
    algorithm: Algorithm,
    typed: Mapping[str, Any],
    check: Checker,
) -> None:
    """The requested channels against the algorithm: names, content types, input modes, distribution."""
    if channels is None:
        return
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


def check_labels(
    labels: tuple[str, ...] | None, algorithm: Algorithm, typed: Mapping[str, Any], check: Checker
) -> None:
    """As many class names as the model has classes."""
    if labels is None:
        return
    classes = algorithm.class_count(typed)
    if classes is not None and len(labels) != classes:
        check.add(
            "$.labels",
            f"{len(labels)} labels for a model with {classes} classes",
            f"give exactly {classes} class names, in class-index order",
        )


def check_label_bins(label_bins: int | None, algorithm: Algorithm, typed: Mapping[str, Any], check: Checker) -> None:
    """label_bins applies to a CSV classifier whose class count equals the number of bins."""
    if label_bins is None:
        return
    classes = algorithm.class_count(typed)
    if not algorithm.numeric_csv_label:
        check.add(
            "$.label_bins",
            f"{algorithm.name} has no numeric label column to bin",
            f"label_bins applies to {algorithms.listed('numeric_csv_label')} CSV data",
        )
    elif classes is None:
        check.add(
            "$.label_bins",
            "label_bins turns the label into classes, but the hyperparameters train a regressor",
            "use "
            + " or ".join(f"{a.multiclass_hint} ({a.name})" for a in algorithms.having("numeric_csv_label"))
            + ", equal to label_bins",
        )
    elif classes != label_bins:
        check.add(
            "$.label_bins",
            f"{label_bins} bins but the hyperparameters say {classes} classes",
            "make label_bins equal the number of classes",
        )


def check_convert(convert: str | None, algorithm: Algorithm, check: Checker) -> None:
    """Only CSV channels of algorithms that convert (``converts_csv_to_recordio``) become RecordIO-protobuf."""
    if convert is not None and not algorithm.converts_csv_to_recordio:
        check.add(
            "$.convert",
            f"{algorithm.name} data cannot be converted to RecordIO-protobuf",
            f"convert applies to {algorithms.listed('converts_csv_to_recordio')} CSV channels",
        )
