"""Deploy: a training job of this stack ended, one of its endpoints changed state, a trained model was dropped,
or a batch transform job of this stack ended (recorded by :class:`sagedrop.batch_jobs.BatchRecorder`).

Thin handler: an EventBridge event's detail goes to the domain's Deployer by detail type; an S3
event (a ``deploy.json`` dropped beside a ``model.tar.gz``) goes to the PretrainedLauncher record by
record. The outcome is counted. A user's problem (failed job, failed gate, a bad deploy.json or
archive, a deploy SageMaker refuses) is recorded and notified by the domain and never raised;
throttling and AWS 5xx errors propagate so that Lambda retries and the on-failure destination
finally keeps the event.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, S3Event
from aws_lambda_powertools.utilities.typing import LambdaContext

from sagedrop import naming
from sagedrop.aws import Clients
from sagedrop.batch_jobs import TRANSFORM_JOB_STATE_CHANGE, BatchRecorder
from sagedrop.deploy import ENDPOINT_STATE_CHANGE, TRAINING_JOB_STATE_CHANGE, DeployContext, Deployer, Outcome
from sagedrop.notify import Notifier
from sagedrop.observability import MetricUnit, logger, metrics, tracer
from sagedrop.pretrained import PretrainedContext, PretrainedLauncher
from sagedrop.registry import Registry
from sagedrop.settings import DeployFunctionSettings

clients = Clients()
RESERVED_S = 60.0
"""Of the Lambda's remaining time, what the archive scan leaves for the copy and the rollout."""
MIN_SCAN_S = 20.0


@cache
def settings() -> DeployFunctionSettings:
    return DeployFunctionSettings.from_env()


@cache
def deployer() -> Deployer:
    config = settings()
    return Deployer(
        DeployContext(config.common.stack, clients.region, config.role_arn, config.defaults),
        sagemaker=clients.sagemaker,
        registry_=Registry(config.common.registry_table, clients.dynamodb),
        notifier=Notifier(config.common.topic_arn, clients.sns),
    )


@cache
def recorder() -> BatchRecorder:
    config = settings()
    return BatchRecorder(
        config.common.stack,
        sagemaker=clients.sagemaker,
        registry_=Registry(config.common.registry_table, clients.dynamodb),
        notifier=Notifier(config.common.topic_arn, clients.sns),
        s3=clients.s3,
    )


@cache
def launcher() -> PretrainedLauncher:
    config = settings()
    return PretrainedLauncher(
        PretrainedContext(config.common.stack, clients.region, config.artifact_bucket, config.defaults),
        s3=clients.s3,
        deployer=deployer(),
        registry_=Registry(config.common.registry_table, clients.dynamodb),
        notifier=Notifier(config.common.topic_arn, clients.sns),
    )


def _state_change(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(detail_type=event.detail_type, event_id=event.get("id"))
    if event.source != "aws.sagemaker":
        outcome = Outcome("ignored", message=f"events from {event.source!r} are not for this function")
    elif event.detail_type == TRAINING_JOB_STATE_CHANGE:
        outcome = deployer().on_training_job(event.detail)
    elif event.detail_type == ENDPOINT_STATE_CHANGE:
        outcome = deployer().on_endpoint(event.detail)
    elif event.detail_type == TRANSFORM_JOB_STATE_CHANGE:
        remaining_s = context.get_remaining_time_in_millis() / 1000
        deadline = time.monotonic() + max(MIN_SCAN_S, remaining_s - RESERVED_S)  # the labels output's time
        recorded = recorder().on_transform_job(event.detail, deadline)
        logger.info("batch outcome", extra={"outcome": recorded.to_dict()})
        metrics.add_metric(name=f"Batch_{recorded.status}", unit=MetricUnit.Count, value=1)
        return recorded.to_dict()
    else:
        outcome = Outcome("ignored", message=f"detail-type {event.detail_type!r} is not handled")
    logger.info("deploy outcome", extra={"outcome": outcome.to_dict()})
    metrics.add_metric(name=f"Deploy_{outcome.status}", unit=MetricUnit.Count, value=1)
    return outcome.to_dict()


def _drops(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    remaining_s = context.get_remaining_time_in_millis() / 1000
    scan_until = time.monotonic() + max(MIN_SCAN_S, remaining_s - RESERVED_S)
    results = []
    for drop in naming.dropped_objects(event):
        logger.append_keys(manifest=drop.uri)
        outcome = launcher().handle(drop, scan_until=scan_until)
        logger.info("pretrained outcome", extra={"outcome": outcome.to_dict()})
        metrics.add_metric(name=f"Pretrained_{outcome.status}", unit=MetricUnit.Count, value=1)
        results.append({"manifest": drop.uri, **outcome.to_dict()})
    return {"results": results}


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:  # S3 ObjectCreated for deploy.json (the template's PretrainedDropped)
        return _drops(S3Event(event), context)
    return _state_change(EventBridgeEvent(event), context)
