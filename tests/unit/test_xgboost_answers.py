"""XGBoost answers decoded once per request give exactly what the per-row path gave.

The per-request decoder (``xgboost._predictions``) replaced a call of
``_prediction`` and ``Algorithm.named`` per row (issue 16: the handler's own work per request); the
per-row functions stay as the reference, and every answer must serialise to the same JSON bytes.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagedrop.algorithms import xgboost
from sagedrop.algorithms.base import InvokeRequest, ServingContext

OBJECTIVES = [
    "binary:logistic",
    "binary:logitraw",
    "binary:hinge",
    "multi:softmax",
    "multi:softprob",
    "reg:squarederror",
    None,
]
_VALUES = st.one_of(
    st.sampled_from([0.5, 0.0, -0.0, 1.0, 2.0, -1.0]),  # the thresholds and whole numbers
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.integers(-3, 5).map(float),
    st.floats(0, 1),
)


def _reference(values: list, objective: str | None, ctx: ServingContext) -> list[dict]:
    return [xgboost.ALGORITHM.named(xgboost._prediction(value, objective), ctx) for value in values]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(st.one_of(_VALUES, st.lists(st.floats(0, 1), min_size=1, max_size=4)), min_size=1, max_size=30),
    objective=st.sampled_from(OBJECTIVES),
    labels=st.one_of(st.none(), st.lists(st.sampled_from(["no", "yes", "maybe"]), min_size=1, max_size=3)),
)
def test_per_request_decoding_equals_the_per_row_reference(values, objective, labels) -> None:
    ctx = ServingContext(labels=tuple(labels) if labels is not None else None, hyperparameters={"objective": objective})
    expected = _reference(values, objective, ctx)
    got = xgboost._predictions(values, objective, ctx.labels)
    assert json.dumps(got) == json.dumps(expected)


@settings(max_examples=100, deadline=None)
@given(
    scores=st.lists(st.one_of(st.sampled_from([0.5, 0.0]), st.floats(-1, 1)), min_size=1, max_size=50),
    objective=st.sampled_from(["binary:logistic", "binary:logitraw", "reg:squarederror"]),
)
def test_decode_response_from_csv_bytes_matches_the_reference(scores, objective) -> None:
    """The whole decoder on a CSV answer as the container writes it (one value per line)."""
    body = "\n".join(repr(s) for s in scores).encode()
    ctx = ServingContext(labels=("no", "yes"), hyperparameters={"objective": objective})
    got = xgboost.ALGORITHM.decode_response(
        body, "text/csv", InvokeRequest(b"", "text/csv", "text/csv", len(scores)), ctx
    )
    assert json.dumps(got) == json.dumps(_reference(scores, objective, ctx))
