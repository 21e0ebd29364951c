"""Property tests: whatever a user drops, parsing a manifest ends in a Manifest or a ManifestError.

No other exception may escape (it would surface as a retried Lambda failure instead of a recorded,
notified rejection that says what to fix).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagedrop import algorithms
from sagedrop.errors import ManifestError
from sagedrop.manifest import load_json, parse
from sagedrop.pretrained import parse_deploy_json

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=10,
)
KEYS = st.sampled_from(
    ["algorithm", "name", "version", "hyperparameters", "channels", "content_type", "training", "deploy", "labels"]
)
HYPERPARAMETER_NAMES = st.sampled_from(
    sorted({hp.name for algorithm in algorithms.all_algorithms() for hp in algorithm.hyperparameters})
)
MANIFESTS = st.fixed_dictionaries(
    {"algorithm": st.sampled_from([*algorithms.NAMES, "xgbost", ""]) | SCALARS},
    optional={
        "hyperparameters": st.dictionaries(HYPERPARAMETER_NAMES, SCALARS, max_size=6) | JSON,
        "training": st.dictionaries(
            st.sampled_from(["instance_type", "instance_count", "volume_gb", "max_runtime_s", "spot", "input_mode"]),
            SCALARS,
            max_size=4,
        )
        | JSON,
        "deploy": st.booleans()
        | st.dictionaries(
            st.sampled_from(["instance_type", "instance_count", "serverless", "gate", "idle_minutes", "keep_alive"]),
            JSON,
            max_size=4,
        ),
        "channels": st.dictionaries(st.sampled_from(["train", "validation", "vocab", "x"]), JSON, max_size=3),
        "version": SCALARS,
        "labels": JSON,
    },
) | st.dictionaries(KEYS, JSON, max_size=5)


def _parses_or_explains(parser: Any, data: Any) -> None:
    problems = []
    try:
        parser(data, default_name="fuzz")
    except ManifestError as exc:
        problems = exc.problems or [None]
    assert all(problem is not None and problem.path.startswith("$") for problem in problems)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MANIFESTS)
def test_any_training_json_object_is_parsed_or_explained(data: dict[str, Any]) -> None:
    _parses_or_explains(parse, data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MANIFESTS)
def test_any_deploy_json_object_is_parsed_or_explained(data: dict[str, Any]) -> None:
    _parses_or_explains(parse_deploy_json, data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | JSON.map(lambda value: json.dumps(value).encode()))
def test_any_bytes_are_loaded_or_explained(body: bytes) -> None:
    problems = [True]
    try:
        load_json(body)
    except ManifestError as exc:
        problems = exc.problems
    assert problems, "a rejection must name at least one problem"
