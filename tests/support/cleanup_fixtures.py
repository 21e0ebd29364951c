"""Managed endpoints on moto, made the way the deploy function makes them, for cleanup tests.

``CleanupWorld.deploy`` creates a SageMaker model, an endpoint config with one production variant
named ``naming.VARIANT_NAME`` (plus optional extra variants) and an endpoint, all tagged
``sagedrop:stack``, ``sagedrop:model``, ``sagedrop:manifest``, ``sagedrop:idle-minutes``,
``sagedrop:keep-alive`` and ``sagedrop:serverless``, and writes the registry summary fields of
``sagedrop.registry`` (endpoint, endpoint_config, sagemaker_model, variant, serverless,
idle_minutes, keep_alive, deployed_at, status ``in_service``).

Traffic is seeded with ``put_metric_data`` into ``AWS/SageMaker`` ``Invocations`` with both
dimensions, EndpointName and VariantName, as SageMaker publishes it. Ages are set by patching the
creation and last-modified times in moto's SageMaker backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from sagedrop import naming, registry, tags
from tests.conftest import ACCOUNT, REGION

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
JOB_TIME = datetime(2026, 11, 20, 10, 15, 0, tzinfo=UTC)

# A classic EventBridge scheduled rule's event (the shape of the EventBridge documentation's example).
CLASSIC_SCHEDULED_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "89d1a02d-5ec7-412e-82f5-13505f849b41",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": ACCOUNT,
    "time": "2026-11-26T10:00:00Z",
    "region": REGION,
    "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/sagedrop-test-CleanupFunctionSchedule"],
    "detail": {},
}


@dataclass(frozen=True)
class Managed:
    """One deployed model: the names of its job, SageMaker model, endpoint config and endpoint."""

    model: str
    job: str
    endpoint: str
    config: str
    sagemaker_model: str
    variants: tuple[str, ...]
    stack: str


def _naive(moment: datetime) -> datetime:
    """moto keeps SageMaker times as naive UTC datetimes."""
    return moment.astimezone(UTC).replace(tzinfo=None)


class CleanupWorld:
    """Helpers around a MotoStack (``tests.support.stack``) for the cleanup function."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.sagemaker = stack.sagemaker
        self.cloudwatch = boto3.client("cloudwatch", region_name=stack.region)
        self.autoscaling = boto3.client("application-autoscaling", region_name=stack.region)
        self.dynamodb = stack.clients["dynamodb"]
        self.registry = registry.Registry(stack.table, self.dynamodb)

    @property
    def backend(self) -> Any:
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[ACCOUNT][self.stack.region]

    # ---- deploy ---------------------------------------------------------------------------

    def deploy(
        self,
        model: str,
        *,
        stack_name: str | None = None,
        endpoint: str | None = None,
        job_time: datetime = JOB_TIME,
        digest: str = "a1b2c3",
        instance_type: str = "ml.m5.large",
        instance_count: int = 1,
        serverless: bool = False,
        idle_minutes: int | None = 120,
        keep_alive: bool = False,
        extra_variants: Sequence[str] = (),
        age: timedelta = timedelta(hours=6),
        record: bool = True,
        create_endpoint: bool = True,
    ) -> Managed:
        """Model + endpoint config + endpoint (``age`` old) + registry summary, as deploy leaves them."""
        owner = stack_name or self.stack.name
        job = naming.job_name(model, job_time, digest)
        config = naming.endpoint_config_name(job)
        sm_model = naming.sagemaker_model_name(job)
        endpoint = naming.endpoint_name(model, endpoint)
        manifest = f"s3://{self.stack.data_bucket}/{model}/training.json"
        tag_map = tags.base_tags(owner, model, manifest)
        if idle_minutes is not None:
            tag_map[tags.IDLE_MINUTES] = str(idle_minutes)
        tag_map[tags.KEEP_ALIVE] = str(keep_alive).lower()
        tag_map[tags.SERVERLESS] = str(serverless).lower()
        tag_list = tags.to_list(tag_map)

        self.sagemaker.create_model(
            ModelName=sm_model,
            ExecutionRoleArn=self.stack.role_arn,
            PrimaryContainer={
                "Image": IMAGE,
                "ModelDataUrl": f"s3://{self.stack.artifact_bucket}/models/{model}/{job}/output/model.tar.gz",
            },
            Tags=tag_list,
        )
        variants = [naming.VARIANT_NAME, *extra_variants]
        production = []
        for name in variants:
            variant: dict[str, Any] = {"VariantName": name, "ModelName": sm_model}
            if serverless:
                variant["ServerlessConfig"] = {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
            else:
                variant.update(
                    {
                        "InstanceType": instance_type,
                        "InitialInstanceCount": instance_count,
                        "InitialVariantWeight": 1.0,
                    }
                )
            production.append(variant)
        self.sagemaker.create_endpoint_config(EndpointConfigName=config, ProductionVariants=production, Tags=tag_list)
        self._fix_config_arn(config)
        if create_endpoint:
            self.sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config, Tags=tag_list)
            self.set_age(endpoint, created_ago=age)
        if record:
            summary = {
                "status": registry.IN_SERVICE,
                "algorithm": "xgboost",
                "stack": owner,
                "latest_job": job,
                "serving_job": job,
                "endpoint": endpoint,
                "endpoint_config": config,
                "sagemaker_model": sm_model,
                "variant": naming.VARIANT_NAME,
                "serverless": serverless,
                "keep_alive": keep_alive,
                "deployed_at": registry.now_iso(),
            }
            if idle_minutes is not None:
                summary["idle_minutes"] = idle_minutes
            self.registry.update(model, summary)
        return Managed(model, job, endpoint, config, sm_model, tuple(variants), owner)

    def deploy_many(self, models: Sequence[str], *, age: timedelta = timedelta(hours=6)) -> list[Managed]:
        """Many endpoints as :meth:`deploy` makes them (same names, tags, registry fields), written
        straight into moto's backend and with batched registry writes: for benchmarks."""
        made = []
        items = []
        for index, model in enumerate(models):
            job = naming.job_name(model, JOB_TIME, f"{index:06x}"[-6:])
            tag_list = tags.to_list(
                {
                    **tags.base_tags(self.stack.name, model, f"s3://{self.stack.data_bucket}/{model}/training.json"),
                    tags.IDLE_MINUTES: "120",
                    tags.KEEP_ALIVE: "false",
                    tags.SERVERLESS: "false",
                }
            )
            self.backend.create_model(job, self.stack.role_arn, {"Image": IMAGE}, None, None, tag_list)
            variant = {
                "VariantName": naming.VARIANT_NAME,
                "ModelName": job,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": 1.0,
            }
            self.backend.create_endpoint_config(job, [variant], {}, {}, tag_list, "")
            self._fix_config_arn(job)
            self.backend.create_endpoint(model, job, tag_list)
            self.set_age(model, created_ago=age)
            items.append(
                registry.to_item(
                    {
                        "model": model,
                        "record": registry.SUMMARY,
                        "status": registry.IN_SERVICE,
                        "stack": self.stack.name,
                        "latest_job": job,
                        "serving_job": job,
                        "endpoint": model,
                        "endpoint_config": job,
                        "sagemaker_model": job,
                        "variant": naming.VARIANT_NAME,
                        "serverless": False,
                        "idle_minutes": 120,
                        "keep_alive": False,
                        "deployed_at": registry.now_iso(),
                    }
                )
            )
            made.append(Managed(model, job, model, job, job, (naming.VARIANT_NAME,), self.stack.name))
        for start in range(0, len(items), 25):
            self.dynamodb.batch_write_item(
                RequestItems={self.stack.table: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
            )
        return made

    def retrain_leftovers(self, model: str, *, job_time: datetime, digest: str, days_ago: float) -> tuple[str, str]:
        """An older job's endpoint config and model (what a retrain leaves behind), ``days_ago`` old."""
        job = naming.job_name(model, job_time, digest)
        tag_list = tags.to_list(
            {
                **tags.base_tags(self.stack.name, model, f"s3://{self.stack.data_bucket}/{model}/training.json"),
                tags.IDLE_MINUTES: "120",
                tags.KEEP_ALIVE: "false",
                tags.SERVERLESS: "false",
            }
        )
        self.sagemaker.create_model(
            ModelName=job, ExecutionRoleArn=self.stack.role_arn, PrimaryContainer={"Image": IMAGE}, Tags=tag_list
        )
        self.sagemaker.create_endpoint_config(
            EndpointConfigName=job,
            ProductionVariants=[
                {
                    "VariantName": naming.VARIANT_NAME,
                    "ModelName": job,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
            Tags=tag_list,
        )
        self._fix_config_arn(job)
        self.set_resource_age(config=job, model=job, days_ago=days_ago)
        return job, job

    def _fix_config_arn(self, name: str) -> None:
        """moto 5.2 stores an endpoint config's ``arn`` as a 1-tuple, so the tagging API returns
        ``"('arn:...',)"`` for it; AWS returns the ARN. Put the string back."""
        fake = self.backend.endpoint_configs[name]
        if isinstance(fake.arn, tuple):
            fake.arn = fake.endpoint_config_arn

    # ---- time, state and traffic ----------------------------------------------------------

    def set_age(self, endpoint: str, *, created_ago: timedelta, modified_ago: timedelta | None = None) -> None:
        now = datetime.now(UTC)
        fake = self.backend.endpoints[endpoint]
        fake.creation_time = _naive(now - created_ago)
        fake.last_modified_time = _naive(now - (created_ago if modified_ago is None else modified_ago))

    def set_resource_age(self, *, config: str | None = None, model: str | None = None, days_ago: float) -> None:
        moment = _naive(datetime.now(UTC) - timedelta(days=days_ago))
        if config:
            self.backend.endpoint_configs[config].creation_time = moment
        if model:
            self.backend._models[model].creation_time = moment

    def set_status(self, endpoint: str, status: str) -> None:
        self.backend.endpoints[endpoint].endpoint_status = status

    def invocations(
        self,
        endpoint: str,
        *,
        variant: str = naming.VARIANT_NAME,
        count: float = 1.0,
        minutes_ago: float = 5,
    ) -> None:
        """One minute of ``Invocations`` for the endpoint's variant, as SageMaker publishes it."""
        self.cloudwatch.put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {
                    "MetricName": "Invocations",
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": endpoint},
                        {"Name": "VariantName", "Value": variant},
                    ],
                    "Timestamp": datetime.now(UTC) - timedelta(minutes=minutes_ago),
                    "Value": count,
                    "Unit": "None",
                }
            ],
        )

    def register_autoscaling(self, endpoint: str, variant: str = naming.VARIANT_NAME) -> str:
        resource_id = f"endpoint/{endpoint}/variant/{variant}"
        self.autoscaling.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=resource_id,
            ScalableDimension="sagemaker:variant:DesiredInstanceCount",
            MinCapacity=1,
            MaxCapacity=4,
        )
        return resource_id

    def scalable_targets(self) -> list[str]:
        targets = self.autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
        return [t["ResourceId"] for t in targets]

    # ---- what exists ----------------------------------------------------------------------

    def endpoints(self) -> set[str]:
        return set(self.backend.endpoints)

    def configs(self) -> set[str]:
        return set(self.backend.endpoint_configs)

    def models(self) -> set[str]:
        return set(self.backend._models)
