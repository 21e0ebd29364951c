"""A client's mistakes on the prediction API, tried as a new client would: each is a 4xx that says what to fix.

One row per mistake: the request, the status and error code it must get, and the words the message must
contain. None may yield a 5xx, and none of the refused ones may reach the endpoint (a container refusal
excepted: that row checks the container's 4xx becomes a 400, not a 502).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sagedrop.registry import JOB_PREFIX, Registry
from tests.conftest import FAKE_AWS_ENVIRONMENT, REGION, STACK, load_function
from tests.integration.test_predict_function import call, instances, post
from tests.support.runtime_moto import Endpoints, model_error, serve_model

XGB = {"objective": "reg:squarederror", "num_round": "5"}
PICKY_MESSAGE = "<class 'ValueError'>: Loading csv data failed with Exception, please ensure data is in csv format"


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[Any, Any, Endpoints]]:
    """One moto stack with a model of each kind, the predict function, and scripted endpoints."""
    from moto import mock_aws

    from tests.support.stack import MotoStack

    with pytest.MonkeyPatch.context() as env:
        for name, value in {**FAKE_AWS_ENVIRONMENT, "PREDICT_MAX_ATTEMPTS": "1"}.items():
            env.setenv(name, value)
        with mock_aws():
            stack = MotoStack.create(STACK, REGION)
            for name, value in stack.environment().items():
                env.setenv(name, value)
            endpoints = Endpoints().install(env)
            serve_model(stack, "rows4", "xgboost", hyperparameters=XGB)
            Registry(stack.table, stack.clients["dynamodb"]).update(
                "rows4", {"feature_count": 4}, record=f"{JOB_PREFIX}rows4-20261126-101530-abc123"
            )
            serve_model(stack, "picky", "xgboost", hyperparameters=XGB)
            endpoints.answer("picky", lambda _call: model_error(415, PICKY_MESSAGE))
            serve_model(
                stack,
                "ll",
                "linear-learner",
                hyperparameters={"predictor_type": "regressor", "feature_dim": "3"},
                feature_dim=3,
            )
            serve_model(stack, "bt", "blazingtext", hyperparameters={"mode": "supervised"})
            serve_model(stack, "w2v", "blazingtext", hyperparameters={"mode": "skipgram"})
            serve_model(stack, "ic", "image-classification", hyperparameters={"num_classes": "2"})
            serve_model(stack, "s2s", "seq2seq")
            Registry(stack.table, stack.clients["dynamodb"]).update(
                "refused", {"status": "rejected", "last_error": "$.algorithm: unknown algorithm 'xgbost'"}
            )
            yield stack, load_function("predict"), endpoints


def raw_event(model: str, body: str | bytes, content_type: str, **changes: Any) -> dict[str, Any]:
    event = post(model, body, content_type)
    event.update(changes)
    return event


def route(method: str, path: str) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        event = post("rows4", "", "application/json")
        event.update({"httpMethod": method, "path": path, "body": None, "resource": path})
        event["requestContext"].update({"httpMethod": method, "path": f"/v1{path}", "resourcePath": path})
        return event

    return build


# (id, event builder, status, error code, words the message must contain)
CASES: list[tuple[str, Callable[[], dict[str, Any]], int, str, list[str]]] = [
    (
        "json-syntax",
        lambda: post("rows4", '{"instances": [[1,2,3,4],]}', "application/json"),
        400,
        "invalid_request",
        ["line 1"],
    ),
    (
        "json-not-object",
        lambda: post("rows4", "[[1,2,3,4]]", "application/json"),
        400,
        "invalid_request",
        ["instances"],
    ),
    (
        "instances-missing",
        lambda: post("rows4", '{"rows": [[1,2,3,4]]}', "application/json"),
        400,
        "invalid_request",
        ["instances"],
    ),
    ("instances-empty", lambda: instances("rows4", []), 400, "invalid_request", ["$.instances"]),
    (
        "row-too-wide",
        lambda: instances("rows4", [[1, 2, 3, 4, 5]]),
        400,
        "invalid_request",
        ["has 5 values", "4 features"],
    ),
    (
        "row-too-narrow-csv",
        lambda: post("rows4", "1,2,3,4\n1,2,3\n", "text/csv"),
        400,
        "invalid_request",
        ["line 2", "4 features"],
    ),
    ("value-not-number", lambda: instances("rows4", [[1, "x", 3, 4]]), 400, "invalid_request", ["$.instances[0]"]),
    ("csv-header", lambda: post("rows4", "a,b,c,d\n1,2,3,4\n", "text/csv"), 400, "invalid_request", ["header"]),
    ("libsvm-1-based", lambda: post("rows4", "1:0.5 4:1\n", "text/libsvm"), 400, "invalid_request", ["0"]),
    (
        "content-type-unknown",
        lambda: post("rows4", "1\t2\t3\t4\n", "text/tab-separated-values"),
        415,
        "unsupported_media_type",
        ["text/csv"],
    ),
    (
        "option-unknown",
        lambda: instances("bt", ["hello there"], configuration={"kk": 2}),
        400,
        "invalid_request",
        ["did you mean 'k'"],
    ),
    (
        "option-bad-value",
        lambda: instances("bt", ["hello there"], configuration={"k": 0}),
        400,
        "invalid_request",
        ["$.configuration.k"],
    ),
    (
        "option-wrong-mode",
        lambda: instances("w2v", ["hello"], configuration={"k": 2}),
        400,
        "invalid_request",
        ["supervised"],
    ),
    ("w2v-sentence", lambda: instances("w2v", ["two words"]), 400, "invalid_request", ["one word"]),
    ("bt-not-utf8", lambda: raw_event("bt", b"caf\xe9 au lait\n", "text/plain"), 400, "invalid_request", ["UTF-8"]),
    ("bt-empty-sentence", lambda: instances("bt", ["  "]), 400, "invalid_request", ["$.instances[0]"]),
    ("ic-not-an-image", lambda: raw_event("ic", b"GIF89a not really", "image/png"), 400, "invalid_request", ["PNG"]),
    ("ic-json-rows", lambda: instances("ic", [[1, 2, 3]]), 400, "invalid_request", ["image"]),
    ("s2s-not-a-string", lambda: instances("s2s", [42]), 400, "invalid_request", ["$.instances[0]"]),
    (
        "s2s-instance-configuration",
        lambda: instances("s2s", [{"data": "hi", "configuration": {}}]),
        400,
        "invalid_request",
        ["configuration"],
    ),
    ("ll-too-wide", lambda: instances("ll", [[1, 2, 3, 4]]), 400, "invalid_request", ["3 features"]),
    ("model-unknown", lambda: instances("churm", [[1, 2, 3, 4]]), 404, "model_not_found", ["churm"]),
    (
        "model-rejected",
        lambda: instances("refused", [[1, 2, 3, 4]]),
        409,
        "not_deployed",
        ["unknown algorithm 'xgbost'"],
    ),
    ("container-refuses", lambda: post("picky", "1,2,3,4\n", "text/csv"), 400, "rejected_by_model", ["csv format"]),
    ("stop-unknown-model", route("POST", "/models/nobody/stop"), 404, "model_not_found", ["nobody"]),
    (
        "batch-too-big",
        lambda: instances("rows4", [[1, 2, 3, 4]] * 2) | {"body": "x" * 6_400_000},
        413,
        "payload_too_large",
        ["MB"],
    ),
]


@pytest.mark.parametrize(("build", "status", "code", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_client_mistake_is_a_4xx_that_says_what_to_fix(api, lambda_context, build, status, code, words):
    _stack, predict, endpoints = api
    calls_before = len(endpoints.calls)
    got, _, body = call(predict, build(), lambda_context)
    assert (got, body["error"]["code"]) == (status, code), body
    for word in words:
        assert word in body["error"]["message"] or word in json.dumps(body.get("error", {}).get("problems", [])), (
            f"{word!r} not in {body}"
        )
    if code != "rejected_by_model":
        assert len(endpoints.calls) == calls_before, "a refused request reached the endpoint"
    else:
        assert "<class" not in body["error"]["message"]
