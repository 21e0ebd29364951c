"""sagedrop_local.moto_gaps: each fix holds once installed, and each gap is still there in the pinned moto.

What SageMaker does instead is cited in the module's docstring (AddTags, CreateTransformJob, the
serverless-endpoints page); the "gap" tests fail when a moto upgrade closes a gap, so the patch can go.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.sagemaker.models import sagemaker_backends

from sagedrop_local import moto_gaps
from tests.conftest import ACCOUNT, REGION

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/r"


@pytest.fixture
def sm(aws):
    return boto3.client("sagemaker", region_name=REGION)


@pytest.fixture
def fixed(sm, monkeypatch):
    calls = []
    hooks = moto_gaps.Hooks(
        endpoint_created=lambda backend, endpoint: calls.append(("created", endpoint.endpoint_name)),
        endpoint_updating=lambda backend, endpoint, config: calls.append(("updating", config)),
    )
    moto_gaps.install(lambda t, n, v: monkeypatch.setattr(t, n, v, raising=False), hooks)
    return calls


def _model(sm, name="m", **kwargs):
    return sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE}, **kwargs)


def _config(sm, name, serverless=False):
    variant = {"VariantName": "AllTraffic", "ModelName": "m"}
    variant.update(
        {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 1}}
        if serverless
        else {"InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    )
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])


def test_gaps_are_still_in_the_pinned_moto(sm):
    arn = _model(sm)["ModelArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "1"}])
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "2"}])
    assert [t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]] == ["1", "2"]  # appended, not overwritten
    _model(sm)  # a second model of the same name: silently overwritten
    _config(sm, "c1")
    sm.create_endpoint(EndpointName="e", EndpointConfigName="c1")
    with pytest.raises(NotImplementedError, match="update_endpoint action has not been implemented"):
        sm.update_endpoint(EndpointName="e", EndpointConfigName="c1")


def test_names_are_created_once_and_tags_overwrite(sm, fixed):
    arn = _model(sm, EnableNetworkIsolation=True)["ModelArn"]
    with pytest.raises(ClientError, match='Cannot create already existing model "arn:aws:sagemaker:'):
        _model(sm)
    assert sm.describe_model(ModelName="m")["EnableNetworkIsolation"] is True
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "1"}])
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "2"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "2"}]
    with pytest.raises(ClientError) as missing:
        sm.list_tags(ResourceArn=arn.replace(":model/m", ":model/gone"))
    assert missing.value.response["Error"]["Code"] == "ValidationException"
    _config(sm, "c1")
    with pytest.raises(ClientError, match="Cannot create already existing endpoint configuration"):
        _config(sm, "c1")
    sm.create_endpoint(EndpointName="e", EndpointConfigName="c1")
    with pytest.raises(ClientError, match="Cannot create already existing endpoint"):
        sm.create_endpoint(EndpointName="e", EndpointConfigName="c1")
    assert fixed == [("created", "e")]


def test_update_endpoint_checks_like_sagemaker_and_stays_pending_until_finished(sm, fixed):
    _model(sm)
    _config(sm, "c1")
    _config(sm, "c2")
    _config(sm, "serverless", serverless=True)
    sm.create_endpoint(EndpointName="e", EndpointConfigName="c1")
    with pytest.raises(ClientError, match="to a serverless endpoint"):
        sm.update_endpoint(EndpointName="e", EndpointConfigName="serverless")
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        sm.update_endpoint(EndpointName="e", EndpointConfigName="nope")
    sm.update_endpoint(EndpointName="e", EndpointConfigName="c2")
    described = sm.describe_endpoint(EndpointName="e")
    assert described["EndpointStatus"] == "Updating" and described["EndpointConfigName"] == "c1"
    assert described["PendingDeploymentSummary"]["EndpointConfigName"] == "c2"
    with pytest.raises(ClientError, match="Cannot update in-progress endpoint"):
        sm.update_endpoint(EndpointName="e", EndpointConfigName="c2")
    backend = sagemaker_backends[ACCOUNT][REGION]
    moto_gaps.finish_update(backend, backend.endpoints["e"], "c2")
    described = sm.describe_endpoint(EndpointName="e")
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "c2")
    assert "PendingDeploymentSummary" not in described
    backend.endpoints["e"].endpoint_status = "Failed"
    with pytest.raises(ClientError, match="in status Failed"):
        sm.update_endpoint(EndpointName="e", EndpointConfigName="c1")
    assert fixed == [("created", "e"), ("updating", "c2")]


def test_events_carry_times_as_epoch_millisecond_strings():
    from datetime import UTC, datetime

    when = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    shaped = moto_gaps.event_shape({"a": [when], "b": when.replace(tzinfo=None), "c": 1})
    assert shaped == {"a": ["1795687200000"], "b": "1795687200000", "c": 1}
