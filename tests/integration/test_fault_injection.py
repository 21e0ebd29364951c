"""Fault injection, one test per handler per class of AWS error (tests/support/faults.py makes botocore raise).

The contract (design notes: "async handlers re-raise what should be retried, and record (not retry) what
is the user's error"; sagedrop.aws_errors decides the class):

* throttling, AWS 5xx and connection errors propagate from the async functions (train, deploy, cleanup), so
  that Lambda retries the event (and the on-failure destination finally keeps it); nothing is recorded as
  done, and the retry after AWS recovers finishes the work. The API answers them 429 / 503 with
  ``Retry-After``.
* AccessDenied, validation errors and missing resources are recorded and notified and the function returns
  (no retry can fix them); the API answers them with a clear error.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from sagedrop.cleanup import CleanupIncomplete
from tests.conftest import load_event, load_function
from tests.integration.test_predict_function import call, error_of, instances
from tests.support.cleanup_fixtures import CleanupWorld
from tests.support.faults import (
    ACCESS_DENIED,
    COULD_NOT_FIND,
    NOT_FOUND,
    RETRYABLE,
    VALIDATION,
    Fault,
    inject,
)
from tests.support.runtime_moto import serve_model
from tests.support.sagemaker_moto import csv_rows, install, train

T1 = "2026-11-26T10:15:30.000Z"
RETRY_ERRORS = (ClientError, EndpointConnectionError)


def subjects(stack: Any) -> list[str]:
    return [n["subject"] for n in stack.notifications()]


# ------------------------------------------------------------------ train: CreateTrainingJob


def drop(stack: Any) -> dict[str, Any]:
    stack.put("churn/train/train.csv", csv_rows(10, 3))
    return stack.drop_manifest("churn", {"algorithm": "xgboost", "hyperparameters": {"num_round": 5}}, T1)


@pytest.mark.parametrize("fault", RETRYABLE, ids=str)
def test_train_retryable_errors_propagate_and_the_retry_starts_the_job(stack, lambda_context, fault: Fault):
    event = drop(stack)
    app = load_function("train")
    injected = inject(app.clients.sagemaker, "CreateTrainingJob", fault)
    with pytest.raises(RETRY_ERRORS):
        app.handler(event, lambda_context)
    assert injected.calls == 1
    assert stack.registry_item("churn") is None  # nothing recorded as done
    assert subjects(stack) == []
    injected.remove()  # AWS recovers; Lambda's retry delivers the same event
    assert [r["status"] for r in app.handler(event, lambda_context)["results"]] == ["started"]


@pytest.mark.parametrize(
    ("fault", "hint"),
    [
        (ACCESS_DENIED, "the function's IAM role may not call CreateTrainingJob"),
        (VALIDATION, "check the instance type, quotas and settings in the manifest"),
        (NOT_FOUND, "check the instance type, quotas and settings in the manifest"),
    ],
    ids=["access_denied", "validation", "not_found"],
)
def test_train_refusals_are_recorded_and_notified_not_retried(stack, lambda_context, fault: Fault, hint: str):
    event = drop(stack)
    app = load_function("train")
    inject(app.clients.sagemaker, "CreateTrainingJob", fault)
    [result] = app.handler(event, lambda_context)["results"]
    assert result["status"] == "rejected"
    assert f"CreateTrainingJob: {fault.code}: {fault.message}" in result["message"]
    item = stack.registry_item("churn")
    assert item["status"] == "rejected" and fault.code in item["last_error"]
    notes = stack.notifications()
    assert [n["subject"] for n in notes] == ["[sagedrop] churn: training.json rejected, nothing started"]
    assert hint in notes[0]["message"]
    assert stack.training_jobs() == []


# ------------------------------------------------------------------ train, batch.json: CreateTransformJob


@pytest.fixture
def batch_drop(stack, monkeypatch, lambda_context):
    """churn in service, a folder of rows and its batch.json event; the train function, loaded once."""
    hosting = install(stack, monkeypatch)
    job = train(stack, lambda_context, {"algorithm": "xgboost", "hyperparameters": {"num_round": 10}}, when=T1)
    hosting.set_job(job, metrics={"validation:auc": 0.9})
    assert load_function("deploy").handler(hosting.training_event(job), lambda_context)["status"] == "in_service"
    stack.notifications()
    stack.put("churn/scores/rows.csv", "1,2,3,4,5,6\n")
    response = stack.put("churn/scores/batch.json", "{}")
    event = stack.s3_event("churn/scores/batch.json", response.get("VersionId"), response["ETag"].strip('"'), 2)
    return event, load_function("train")


@pytest.mark.parametrize("fault", RETRYABLE, ids=str)
def test_batch_retryable_errors_propagate_and_the_retry_starts_the_job(stack, lambda_context, batch_drop, fault):
    event, app = batch_drop
    injected = inject(app.clients.sagemaker, "CreateTransformJob", fault)
    with pytest.raises(RETRY_ERRORS):
        app.handler(event, lambda_context)
    assert subjects(stack) == []
    injected.remove()
    assert [r["status"] for r in app.handler(event, lambda_context)["results"]] == ["started"]


@pytest.mark.parametrize(
    ("fault", "hint"),
    [
        (ACCESS_DENIED, "the function's IAM role may not call CreateTransformJob"),
        (VALIDATION, "check instance_type, instance_count and the account's batch transform quotas"),
        (NOT_FOUND, "check instance_type, instance_count and the account's batch transform quotas"),
    ],
    ids=["access_denied", "validation", "not_found"],
)
def test_batch_refusals_are_recorded_and_notified_not_retried(stack, lambda_context, batch_drop, fault, hint):
    event, app = batch_drop
    inject(app.clients.sagemaker, "CreateTransformJob", fault)
    [result] = app.handler(event, lambda_context)["results"]
    assert result["status"] == "rejected"
    assert fault.code in stack.registry_item("churn")["last_batch_error"]
    notes = stack.notifications()
    assert [n["subject"] for n in notes] == ["[sagedrop] churn: batch.json rejected, nothing started"]
    assert hint in notes[0]["message"]


# ------------------------------------------------------------------ deploy: CreateEndpoint


@pytest.fixture
def completed(stack, monkeypatch, lambda_context):
    """A job of model churn that completed and passed its gate; the deploy function, loaded once."""
    hosting = install(stack, monkeypatch)
    job = train(stack, lambda_context, {"algorithm": "xgboost", "hyperparameters": {"num_round": 10}}, when=T1)
    hosting.set_job(job, metrics={"validation:auc": 0.9})
    stack.notifications()  # drop what training announced
    return hosting, job, load_function("deploy")


@pytest.mark.parametrize("fault", RETRYABLE, ids=str)
def test_deploy_retryable_errors_propagate_and_the_retry_deploys(stack, lambda_context, completed, fault: Fault):
    hosting, job, app = completed
    injected = inject(app.clients.sagemaker, "CreateEndpoint", fault)
    event = hosting.training_event(job)
    with pytest.raises(RETRY_ERRORS):
        app.handler(event, lambda_context)
    assert injected.calls == 1
    assert stack.registry_item("churn", f"JOB#{job}")["status"] != "deploy_failed"
    assert subjects(stack) == []
    injected.remove()
    assert app.handler(event, lambda_context)["status"] == "in_service"
    assert stack.registry_item("churn")["serving_job"] == job


@pytest.mark.parametrize(
    ("fault", "hint"),
    [
        (ACCESS_DENIED, "the function's IAM role may not call CreateEndpoint"),
        (VALIDATION, "check deploy.instance_type/instance_count/serverless in the manifest"),
        (COULD_NOT_FIND, "check deploy.instance_type/instance_count/serverless in the manifest"),
    ],
    ids=["access_denied", "validation", "not_found"],
)
def test_deploy_refusals_are_recorded_and_notified_not_retried(stack, lambda_context, completed, fault, hint):
    hosting, job, app = completed
    inject(app.clients.sagemaker, "CreateEndpoint", fault)
    out = app.handler(hosting.training_event(job), lambda_context)
    assert out["status"] == "deploy_failed"
    assert f"CreateEndpoint: {fault.code}: {fault.message}" in out["message"]
    assert stack.registry_item("churn", f"JOB#{job}")["status"] == "deploy_failed"
    assert fault.code in stack.registry_item("churn")["last_error"]
    notes = stack.notifications()
    assert [n["subject"] for n in notes] == ["[sagedrop] churn: deploy failed"]
    assert hint in notes[0]["message"]
    # A redelivery of the same event is a duplicate: recorded and announced once.
    assert app.handler(hosting.training_event(job), lambda_context)["status"] == "duplicate"
    assert subjects(stack) == []


@pytest.mark.parametrize("fault", RETRYABLE, ids=str)
def test_deploy_describing_the_job_retryable_errors_propagate(stack, lambda_context, completed, fault: Fault):
    hosting, job, app = completed
    inject(app.clients.sagemaker, "DescribeTrainingJob", fault)
    with pytest.raises(RETRY_ERRORS):
        app.handler(hosting.training_event(job), lambda_context)
    assert stack.registry_item("churn", f"JOB#{job}")["status"] == "training"


def test_deploy_event_of_a_job_that_does_not_exist_is_ignored_not_retried(stack, lambda_context, completed):
    hosting, job, app = completed
    inject(app.clients.sagemaker, "DescribeTrainingJob", NOT_FOUND)
    out = app.handler(hosting.training_event(job), lambda_context)
    assert (out["status"], out["message"]) == ("ignored", f"training job {job} does not exist")


# ------------------------------------------------------------------ predict: InvokeEndpoint


@pytest.fixture
def predict(stack: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PREDICT_MAX_ATTEMPTS", "1")
    serve_model(stack, "xg", "xgboost", hyperparameters={"num_round": "5"})
    return load_function("predict")


@pytest.mark.parametrize(
    ("fault", "answer"),
    [
        (RETRYABLE[0], (429, "throttled", "1")),
        (RETRYABLE[1], (503, "unavailable", "5")),
        (RETRYABLE[2], (503, "unavailable", "5")),
        (RETRYABLE[3], (503, "unavailable", "5")),
    ],
    ids=str,
)
def test_predict_retryable_errors_answer_429_or_503_with_retry_after(predict, lambda_context, fault, answer):
    inject(predict.clients.runtime, "InvokeEndpoint", fault)
    status, headers, body = call(predict, instances("xg", [[1, 2]]), lambda_context)
    assert (status, body["error"]["code"], headers.get("Retry-After")) == answer


@pytest.mark.parametrize(
    ("fault", "answer"),
    [
        (ACCESS_DENIED, (502, "endpoint_error", "the predict function may not invoke endpoint xg")),
        (VALIDATION, (502, "endpoint_error", "SageMaker refused the call to endpoint xg")),
        (
            Fault("not_found", "ValidationError", 400, "Endpoint xg of account 123456789012 not found."),
            (503, "not_in_service", "endpoint xg does not exist"),
        ),
    ],
    ids=["access_denied", "validation", "not_found"],
)
def test_predict_refusals_answer_a_clear_error_never_a_500(predict, lambda_context, fault, answer):
    """AccessDenied and SageMaker's refusals are not the client's input: 502 saying whose problem it is; a
    missing endpoint (hibernated meanwhile) is 503 while the registry catches up."""
    inject(predict.clients.runtime, "InvokeEndpoint", fault)
    status, _, body = call(predict, instances("xg", [[1, 2]]), lambda_context)
    code, message = error_of(body)
    assert (status, code) == answer[:2]
    assert message.startswith(answer[2])


# ------------------------------------------------------------------ cleanup: DeleteEndpoint


@pytest.fixture
def idle(stack, monkeypatch) -> tuple[Any, Any]:
    """One idle endpoint of this stack (older than its window, no traffic) and the cleanup function."""
    monkeypatch.setenv("IDLE_MINUTES", "120")
    monkeypatch.setenv("DRY_RUN", "false")
    monkeypatch.setenv("ORPHAN_RETENTION_DAYS", "7")
    world = CleanupWorld(stack)
    return world.deploy("churn", age=timedelta(hours=6)), load_function("cleanup")


@pytest.mark.parametrize("fault", RETRYABLE, ids=str)
def test_cleanup_retryable_errors_are_reported_then_raised(stack, lambda_context, idle, fault: Fault):
    churn, app = idle
    injected = inject(app.clients.sagemaker, "DeleteEndpoint", fault)
    with pytest.raises(CleanupIncomplete, match=f"hibernate churn: {fault.code or 'EndpointConnectionError'}"):
        app.handler(load_event("cleanup", "scheduled.json"), lambda_context)
    assert stack.registry_item("churn")["status"] == "in_service"
    assert subjects(stack) == ["[sagedrop] cleanup: nothing to do"]  # the problem is reported before the retry
    injected.remove()
    result = app.handler(load_event("cleanup", "scheduled.json"), lambda_context)
    assert [d["endpoint"] for d in result["hibernated"]] == [churn.endpoint]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [(ACCESS_DENIED, "hibernate"), (VALIDATION, "delete_refused")],
    ids=["access_denied", "validation"],
)
def test_cleanup_refusals_are_reported_and_notified_not_retried(stack, lambda_context, idle, fault, reason):
    churn, app = idle
    inject(app.clients.sagemaker, "DeleteEndpoint", fault)
    result = app.handler(load_event("cleanup", "scheduled.json"), lambda_context)  # returns: no retry
    [failed] = result["failed"]
    assert (failed["endpoint"], failed["reason"]) == (churn.endpoint, reason)
    assert fault.message in failed["detail"]
    assert stack.registry_item("churn")["status"] == "in_service"
    notes = stack.notifications()
    assert [n["subject"] for n in notes] == ["[sagedrop] cleanup: nothing to do"]
    assert fault.message in notes[0]["message"]


def test_cleanup_endpoint_already_gone_counts_as_hibernated(stack, lambda_context, idle):
    churn, app = idle
    inject(
        app.clients.sagemaker,
        "DeleteEndpoint",
        Fault("not_found", "ValidationException", 400, 'Could not find endpoint "churn".'),
    )
    result = app.handler(load_event("cleanup", "scheduled.json"), lambda_context)
    [done] = result["hibernated"]
    assert (done["endpoint"], done["detail"]) == (churn.endpoint, "the endpoint was already deleted")
    assert stack.registry_item("churn")["status"] == "hibernated"
