"""Linear-learner answers decoded in one pass give exactly what the per-item loop gives.

``linear_learner._plain_predictions`` answers the usual response (a number ``score`` and an int or whole
float ``predicted_label`` per item) without a call per item (issue 16: the handler's own work per
request); anything else returns None and the per-item loop of ``decode_response`` decides. The answer's
shape is the container's documented JSON, ``{"predictions": [{"score": ..., "predicted_label": ...}]}``
(https://docs.aws.amazon.com/sagemaker/latest/dg/LL-in-formats.html). Both paths must serialise to the
same JSON bytes.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagedrop.algorithms import linear_learner
from sagedrop.algorithms.base import InvokeRequest, ServingContext
from sagedrop.codecs import BadModelResponse

ALGORITHM = linear_learner.ALGORITHM
_SCORES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-5, 5),
    st.sampled_from([0.0, -0.0, 1.0, 0.5]),
    st.lists(st.floats(0, 1), min_size=1, max_size=3),  # multiclass
)
_LABELS = st.one_of(
    st.integers(-2, 4),
    st.integers(-2, 4).map(float),
    st.sampled_from([0.5, -1.0, True, False, None, "1", math.inf, 2**40]),
)
_ITEMS = st.lists(
    st.one_of(
        st.builds(lambda s, label: {"score": s, "predicted_label": label}, _SCORES, _LABELS),
        st.builds(lambda s: {"score": s}, _SCORES),
        st.builds(lambda label, s: {"predicted_label": label, "score": s}, _LABELS, _SCORES),
    ),
    min_size=1,
    max_size=20,
)
_NAMES = st.one_of(st.none(), st.lists(st.sampled_from(["no", "yes", "maybe"]), min_size=1, max_size=3))


def _per_item(items: list, ctx: ServingContext) -> list | str:
    """The loop alone (the reference), or the error it raises."""
    predictions = []
    for item in items:
        score = item.get("score") if isinstance(item, dict) else None
        if not linear_learner._is_score(score):
            return "refused"
        prediction = {"score": score}
        if "predicted_label" in item:
            from sagedrop import codecs

            index = codecs.as_int(item["predicted_label"])
            prediction["predicted_label"] = index if index is not None else item["predicted_label"]
        predictions.append(ALGORITHM.named(prediction, ctx))
    return predictions


def _decode(items: list, ctx: ServingContext) -> list | str:
    body = json.dumps({"predictions": items}).encode()
    request = InvokeRequest(b"", "text/csv", "application/json", len(items))
    try:
        return ALGORITHM.decode_response(body, "application/json", request, ctx)
    except BadModelResponse:
        return "refused"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=_ITEMS, labels=_NAMES)
def test_one_pass_decoding_equals_the_per_item_loop(items, labels) -> None:
    ctx = ServingContext(labels=tuple(labels) if labels is not None else None)
    reference = _per_item(json.loads(json.dumps(items)), ctx)
    assert json.dumps(_decode(items, ctx)) == json.dumps(reference)


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([{"score": 0.9, "predicted_label": 1.0}], [{"score": 0.9, "predicted_label": 1, "label": "yes"}]),
        ([{"score": 0.1, "predicted_label": 0}], [{"score": 0.1, "predicted_label": 0, "label": "no"}]),
        ([{"score": 3.5}], [{"score": 3.5}]),  # a regressor: the score only
        ([{"score": 0.5, "predicted_label": 7}], [{"score": 0.5, "predicted_label": 7}]),  # no name for class 7
    ],
)
def test_the_usual_answers_take_the_one_pass_way(items, expected) -> None:
    assert linear_learner._plain_predictions(items, ("no", "yes")) == expected


@pytest.mark.parametrize(
    "item",
    [{"score": [0.1, 0.9], "predicted_label": 1}, {"score": True}, {"score": 0.5, "predicted_label": 0.5}, [0.5]],
)
def test_anything_else_is_left_to_the_loop(item) -> None:
    assert linear_learner._plain_predictions([{"score": 0.5}, item], ("no", "yes")) is None
