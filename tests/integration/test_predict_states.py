"""Every registry state a model can be in, against every route that reads it (moto).

The states are written the way the functions write them: ``rejected`` by ``Registry.record_rejection``
on a model that never had anything (no algorithm, no job: the case that answered 500), ``training``
by ``Registry.record_training``, the others as deploy, cleanup and stop leave them
(``tests.support.runtime_moto.serve_model`` with the summary fields of ``sagedrop.registry``).

A model that serves nothing answers 409 ``not_deployed`` with the recorded reason (or 503 with
``Retry-After`` while something is on its way); never a 500.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.conftest import load_event, load_function
from tests.integration.test_predict_function import call, instances
from tests.support.runtime_moto import Answer, Endpoints, serve_model

XGB = {"objective": "binary:logistic", "num_round": "5"}
JOB = "{name}-20261126-101530-abc123"
REJECTION = (
    "invalid manifest in s3://bucket/m/training.json: 1 problem\n"
    "  - $.hyperparameters.num_round: expected an integer, got 'ten'"
)


def _rejected(stack: Any, name: str) -> None:
    from sagedrop.registry import Registry

    Registry(stack.table, stack.clients["dynamodb"]).record_rejection(name, REJECTION, {"manifest": "m"})


def _training(stack: Any, name: str) -> None:
    from sagedrop.registry import Registry

    job = JOB.format(name=name)
    Registry(stack.table, stack.clients["dynamodb"]).record_training(
        name, job, {"algorithm": "xgboost", "version": "1.7-1", "training_job": job, "stack": stack.name}
    )


def _served(status: str | None, *, endpoint: bool, **extra: Any) -> Any:
    def setup(stack: Any, name: str) -> None:
        fields = {"status": status, **extra} if status else dict(extra)
        if not endpoint and status not in ("hibernated", "waking"):
            fields.update({"serving_job": None, "endpoint": None})
        serve_model(stack, name, "xgboost", hyperparameters=XGB, create_endpoint=endpoint, extra=fields)

    return setup


STOPPED_BY_REQUEST = "stopped by request (POST /models/m-{state}/stop)"

STATES: dict[str, Any] = {
    "rejected": _rejected,
    "training": _training,
    "training-while-serving": _served("training", endpoint=True),
    "failed": _served("failed", endpoint=False, last_error="training job failed: AlgorithmError: bad data"),
    "gate_failed": _served("gate_failed", endpoint=False, last_error="validation:auc 0.51 is below the gate 0.8"),
    "stopped": _served("stopped", endpoint=False, last_error="the training job was stopped"),
    "trained": _served("trained", endpoint=False),
    "deploying": _served("deploying", endpoint=False, pending_job=JOB.format(name="m-deploying")),
    "in_service": _served("in_service", endpoint=True),
    "hibernated": _served("hibernated", endpoint=False, hibernated_reason="idle for 120 minutes"),
    "hibernated-by-stop": _served(
        "hibernated", endpoint=False, hibernated_reason=STOPPED_BY_REQUEST.format(state="hibernated-by-stop")
    ),
    "waking": _served("waking", endpoint=False, woken_at="2099-01-01T00:00:00.000Z"),
}

# (status, code or None for a 2xx, words the message or body must hold) per state and route
NOT_DEPLOYED = (409, "not_deployed")
EXPECTED: dict[tuple[str, str], tuple[int, str | None, str]] = {
    ("rejected", "predict"): (*NOT_DEPLOYED, "expected an integer, got 'ten'; its training.json"),
    ("rejected", "stop"): (*NOT_DEPLOYED, "has no endpoint to stop (status rejected)"),
    ("rejected", "start"): (*NOT_DEPLOYED, "(status rejected): invalid manifest"),
    ("rejected", "get"): (200, None, '"status": "rejected"'),
    ("training", "predict"): (503, "not_in_service", "it is still training (job m-training-"),
    ("training", "stop"): (*NOT_DEPLOYED, "has no endpoint to stop (status training)"),
    ("training", "start"): (*NOT_DEPLOYED, "it is still training; it is deployed when its training job ends"),
    ("training", "get"): (200, None, '"status": "training"'),
    ("training-while-serving", "predict"): (200, None, '"predictions": [{"score": 0.75'),
    ("training-while-serving", "stop"): (200, None, "is stopped: endpoint m-training-while-serving was deleted"),
    ("training-while-serving", "start"): (200, None, "is already running"),
    ("training-while-serving", "get"): (200, None, '"status": "training"'),
    ("failed", "predict"): (*NOT_DEPLOYED, "(status failed): training job failed: AlgorithmError: bad data"),
    ("failed", "stop"): (*NOT_DEPLOYED, "has no endpoint to stop (status failed)"),
    ("failed", "start"): (*NOT_DEPLOYED, "fix the cause and upload training.json"),
    ("failed", "get"): (200, None, '"last_error": "training job failed'),
    ("gate_failed", "predict"): (*NOT_DEPLOYED, "below the gate 0.8; its model did not pass the deploy gate"),
    ("gate_failed", "stop"): (*NOT_DEPLOYED, "(status gate_failed)"),
    ("gate_failed", "start"): (*NOT_DEPLOYED, "did not pass the deploy gate"),
    ("gate_failed", "get"): (200, None, '"status": "gate_failed"'),
    ("stopped", "predict"): (*NOT_DEPLOYED, "its training job was stopped before it finished"),
    ("stopped", "stop"): (*NOT_DEPLOYED, "(status stopped)"),
    ("stopped", "start"): (*NOT_DEPLOYED, "its training job was stopped before it finished"),
    ("stopped", "get"): (200, None, '"status": "stopped"'),
    ("trained", "predict"): (*NOT_DEPLOYED, "it was trained with deploy: false"),
    ("trained", "stop"): (*NOT_DEPLOYED, "(status trained)"),
    ("trained", "start"): (*NOT_DEPLOYED, "it was trained with deploy: false"),
    ("trained", "get"): (200, None, '"status": "trained"'),
    ("deploying", "predict"): (503, "not_in_service", "it is being deployed (job m-deploying-"),
    ("deploying", "stop"): (*NOT_DEPLOYED, "(status deploying)"),
    ("deploying", "start"): (202, None, "is being deployed for the first time"),
    ("deploying", "get"): (200, None, '"status": "deploying"'),
    ("in_service", "predict"): (200, None, '"predictions": [{"score": 0.75'),
    ("in_service", "stop"): (200, None, "is stopped: endpoint m-in-service was deleted"),
    ("in_service", "start"): (200, None, "is already running"),
    ("in_service", "get"): (200, None, '"status": "in_service"'),
    ("hibernated", "predict"): (503, "waking", "was hibernated after its idle time (idle for 120 minutes)"),
    ("hibernated", "stop"): (200, None, "is already stopped"),
    ("hibernated", "start"): (202, None, "is waking up now"),
    ("hibernated", "get"): (200, None, '"hibernated_reason": "idle for 120 minutes"'),
    ("hibernated-by-stop", "predict"): (503, "waking", "was stopped by request (POST /models/m-hibernated-by-stop"),
    ("hibernated-by-stop", "stop"): (200, None, "is already stopped"),
    ("hibernated-by-stop", "start"): (202, None, "is waking up now"),
    ("hibernated-by-stop", "get"): (200, None, '"status": "hibernated"'),
    ("waking", "predict"): (503, "waking", "is waking up (since 2099-01-01"),
    ("waking", "stop"): (409, "busy", "it is waking up"),
    ("waking", "start"): (202, None, "is already waking up"),
    ("waking", "get"): (200, None, '"status": "waking"'),
}
ROUTES = ("predict", "stop", "start", "get")


@pytest.fixture
def predict(stack: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PREDICT_MAX_ATTEMPTS", "1")
    return load_function("predict")


def request(route: str, model: str) -> dict[str, Any]:
    if route == "predict":
        return instances(model, [[1.5, 2.0]])
    event = copy.deepcopy(load_event("predict", "get-model.json"))
    event["pathParameters"] = {"model": model}
    if route == "get":
        event.update({"path": f"/models/{model}"})
        return event
    event.update({"resource": f"/models/{{model}}/{route}", "path": f"/models/{model}/{route}", "httpMethod": "POST"})
    event["requestContext"].update(
        {"resourcePath": f"/models/{{model}}/{route}", "httpMethod": "POST", "path": f"/v1/models/{model}/{route}"}
    )
    return event


def test_the_table_covers_every_state_and_route():
    assert set(EXPECTED) == {(state, route) for state in STATES for route in ROUTES}


@pytest.mark.parametrize(("state", "route"), list(EXPECTED))
def test_state_x_route(state: str, route: str, stack: Any, predict: Any, monkeypatch, lambda_context) -> None:
    name = "m-" + state.replace("_", "-")
    STATES[state](stack, name)
    endpoints = Endpoints().install(monkeypatch)
    endpoints.answer(name, lambda c: Answer("0.75", "text/csv"))
    status, headers, body = call(predict, request(route, name), lambda_context)
    expected_status, code, words = EXPECTED[(state, route)]
    text = json.dumps(body)
    assert status == expected_status, text
    if code is not None:
        assert body["error"]["code"] == code, text
    assert words in text, text
    if status == 503:
        assert int(headers["Retry-After"]) > 0
    if status >= 400 and route == "predict":
        assert endpoints.calls == []


def test_a_rejected_first_drop_is_409_not_500_and_says_why(stack, predict, lambda_context):
    """The case that answered 500 ("the registry names algorithm None"): a model whose only drop was
    refused has a summary without algorithm, job or endpoint."""
    _rejected(stack, "fresh")
    status, _, body = call(predict, instances("fresh", [[1, 2]]), lambda_context)
    assert (status, body["error"]["code"]) == (409, "not_deployed")
    assert body["error"]["message"] == (
        "model fresh has no endpoint (status rejected): invalid manifest in s3://bucket/m/training.json: 1 problem "
        "- $.hyperparameters.num_round: expected an integer, got 'ten'; its training.json (or deploy.json) was "
        "rejected; fix it and upload it again"
    )


def test_an_endpoint_that_failed_is_409_with_how_to_recreate_it(stack, predict, monkeypatch, lambda_context):
    """deploy leaves ``failed`` with the serving job kept when the endpoint itself fails (deploy/ledger.py
    ``Ledger.endpoint_status``): nothing to call, and stop + start re-creates it from the kept config."""
    serve_model(stack, "broken", "xgboost", hyperparameters=XGB, extra={"status": "failed", "last_error": "boom"})
    endpoints = Endpoints().install(monkeypatch)
    status, _, body = call(predict, instances("broken", [[1, 2]]), lambda_context)
    assert (status, body["error"]["code"]) == (409, "not_deployed")
    assert "endpoint broken failed: boom; POST /models/broken/stop then /start" in body["error"]["message"]
    assert endpoints.calls == []


def test_a_retrain_keeps_a_hibernated_model_wakeable(stack, predict, monkeypatch, lambda_context):
    """record_training on a hibernated model keeps ``hibernated`` (only that status lets a prediction wake
    it); the new job is in ``training_job``."""
    _served("hibernated", endpoint=False)(stack, "sleepy")
    _training(stack, "sleepy")
    item = stack.registry_item("sleepy")
    assert (item["status"], item["training_job"]) == ("hibernated", "sleepy-20261126-101530-abc123")
    Endpoints().install(monkeypatch)
    status, _, body = call(predict, instances("sleepy", [[1, 2]]), lambda_context)
    assert (status, body["error"]["code"]) == (503, "waking")


def test_a_model_that_serves_again_drops_its_outage_fields(stack, predict, monkeypatch, lambda_context):
    """waking -> in_service (Waker.mark_in_service) clears hibernated_* and a last error about the serving
    job; an error about a newer job stays."""
    job = JOB.format(name="back")
    _served(
        "waking",
        endpoint=True,
        woken_at="2099-01-01T00:00:00.000Z",
        hibernated_at="2026-11-26T08:00:00.000Z",
        hibernated_reason="idle for 120 minutes",
        last_error="model back cannot wake: ...",
        last_error_at="2026-11-26T09:00:00.000Z",
        last_error_job=job,
    )(stack, "back")
    endpoints = Endpoints().install(monkeypatch)
    endpoints.answer("back", lambda c: Answer("0.5", "text/csv"))
    assert call(predict, instances("back", [[1, 2]]), lambda_context)[0] == 200
    item = stack.registry_item("back")
    assert item["status"] == "in_service"
    for gone in ("hibernated_at", "hibernated_reason", "last_error", "last_error_at", "last_error_job"):
        assert gone not in item, gone

    from sagedrop.registry import Registry

    registry = Registry(stack.table, stack.clients["dynamodb"])
    newer = "back-20261201-000000-ffffff"
    registry.update("back", {"status": "hibernated", "last_error": "training job failed", "last_error_job": newer})
    registry.update("back", {"status": "in_service"})
    item = stack.registry_item("back")
    assert (item["last_error"], item["last_error_job"]) == ("training job failed", newer)
