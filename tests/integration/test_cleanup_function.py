"""The cleanup function on moto: managed endpoints and CloudWatch traffic in, hibernations and a report out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from sagedrop import naming
from sagedrop.cleanup import CleanupIncomplete
from tests.conftest import load_event, load_function
from tests.support.cleanup_fixtures import CLASSIC_SCHEDULED_EVENT, CleanupWorld


@pytest.fixture
def world(stack, monkeypatch):
    monkeypatch.setenv("IDLE_MINUTES", "120")
    monkeypatch.setenv("DRY_RUN", "false")
    monkeypatch.setenv("ORPHAN_RETENTION_DAYS", "7")
    return CleanupWorld(stack)


def run(lambda_context, event=None):
    app = load_function("cleanup")
    return app.handler(load_event("cleanup", "scheduled.json") if event is None else event, lambda_context)


@pytest.fixture
def emitted(monkeypatch):
    """Every metric and dimension the handler adds through sagedrop.observability.metrics."""
    from sagedrop.observability import metrics

    seen: dict[str, float] = {}
    dimensions: dict[str, str] = {}
    add_metric, add_dimension = metrics.add_metric, metrics.add_dimension

    def record_metric(name, unit, value, **kwargs):
        seen[name] = value
        return add_metric(name=name, unit=unit, value=value, **kwargs)

    def record_dimension(name, value):
        dimensions[name] = value
        return add_dimension(name=name, value=value)

    monkeypatch.setattr(metrics, "add_metric", record_metric)
    monkeypatch.setattr(metrics, "add_dimension", record_dimension)
    seen["_dimensions"] = dimensions
    return seen


def decision(result, endpoint):
    for key in ("hibernated", "failed"):
        for entry in result[key]:
            if entry["endpoint"] == endpoint:
                return entry
    return None


# ------------------------------------------------------------------ the idle rule


def test_idle_endpoint_is_hibernated_and_its_config_and_model_kept(world, stack, lambda_context, emitted):
    churn = world.deploy("churn", age=timedelta(hours=6))

    result = run(lambda_context)

    assert churn.endpoint not in world.endpoints()
    assert churn.config in world.configs()
    assert churn.sagemaker_model in world.models()
    item = stack.registry_item("churn")
    assert item["status"] == "hibernated"
    assert item["hibernated_at"].startswith(datetime.now(UTC).strftime("%Y-%m-%d"))
    assert item["hibernated_reason"] == (
        "no invocations in the last 120 minutes (variants AllTraffic); hibernated by cleanup"
    )
    # what the wake needs stays in the registry
    assert (item["endpoint"], item["endpoint_config"], item["sagemaker_model"]) == (
        churn.endpoint,
        churn.config,
        churn.sagemaker_model,
    )
    assert result["scanned"] == 1
    entry = decision(result, "churn")
    assert entry["action"] == "hibernated"
    assert entry["invocations"] == {"AllTraffic": 0.0}
    assert entry["instances"] == "ml.m5.large x1"
    assert entry["hourly_cost_usd"] == 0.115
    assert result["estimated_hourly_cost_avoided_usd"] == 0.115

    notes = stack.notifications()
    assert len(notes) == 1
    assert notes[0]["subject"] == "[sagedrop] cleanup: hibernated 1 idle endpoint"
    assert "churn (model churn): 0 invocations in 120 min; ml.m5.large x1, ~$0.115/h" in notes[0]["message"]
    assert "the next prediction re-creates the endpoint" in notes[0]["message"]
    assert notes[0]["attributes"]["event"] == "cleanup"

    metrics = emitted
    assert metrics["EndpointsScanned"] == 1
    assert metrics["EndpointsHibernated"] == 1
    assert metrics["EndpointsSkipped"] == 0
    assert metrics["EstimatedHourlyCostAvoidedUSD"] == 0.115
    assert "mode" not in metrics["_dimensions"]


def test_zero_datapoints_count_as_idle_and_old_traffic_is_outside_the_window(world, lambda_context):
    zeros = world.deploy("zeros", digest="000001")
    world.invocations("zeros", count=0, minutes_ago=30)
    old = world.deploy("old-traffic", digest="000002")
    world.invocations("old-traffic", count=50, minutes_ago=180)  # before the 120-minute window

    result = run(lambda_context)

    assert {h["endpoint"] for h in result["hibernated"]} == {zeros.endpoint, old.endpoint}
    assert world.endpoints() == set()


def test_busy_endpoint_is_kept(world, stack, lambda_context, emitted):
    busy = world.deploy("busy")
    world.invocations("busy", count=3, minutes_ago=20)

    result = run(lambda_context)

    assert busy.endpoint in world.endpoints()
    assert result["hibernated"] == []
    assert result["skipped_by_reason"] == {"busy": 1}
    assert stack.registry_item("busy")["status"] == "in_service"
    assert stack.notifications() == []  # nothing deleted, nothing to say
    metrics = emitted
    assert metrics["EndpointsSkipped"] == 1
    assert metrics["EndpointsSkipped_busy"] == 1
    assert metrics["EndpointsHibernated"] == 0


def test_traffic_only_on_the_second_variant_keeps_the_endpoint(world, lambda_context, caplog):
    canary = world.deploy("canary", extra_variants=("Canary",))
    world.invocations("canary", variant="Canary", count=7, minutes_ago=15)
    world.invocations("canary", variant=naming.VARIANT_NAME, count=0, minutes_ago=15)
    # A datapoint with EndpointName alone is not SageMaker's shape and must not count either way.
    world.cloudwatch.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {"MetricName": "Invocations", "Dimensions": [{"Name": "EndpointName", "Value": "canary"}], "Value": 0.0}
        ],
    )
    caplog.set_level("INFO", logger="sagedrop.cleanup")

    result = run(lambda_context)

    assert canary.endpoint in world.endpoints()
    assert result["skipped_by_reason"] == {"busy": 1}
    logged = [r.decision for r in caplog.records if hasattr(r, "decision")]
    assert logged == [
        {
            **logged[0],
            "endpoint": "canary",
            "action": "skipped",
            "reason": "busy",
            "invocations": {"AllTraffic": 0.0, "Canary": 7.0},
            "total_invocations": 7.0,
        }
    ]


def test_young_endpoint_is_kept_since_creation_or_last_update(world, lambda_context):
    world.deploy("fresh", digest="000001", age=timedelta(minutes=30))
    updated = world.deploy("updated", digest="000002", age=timedelta(hours=10))
    world.set_age(updated.endpoint, created_ago=timedelta(hours=10), modified_ago=timedelta(minutes=45))

    result = run(lambda_context)

    assert world.endpoints() == {"fresh", "updated"}
    assert result["skipped_by_reason"] == {"young": 2}


def test_keep_alive_and_per_model_idle_window_are_honoured(world, lambda_context):
    world.deploy("always-on", digest="000001", keep_alive=True, age=timedelta(days=3))
    world.deploy("patient", digest="000002", idle_minutes=600, age=timedelta(hours=6))
    world.deploy("eager", digest="000003", idle_minutes=30, age=timedelta(hours=6))
    world.invocations("eager", count=4, minutes_ago=60)  # inside the stack's 120 min, outside its own 30
    world.deploy("default", digest="000004", idle_minutes=None, age=timedelta(hours=6))
    world.invocations("default", count=4, minutes_ago=60)  # no tag: the stack's 120 minutes apply

    result = run(lambda_context)

    assert world.endpoints() == {"always-on", "patient", "default"}
    assert [h["endpoint"] for h in result["hibernated"]] == ["eager"]
    assert result["hibernated"][0]["window_minutes"] == 30
    assert result["skipped_by_reason"] == {"keep_alive": 1, "young": 1, "busy": 1}


def test_stack_idle_minutes_parameter_applies_to_endpoints_without_their_own(world, lambda_context, monkeypatch):
    monkeypatch.setenv("IDLE_MINUTES", "600")
    world.deploy("quiet", idle_minutes=None, age=timedelta(hours=6))

    result = run(lambda_context)

    assert "quiet" in world.endpoints()
    assert result["skipped_by_reason"] == {"young": 1}


def test_another_stacks_endpoints_are_never_touched(world, lambda_context):
    theirs = world.deploy("theirs", stack_name="someone-else", record=False, age=timedelta(days=10))
    world.sagemaker.create_endpoint_config(
        EndpointConfigName="untagged",
        ProductionVariants=[
            {
                "VariantName": naming.VARIANT_NAME,
                "ModelName": theirs.sagemaker_model,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    world.sagemaker.create_endpoint(EndpointName="untagged", EndpointConfigName="untagged")
    world.set_age("untagged", created_ago=timedelta(days=10))
    world.set_resource_age(config=theirs.config, model=theirs.sagemaker_model, days_ago=30)

    result = run(lambda_context)

    assert world.endpoints() == {"theirs", "untagged"}
    assert {theirs.config, "untagged"} <= world.configs()
    assert theirs.sagemaker_model in world.models()
    assert result["scanned"] == 0
    assert result["ignored_other_stacks"] == 2


def test_serverless_is_skipped_and_counted(world, lambda_context, emitted):
    world.deploy("tiny", serverless=True, age=timedelta(days=2))

    result = run(lambda_context)

    assert "tiny" in world.endpoints()
    assert result["skipped_by_reason"] == {"serverless": 1}
    assert emitted["EndpointsSkipped_serverless"] == 1


def test_serverless_without_tag_is_found_before_deleting(world, lambda_context):
    """A serverless endpoint the tags and registry do not flag is recognised by DescribeEndpoint."""
    world.deploy("hidden", serverless=True, age=timedelta(days=2), record=False)
    world.sagemaker.add_tags(
        ResourceArn=world.sagemaker.describe_endpoint(EndpointName="hidden")["EndpointArn"],
        Tags=[{"Key": "sagedrop:serverless", "Value": "false"}],
    )

    result = run(lambda_context)

    assert "hidden" in world.endpoints()
    assert result["skipped_by_reason"] == {"serverless": 1}


@pytest.mark.parametrize("status", ["Creating", "Updating", "Failed"])
def test_endpoints_not_in_service_are_left_to_deploy(world, lambda_context, status):
    world.deploy("moving", age=timedelta(days=1))
    world.set_status("moving", status)

    result = run(lambda_context)

    assert "moving" in world.endpoints()
    assert result["skipped_by_reason"] == {"not_in_service": 1}


def test_a_deploy_in_progress_in_the_registry_keeps_the_endpoint(world, lambda_context):
    world.deploy("rolling", age=timedelta(hours=6))
    world.registry.update("rolling", {"status": "deploying"})

    result = run(lambda_context)

    assert "rolling" in world.endpoints()
    assert result["skipped_by_reason"] == {"deploying": 1}


def test_autoscaling_is_deregistered_before_the_endpoint_is_deleted(world, lambda_context):
    scaled = world.deploy("scaled", instance_type="ml.c5.xlarge", instance_count=2)
    resource_id = world.register_autoscaling(scaled.endpoint)
    other = world.register_autoscaling("someone-elses-endpoint")

    result = run(lambda_context)

    assert world.scalable_targets() == [other]
    entry = decision(result, "scaled")
    assert entry["deregistered_autoscaling"] == [f"{resource_id} (sagemaker:variant:DesiredInstanceCount)"]
    assert entry["hourly_cost_usd"] == pytest.approx(0.408)
    assert "scaled" not in world.endpoints()


# ------------------------------------------------------------------ dry run


def test_dry_run_deletes_nothing_and_reports(world, stack, lambda_context, monkeypatch, emitted):
    monkeypatch.setenv("DRY_RUN", "true")
    idle = world.deploy("idle")
    job, _ = world.retrain_leftovers("idle", job_time=datetime(2026, 10, 1, tzinfo=UTC), digest="0ld0ld", days_ago=30)

    result = run(lambda_context)

    assert idle.endpoint in world.endpoints()
    assert job in world.configs() and job in world.models()
    assert stack.registry_item("idle")["status"] == "in_service"
    assert result["dry_run"] is True
    assert [(h["endpoint"], h["action"]) for h in result["hibernated"]] == [("idle", "would_hibernate")]
    assert [(o["kind"], o["name"], o["action"]) for o in result["orphans_deleted"]] == [
        ("endpoint-config", job, "would_delete"),
        ("model", job, "would_delete"),
    ]
    notes = stack.notifications()
    assert len(notes) == 1
    assert notes[0]["subject"] == (
        "[sagedrop] cleanup (dry run): would hibernate 1 idle endpoint, would delete 2 unused config/model(s)"
    )
    assert "dry run, nothing deleted" in notes[0]["message"]
    assert notes[0]["attributes"]["event"] == "cleanup_dry_run"
    metrics = emitted
    assert metrics["_dimensions"]["mode"] == "dry_run"
    assert metrics["EndpointsHibernated"] == 1


def test_manual_dry_run_event_cannot_delete(world, lambda_context):
    world.deploy("idle")

    result = run(lambda_context, {"dry_run": True})

    assert "idle" in world.endpoints()
    assert result["dry_run"] is True
    assert result["trigger"] == "manual"


# ------------------------------------------------------------------ orphans


def test_orphans_are_removed_after_the_retention_and_kept_before_it(world, stack, lambda_context):
    live = world.deploy("churn", age=timedelta(minutes=10))  # young: stays, and so do its config and model
    old_job, _ = world.retrain_leftovers(
        "churn", job_time=datetime(2026, 10, 1, tzinfo=UTC), digest="aaaaaa", days_ago=20
    )
    recent_job, _ = world.retrain_leftovers(
        "churn", job_time=datetime(2026, 11, 22, tzinfo=UTC), digest="bbbbbb", days_ago=3
    )
    world.set_resource_age(config=live.config, model=live.sagemaker_model, days_ago=30)  # old but in use

    result = run(lambda_context)

    assert old_job not in world.configs() and old_job not in world.models()
    assert {recent_job, live.config} <= world.configs()
    assert {recent_job, live.sagemaker_model} <= world.models()
    assert sorted((o["kind"], o["name"], o["action"]) for o in result["orphans_deleted"]) == [
        ("endpoint-config", old_job, "deleted"),
        ("model", old_job, "deleted"),
    ]
    assert "churn" in world.endpoints()
    assert [(o["kind"], o["name"], o["reason"]) for o in result["orphans_kept"]] == [
        ("endpoint-config", live.config, "in_registry"),
        ("model", live.sagemaker_model, "in_registry"),
    ]
    notes = stack.notifications()
    assert len(notes) == 1
    assert notes[0]["subject"] == "[sagedrop] cleanup: deleted 2 unused config/model(s)"


def test_an_old_model_whose_config_is_still_young_is_kept(world, lambda_context):
    world.deploy("churn", age=timedelta(minutes=10))
    job, _ = world.retrain_leftovers("churn", job_time=datetime(2026, 11, 1, tzinfo=UTC), digest="dddddd", days_ago=3)
    world.set_resource_age(model=job, days_ago=10)  # the model crossed the retention, its config did not

    result = run(lambda_context)

    assert job in world.configs() and job in world.models()
    assert [(o["kind"], o["name"], o["reason"]) for o in result["orphans_kept"]] == [("model", job, "config_kept")]


def test_a_config_an_endpoint_uses_is_kept_even_when_the_registry_forgot_it(world, lambda_context):
    rolled = world.deploy("rolled", age=timedelta(minutes=5))
    newer_job = naming.job_name("rolled", datetime(2026, 11, 25, tzinfo=UTC), "cccccc")
    world.registry.update("rolled", {"endpoint_config": newer_job, "sagemaker_model": newer_job})
    world.registry.update("rolled", {"serving_job": newer_job, "latest_job": newer_job})
    world.set_resource_age(config=rolled.config, model=rolled.sagemaker_model, days_ago=40)

    result = run(lambda_context)

    assert rolled.config in world.configs()
    assert rolled.sagemaker_model in world.models()
    assert result["orphans_deleted"] == []
    assert [(o["kind"], o["name"], o["reason"]) for o in result["orphans_kept"]] == [
        ("endpoint-config", rolled.config, "in_use"),
        ("model", rolled.sagemaker_model, "in_use"),
    ]


def test_a_hibernated_models_config_and_model_are_never_orphans(world, stack, lambda_context):
    sleepy = world.deploy("sleepy", age=timedelta(days=20))
    world.set_resource_age(config=sleepy.config, model=sleepy.sagemaker_model, days_ago=20)

    run(lambda_context)
    run(lambda_context)  # the next tick: the endpoint is gone, the registry still needs the config

    assert sleepy.endpoint not in world.endpoints()
    assert sleepy.config in world.configs()
    assert sleepy.sagemaker_model in world.models()
    assert stack.registry_item("sleepy")["status"] == "hibernated"


# ------------------------------------------------------------------ events and failures


def test_the_schedulers_event_from_events_folder_is_accepted(world, lambda_context):
    assert load_event("cleanup", "scheduled.json") == {}
    world.deploy("idle")

    result = run(lambda_context, load_event("cleanup", "scheduled.json"))

    assert result["trigger"] == "scheduler"
    assert [h["endpoint"] for h in result["hibernated"]] == ["idle"]


def test_a_classic_scheduled_rule_event_is_accepted(world, lambda_context):
    world.deploy("idle")

    result = run(lambda_context, CLASSIC_SCHEDULED_EVENT)

    assert result["trigger"] == "rule:" + CLASSIC_SCHEDULED_EVENT["resources"][0]
    assert [h["endpoint"] for h in result["hibernated"]] == ["idle"]


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_non_object_event_is_refused_clearly(world, lambda_context):
    with pytest.raises(ValueError, match="expects a JSON object"):
        run(lambda_context, ["not", "an", "object"])


def test_throttling_on_one_endpoint_reports_the_others_then_raises(world, stack, lambda_context):
    world.deploy("first", digest="000001")
    world.deploy("second", digest="000002")
    app = load_function("cleanup")

    def throttle_second(params, **_):
        if params.get("EndpointName") == "second":
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}, "ResponseMetadata": {}},
                "DeleteEndpoint",
            )

    app.clients.sagemaker.meta.events.register("before-parameter-build.sagemaker.DeleteEndpoint", throttle_second)

    with pytest.raises(CleanupIncomplete, match="hibernate second: ThrottlingException: Rate exceeded"):
        app.handler(load_event("cleanup", "scheduled.json"), lambda_context)

    assert world.endpoints() == {"second"}
    assert stack.registry_item("first")["status"] == "hibernated"
    assert stack.registry_item("second")["status"] == "in_service"
    notes = stack.notifications()
    assert len(notes) == 1
    assert "ThrottlingException" in notes[0]["message"]


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_missing_environment_variable_is_a_clear_deployment_error(world, lambda_context, monkeypatch):
    monkeypatch.setenv("DRY_RUN", "maybe")
    with pytest.raises(Exception, match="DRY_RUN must be 'true' or 'false'"):
        run(lambda_context)


# ------------------------------------------------------------------ the cycle with the predict function


def test_cycle_with_predict_hibernate_then_a_prediction_wakes_it(world, stack, lambda_context):
    """Hibernate, a prediction wakes it (503 + Retry-After), the endpoint exists again from the kept config."""
    churn = world.deploy("churn", age=timedelta(hours=6))
    world.invocations("churn", count=12, minutes_ago=150)  # used, but not within the window

    result = run(lambda_context)

    assert [h["endpoint"] for h in result["hibernated"]] == ["churn"]
    assert churn.endpoint not in world.endpoints()
    item = stack.registry_item("churn")
    assert item["status"] == "hibernated"
    # Everything a wake needs is kept: the config the registry names still exists, with its model.
    config = world.sagemaker.describe_endpoint_config(EndpointConfigName=item["endpoint_config"])
    assert [v["ModelName"] for v in config["ProductionVariants"]] == [item["sagemaker_model"]]
    assert [v["VariantName"] for v in config["ProductionVariants"]] == [item["variant"]]
    assert item["sagemaker_model"] in world.models()
    assert item["endpoint"] == churn.endpoint

    event = load_event("predict", "post-predictions-csv.json")
    response = load_function("predict").handler(event, lambda_context)
    assert response["statusCode"] == 503
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    multi = {k.lower(): v for k, v in (response.get("multiValueHeaders") or {}).items()}
    assert "retry-after" in headers or "retry-after" in multi
    assert churn.endpoint in world.endpoints()
    woken = world.sagemaker.describe_endpoint(EndpointName=churn.endpoint)
    assert woken["EndpointConfigName"] == item["endpoint_config"]
    assert stack.registry_item("churn")["status"] == "waking"
