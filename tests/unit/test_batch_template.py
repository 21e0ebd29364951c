"""template.yaml for batch scoring: the batch.json trigger, the transform job rule and the policies."""

from __future__ import annotations

import copy
import json

from moto.events.models import EventPattern

from tests.conftest import STACK, load_event
from tests.support.template import resolve, resource


def test_batch_json_upload_triggers_the_train_function():
    event = resource("TrainFunction")["Properties"]["Events"]["BatchDropped"]
    assert event["Type"] == "S3"
    assert event["Properties"]["Bucket"] == {"Ref": "DataBucket"}
    assert event["Properties"]["Filter"]["S3Key"]["Rules"] == [{"Name": "suffix", "Value": "batch.json"}]


def test_the_train_function_creates_only_tagged_transform_jobs_and_writes_only_batch_manifests():
    statements = resource("TrainFunction")["Properties"]["Policies"][0]["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    create = by_sid["StartTaggedTransformJobs"]
    assert create["Action"] == ["sagemaker:CreateTransformJob", "sagemaker:AddTags"]
    assert create["Condition"]["StringEquals"] == {"aws:RequestTag/sagedrop:stack": {"Ref": "AWS::StackName"}}
    assert "transform-job/*" in create["Resource"]["Fn::Sub"]
    assert by_sid["WriteBatchManifests"]["Resource"] == {"Fn::Sub": "${ArtifactBucket.Arn}/batch-manifests/*"}
    assert by_sid["SeeOwnModels"]["Condition"]["StringEquals"] == {
        "aws:ResourceTag/sagedrop:stack": {"Ref": "AWS::StackName"}
    }


def pattern() -> EventPattern:
    rule = resource("DeployFunction")["Properties"]["Events"]["TransformJobEnded"]
    assert rule["Type"] == "EventBridgeRule"
    return EventPattern.load(json.dumps(resolve(rule["Properties"]["Pattern"], {"AWS::StackName": STACK})))


def test_the_transform_rule_matches_this_stacks_ended_jobs_only():
    for name in ("transform-job-completed.json", "transform-job-failed.json"):
        event = load_event("batch", name)
        assert event["detail"]["Tags"]["sagedrop:stack"] == STACK
        assert pattern().matches_event(event)
    assert not pattern().matches_event(load_event("batch", "transform-job-other-stack.json"))
    running = copy.deepcopy(load_event("batch", "transform-job-completed.json"))
    running["detail"]["TransformJobStatus"] = "InProgress"
    assert not pattern().matches_event(running)
    training = load_event("deploy", "training-job-completed.json")
    assert not pattern().matches_event(training)


def test_the_deploy_function_may_describe_transform_jobs():
    statements = resource("DeployFunction")["Properties"]["Policies"][0]["Statement"]
    [read] = [s for s in statements if "sagemaker:DescribeTransformJob" in s["Action"]]
    assert any("transform-job/*" in r["Fn::Sub"] for r in read["Resource"])


def test_the_batch_routes_are_in_the_api_body_with_security_and_in_the_predictor_policy():
    paths = resource("PredictionApi")["Properties"]["DefinitionBody"]["paths"]
    for path in ("/models/{model}/batches", "/models/{model}/batches/{job}"):
        assert "security" in paths[path]["get"]
    events = resource("PredictFunction")["Properties"]["Events"]
    assert events["ListBatches"]["Properties"]["Path"] == "/models/{model}/batches"
    assert events["GetBatch"]["Properties"]["Path"] == "/models/{model}/batches/{job}"
    resources = resource("PredictorPolicy")["Properties"]["PolicyDocument"]["Statement"][0]["Resource"]
    assert any(r["Fn::Sub"].endswith("/GET/models/*/batches/*") for r in resources)


def _artifact_prefixes(statements, action):
    """The artifact-bucket key patterns that ``action`` is allowed on (``*`` = the whole bucket)."""
    found = set()
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if action not in actions:
            continue
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for item in resources:
            text = item.get("Fn::Sub", "") if isinstance(item, dict) else str(item)
            text = text[0] if isinstance(text, list) else text  # !Sub [template, variables]
            if text.startswith("${ArtifactBucket.Arn}/"):
                found.add(text.removeprefix("${ArtifactBucket.Arn}/"))
    return found


def test_the_sagemaker_role_writes_only_training_outputs_and_batch_outputs():
    """Issue 15: the SageMaker role reads the batch input and writes only the output prefix (batch/), plus the
    training outputs it needs (models/ for OutputDataConfig, checkpoints/ for spot: sagedrop/training.py)."""
    statements = resource("SageMakerExecutionRole")["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert _artifact_prefixes(statements, "s3:PutObject") == {"models/*", "checkpoints/*", "batch/*"}
    assert _artifact_prefixes(statements, "s3:DeleteObject") == {"checkpoints/*"}
    readable = _artifact_prefixes(statements, "s3:GetObject")
    assert "*" not in readable and "batch-manifests/*" in readable and "models/*" in readable
    assert "batch/*" not in readable  # it never reads its own outputs


def test_batch_manifests_are_written_where_the_sagemaker_role_only_reads():
    from sagedrop import batch

    train = resource("TrainFunction")["Properties"]["Policies"][0]["Statement"]
    role = resource("SageMakerExecutionRole")["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert _artifact_prefixes(train, "s3:PutObject") == {batch.MANIFEST_PREFIX + "*", "converted/*"}
    assert batch.MANIFEST_PREFIX + "*" not in _artifact_prefixes(role, "s3:PutObject")
    assert _artifact_prefixes(role, "s3:PutObject") >= {batch.BATCH_PREFIX + "*"}
