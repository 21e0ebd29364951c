"""Train: an S3 ObjectCreated event for a ``training.json`` starts one SageMaker training job; one for a
``batch.json`` starts one batch transform job (the template's ``BatchDropped`` notification).

Both drops start a SageMaker job from files of the data bucket with the stack's one SageMaker role, so
they share this function: its policy already reads the data bucket and passes only that role, and the
batch trigger adds only tagged CreateTransformJob and the ManifestFile it writes under ``batch/``.

Thin handler: parse the S3 event, hand each manifest to the domain's TrainingLauncher, count
the outcomes. A user's mistake is recorded and notified by the domain and never raised; AWS
errors that may pass propagate so Lambda retries and the on-failure destination keeps the event.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from sagedrop import naming
from sagedrop.aws import Clients
from sagedrop.batch import BATCH_FILE
from sagedrop.batch_jobs import BatchContext, BatchLauncher
from sagedrop.datacheck import S3Store
from sagedrop.notify import Notifier
from sagedrop.observability import MetricUnit, logger, metrics, tracer
from sagedrop.registry import Registry
from sagedrop.settings import TrainFunctionSettings
from sagedrop.training import StackContext, TrainingLauncher

clients = Clients()


def settings() -> TrainFunctionSettings:
    """The function's environment (sagedrop.settings), read where a launcher is built."""
    return TrainFunctionSettings.from_env()


@cache
def launcher() -> TrainingLauncher:
    config = settings()
    return TrainingLauncher(
        StackContext(config.common.stack, clients.region, config.role_arn, config.artifact_bucket, config.defaults),
        s3=clients.s3,
        store=S3Store(clients.s3),
        sagemaker=clients.sagemaker,
        registry_=Registry(config.common.registry_table, clients.dynamodb),
        notifier=Notifier(config.common.topic_arn, clients.sns),
    )


@cache
def batch_launcher() -> BatchLauncher:
    config = settings()
    return BatchLauncher(
        BatchContext(config.common.stack, config.artifact_bucket, config.defaults.hosting_instance_type),
        s3=clients.s3,
        sagemaker=clients.sagemaker,
        registry_=Registry(config.common.registry_table, clients.dynamodb),
        notifier=Notifier(config.common.topic_arn, clients.sns),
    )


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@event_source(data_class=S3Event)
def handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    results = []
    for manifest in naming.dropped_objects(event):
        logger.append_keys(manifest=manifest.uri)
        if manifest.key.rsplit("/", 1)[-1] == BATCH_FILE:
            batch = batch_launcher().handle(manifest)
            metrics.add_metric(name=f"Batch_{batch.status}", unit=MetricUnit.Count, value=1)
            results.append({"manifest": manifest.uri, **batch.to_dict()})
            continue
        outcome = launcher().handle(manifest)
        metrics.add_metric(name=f"Manifest_{outcome.status}", unit=MetricUnit.Count, value=1)
        results.append(
            {
                "manifest": manifest.uri,
                "status": outcome.status,
                "model": outcome.model,
                "job": outcome.job,
                "message": outcome.message,
            }
        )
    return {"results": results}
