"""Cleanup's pure rules and its AWS adapters with fake clients: no moto, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sagedrop import cleanup, pricing, registry
from sagedrop.cleanup import (
    CleanupSettings,
    EndpointDecision,
    EndpointFacts,
    HibernateRefused,
    Knobs,
    OrphanDecision,
    Report,
    Trigger,
    hibernate,
    knobs,
    metric_period,
    read_invocations,
    static_verdict,
)
from sagedrop.settings import SettingsError

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def client_error(code: str, message: str = "boom", status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "X"
    )


def facts(
    *,
    status: str = "InService",
    age: timedelta = timedelta(hours=6),
    modified_ago: timedelta | None = None,
    tag_map: dict[str, str] | None = None,
    record: dict[str, Any] | None = None,
) -> EndpointFacts:
    created = NOW - age
    modified = NOW - (modified_ago if modified_ago is not None else age)
    return EndpointFacts(
        name="churn",
        arn="arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn",
        status=status,
        created=created,
        modified=modified,
        tags={"sagedrop:stack": "s", "sagedrop:model": "churn", **(tag_map or {})},
        record=record,
    )


# ------------------------------------------------------------------ knobs


def test_knobs_tag_wins_over_registry_then_stack_default():
    assert knobs(facts(tag_map={"sagedrop:idle-minutes": "30"}, record={"idle_minutes": 600}), 120).idle_minutes == 30
    assert knobs(facts(record={"idle_minutes": 600}), 120).idle_minutes == 600
    assert knobs(facts(), 120).idle_minutes == 120


def test_knobs_unreadable_tag_is_noted_and_falls_back():
    knob = knobs(facts(tag_map={"sagedrop:idle-minutes": "2h"}, record={"idle_minutes": 45}), 120)
    assert knob.idle_minutes == 45
    assert knob.notes == ("tag sagedrop:idle-minutes='2h' is not 5..43200 minutes",)
    assert knobs(facts(tag_map={"sagedrop:idle-minutes": "1"}), 90).idle_minutes == 90  # below the minimum


@pytest.mark.parametrize(
    ("tag_value", "record_value", "expected"),
    [("true", None, True), ("false", True, True), (None, False, False), ("TRUE", None, True), ("maybe", None, False)],
)
def test_keep_alive_holds_when_either_source_says_so(tag_value, record_value, expected):
    tag_map = {"sagedrop:keep-alive": tag_value} if tag_value is not None else {}
    record = {"keep_alive": record_value} if record_value is not None else None
    assert knobs(facts(tag_map=tag_map, record=record), 120).keep_alive is expected


def test_serverless_from_tag_or_registry():
    assert knobs(facts(tag_map={"sagedrop:serverless": "true"}), 120).serverless is True
    assert knobs(facts(record={"serverless": True}), 120).serverless is True
    assert knobs(facts(tag_map={"sagedrop:serverless": "false"}), 120).serverless is False


# ------------------------------------------------------------------ the rules before metrics


def verdict(f: EndpointFacts, *, idle=120, keep_alive=False, serverless=False):
    return static_verdict(f, Knobs(idle, keep_alive, serverless), NOW)


def test_rule_order_serverless_status_keep_alive_age():
    young_updating = facts(status="Updating", age=timedelta(minutes=1))
    assert verdict(young_updating, serverless=True, keep_alive=True).reason == "serverless"
    assert verdict(young_updating, keep_alive=True).reason == "not_in_service"
    assert verdict(facts(age=timedelta(minutes=1)), keep_alive=True).reason == "keep_alive"
    assert verdict(facts(age=timedelta(minutes=1))).reason == "young"


@pytest.mark.parametrize("status", ["Creating", "Updating", "SystemUpdating", "RollingBack", "Failed", "Deleting"])
def test_only_in_service_endpoints_can_be_idle(status):
    v = verdict(facts(status=status))
    assert v.reason == "not_in_service"
    assert v.detail == f"status {status}: left to the deploy logic"


def test_age_counts_from_the_last_update():
    assert verdict(facts(age=timedelta(hours=10), modified_ago=timedelta(minutes=119))).reason == "young"
    old = verdict(facts(age=timedelta(hours=10), modified_ago=timedelta(minutes=121)))
    assert old.reason is None
    assert old.age_minutes == 121.0
    assert old.window_minutes == 120


def test_exactly_the_window_old_is_no_longer_young():
    assert verdict(facts(age=timedelta(minutes=120))).reason is None
    assert verdict(facts(age=timedelta(minutes=119, seconds=59))).reason == "young"


def test_registry_deploy_in_progress_keeps_the_endpoint_only_while_recent():
    recent = {"status": registry.DEPLOYING, "updated_at": (NOW - timedelta(minutes=10)).isoformat()}
    stale = {"status": registry.WAKING, "updated_at": (NOW - timedelta(hours=5)).isoformat()}
    assert verdict(facts(record=recent)).reason == "deploying"
    assert verdict(facts(record=stale)).reason is None
    assert verdict(facts(record={"status": registry.IN_SERVICE, "updated_at": NOW.isoformat()})).reason is None


def test_metric_period_covers_the_window():
    assert metric_period(5) == 300
    assert metric_period(120) == 7200
    assert metric_period(15 * 1440) == 15 * 86400  # one-minute data still kept
    assert metric_period(15 * 1440 + 1) == 15 * 86400 + 300  # past 15 days: a multiple of 5 minutes
    assert metric_period(43200) == 30 * 86400


# ------------------------------------------------------------------ GetMetricData batching


class FakePaginator:
    def __init__(self, owner: FakeCloudWatch) -> None:
        self.owner = owner

    def paginate(self, **kwargs):
        self.owner.calls.append(kwargs)
        results = []
        for query in kwargs["MetricDataQueries"]:
            dims = {d["Name"]: d["Value"] for d in query["MetricStat"]["Metric"]["Dimensions"]}
            key = (dims.get("EndpointName"), dims.get("VariantName"))
            values = self.owner.values.get(key, [])
            status = "InternalError" if key in self.owner.broken else "Complete"
            results.append({"Id": query["Id"], "Values": values, "StatusCode": status})
        # two pages, as when GetMetricData returns a NextToken
        half = len(results) // 2
        return iter([{"MetricDataResults": results[:half]}, {"MetricDataResults": results[half:]}])


class FakeCloudWatch:
    def __init__(self, values=None, broken=()) -> None:
        self.values = values or {}
        self.broken = set(broken)
        self.calls: list[dict[str, Any]] = []

    def get_paginator(self, name: str) -> FakePaginator:
        assert name == "get_metric_data"
        return FakePaginator(self)


def test_read_invocations_batches_500_queries_per_call_with_both_dimensions():
    cw = FakeCloudWatch(values={("ep-7", "AllTraffic"): [2.0, 3.0]})
    pairs = [(f"ep-{i}", "AllTraffic", 120) for i in range(1200)]

    sums = read_invocations(cw, pairs, NOW)

    assert [len(call["MetricDataQueries"]) for call in cw.calls] == [500, 500, 200]
    query = cw.calls[0]["MetricDataQueries"][7]
    assert query["MetricStat"] == {
        "Metric": {
            "Namespace": "AWS/SageMaker",
            "MetricName": "Invocations",
            "Dimensions": [{"Name": "EndpointName", "Value": "ep-7"}, {"Name": "VariantName", "Value": "AllTraffic"}],
        },
        "Period": 7200,
        "Stat": "Sum",
    }
    assert cw.calls[0]["StartTime"] == NOW - timedelta(minutes=120)
    assert cw.calls[0]["EndTime"] == NOW
    assert len({q["Id"] for q in cw.calls[0]["MetricDataQueries"]}) == 500
    assert sums[("ep-7", "AllTraffic")] == 5.0
    assert sums[("ep-8", "AllTraffic")] == 0.0  # no data points
    assert len(sums) == 1200


def test_read_invocations_groups_calls_by_window_and_reports_unanswered_queries():
    cw = FakeCloudWatch(broken={("b", "AllTraffic")})
    sums = read_invocations(cw, [("a", "AllTraffic", 30), ("b", "AllTraffic", 120), ("c", "Canary", 30)], NOW)
    assert [(c["StartTime"], len(c["MetricDataQueries"])) for c in cw.calls] == [
        (NOW - timedelta(minutes=30), 2),
        (NOW - timedelta(minutes=120), 1),
    ]
    assert sums == {("a", "AllTraffic"): 0.0, ("c", "Canary"): 0.0, ("b", "AllTraffic"): None}


# ------------------------------------------------------------------ hibernate


class Recorder:
    def __init__(self, errors: dict[str, Exception] | None = None, targets=()) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.errors = errors or {}
        self.targets = list(targets)

    def _call(self, name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((name, kwargs))
        if name in self.errors:
            raise self.errors[name]
        return {}

    def delete_endpoint(self, **kwargs):
        return self._call("delete_endpoint", kwargs)

    def deregister_scalable_target(self, **kwargs):
        return self._call("deregister_scalable_target", kwargs)

    def get_paginator(self, name):
        assert name == "describe_scalable_targets"
        recorder = self

        class Pages:
            def paginate(self, **kwargs):
                recorder.calls.append(("describe_scalable_targets", kwargs))
                wanted = set(kwargs["ResourceIds"])
                return iter([{"ScalableTargets": [t for t in recorder.targets if t["ResourceId"] in wanted]}])

        return Pages()


class FakeRegistry:
    def __init__(self, result: bool = True) -> None:
        self.updates: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        self.result = result

    def update(self, model, fields, **kwargs):
        self.updates.append((model, dict(fields), kwargs))
        return self.result


def test_hibernate_deregisters_autoscaling_then_deletes_then_records():
    calls = Recorder()
    reg = FakeRegistry()
    done = hibernate(
        "churn",
        model="churn",
        variants=["AllTraffic", "Canary"],
        reason="idle",
        sagemaker=calls,
        autoscaling=calls,
        registry_=reg,
        scaling={"endpoint/churn/variant/AllTraffic": ["sagemaker:variant:DesiredInstanceCount"]},
    )
    assert [name for name, _ in calls.calls] == ["deregister_scalable_target", "delete_endpoint"]
    assert calls.calls[0][1] == {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/churn/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    assert calls.calls[1][1] == {"EndpointName": "churn"}
    model, fields, kwargs = reg.updates[0]
    assert model == "churn"
    assert fields == {"status": "hibernated", "hibernated_at": done.at, "hibernated_reason": "idle"}
    assert kwargs["condition"] == "attribute_exists(#model) AND #endpoint = :endpoint"
    assert kwargs["values"] == {":endpoint": "churn"}
    assert done.deregistered == ("endpoint/churn/variant/AllTraffic (sagemaker:variant:DesiredInstanceCount)",)
    assert done.registry_updated is True
    assert done.already_deleted is False


def test_hibernate_looks_up_autoscaling_itself_when_not_given():
    calls = Recorder(
        targets=[
            {
                "ResourceId": "endpoint/x/variant/AllTraffic",
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            }
        ]
    )
    done = hibernate(
        "x", model=None, variants=["AllTraffic"], reason="stopped", sagemaker=calls, autoscaling=calls, registry_=None
    )
    assert [name for name, _ in calls.calls] == [
        "describe_scalable_targets",
        "deregister_scalable_target",
        "delete_endpoint",
    ]
    assert calls.calls[0][1] == {"ServiceNamespace": "sagemaker", "ResourceIds": ["endpoint/x/variant/AllTraffic"]}
    assert done.registry_updated is False


def test_hibernate_an_endpoint_already_gone_still_records_it():
    calls = Recorder({"delete_endpoint": client_error("ValidationException", 'Could not find endpoint "x".')})
    done = hibernate(
        "x", model="x", variants=["AllTraffic"], reason="r", sagemaker=calls, autoscaling=calls,
        registry_=FakeRegistry(), scaling={},
    )  # fmt: skip
    assert done.already_deleted is True
    assert done.registry_updated is True


def test_hibernate_refused_by_sagemaker_is_a_domain_error():
    calls = Recorder({"delete_endpoint": client_error("ValidationException", "Cannot delete while Updating")})
    reg = FakeRegistry()
    with pytest.raises(HibernateRefused, match="refused to delete endpoint x: Cannot delete while Updating"):
        hibernate(
            "x", model="x", variants=[], reason="r", sagemaker=calls, autoscaling=calls, registry_=reg, scaling={}
        )
    assert reg.updates == []


def test_hibernate_lets_throttling_through():
    calls = Recorder({"delete_endpoint": client_error("ThrottlingException", "Rate exceeded")})
    with pytest.raises(ClientError):
        hibernate(
            "x", model="x", variants=[], reason="r", sagemaker=calls, autoscaling=calls, registry_=None, scaling={}
        )


def test_hibernate_tolerates_a_scalable_target_already_removed():
    calls = Recorder({"deregister_scalable_target": client_error("ObjectNotFoundException", "No scalable target")})
    done = hibernate(
        "x", model=None, variants=["AllTraffic"], reason="r", sagemaker=calls, autoscaling=calls, registry_=None,
        scaling={"endpoint/x/variant/AllTraffic": ["sagemaker:variant:DesiredInstanceCount"]},
    )  # fmt: skip
    assert [name for name, _ in calls.calls] == ["deregister_scalable_target", "delete_endpoint"]
    assert len(done.deregistered) == 1


# ------------------------------------------------------------------ trigger, settings, errors


def test_trigger_from_the_schedulers_default_payload_and_a_classic_rule():
    assert Trigger.from_event({}) == Trigger("scheduler")
    assert Trigger.from_event(None) == Trigger("scheduler")
    classic = {
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": "2026-11-26T10:00:00Z",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/r"],
        "detail": {},
    }
    assert Trigger.from_event(classic) == Trigger(
        "rule:arn:aws:events:us-east-1:123456789012:rule/r", "2026-11-26T10:00:00Z"
    )
    assert Trigger.from_event({"dry_run": True}) == Trigger("manual", None, True)


def test_trigger_refuses_what_it_cannot_read():
    with pytest.raises(ValueError, match='"dry_run" must be true or false'):
        Trigger.from_event({"dry_run": "yes"})
    with pytest.raises(ValueError, match="expects a JSON object"):
        Trigger.from_event("run")


def test_settings_from_env(monkeypatch):
    monkeypatch.setenv("IDLE_MINUTES", "45")
    monkeypatch.setenv("DRY_RUN", "TRUE")
    monkeypatch.setenv("ORPHAN_RETENTION_DAYS", "0")
    assert CleanupSettings.from_env("s") == CleanupSettings("s", 45, True, 0)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("IDLE_MINUTES", "2", "IDLE_MINUTES must be between 5 and 43200, got 2"),
        ("IDLE_MINUTES", "two hours", "IDLE_MINUTES must be an integer"),
        ("DRY_RUN", "perhaps", "DRY_RUN must be 'true' or 'false'"),
        ("ORPHAN_RETENTION_DAYS", "-1", "ORPHAN_RETENTION_DAYS must be between 0"),
    ],
)
def test_settings_errors_say_what_and_how(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        CleanupSettings.from_env("s")


# ------------------------------------------------------------------ report and prices


def test_report_totals_message_and_errors():
    report = Report("s", False, "scheduler", NOW.isoformat())
    report.decisions += [
        EndpointDecision("a", "a", "hibernated", "idle", {"window_minutes": 120, "hourly_cost_usd": 0.23,
                                                          "instances": "ml.m5.xlarge x1"}),
        EndpointDecision("b", "b", "hibernated", "idle", {"window_minutes": 60, "hourly_cost_usd": 0.0,
                                                          "instances": "ml.x9.huge x1",
                                                          "unpriced_instances": ["ml.x9.huge"]}),
        EndpointDecision("c", "c", "skipped", "busy"),
        EndpointDecision("d", "d", "skipped", "busy"),
        EndpointDecision("e", "e", "skipped", "young"),
    ]  # fmt: skip
    report.orphans.append(OrphanDecision("model", "a-old", "a", "deleted", "unused", 9.5))
    assert report.skipped_by_reason == {"busy": 2, "young": 1}
    assert report.hourly_cost_avoided == 0.23
    assert report.unpriced == ["b"]
    subject, body = report.message()
    assert subject == "cleanup: hibernated 2 idle endpoints, deleted 1 unused config/model(s)"
    assert "  - a (model a): 0 invocations in 120 min; ml.m5.xlarge x1, ~$0.230/h" in body
    assert "  - b (model b): 0 invocations in 60 min; ml.x9.huge x1, price unknown" in body
    assert "  - model a-old (9.5 days old)" in body
    report.raise_for_errors()  # nothing to retry

    report.errors.append("hibernate c: ThrottlingException: Rate exceeded")
    report.retry_causes.append(client_error("ThrottlingException"))
    with pytest.raises(cleanup.CleanupIncomplete, match="1 AWS error"):
        report.raise_for_errors()


def test_prices_and_unknown_instances():
    """The table's figures are pricing.py's (its docstring names the page and says they are unverified);
    this checks the lookup and the sum, not the figures."""
    large, gpu = pricing.HOURLY_USD["ml.m5.large"], pricing.HOURLY_USD["ml.g4dn.xlarge"]
    assert pricing.hourly_price("ML.M5.LARGE ") == large
    assert pricing.hourly_price("ml.unknown.large") is None
    assert pricing.hourly_cost([("ml.m5.large", 2), ("ml.g4dn.xlarge", 1), ("ml.new.xlarge", 3)]) == (
        round(2 * large + gpu, 4),
        ["ml.new.xlarge"],
    )
    assert all(name.startswith("ml.") and price > 0 for name, price in pricing.HOURLY_USD.items())
