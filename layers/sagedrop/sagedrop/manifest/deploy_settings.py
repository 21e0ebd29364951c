"""The manifest's ``deploy`` section (endpoint, instances or serverless, gate, idle settings).

deploy.json reuses it as it stands (see ``sagedrop.manifest.parsing.deploy_section``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from sagedrop import naming
from sagedrop.algorithms.base import Algorithm
from sagedrop.manifest.fields import Checker, json_type
from sagedrop.manifest.schema import (
    DEPLOY_KEYS,
    SERVERLESS_MAX_CONCURRENCY,
    SERVERLESS_MEMORY_MB,
    Defaults,
    DeploySettings,
    Gate,
    Serverless,
)


def read_deploy(
    raw: Any, algorithm: Algorithm, defaults: Defaults, check: Checker, version: str | None = None
) -> DeploySettings | None:
    """``$.deploy``: false (train only), or where and how to serve, with the gate; None when false or invalid."""
    path = "$.deploy"
    if raw is False:
        return None
    if raw is True or raw is None:
        raw = {}
    if not isinstance(raw, dict):
        check.add(
            path,
            f"expected false or an object, got {json_type(raw)}",
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


def _serverless(raw: Any, algorithm: Algorithm, check: Checker) -> Serverless | None:
    path = "$.deploy.serverless"
    if raw is True:
        raw = {}
    if not isinstance(raw, dict):
        check.add(path, f"expected an object, got {json_type(raw)}", 'e.g. {"memory_mb": 2048, "max_concurrency": 5}')
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


def _gate(raw: Mapping[str, Any], algorithm: Algorithm, check: Checker, version: str | None = None) -> Gate | None:
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
