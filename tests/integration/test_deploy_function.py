"""The deploy function on moto: training job and endpoint state change events in, endpoints out.

Jobs are started by the real train function (so the registry's job records and the job's tags are
what train writes), their end is forced through moto's backend, and the events are built from
what SageMaker describes, shaped like the AWS documentation's samples.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from sagedrop.deploy import EndpointBusy
from tests.conftest import ACCOUNT, REGION, load_event, load_function
from tests.support.sagemaker_moto import install, train

XGB_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
T1, T2, T3, T4 = (f"2026-11-26T1{h}:15:30.000Z" for h in range(4))


@pytest.fixture
def hosting(stack, monkeypatch):
    return install(stack, monkeypatch)


def manifest(**deploy):
    hyperparameters = {"objective": "binary:logistic", "num_round": 10, "eval_metric": "auc,logloss"}
    data = {"algorithm": "xgboost", "hyperparameters": hyperparameters}
    if deploy:
        data["deploy"] = deploy
    return data


def deploy(event, context):
    return load_function("deploy").handler(event, context)


def finish(hosting, job, metrics, context):
    """The job ends with these final metrics and SageMaker sends its event."""
    hosting.set_job(job, metrics=metrics)
    return deploy(hosting.training_event(job), context)


def summary(stack, model="churn"):
    return stack.registry_item(model)


def job_item(stack, job, model="churn"):
    return stack.registry_item(model, f"JOB#{job}")


def subjects(stack):
    return [n["subject"] for n in stack.notifications()]


# ------------------------------------------------------------------ first deploy and updates


def test_first_deploy_creates_model_config_and_endpoint_all_tagged(stack, hosting, lambda_context):
    job = train(stack, lambda_context, manifest(), when=T1)
    out = finish(hosting, job, {"validation:auc": 0.91, "train:auc": 0.95}, lambda_context)

    assert out == {
        "status": "in_service",
        "model": "churn",
        "job": job,
        "endpoint": "churn",
        "message": "new model in service",
    }
    sm = stack.sagemaker
    model = sm.describe_model(ModelName=job)
    assert model["PrimaryContainer"]["Image"] == XGB_IMAGE
    assert model["PrimaryContainer"]["ModelDataUrl"] == (
        f"s3://{stack.artifact_bucket}/models/churn/{job}/output/model.tar.gz"
    )
    assert model["ExecutionRoleArn"] == stack.role_arn
    assert model["EnableNetworkIsolation"] is True
    config = sm.describe_endpoint_config(EndpointConfigName=job)
    assert config["ProductionVariants"] == [
        {
            "VariantName": "AllTraffic",
            "ModelName": job,
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1,
            "InitialVariantWeight": 1.0,
        }
    ]
    endpoint = sm.describe_endpoint(EndpointName="churn")
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == job
    manifest_uri = f"s3://{stack.data_bucket}/churn/training.json"
    for arn in (model["ModelArn"], config["EndpointConfigArn"], endpoint["EndpointArn"]):
        tags = hosting.tags(arn)
        assert tags["sagedrop:stack"] == stack.name
        assert tags["sagedrop:model"] == "churn"
        assert tags["sagedrop:manifest"] == manifest_uri
        assert tags["sagedrop:idle-minutes"] == "120"
        assert tags["sagedrop:keep-alive"] == "false"
        assert tags["sagedrop:serverless"] == "false"

    item = summary(stack)
    assert item["status"] == "in_service"
    assert item["serving_job"] == job
    assert item["sagemaker_model"] == job
    assert item["endpoint_config"] == job
    assert item["endpoint"] == "churn"
    assert item["variant"] == "AllTraffic"
    assert item["serverless"] is False
    assert item["metrics"] == {"validation:auc": 0.91, "train:auc": 0.95}
    assert item["idle_minutes"] == 120
    assert item["keep_alive"] is False
    assert item["deployed_at"]
    assert "pending_job" not in item and "deploying_job" not in item
    assert job_item(stack, job)["status"] == "deployed"
    notes = stack.notifications()
    assert [n["subject"] for n in notes] == ["[sagedrop] churn: new model in service"]
    assert f"now serves training job {job} on endpoint churn (1 x ml.m5.large)" in notes[0]["message"]
    assert "validation:auc = 0.91" in notes[0]["message"]

    # The endpoint's own InService event afterwards changes nothing and announces nothing again.
    again = deploy(hosting.endpoint_event("churn"), lambda_context)
    assert again["status"] == "in_service" and again["message"] == "in service"
    assert subjects(stack) == []
    assert hosting.create_calls == [("churn", job)]


def test_first_deploy_waits_for_creating_endpoint_then_goes_in_service(stack, hosting, lambda_context):
    hosting.slow_create = True
    job = train(stack, lambda_context, manifest(), when=T1)
    out = finish(hosting, job, {"validation:auc": 0.9}, lambda_context)
    assert out["status"] == "deploying"
    item = summary(stack)
    assert item["status"] == "deploying"
    assert item["pending_job"] == job
    assert item["deploying_job"] == job
    assert "serving_job" not in item
    assert job_item(stack, job)["status"] == "deploying"
    assert subjects(stack) == []

    hosting.finish_create("churn")
    event = hosting.endpoint_event("churn")
    assert event["detail"]["EndpointStatus"] == "IN_SERVICE"
    out = deploy(event, lambda_context)
    assert out["status"] == "in_service" and out["job"] == job
    item = summary(stack)
    assert item["status"] == "in_service" and item["serving_job"] == job
    assert "pending_job" not in item and "deploying_job" not in item
    assert subjects(stack) == ["[sagedrop] churn: new model in service"]


def test_update_of_in_service_endpoint_is_blue_green_then_prunes_beyond_two(stack, hosting, lambda_context):
    a = train(stack, lambda_context, manifest(), when=T1)
    finish(hosting, a, {"validation:auc": 0.90}, lambda_context)
    stack.notifications()

    b = train(stack, lambda_context, manifest(keep_alive=True, instance_count=2), when=T2)
    out = finish(hosting, b, {"validation:auc": 0.93}, lambda_context)
    assert out["status"] == "deploying"
    assert hosting.update_calls == [("churn", b)]
    described = stack.sagemaker.describe_endpoint(EndpointName="churn")
    assert described["EndpointStatus"] == "Updating"
    assert described["EndpointConfigName"] == a  # the old model serves during the update
    item = summary(stack)
    assert (item["status"], item["serving_job"], item["pending_job"], item["deploying_job"]) == (
        "deploying",
        a,
        b,
        b,
    )
    # The endpoint's knobs follow the new model (cleanup reads them).
    assert hosting.tags(described["EndpointArn"])["sagedrop:keep-alive"] == "true"
    assert subjects(stack) == []

    hosting.finish_update("churn")
    out = deploy(hosting.endpoint_event("churn"), lambda_context)
    assert out["status"] == "in_service" and out["job"] == b
    item = summary(stack)
    assert item["serving_job"] == b and item["status"] == "in_service"
    assert item["metrics"] == {"validation:auc": 0.93}
    assert item["keep_alive"] is True
    assert "pending_job" not in item and "deploying_job" not in item
    notes = stack.notifications()
    assert [n["subject"] for n in notes] == ["[sagedrop] churn: new model in service"]
    assert f"Previous model: {a}" in notes[0]["message"]
    assert "2 x ml.m5.large" in notes[0]["message"]
    assert hosting.configs() == sorted([a, b]) and hosting.models() == sorted([a, b])
    assert job_item(stack, b)["status"] == "deployed"

    c = train(stack, lambda_context, manifest(), when=T3)
    finish(hosting, c, {"validation:auc": 0.94}, lambda_context)
    hosting.finish_update("churn")
    deploy(hosting.endpoint_event("churn"), lambda_context)
    assert summary(stack)["serving_job"] == c
    # beyond the two newest, unused: a's config and model are gone; b stays for rollback
    assert hosting.configs() == sorted([b, c])
    assert hosting.models() == sorted([b, c])


def test_failed_update_rolls_back_and_is_reported(stack, hosting, lambda_context):
    a = train(stack, lambda_context, manifest(), when=T1)
    finish(hosting, a, {"validation:auc": 0.90}, lambda_context)
    b = train(stack, lambda_context, manifest(), when=T2)
    finish(hosting, b, {"validation:auc": 0.93}, lambda_context)
    stack.notifications()

    reason = "The primary container for production variant AllTraffic did not pass the ping health check."
    hosting.fail_update("churn", reason)
    out = deploy(hosting.endpoint_event("churn"), lambda_context)
    assert out["status"] == "in_service" and out["job"] == a
    item = summary(stack)
    assert item["status"] == "in_service" and item["serving_job"] == a
    assert "pending_job" not in item and "deploying_job" not in item
    assert reason in item["last_error"]
    assert job_item(stack, b)["status"] == "deploy_failed"
    notes = stack.notifications()
    assert [n["subject"] for n in notes] == ["[sagedrop] churn: deploy failed"]
    assert b in notes[0]["message"] and reason in notes[0]["message"]


def test_failed_endpoint_is_deleted_and_created_again_with_the_new_model(stack, hosting, lambda_context):
    a = train(stack, lambda_context, manifest(), when=T1)
    finish(hosting, a, {"validation:auc": 0.90}, lambda_context)
    hosting.set_endpoint("churn", "Failed", "ml.m5.large capacity")
    b = train(stack, lambda_context, manifest(), when=T2)
    out = finish(hosting, b, {"validation:auc": 0.91}, lambda_context)
    assert out["status"] == "in_service" and out["job"] == b
    assert hosting.create_calls == [("churn", a), ("churn", b)]
    assert hosting.update_calls == []
    assert hosting.live_config("churn") == b
    assert summary(stack)["serving_job"] == b


def test_endpoint_failed_event_puts_the_last_good_model_back(stack, hosting, lambda_context):
    a = train(stack, lambda_context, manifest(), when=T1)
    finish(hosting, a, {"validation:auc": 0.90}, lambda_context)
    b = train(stack, lambda_context, manifest(), when=T2)
    finish(hosting, b, {"validation:auc": 0.93}, lambda_context)
    stack.notifications()
    hosting.set_endpoint("churn", "Failed", "CapacityError: not enough ml.m5.large capacity")
    event = hosting.endpoint_event("churn")
    assert event["detail"]["EndpointStatus"] == "FAILED"
    out = deploy(event, lambda_context)
    assert out["status"] == "in_service" and out["job"] == a
    assert hosting.live_config("churn") == a
    item = summary(stack)
    assert item["status"] == "in_service" and item["serving_job"] == a
    assert "CapacityError" in item["last_error"]
    assert job_item(stack, b)["status"] == "deploy_failed"
    assert job_item(stack, a)["status"] == "deployed"
    assert subjects(stack) == ["[sagedrop] churn: deploy failed"]


class FakeClock:
    """Time that passes only when the deployer sleeps (so waiting tests take no time)."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def slow_deployer(app):
    clock = FakeClock()
    deployer = app.deployer()
    deployer.rollout._clock, deployer.rollout._sleep = clock, clock.sleep
    return clock


def test_a_deletion_that_outlasts_the_invocation_is_retried_and_finished(stack, hosting, lambda_context):
    a = train(stack, lambda_context, manifest(), when=T1)
    finish(hosting, a, {"validation:auc": 0.90}, lambda_context)
    hosting.set_endpoint("churn", "Failed", "ml.m5.large capacity")
    hosting.slow_delete = True
    b = train(stack, lambda_context, manifest(), when=T2)
    hosting.set_job(b, metrics={"validation:auc": 0.91})
    event = hosting.training_event(b)
    app = load_function("deploy")
    clock = slow_deployer(app)
    with pytest.raises(EndpointBusy, match="still being deleted"):
        app.handler(event, lambda_context)
    assert clock.now >= 75 and set(clock.sleeps) == {5.0}
    assert summary(stack)["pending_job"] == b
    hosting.finish_delete("churn")
    assert app.handler(event, lambda_context)["status"] == "in_service"
    assert hosting.live_config("churn") == b


def test_a_failed_update_into_failed_restores_the_last_good_model_even_across_retries(stack, hosting, lambda_context):
    a = train(stack, lambda_context, manifest(), when=T1)
    finish(hosting, a, {"validation:auc": 0.90}, lambda_context)
    b = train(stack, lambda_context, manifest(), when=T2)
    finish(hosting, b, {"validation:auc": 0.91}, lambda_context)
    stack.notifications()
    hosting.set_endpoint("churn", "Failed", "UpdateEndpoint failed: the new fleet did not become healthy")
    hosting.slow_delete = True
    event = hosting.endpoint_event("churn")
    app = load_function("deploy")
    slow_deployer(app)
    with pytest.raises(EndpointBusy):
        app.handler(event, lambda_context)
    assert summary(stack)["pending_job"] == a
    hosting.finish_delete("churn")
    out = app.handler(event, lambda_context)  # the retry: the endpoint is gone by now
    assert out["status"] == "in_service" and out["job"] == a
    item = summary(stack)
    assert item["status"] == "in_service" and item["serving_job"] == a
    assert "pending_job" not in item and "deploying_job" not in item
    assert job_item(stack, b)["status"] == "deploy_failed"
    assert subjects(stack) == ["[sagedrop] churn: deploy failed"]


# ------------------------------------------------------------------ the gate


def test_gate_pass_deploys(stack, hosting, lambda_context):
    job = train(stack, lambda_context, manifest(gate={"metric": "validation:auc", "min": 0.8}), when=T1)
    out = finish(hosting, job, {"validation:auc": 0.85}, lambda_context)
    assert out["status"] == "in_service"
    assert job_item(stack, job)["gate"]["passed"] is True
    assert job_item(stack, job)["gate"]["value"] == 0.85


def test_gate_fail_deploys_nothing_and_reports_the_figures(stack, hosting, lambda_context):
    job = train(stack, lambda_context, manifest(gate={"metric": "validation:auc", "min": 0.8}), when=T1)
    out = finish(hosting, job, {"validation:auc": 0.72, "train:auc": 0.99}, lambda_context)
    assert out["status"] == "gate_failed"
    assert "validation:auc = 0.72 is below the minimum 0.8" in out["message"]
    assert hosting.models() == [] and hosting.configs() == [] and hosting.create_calls == []
    item = summary(stack)
    assert item["status"] == "gate_failed"
    assert "validation:auc = 0.72 is below the minimum 0.8" in item["last_error"]
    assert item["last_error_job"] == job
    record = job_item(stack, job)
    assert record["status"] == "gate_failed"
    assert record["gate"]["value"] == 0.72 and record["gate"]["min"] == 0.8 and record["gate"]["passed"] is False
    assert record["metrics"] == {"validation:auc": 0.72, "train:auc": 0.99}
    notes = stack.notifications()
    assert [n["subject"] for n in notes] == ["[sagedrop] churn: gate failed, nothing deployed"]
    text = notes[0]["message"]
    assert "gate on validation:auc (min 0.8): failed" in text
    assert "train:auc = 0.99, validation:auc = 0.72" in text
    assert "No endpoint was created or changed." in text


def test_missing_gate_metric_fails_the_gate_naming_the_metrics_that_exist(stack, hosting, lambda_context):
    job = train(stack, lambda_context, manifest(gate={"metric": "validation:auc", "min": 0.8}), when=T1)
    out = finish(hosting, job, {"train:auc": 0.97, "train:logloss": 0.2}, lambda_context)
    assert out["status"] == "gate_failed"
    assert "did not report 'validation:auc'" in out["message"]
    assert "the metrics it reported: train:auc, train:logloss" in out["message"]
    assert hosting.models() == []
    assert "train:auc, train:logloss" in stack.notifications()[0]["message"]


def test_must_beat_current_both_ways(stack, hosting, lambda_context):
    gate = {"metric": "validation:auc", "min": 0.5}
    a = train(stack, lambda_context, manifest(gate=gate, must_beat_current=True), when=T1)
    assert finish(hosting, a, {"validation:auc": 0.90}, lambda_context)["status"] == "in_service"

    worse = train(stack, lambda_context, manifest(gate=gate, must_beat_current=True), when=T2)
    out = finish(hosting, worse, {"validation:auc": 0.88}, lambda_context)
    assert out["status"] == "gate_failed"
    assert f"does not beat the model in service ({a}: 0.9; higher is better)" in out["message"]
    assert hosting.update_calls == []
    item = summary(stack)
    assert item["serving_job"] == a and item["status"] == "in_service"
    assert worse in item["last_error"]

    better = train(stack, lambda_context, manifest(gate=gate, must_beat_current=True), when=T3)
    out = finish(hosting, better, {"validation:auc": 0.92}, lambda_context)
    assert out["status"] == "deploying"
    assert hosting.update_calls == [("churn", better)]
    record = job_item(stack, better)
    assert record["gate"]["current"] == 0.9 and record["gate"]["current_job"] == a


def test_lower_is_better_gate_with_max(stack, hosting, lambda_context):
    gate = {"metric": "validation:logloss", "max": 0.4}
    a = train(stack, lambda_context, manifest(gate=gate, must_beat_current=True), when=T1)
    assert finish(hosting, a, {"validation:logloss": 0.35}, lambda_context)["status"] == "in_service"
    b = train(stack, lambda_context, manifest(gate=gate, must_beat_current=True), when=T2)
    out = finish(hosting, b, {"validation:logloss": 0.36}, lambda_context)
    assert out["status"] == "gate_failed" and "lower is better" in out["message"]
    c = train(stack, lambda_context, manifest(gate=gate, must_beat_current=True), when=T3)
    assert finish(hosting, c, {"validation:logloss": 0.41}, lambda_context)["status"] == "gate_failed"
    d = train(stack, lambda_context, manifest(gate=gate, must_beat_current=True), when=T4)
    assert finish(hosting, d, {"validation:logloss": 0.30}, lambda_context)["status"] == "deploying"


# ------------------------------------------------------------------ serverless and refusals


def test_serverless_config(stack, hosting, lambda_context):
    job = train(stack, lambda_context, manifest(serverless={"memory_mb": 3072, "max_concurrency": 8}), when=T1)
    out = finish(hosting, job, {"validation:auc": 0.9}, lambda_context)
    assert out["status"] == "in_service"
    config = stack.sagemaker.describe_endpoint_config(EndpointConfigName=job)
    assert config["ProductionVariants"] == [
        {
            "VariantName": "AllTraffic",
            "ModelName": job,
            "ServerlessConfig": {"MemorySizeInMB": 3072, "MaxConcurrency": 8},
        }
    ]
    assert hosting.tags(config["EndpointConfigArn"])["sagedrop:serverless"] == "true"
    endpoint = stack.sagemaker.describe_endpoint(EndpointName="churn")
    assert hosting.tags(endpoint["EndpointArn"])["sagedrop:serverless"] == "true"
    assert summary(stack)["serverless"] is True
    assert "serverless, 3072 MB, up to 8 concurrent requests" in stack.notifications()[0]["message"]


def test_serverless_is_refused_for_an_algorithm_that_cannot_serve_it(stack, hosting, lambda_context):
    job = train(stack, lambda_context, manifest(serverless={"memory_mb": 2048, "max_concurrency": 2}), when=T1)
    # A job record as an older sagedrop might have written it: seq2seq asking for serverless.
    ddb = stack.clients["dynamodb"]
    ddb.update_item(
        TableName=stack.table,
        Key={"model": {"S": "churn"}, "record": {"S": f"JOB#{job}"}},
        UpdateExpression="SET #a = :a, #v = :v",
        ExpressionAttributeNames={"#a": "algorithm", "#v": "version"},
        ExpressionAttributeValues={":a": {"S": "seq2seq"}, ":v": {"S": "1"}},
    )
    out = finish(hosting, job, {"validation:bleu": 0.3}, lambda_context)
    assert out["status"] == "deploy_failed"
    assert "seq2seq cannot be served serverless" in out["message"]
    assert hosting.models() == [] and hosting.create_calls == []
    item = summary(stack)
    assert item["status"] == "failed" and "seq2seq cannot be served serverless" in item["last_error"]
    assert job_item(stack, job)["status"] == "deploy_failed"
    assert subjects(stack) == ["[sagedrop] churn: deploy failed"]


def test_deploy_false_records_trained(stack, hosting, lambda_context):
    data = manifest()
    data["deploy"] = False
    job = train(stack, lambda_context, data, when=T1)
    out = finish(hosting, job, {"validation:auc": 0.9}, lambda_context)
    assert out["status"] == "trained"
    assert summary(stack)["status"] == "trained"
    assert job_item(stack, job)["status"] == "trained"
    assert hosting.models() == []
    assert subjects(stack) == ["[sagedrop] churn: trained, not deployed"]


def test_endpoint_name_of_another_model_is_refused(stack, hosting, lambda_context):
    a = train(stack, lambda_context, manifest(), when=T1)
    finish(hosting, a, {"validation:auc": 0.9}, lambda_context)
    stack.notifications()
    b = train(stack, lambda_context, manifest(endpoint_name="churn"), when=T2, folder="fraud")
    out = finish(hosting, b, {"validation:auc": 0.9}, lambda_context)
    assert out["status"] == "deploy_failed"
    assert "endpoint 'churn' already exists and belongs to model 'churn'" in out["message"]
    assert hosting.update_calls == []
    assert hosting.live_config("churn") == a
    assert summary(stack, "fraud")["status"] == "failed"
    assert "pending_job" not in summary(stack, "fraud")


# ------------------------------------------------------------------ failed and stopped jobs


def test_failed_job_is_recorded_and_notified_with_reason_and_manifest(stack, hosting, lambda_context):
    job = train(stack, lambda_context, manifest(), when=T1)
    reason = "AlgorithmError: framework error: Could not determine delimiter on line 1"
    hosting.set_job(job, status="Failed", failure_reason=reason)
    out = deploy(hosting.training_event(job, "training-job-failed.json"), lambda_context)
    assert out["status"] == "failed" and out["message"] == reason
    item = summary(stack)
    assert item["status"] == "failed"
    assert item["last_error"] == f"training job {job} failed: {reason}"
    record = job_item(stack, job)
    assert record["status"] == "failed" and record["failure_reason"] == reason
    notes = stack.notifications()
    assert [n["subject"] for n in notes] == ["[sagedrop] churn: training job failed"]
    assert job in notes[0]["message"]
    assert f"Reason: {reason}" in notes[0]["message"]
    assert f"Manifest: s3://{stack.data_bucket}/churn/training.json" in notes[0]["message"]
    assert notes[0]["attributes"] == {"event": "job_failed", "model": "churn"}
    assert hosting.models() == []


def test_stopped_job_is_recorded_with_a_hint(stack, hosting, lambda_context):
    job = train(stack, lambda_context, manifest(), when=T1)
    hosting.set_job(job, status="Stopped", secondary="MaxRuntimeExceeded")
    out = deploy(hosting.training_event(job, "training-job-stopped.json"), lambda_context)
    assert out["status"] == "stopped"
    assert summary(stack)["status"] == "stopped"
    assert job_item(stack, job)["status"] == "stopped"
    notes = stack.notifications()
    assert [n["subject"] for n in notes] == ["[sagedrop] churn: training job was stopped"]
    assert "training.max_runtime_s" in notes[0]["message"]


def test_failed_job_of_a_serving_model_keeps_it_in_service(stack, hosting, lambda_context):
    a = train(stack, lambda_context, manifest(), when=T1)
    finish(hosting, a, {"validation:auc": 0.9}, lambda_context)
    b = train(stack, lambda_context, manifest(), when=T2)
    assert summary(stack)["status"] == "training"
    hosting.set_job(b, status="Failed", failure_reason="ClientError: no space left on device")
    deploy(hosting.training_event(b, "training-job-failed.json"), lambda_context)
    item = summary(stack)
    assert item["status"] == "in_service" and item["serving_job"] == a
    assert "no space left on device" in item["last_error"]


# ------------------------------------------------------------------ duplicates and foreign jobs


def test_duplicate_events_are_harmless(stack, hosting, lambda_context):
    a = train(stack, lambda_context, manifest(), when=T1)
    hosting.set_job(a, metrics={"validation:auc": 0.9})
    event = hosting.training_event(a)
    assert deploy(event, lambda_context)["status"] == "in_service"
    assert deploy(event, lambda_context)["status"] == "duplicate"
    assert deploy(hosting.endpoint_event("churn"), lambda_context)["status"] == "in_service"

    b = train(stack, lambda_context, manifest(), when=T2)
    hosting.set_job(b, metrics={"validation:auc": 0.91})
    event_b = hosting.training_event(b)
    assert deploy(event_b, lambda_context)["status"] == "deploying"
    assert deploy(event_b, lambda_context)["status"] in ("pending", "deploying")
    hosting.finish_update("churn")
    in_service = hosting.endpoint_event("churn")
    assert deploy(in_service, lambda_context)["message"] == "new model in service"
    assert deploy(in_service, lambda_context)["message"] == "in service"
    assert deploy(event_b, lambda_context)["status"] == "duplicate"

    c = train(stack, lambda_context, manifest(), when=T3)
    hosting.set_job(c, status="Failed", failure_reason="InternalServerError")
    failed = hosting.training_event(c, "training-job-failed.json")
    assert deploy(failed, lambda_context)["status"] == "failed"
    assert deploy(failed, lambda_context)["status"] == "duplicate"

    assert hosting.create_calls == [("churn", a)]
    assert hosting.update_calls == [("churn", b)]
    assert subjects(stack) == [
        "[sagedrop] churn: new model in service",
        "[sagedrop] churn: new model in service",
        "[sagedrop] churn: training job failed",
    ]
    assert summary(stack)["serving_job"] == b


def test_a_job_of_another_stack_is_ignored_even_if_the_event_claims_otherwise(stack, hosting, lambda_context):
    other = load_event("deploy", "training-job-other-stack.json")
    job = other["detail"]["TrainingJobName"]
    stack.sagemaker.create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={"TrainingImage": XGB_IMAGE, "TrainingInputMode": "File"},
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/sagedrop-staging-SageMakerExecutionRole",
        OutputDataConfig={"S3OutputPath": "s3://sagedrop-staging-artifacts/models/my-model/"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        Tags=[{"Key": k, "Value": v} for k, v in other["detail"]["Tags"].items()],
    )
    out = deploy(other, lambda_context)
    assert out["status"] == "foreign"
    # Even an event whose Tags map names this stack: the job's real tags decide.
    forged = json.loads(json.dumps(other))
    forged["detail"]["Tags"]["sagedrop:stack"] = stack.name
    assert deploy(forged, lambda_context)["status"] == "foreign"
    assert hosting.models() == [] and hosting.create_calls == []
    assert stack.registry_item("my-model") is None
    assert subjects(stack) == []


def test_an_endpoint_of_another_stack_is_ignored(stack, hosting, lambda_context):
    sm = stack.sagemaker
    sm.create_model(ModelName="theirs", PrimaryContainer={"Image": XGB_IMAGE}, ExecutionRoleArn=stack.role_arn)
    sm.create_endpoint_config(
        EndpointConfigName="theirs",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "theirs", "InstanceType": "ml.m5.large"}],
    )
    sm.create_endpoint(
        EndpointName="theirs",
        EndpointConfigName="theirs",
        Tags=[{"Key": "sagedrop:stack", "Value": "someone-else"}, {"Key": "sagedrop:model", "Value": "theirs"}],
    )
    assert deploy(hosting.endpoint_event("theirs"), lambda_context)["status"] == "foreign"
    assert stack.registry_item("theirs") is None


# ------------------------------------------------------------------ newest wins


def test_two_completions_while_updating_the_newest_ends_in_service(stack, hosting, lambda_context):
    a = train(stack, lambda_context, manifest(), when=T1)
    finish(hosting, a, {"validation:auc": 0.90}, lambda_context)
    b = train(stack, lambda_context, manifest(), when=T2)
    assert finish(hosting, b, {"validation:auc": 0.91}, lambda_context)["status"] == "deploying"
    c = train(stack, lambda_context, manifest(), when=T3)
    d = train(stack, lambda_context, manifest(), when=T4)
    hosting.set_job(c, metrics={"validation:auc": 0.92})
    hosting.set_job(d, metrics={"validation:auc": 0.93})
    late_c = hosting.training_event(c)

    # The endpoint is Updating (to b): d's event arrives first, then c's (late, older).
    out_d = deploy(hosting.training_event(d), lambda_context)
    assert out_d["status"] == "pending"
    assert summary(stack)["pending_job"] == d
    out_c = deploy(late_c, lambda_context)
    assert out_c["status"] == "superseded"
    assert summary(stack)["pending_job"] == d
    assert job_item(stack, c)["status"] == "superseded"

    # The update to b finishes: b is recorded in service, then d is applied at once.
    hosting.finish_update("churn")
    out = deploy(hosting.endpoint_event("churn"), lambda_context)
    assert out["status"] == "deploying" and out["job"] == d
    assert summary(stack)["serving_job"] == b
    hosting.finish_update("churn")
    out = deploy(hosting.endpoint_event("churn"), lambda_context)
    assert out["status"] == "in_service" and out["job"] == d
    assert hosting.live_config("churn") == d

    # A late duplicate of c's event never rolls back the newer model.
    assert deploy(late_c, lambda_context)["status"] == "duplicate"
    assert deploy(hosting.training_event(b), lambda_context)["status"] == "duplicate"
    assert hosting.update_calls == [("churn", b), ("churn", d)]
    item = summary(stack)
    assert item["serving_job"] == d and item["status"] == "in_service"
    assert item["metrics"] == {"validation:auc": 0.93}
    assert "pending_job" not in item and "deploying_job" not in item


def test_an_older_job_finishing_after_a_newer_one_serves_is_superseded(stack, hosting, lambda_context):
    old = train(stack, lambda_context, manifest(), when=T1)
    new = train(stack, lambda_context, manifest(), when=T2)
    assert finish(hosting, new, {"validation:auc": 0.9}, lambda_context)["status"] == "in_service"
    out = finish(hosting, old, {"validation:auc": 0.99}, lambda_context)
    assert out["status"] == "superseded"
    assert hosting.update_calls == []
    assert hosting.live_config("churn") == new
    item = summary(stack)
    assert item["serving_job"] == new and item["status"] == "in_service"
    assert job_item(stack, old)["status"] == "superseded"


def test_a_completion_while_creating_is_applied_after_in_service(stack, hosting, lambda_context):
    hosting.slow_create = True
    a = train(stack, lambda_context, manifest(), when=T1)
    assert finish(hosting, a, {"validation:auc": 0.90}, lambda_context)["status"] == "deploying"
    b = train(stack, lambda_context, manifest(), when=T2)
    assert finish(hosting, b, {"validation:auc": 0.91}, lambda_context)["status"] == "pending"
    assert job_item(stack, b)["status"] == "pending"
    hosting.finish_create("churn")
    out = deploy(hosting.endpoint_event("churn"), lambda_context)
    assert out["status"] == "deploying" and out["job"] == b
    assert summary(stack)["serving_job"] == a
    assert hosting.update_calls == [("churn", b)]


# ------------------------------------------------------------------ AWS errors are retried


class Throttled:
    """A SageMaker client whose ``operation`` answers ThrottlingException ``times`` times."""

    def __init__(self, client, operation, times=1):
        self._client = client
        self._operation = operation
        self.remaining = times

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name != self._operation or self.remaining <= 0:
            return attr

        def throttled(**_kwargs):
            self.remaining -= 1
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}, "ResponseMetadata": {}},
                "".join(part.title() for part in name.split("_")),
            )

        return throttled


@pytest.mark.parametrize("operation", ["describe_training_job", "create_endpoint", "create_model"])
def test_throttling_is_raised_for_a_retry_that_then_succeeds(stack, hosting, lambda_context, operation):
    job = train(stack, lambda_context, manifest(), when=T1)
    hosting.set_job(job, metrics={"validation:auc": 0.9})
    event = hosting.training_event(job)
    app = load_function("deploy")
    client = Throttled(boto3.client("sagemaker", region_name=REGION), operation)
    app.clients.set("sagemaker", client)
    with pytest.raises(ClientError) as raised:
        app.handler(event, lambda_context)
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert "serving_job" not in (summary(stack) or {})
    assert subjects(stack) == []
    # Lambda's retry of the same event finishes the work.
    assert app.handler(event, lambda_context)["status"] == "in_service"
    assert summary(stack)["serving_job"] == job
    assert subjects(stack) == ["[sagedrop] churn: new model in service"]


@pytest.mark.parametrize(
    ("gate", "outcome", "subject", "job_status"),
    [
        ({"metric": "validation:auc", "min": 0.95}, "gate_failed", "gate failed, nothing deployed", "completed"),
        ({"metric": "validation:auc", "min": 0.5}, "in_service", "new model in service", "deploying"),
    ],
)
def test_a_throttled_notification_is_not_lost(stack, hosting, lambda_context, gate, outcome, subject, job_status):
    job = train(stack, lambda_context, manifest(gate=gate), when=T1)
    hosting.set_job(job, metrics={"validation:auc": 0.9})
    event = hosting.training_event(job)
    app = load_function("deploy")
    app.clients.set("sns", Throttled(boto3.client("sns", region_name=REGION), "publish"))
    with pytest.raises(ClientError):
        app.handler(event, lambda_context)
    assert job_item(stack, job)["status"] == job_status
    assert subjects(stack) == []
    assert app.handler(event, lambda_context)["status"] == outcome
    assert subjects(stack) == [f"[sagedrop] churn: {subject}"]
    assert app.handler(event, lambda_context)["status"] == "duplicate"
    assert subjects(stack) == []


def test_events_of_other_sources_and_types_are_ignored(stack, hosting, lambda_context):
    event = load_event("deploy", "training-job-completed.json")
    event["detail-type"] = "SageMaker Transform Job State Change"
    assert deploy(event, lambda_context)["status"] == "ignored"
    event = load_event("deploy", "training-job-completed.json")
    event["source"] = "my.app"
    assert deploy(event, lambda_context)["status"] == "ignored"
    # The sample itself names a job that does not exist on this (empty) account.
    assert deploy(load_event("deploy", "training-job-completed.json"), lambda_context)["status"] == "ignored"
