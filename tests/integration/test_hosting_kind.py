"""Serverless against instance hosting on moto: network isolation, and a retrain or a drop that switches kind.

Facts (AWS developer guide, https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html,
"Feature exclusions"): network isolation is not supported for Serverless Inference; "You cannot convert
your instance-based, real-time endpoint to a serverless endpoint. If you try to update your real-time
endpoint to serverless, you receive a ValidationError message. You can convert a serverless endpoint to
real-time". tests/support/sagemaker_moto.py makes moto's UpdateEndpoint refuse that conversion.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from sagedrop.deploy import EndpointBusy
from tests.conftest import load_function
from tests.integration.test_deploy_function import (
    T1,
    T2,
    T3,
    deploy,
    finish,
    job_item,
    manifest,
    slow_deployer,
    subjects,
    summary,
)
from tests.support.sagemaker_moto import install, train

SERVERLESS = {"memory_mb": 2048, "max_concurrency": 4}
REPLACED = "[sagedrop] churn: endpoint replaced, predictions paused"
IN_SERVICE = "[sagedrop] churn: new model in service"


@pytest.fixture
def hosting(stack, monkeypatch):
    return install(stack, monkeypatch)


def isolation(stack, job):
    return stack.sagemaker.describe_model(ModelName=job)["EnableNetworkIsolation"]


def test_a_serverless_model_is_created_without_network_isolation_an_instance_one_with_it(
    stack, hosting, lambda_context
):
    """Serverless Inference excludes network isolation; instance-hosted models keep it (the models of a
    built-in algorithm need no network)."""
    a = train(stack, lambda_context, manifest(serverless=SERVERLESS), when=T1)
    assert finish(hosting, a, {"validation:auc": 0.9}, lambda_context)["status"] == "in_service"
    assert isolation(stack, a) is False
    b = train(stack, lambda_context, manifest(instance_type="ml.m5.large"), when=T2)
    finish(hosting, b, {"validation:auc": 0.9}, lambda_context)
    assert isolation(stack, b) is True


def test_moto_refuses_the_instance_to_serverless_update_as_sagemaker_does(stack, hosting, lambda_context):
    a = train(stack, lambda_context, manifest(), when=T1)
    finish(hosting, a, {"validation:auc": 0.9}, lambda_context)
    b = train(stack, lambda_context, manifest(serverless=SERVERLESS), when=T2)
    hosting.set_job(b, metrics={"validation:auc": 0.9})
    sm = stack.sagemaker
    sm.create_model(
        ModelName="probe",
        PrimaryContainer=sm.describe_model(ModelName=a)["PrimaryContainer"],
        ExecutionRoleArn=stack.role_arn,
    )
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": "probe",
        "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 4},
    }
    sm.create_endpoint_config(EndpointConfigName="probe", ProductionVariants=[variant])
    with pytest.raises(ClientError) as exc:
        sm.update_endpoint(EndpointName="churn", EndpointConfigName="probe")
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    assert hosting.live_config("churn") == a


def test_a_retrain_from_instances_to_serverless_replaces_the_endpoint_and_says_so(stack, hosting, lambda_context):
    a = train(stack, lambda_context, manifest(), when=T1)
    finish(hosting, a, {"validation:auc": 0.9}, lambda_context)
    stack.notifications()
    b = train(stack, lambda_context, manifest(serverless=SERVERLESS), when=T2)
    out = finish(hosting, b, {"validation:auc": 0.91}, lambda_context)

    assert out["status"] == "in_service" and out["job"] == b
    assert hosting.update_calls == []  # never the UpdateEndpoint SageMaker refuses
    assert hosting.create_calls == [("churn", a), ("churn", b)]
    assert hosting.live_config("churn") == b
    item = summary(stack)
    assert item["status"] == "in_service" and item["serving_job"] == b and item["serverless"] is True
    assert "pending_job" not in item and "deploying_job" not in item
    assert job_item(stack, b)["status"] == "deployed"
    assert job_item(stack, b)["replaced_config"] == a
    notes = stack.notifications()
    assert [n["subject"] for n in notes] == [REPLACED, IN_SERVICE]
    message = notes[0]["message"]
    assert "SageMaker cannot update an instance-based endpoint into a serverless one" in message
    assert "Downtime: from now until the new endpoint is InService" in message
    assert "keep the hosting kind" in message and "deploy.endpoint_name" in message
    endpoint = stack.sagemaker.describe_endpoint(EndpointName="churn")
    assert hosting.tags(endpoint["EndpointArn"])["sagedrop:serverless"] == "true"
    assert isolation(stack, b) is False


def test_a_deletion_that_outlasts_the_invocation_is_finished_by_the_retry_and_announced_once(
    stack, hosting, lambda_context
):
    a = train(stack, lambda_context, manifest(), when=T1)
    finish(hosting, a, {"validation:auc": 0.9}, lambda_context)
    stack.notifications()
    hosting.slow_delete = True
    b = train(stack, lambda_context, manifest(serverless=SERVERLESS), when=T2)
    hosting.set_job(b, metrics={"validation:auc": 0.91})
    event = hosting.training_event(b)
    app = load_function("deploy")
    slow_deployer(app)
    with pytest.raises(EndpointBusy, match="still being deleted"):
        app.handler(event, lambda_context)
    item = summary(stack)
    assert item["pending_job"] == b and item["status"] == "deploying"
    with pytest.raises(EndpointBusy):  # Lambda's retry, still deleting: nothing announced twice
        app.handler(event, lambda_context)
    hosting.finish_delete("churn")
    out = app.handler(event, lambda_context)
    assert out["status"] == "in_service" and out["job"] == b
    assert hosting.update_calls == []
    assert subjects(stack) == [REPLACED, IN_SERVICE]


def test_the_update_refusal_itself_leads_to_the_replacement(stack, hosting, lambda_context):
    """When the live config cannot be described (deleted behind sagedrop's back), UpdateEndpoint is tried;
    SageMaker's ValidationError for the conversion then leads to the same replacement, not a deploy_failed."""
    a = train(stack, lambda_context, manifest(), when=T1)
    finish(hosting, a, {"validation:auc": 0.9}, lambda_context)
    hosting.backend.endpoint_configs.pop(a)
    b = train(stack, lambda_context, manifest(serverless=SERVERLESS), when=T2)
    out = finish(hosting, b, {"validation:auc": 0.91}, lambda_context)
    assert out["status"] == "in_service" and out["job"] == b
    assert hosting.live_config("churn") == b
    assert REPLACED in subjects(stack)


def test_serverless_to_instances_is_a_blue_green_update(stack, hosting, lambda_context):
    """The guide allows this direction through UpdateEndpoint: no downtime, no replacement."""
    a = train(stack, lambda_context, manifest(serverless=SERVERLESS), when=T1)
    finish(hosting, a, {"validation:auc": 0.9}, lambda_context)
    b = train(stack, lambda_context, manifest(instance_type="ml.m5.large"), when=T2)
    out = finish(hosting, b, {"validation:auc": 0.91}, lambda_context)
    assert out["status"] == "deploying"
    assert hosting.update_calls == [("churn", b)]
    hosting.finish_update("churn")
    assert deploy(hosting.endpoint_event("churn"), lambda_context)["status"] == "in_service"
    assert summary(stack)["serverless"] is False
    # Back to serverless later: the endpoint is instance-based now, so it is replaced again.
    c = train(stack, lambda_context, manifest(serverless=SERVERLESS), when=T3)
    assert finish(hosting, c, {"validation:auc": 0.92}, lambda_context)["status"] == "in_service"
    assert hosting.update_calls == [("churn", b)]
    assert hosting.create_calls == [("churn", a), ("churn", c)]
    assert REPLACED in subjects(stack)
