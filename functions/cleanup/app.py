"""Cleanup: on a schedule, hibernate this stack's idle endpoints and remove unused configs and models.

Thin handler: read the trigger (EventBridge Scheduler sends ``{}``; a classic scheduled rule its
"Scheduled Event"; a person may send ``{"dry_run": true}``), run the domain's Cleanup once, turn
its report into metrics. AWS errors that may pass (throttling, 5xx) are raised after the report so
Lambda retries and the schedule's dead-letter queue keeps the event; a retry is idempotent.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagedrop.aws import Clients
from sagedrop.cleanup import SKIP_REASONS, Cleanup, CleanupSettings, Report, Trigger
from sagedrop.notify import Notifier
from sagedrop.observability import MetricUnit, logger, metrics, tracer
from sagedrop.registry import Registry
from sagedrop.settings import CleanupFunctionSettings

clients = Clients(modes={"cloudwatch": "adaptive", "sagemaker": "adaptive"})


def settings() -> CleanupFunctionSettings:
    """The function's environment (sagedrop.settings), read where the run is built."""
    return CleanupFunctionSettings.from_env()


@cache
def cleanup() -> Cleanup:
    config = settings()
    knobs = config.knobs
    return Cleanup(
        CleanupSettings(config.common.stack, knobs.idle_minutes, knobs.dry_run, knobs.orphan_retention_days),
        sagemaker=clients.sagemaker,
        cloudwatch=clients.cloudwatch,
        autoscaling=clients.autoscaling,
        tagging=clients.tagging,
        registry_=Registry(config.common.registry_table, clients.dynamodb),
        notifier=Notifier(config.common.topic_arn, clients.sns),
    )


def record_metrics(report: Report) -> None:
    """Scanned, hibernated, skipped (in total and by reason), orphans and the hourly cost avoided.

    A dry run carries the dimension ``mode=dry_run``: its figures say what would happen.
    """
    if report.dry_run:
        metrics.add_dimension(name="mode", value="dry_run")
    skipped = report.skipped_by_reason
    metrics.add_metric(name="EndpointsScanned", unit=MetricUnit.Count, value=report.scanned)
    metrics.add_metric(name="EndpointsHibernated", unit=MetricUnit.Count, value=len(report.hibernated))
    metrics.add_metric(name="EndpointsSkipped", unit=MetricUnit.Count, value=sum(skipped.values()))
    for reason in sorted(set(SKIP_REASONS) | set(skipped)):
        metrics.add_metric(name=f"EndpointsSkipped_{reason}", unit=MetricUnit.Count, value=skipped.get(reason, 0))
    metrics.add_metric(name="EndpointsFailed", unit=MetricUnit.Count, value=len(report.failed))
    metrics.add_metric(name="OrphansDeleted", unit=MetricUnit.Count, value=len(report.orphans_deleted))
    metrics.add_metric(name="EstimatedHourlyCostAvoidedUSD", unit=MetricUnit.NoUnit, value=report.hourly_cost_avoided)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    trigger = Trigger.from_event(event)
    logger.append_keys(trigger=trigger.source)
    report = cleanup().run(trigger)
    record_metrics(report)
    report.raise_for_errors()
    return report.to_dict()
