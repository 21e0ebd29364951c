"""``parse``: a manifest object to a validated ``Manifest``, reporting every problem at once.

The top-level fields are read here; each section has its module (``sections``, ``deploy_settings``) and
the checks across sections theirs (``checks``). The sections on their own serve deploy.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagedrop import algorithms, naming
from sagedrop.algorithms.base import Algorithm
from sagedrop.errors import ManifestError, Problem
from sagedrop.manifest.checks import (
    check_channels,
    check_convert,
    check_gate_is_reported,
    check_label_bins,
    check_labels,
)
from sagedrop.manifest.deploy_settings import read_deploy
from sagedrop.manifest.fields import Checker, json_type, load_json
from sagedrop.manifest.schema import CONVERSIONS, TOP_LEVEL, Defaults, DeploySettings, Manifest
from sagedrop.manifest.sections import read_channels, read_labels, read_training


def parse(
    data: Mapping[str, Any],
    *,
    default_name: str = "",
    defaults: Defaults | None = None,
    source: str = "training.json",
) -> Manifest:
    """Validate a manifest object; ManifestError lists every problem found."""
    defaults = defaults or Defaults()
    check = Checker()
    check.unknown_keys(data, TOP_LEVEL, "$")

    algorithm = _algorithm(data, check)
    name = _name(data, default_name, check)
    _description(data, check)
    labels = read_labels(data, check)
    content_type = check.string(data, "content_type", "$")
    convert = _convert(data, check)
    label_bins = check.integer(data, "label_bins", "$", None, 2, 1000)
    hyper_raw = check.obj(data, "hyperparameters", "$") or {}
    channels = read_channels(data, check)
    training_raw = check.obj(data, "training", "$") or {}
    deploy_raw = data.get("deploy", {})

    if algorithm is None:
        # Without an algorithm nothing else can be checked meaningfully; report what we have.
        raise ManifestError(check.problems, source=source)

    version = _version(data, algorithm, check)
    known_version = version if version in algorithm.versions else None
    typed, wire, hp_problems = algorithm.resolve_hyperparameters(hyper_raw, version=known_version)
    check.problems.extend(hp_problems)
    warnings = () if hp_problems else tuple(algorithm.hyperparameter_warnings(typed, "$.hyperparameters"))

    training = read_training(training_raw, algorithm, typed, defaults, check)
    deploy = read_deploy(deploy_raw, algorithm, defaults, check, known_version)
    if not hp_problems:
        check_gate_is_reported(deploy, algorithm, typed, known_version, check)
    check_channels(channels, content_type, training, algorithm, typed, check)
    check_labels(labels, algorithm, typed, check)
    check_label_bins(label_bins, algorithm, typed, check)
    check_convert(convert, algorithm, check)

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


def parse_bytes(body: bytes, **kwargs: Any) -> Manifest:
    return parse(load_json(body, kwargs.get("source", "training.json")), **kwargs)


# ------------------------------------------------------------------------------------------------
# Top-level fields
# ------------------------------------------------------------------------------------------------


def _algorithm(data: Mapping[str, Any], check: Checker) -> Algorithm | None:
    raw_algorithm = data.get("algorithm")
    if raw_algorithm is None:
        check.add(
            "$.algorithm",
            "the manifest must name an algorithm",
            'add "algorithm": one of ' + ", ".join(algorithms.NAMES),
        )
    elif not isinstance(raw_algorithm, str):
        check.add("$.algorithm", f"expected a string, got {json_type(raw_algorithm)}")
    else:
        try:
            return algorithms.get(raw_algorithm.strip().lower())
        except algorithms.UnknownAlgorithm as exc:
            check.add("$.algorithm", exc.message)
    return None


def _name(data: Mapping[str, Any], default_name: str, check: Checker) -> str:
    """``$.name``, else the folder that holds training.json."""
    name = check.string(data, "name", "$") or default_name
    if "name" in data or name:
        check.problems.extend(naming.check_model_name(name, "$.name" if "name" in data else "$ (folder name)"))
    else:
        check.add(
            "$.name",
            "the manifest sits at the top of the bucket, so it has no folder to name the model after",
            'put it in a folder (my-model/training.json) or set "name"',
        )
    return name


def _description(data: Mapping[str, Any], check: Checker) -> None:
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        check.add("$.description", f"expected a string, got {json_type(description)}")


def _convert(data: Mapping[str, Any], check: Checker) -> str | None:
    convert = check.string(data, "convert", "$")
    if convert is not None and convert not in CONVERSIONS:
        check.add("$.convert", f"unknown conversion {convert!r}", "use " + ", ".join(CONVERSIONS))
    return convert


def _version(data: Mapping[str, Any], algorithm: Algorithm, check: Checker) -> str:
    """``$.version`` (the image tag), else the algorithm's default."""
    version = check.string(data, "version", "$", algorithm.default_version) or algorithm.default_version
    if version not in algorithm.versions:
        check.add(
            "$.version",
            f"{algorithm.name} has no version {version!r}",
            "use one of " + ", ".join(algorithm.versions),
        )
    return version


# ------------------------------------------------------------------------------------------------
# Sections on their own (deploy.json reuses training.json's deploy section and labels)
# ------------------------------------------------------------------------------------------------


def deploy_section(
    raw: Any, algorithm: Algorithm, defaults: Defaults | None = None
) -> tuple[DeploySettings | None, list[Problem]]:
    """The ``deploy`` section validated as in training.json: the settings and every problem found."""
    check = Checker()
    settings = read_deploy(raw, algorithm, defaults or Defaults(), check)
    return settings, check.problems


def labels_section(data: Mapping[str, Any]) -> tuple[tuple[str, ...] | None, list[Problem]]:
    """``labels`` validated as in training.json: the class names and every problem found."""
    check = Checker()
    labels = read_labels(data, check)
    return labels, check.problems
