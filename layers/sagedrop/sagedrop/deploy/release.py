"""Everything needed to host one job's model (a :class:`~sagedrop.hosting.Release`), or the user's problems."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagedrop import algorithms, naming, registry, tags
from sagedrop.algorithms.base import Algorithm
from sagedrop.errors import Problem
from sagedrop.hosting import DeployError, Release, SageMakerHosting
from sagedrop.manifest import DeploySettings

from .context import SOURCE_PRETRAINED, DeployContext


class Releases:
    """Builds releases from the job record, the training job (described again when not given) and its tags."""

    def __init__(self, ctx: DeployContext, registry_: registry.Registry, aws: SageMakerHosting) -> None:
        self.ctx = ctx
        self._registry = registry_
        self._aws = aws

    def build(
        self,
        model: str,
        job: str,
        description: Mapping[str, Any] | None = None,
        record: Mapping[str, Any] | None = None,
        job_tags: Mapping[str, str] | None = None,
    ) -> Release:
        """Everything to host ``job``; DeployError for what the user must fix."""
        record = record if record is not None else self._registry.get_job(model, job)
        where = f"registry {model}/{registry.JOB_PREFIX}{job}"
        if record is None:
            raise DeployError(Problem(where, "no record of this job", "upload training.json again"), source=job)
        if record.get("deploy") is None:
            raise DeployError(Problem("$.deploy", "the manifest says deploy: false"), source=job)
        settings = DeploySettings.from_dict(record["deploy"])
        try:
            algorithm = algorithms.get(str(record.get("algorithm")))
        except algorithms.UnknownAlgorithm as exc:
            raise DeployError(Problem(where, exc.message), source=job) from None
        version = str(record.get("version") or algorithm.default_version)
        pretrained = record.get("source") == SOURCE_PRETRAINED  # no training job: the record has it all
        if description is None and not pretrained:
            description = self._aws.describe_job(job)
            if description is None:
                raise DeployError(Problem(job, "the training job no longer exists"), source=job)
        artifacts = ((description or {}).get("ModelArtifacts") or {}).get("S3ModelArtifacts")
        model_data = artifacts or record.get("model_data")
        if not model_data:
            raise DeployError(
                Problem(job, "the job has no model artifacts (ModelArtifacts.S3ModelArtifacts)"), source=job
            )
        if job_tags is None:
            job_tags = (self._aws.tags(description["TrainingJobArn"]) or {}) if description else {}
        instance_type, image = self._hosting(algorithm, settings, version, job)
        return Release(
            model=model,
            job=job,
            algorithm=algorithm,
            version=version,
            settings=settings,
            endpoint=naming.endpoint_name(model, settings.endpoint_name),
            image=image,
            model_data=model_data,
            manifest=job_tags.get(tags.MANIFEST) or str(record.get("manifest") or ""),
            instance_type=instance_type,
            record=record,
        )

    def _hosting(
        self, algorithm: Algorithm, settings: DeploySettings, version: str, job: str
    ) -> tuple[str | None, str]:
        """The hosting instance type (None: serverless) and inference image, or every problem with them."""
        problems: list[Problem] = []
        if settings.serverless is not None and not algorithm.supports_serverless:
            problems.append(
                Problem(
                    "$.deploy.serverless",
                    f"{algorithm.name} cannot be served serverless ({algorithm.serverless_refusal})",
                    f'remove serverless and use "instance_type", e.g. {algorithm.default_hosting_instance}',
                )
            )
        instance_type = None
        if settings.serverless is None:
            instance_type = settings.instance_type or algorithm.hosting_instance(
                self.ctx.defaults.hosting_instance_type, self.ctx.defaults.gpu_hosting_instance_type
            )
            problems.extend(algorithm.instance_problems(instance_type, "hosting", "$.deploy.instance_type"))
        image = ""
        try:
            image = algorithm.inference_image_uri(self.ctx.region, version)
        except KeyError as exc:
            problems.append(Problem("$.algorithm", str(exc.args[0]), "deploy sagedrop in a region where it exists"))
        if problems:
            raise DeployError(problems, source=job)
        return instance_type, image
