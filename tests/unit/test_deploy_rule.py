"""The DeployFunction's EventBridge rules in template.yaml, evaluated by a real matcher (moto's).

They must match this stack's events shaped like the AWS documentation's samples, and nothing
else: other stacks' jobs and endpoints, other statuses, other detail types, other sources.
"""

from __future__ import annotations

import copy
import json

import pytest
from moto.events.models import EventPattern

from tests.conftest import STACK, load_event
from tests.support.template import resolve, resource

REFS = {"AWS::StackName": STACK}


def pattern(event_name: str) -> EventPattern:
    rule = resource("DeployFunction")["Properties"]["Events"][event_name]
    assert rule["Type"] == "EventBridgeRule"
    return EventPattern.load(json.dumps(resolve(rule["Properties"]["Pattern"], REFS)))


JOB_RULE = "TrainingJobEnded"
ENDPOINT_RULE = "EndpointChanged"


def matches(rule: str, event: dict) -> bool:
    return pattern(rule).matches_event(event)


def with_detail(name: str, **changes) -> dict:
    event = copy.deepcopy(load_event("deploy", name))
    event["detail"].update(changes)
    return event


@pytest.mark.parametrize(
    "name", ["training-job-completed.json", "training-job-failed.json", "training-job-stopped.json"]
)
def test_job_rule_matches_this_stacks_job_events(name):
    event = load_event("deploy", name)
    assert event["detail"]["Tags"]["sagedrop:stack"] == STACK
    assert "ModelArtifacts" not in event["detail"] and "FinalMetricDataList" not in event["detail"]
    assert event["detail"]["CreationTime"].isdigit()  # epoch-ms strings, as SageMaker sends them
    assert matches(JOB_RULE, event)
    assert not matches(ENDPOINT_RULE, event)


def test_job_rule_ignores_other_stacks_jobs():
    event = load_event("deploy", "training-job-other-stack.json")
    assert event["detail"]["Tags"]["sagedrop:stack"] != STACK
    assert not matches(JOB_RULE, event)
    untagged = with_detail("training-job-completed.json", Tags={})
    assert not matches(JOB_RULE, untagged)
    prefix = with_detail("training-job-completed.json")
    prefix["detail"]["Tags"]["sagedrop:stack"] = STACK + "-2"
    assert not matches(JOB_RULE, prefix)


@pytest.mark.parametrize("status", ["InProgress", "Stopping", "completed", "COMPLETED"])
def test_job_rule_ignores_other_statuses(status):
    assert not matches(JOB_RULE, with_detail("training-job-completed.json", TrainingJobStatus=status))


@pytest.mark.parametrize(
    "detail_type",
    [
        "SageMaker Transform Job State Change",
        "SageMaker HyperParameter Tuning Job State Change",
        "SageMaker Processing Job State Change",
        "SageMaker Endpoint Config State Change",
    ],
)
def test_rules_ignore_other_detail_types(detail_type):
    for name in ("training-job-completed.json", "endpoint-in-service.json"):
        event = load_event("deploy", name)
        event["detail-type"] = detail_type
        assert not matches(JOB_RULE, event)
        assert not matches(ENDPOINT_RULE, event)


def test_rules_ignore_other_sources():
    for name, rule in (("training-job-completed.json", JOB_RULE), ("endpoint-in-service.json", ENDPOINT_RULE)):
        event = load_event("deploy", name)
        event["source"] = "my.app"
        assert not matches(rule, event)


@pytest.mark.parametrize("status", ["IN_SERVICE", "InService", "FAILED", "Failed"])
def test_endpoint_rule_matches_in_service_and_failed(status):
    event = with_detail("endpoint-in-service.json", EndpointStatus=status)
    assert matches(ENDPOINT_RULE, event)
    assert not matches(JOB_RULE, event)


def test_endpoint_samples_match():
    assert load_event("deploy", "endpoint-in-service.json")["detail"]["EndpointStatus"] == "IN_SERVICE"
    assert matches(ENDPOINT_RULE, load_event("deploy", "endpoint-in-service.json"))
    assert matches(ENDPOINT_RULE, load_event("deploy", "endpoint-failed.json"))


@pytest.mark.parametrize("status", ["CREATING", "UPDATING", "DELETING", "Creating", "SYSTEM_UPDATING"])
def test_endpoint_rule_ignores_transitional_statuses(status):
    assert not matches(ENDPOINT_RULE, with_detail("endpoint-in-service.json", EndpointStatus=status))


def test_endpoint_rule_ignores_other_stacks_endpoints():
    event = with_detail("endpoint-in-service.json")
    event["detail"]["Tags"]["sagedrop:stack"] = "sagedrop-staging"
    assert not matches(ENDPOINT_RULE, event)
    assert not matches(ENDPOINT_RULE, with_detail("endpoint-in-service.json", Tags={}))
