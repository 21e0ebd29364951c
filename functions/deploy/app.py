"""Deploy: a training job of this stack ended, or one of its endpoints changed state.

Thin handler: parse the EventBridge event, hand its detail to the domain's Deployer by detail
type, count the outcome. A user's problem (failed job, failed gate, a deploy SageMaker refuses)
is recorded and notified by the domain and never raised; throttling and AWS 5xx errors propagate
so that Lambda retries and the on-failure destination finally keeps the event.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from sagedrop.aws import Clients
from sagedrop.config import Settings
from sagedrop.deploy import ENDPOINT_STATE_CHANGE, TRAINING_JOB_STATE_CHANGE, DeployContext, Deployer, Outcome
from sagedrop.notify import Notifier
from sagedrop.observability import MetricUnit, logger, metrics, tracer
from sagedrop.registry import Registry

clients = Clients()


@cache
def deployer() -> Deployer:
    settings = Settings.from_env()
    return Deployer(
        DeployContext(settings.stack, clients.region, settings.role_arn, settings.defaults),
        sagemaker=clients.sagemaker,
        registry_=Registry(settings.registry_table, clients.dynamodb),
        notifier=Notifier(settings.topic_arn, clients.sns),
    )


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(detail_type=event.detail_type, event_id=event.get("id"))
    if event.source != "aws.sagemaker":
        outcome = Outcome("ignored", message=f"events from {event.source!r} are not for this function")
    elif event.detail_type == TRAINING_JOB_STATE_CHANGE:
        outcome = deployer().on_training_job(event.detail)
    elif event.detail_type == ENDPOINT_STATE_CHANGE:
        outcome = deployer().on_endpoint(event.detail)
    else:
        outcome = Outcome("ignored", message=f"detail-type {event.detail_type!r} is not handled")
    logger.info("deploy outcome", extra={"outcome": outcome.to_dict()})
    metrics.add_metric(name=f"Deploy_{outcome.status}", unit=MetricUnit.Count, value=1)
    return outcome.to_dict()
