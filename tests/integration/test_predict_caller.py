"""The predict function knows its caller: logged on every request, checked for the admin group in
Cognito mode, recorded by stop/start (the caller comes from the request context API Gateway fills in:
``identity.userArn`` for IAM, ``authorizer.claims`` for a Cognito user pool authorizer,
https://repost.aws/knowledge-center/cognito-user-pool-group)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.conftest import load_event, load_function


@pytest.fixture
def predict(stack: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    return load_function("predict")


def admin_event(model: str, action: str, claims: dict[str, str] | None = None) -> dict[str, Any]:
    event = copy.deepcopy(load_event("predict", "get-model.json"))
    event.update(
        httpMethod="POST",
        path=f"/models/{model}/{action}",
        resource=f"/models/{{model}}/{action}",
        pathParameters={"model": model},
    )
    event["requestContext"].update(httpMethod="POST", resourcePath=f"/models/{{model}}/{action}")
    if claims is not None:
        event["requestContext"]["authorizer"] = {"claims": claims}
        for key in ("userArn", "caller", "user", "accessKey", "accountId"):
            event["requestContext"]["identity"][key] = None
    return event


def test_every_request_logs_its_iam_caller(predict, lambda_context, caplog):
    from sagedrop.observability import logger

    caplog.set_level("INFO", logger=logger.name)  # whatever level an earlier test left on the shared logger
    response = predict.handler(load_event("predict", "get-models.json"), lambda_context)
    assert response["statusCode"] == 200
    [record] = [r for r in caplog.records if r.getMessage() == "request"]
    request = json.loads(logger.registered_formatter.format(record))  # the JSON line CloudWatch receives
    assert request["caller"] == "iam:arn:aws:iam::123456789012:user/ana"
    assert request["caller_kind"] == "iam" and request["method"] == "GET" and request["path"] == "/models"


def test_cognito_stop_and_start_need_the_admin_group(predict, lambda_context, monkeypatch):
    monkeypatch.setenv("AUTH_MODE", "cognito")
    monkeypatch.setenv("ADMIN_GROUP", "ops")
    predict.auth_settings.cache_clear()
    reader = {"sub": "0b1c", "email": "ana@example.com", "cognito:groups": "readers"}
    for action in ("stop", "start"):
        response = predict.handler(admin_event("churn", action, reader), lambda_context)
        body = json.loads(response["body"])
        assert response["statusCode"] == 403 and body["error"]["code"] == "forbidden"
        assert f"POST /models/churn/{action} needs membership of the Cognito group 'ops'" in body["error"]["message"]
        operator = {**reader, "cognito:groups": "readers,ops"}
        response = predict.handler(admin_event("churn", action, operator), lambda_context)
        assert response["statusCode"] == 404  # past the check: no such model in the registry
    predict.auth_settings.cache_clear()


def test_iam_mode_leaves_admin_routes_to_api_gateway(predict, lambda_context):
    predict.auth_settings.cache_clear()
    response = predict.handler(admin_event("churn", "stop"), lambda_context)
    assert response["statusCode"] == 404


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    from sagedrop.observability import logger

    return [json.loads(logger.registered_formatter.format(r)) for r in caplog.records if r.name == logger.name]


def test_a_prediction_logs_one_line_with_its_caller_method_path_and_outcome(stack, predict, lambda_context, caplog):
    """Issue 16: the "request" line and the outcome's line became one; every field of both is on it."""
    from sagedrop.observability import logger
    from tests.support.runtime_moto import queue_answers, serve_model

    caplog.set_level("INFO", logger=logger.name)
    serve_model(stack, "churn", "xgboost", hyperparameters={"num_round": "5", "objective": "binary:logistic"})
    queue_answers(("0.87,0.12", "text/csv"))
    event = copy.deepcopy(load_event("predict", "post-predictions-json.json"))
    event.update(path="/models/churn/predictions", pathParameters={"model": "churn"})
    event["body"] = json.dumps({"instances": [[1, 2], [3, 4]]})
    assert predict.handler(event, lambda_context)["statusCode"] == 200
    [line] = _lines(caplog)
    assert line["message"] == "predicted"
    assert line["caller"] == "iam:arn:aws:iam::123456789012:user/ana" and line["caller_kind"] == "iam"
    assert (line["method"], line["path"]) == ("POST", "/models/churn/predictions")
    assert (line["model"], line["predictions"], line["calls"]) == ("churn", 2, 1)


def test_a_refused_prediction_logs_one_line_with_its_caller_method_path_and_status(predict, lambda_context, caplog):
    from sagedrop.observability import logger

    caplog.set_level("INFO", logger=logger.name)
    event = copy.deepcopy(load_event("predict", "post-predictions-json.json"))
    event.update(path="/models/nobody/predictions", pathParameters={"model": "nobody"})
    assert predict.handler(event, lambda_context)["statusCode"] == 404
    [line] = _lines(caplog)
    assert (line["message"], line["status"], line["code"]) == ("request refused", 404, "model_not_found")
    assert line["caller"] == "iam:arn:aws:iam::123456789012:user/ana"
    assert (line["method"], line["path"]) == ("POST", "/models/nobody/predictions")
