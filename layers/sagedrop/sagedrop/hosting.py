"""The SageMaker side of hosting a release: what it creates, and the calls that classify SageMaker's answers.

A :class:`Release` is everything needed to host one job's (or one drop's) model. :class:`SageMakerHosting`
creates its model and endpoint config (each once, tagged), tells an instance-based endpoint from a
serverless one, prunes old configs and models, and turns SageMaker's refusals into the user's
:class:`DeployError` (the classes of errors, missing, already existing, in progress, refused, are
:mod:`sagedrop.aws_errors`'s): :class:`~sagedrop.deploy.Deployer` decides what to do with the endpoint.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sagedrop import naming, tags
from sagedrop.algorithms.base import Algorithm
from sagedrop.aws_errors import (
    already_exists,
    describe_or_none,
    error_message,
    exists,
    is_not_found,
    is_quota,
    is_validation,
    refusal_problem,
    resource_tags,
)
from sagedrop.errors import UserError
from sagedrop.manifest import DeploySettings

log = logging.getLogger("sagedrop.deploy")

_STAMP = re.compile(r"-(\d{8})-(\d{6})-([0-9a-f]{6})$")


def job_order(job: str) -> tuple[str, str, str]:
    """Sort key of a job name: the drop's time, then the hash, then the name itself."""
    match = _STAMP.search(job)
    if not match:
        return ("", "", job)
    return (match.group(1) + match.group(2), match.group(3), job)


def newer(job: str | None, than: str | None) -> bool:
    """True when ``job`` was started by a later drop than ``than`` (None is older than anything)."""
    if not job:
        return False
    if not than:
        return True
    return job_order(job) > job_order(than)


KEEP_NEWEST = 2
"""After a swap, endpoint configs and models of a model beyond the two newest are deleted."""


class DeployError(UserError):
    """A job passed its gate but cannot be deployed as asked: the user must act."""

    kind = "cannot deploy"

    def describe(self) -> str:
        head = f"cannot deploy {self.source}" if self.source else "cannot deploy"
        lines = [head + ":"]
        lines.extend(f"  - {problem}" for problem in self.problems)
        return "\n".join(lines)


@dataclass(frozen=True)
class Release:
    """Everything needed to host one job's model."""

    model: str
    job: str
    algorithm: Algorithm
    version: str
    settings: DeploySettings
    endpoint: str
    image: str
    model_data: str
    manifest: str
    instance_type: str | None
    record: Mapping[str, Any]

    @property
    def sagemaker_model(self) -> str:
        return naming.sagemaker_model_name(self.job)

    @property
    def endpoint_config(self) -> str:
        return naming.endpoint_config_name(self.job)

    @property
    def serverless(self) -> bool:
        return self.settings.serverless is not None

    @property
    def network_isolation(self) -> bool:
        """EnableNetworkIsolation of the model: on for instance hosting where the algorithm allows it, off
        behind a ServerlessConfig: network isolation is among Serverless Inference's excluded features
        (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html, "Feature exclusions")."""
        return self.algorithm.supports_network_isolation and not self.serverless

    def hosting_tags(self, stack: str) -> dict[str, str]:
        """The tags of the model, endpoint config and endpoint (cleanup reads them)."""
        tag_map = tags.base_tags(stack, self.model, self.manifest, self.record.get("manifest_version"))
        tag_map[tags.ALGORITHM] = self.algorithm.name
        tag_map[tags.IDLE_MINUTES] = str(self.settings.idle_minutes)
        tag_map[tags.KEEP_ALIVE] = str(self.settings.keep_alive).lower()
        tag_map[tags.SERVERLESS] = str(self.serverless).lower()
        return tag_map

    def describe_hosting(self) -> str:
        if self.settings.serverless is not None:
            s = self.settings.serverless
            return f"serverless, {s.memory_mb} MB, up to {s.max_concurrency} concurrent requests"
        count = self.settings.instance_count
        return f"{count} x {self.instance_type}"


def refused_as_serverless(exc: BaseException) -> bool:
    """UpdateEndpoint's ValidationError for an instance-based endpoint asked to become serverless."""
    return is_validation(exc) and "serverless" in error_message(exc).lower()


class SageMakerHosting:
    """SageMaker calls of the deploy flow, with their errors classified (user's, missing, retryable)."""

    def __init__(self, sagemaker: Any, stack: str, role_arn: str) -> None:
        self._sm = sagemaker
        self.stack = stack
        self.role_arn = role_arn

    def ensure_hosting(self, release: Release) -> None:
        """The SageMaker model and endpoint config of the job (each created once, tagged)."""
        tag_list = tags.to_list(release.hosting_tags(self.stack))
        if not exists(self._sm.describe_model, ModelName=release.sagemaker_model):
            self.create(
                "CreateModel",
                self._sm.create_model,
                ModelName=release.sagemaker_model,
                PrimaryContainer={"Image": release.image, "ModelDataUrl": release.model_data},
                ExecutionRoleArn=self.role_arn,
                EnableNetworkIsolation=release.network_isolation,
                Tags=tag_list,
                _job=release.job,
            )
        if not exists(self._sm.describe_endpoint_config, EndpointConfigName=release.endpoint_config):
            variant: dict[str, Any] = {"VariantName": naming.VARIANT_NAME, "ModelName": release.sagemaker_model}
            if release.settings.serverless is not None:
                variant["ServerlessConfig"] = {
                    "MemorySizeInMB": release.settings.serverless.memory_mb,
                    "MaxConcurrency": release.settings.serverless.max_concurrency,
                }
            else:
                variant["InstanceType"] = release.instance_type
                variant["InitialInstanceCount"] = release.settings.instance_count
                variant["InitialVariantWeight"] = 1.0
            self.create(
                "CreateEndpointConfig",
                self._sm.create_endpoint_config,
                EndpointConfigName=release.endpoint_config,
                ProductionVariants=[variant],
                Tags=tag_list,
                _job=release.job,
            )

    def serves_on_instances(self, described: Mapping[str, Any]) -> bool:
        """True when the endpoint's live config hosts on instances (no ServerlessConfig); unknown is False
        (then UpdateEndpoint is tried, and its refusal still leads to :meth:`_replace`)."""
        live = described.get("EndpointConfigName")
        if not live:
            return False
        config = describe_or_none(self._sm.describe_endpoint_config, EndpointConfigName=live)
        if config is None:
            return False
        variants = config.get("ProductionVariants") or []
        return bool(variants) and not any(v.get("ServerlessConfig") for v in variants)

    # ---- pruning

    def prune(self, model: str, protect: set[str]) -> None:
        """Delete endpoint configs and models of ``model`` beyond the two newest that no endpoint uses.

        Best effort: an error here is logged and the next swap prunes again.
        """
        try:
            configs = {
                c["EndpointConfigName"]: c["EndpointConfigArn"]
                for page in self._sm.get_paginator("list_endpoint_configs").paginate(NameContains=model)
                for c in page.get("EndpointConfigs", [])
                if naming.model_of_job(c["EndpointConfigName"]) == model
            }
            models = {
                m["ModelName"]: m["ModelArn"]
                for page in self._sm.get_paginator("list_models").paginate(NameContains=model)
                for m in page.get("Models", [])
                if naming.model_of_job(m["ModelName"]) == model
            }
            keep_configs = set(sorted(configs, key=job_order, reverse=True)[:KEEP_NEWEST]) | protect
            keep_models = set(sorted(models, key=job_order, reverse=True)[:KEEP_NEWEST]) | protect | keep_configs
            old_configs = [name for name in configs if name not in keep_configs]
            old_models = [name for name in models if name not in keep_models]
            if not old_configs and not old_models:
                return
            used_configs, used_models = self.hosting_in_use()
            for name in sorted(old_configs, key=job_order):
                if name in used_configs or not tags.owned_by(self.tags(configs[name]), self.stack):
                    continue
                self._sm.delete_endpoint_config(EndpointConfigName=name)
                log.info("old endpoint config deleted", extra={"config": name})
            for name in sorted(old_models, key=job_order):
                if name in used_models or not tags.owned_by(self.tags(models[name]), self.stack):
                    continue
                self._sm.delete_model(ModelName=name)
                log.info("old model deleted", extra={"sagemaker_model": name})
        except Exception as exc:  # pruning must never undo a finished deploy
            log.warning("pruning old configs and models failed; the next swap retries", extra={"error": str(exc)})

    def hosting_in_use(self) -> tuple[set[str], set[str]]:
        """Endpoint configs (live or being rolled out) and models used by any endpoint of the account."""
        configs: set[str] = set()
        for page in self._sm.get_paginator("list_endpoints").paginate():
            for summary in page.get("Endpoints", []):
                described = self.describe_endpoint(summary["EndpointName"])
                if described is None:
                    continue
                if described.get("EndpointConfigName"):
                    configs.add(described["EndpointConfigName"])
                pending = (described.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
                if pending:
                    configs.add(pending)
        models: set[str] = set()
        for name in configs:
            config = describe_or_none(self._sm.describe_endpoint_config, EndpointConfigName=name)
            if config is None:
                continue
            models.update(v["ModelName"] for v in config.get("ProductionVariants", []) if v.get("ModelName"))
        return configs, models

    def describe_job(self, name: str) -> dict[str, Any] | None:
        return describe_or_none(self._sm.describe_training_job, TrainingJobName=name)

    def describe_endpoint(self, name: str) -> dict[str, Any] | None:
        return describe_or_none(self._sm.describe_endpoint, EndpointName=name)

    def tags(self, arn: str) -> dict[str, str] | None:
        """The resource's tags (None when it does not exist)."""
        return resource_tags(self._sm, arn)

    def create(self, action: str, create: Callable[..., Any], *, _job: str, **kwargs: Any) -> None:
        try:
            create(**kwargs)
        except Exception as exc:
            if already_exists(exc):
                return
            self.raise_for_user(exc, action, _job)

    def raise_for_user(self, exc: BaseException, action: str, job: str) -> None:
        """SageMaker refused the request itself: the user must act (else: re-raise for a retry)."""
        hint = (
            "ask for a higher SageMaker quota or delete endpoints you do not use"
            if is_quota(exc)
            else "check deploy.instance_type/instance_count/serverless in the manifest"
        )
        problem = refusal_problem(exc, action, hint)
        if problem is None:
            raise exc
        raise DeployError(problem, source=job) from exc

    def delete_endpoint(self, name: str) -> None:
        try:
            self._sm.delete_endpoint(EndpointName=name)
        except Exception as exc:
            if not is_not_found(exc):
                raise
        log.warning("failed endpoint deleted", extra={"endpoint": name})
