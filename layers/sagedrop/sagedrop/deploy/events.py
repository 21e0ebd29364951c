"""The deploy function's entry points: a training job ended, an endpoint changed state, a model was brought
trained. :class:`Deployer` checks ownership, records the job's end, runs the gate, and hands a passed job
to the rollout (:mod:`.rollout`) and the endpoint's state to the settler (:mod:`.settle`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from sagedrop import naming, registry, tags
from sagedrop.errors import Problem
from sagedrop.gate import evaluate, metrics_by_name
from sagedrop.hosting import DeployError, SageMakerHosting
from sagedrop.manifest import DeploySettings
from sagedrop.notify import Notifier

from . import messages
from .context import (
    JOB_COMPLETED,
    JOB_DEPLOYING,
    JOB_DONE,
    JOB_PENDING,
    JOB_TRAINING,
    DeployContext,
    Outcome,
    time_text,
)
from .job_ends import JobEnds
from .ledger import Ledger
from .release import Releases
from .rollout import Rollout
from .settle import Settler

log = logging.getLogger("sagedrop.deploy")


class Deployer:
    """The deploy function's domain logic, with its collaborators injected."""

    def __init__(
        self,
        ctx: DeployContext,
        *,
        sagemaker: Any,
        registry_: registry.Registry,
        notifier: Notifier,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ctx = ctx
        self._aws = SageMakerHosting(sagemaker, ctx.stack, ctx.role_arn)
        self._registry = registry_
        self._notifier = notifier
        self.ledger = Ledger(registry_, notifier, self._aws)
        self.releases = Releases(ctx, registry_, self._aws)
        self.rollout = Rollout(
            ctx,
            sagemaker=sagemaker,
            aws=self._aws,
            registry_=registry_,
            notifier=notifier,
            ledger=self.ledger,
            sleep=sleep,
            clock=clock,
        )
        self.settler = Settler(
            ctx,
            aws=self._aws,
            registry_=registry_,
            notifier=notifier,
            ledger=self.ledger,
            releases=self.releases,
            rollout=self.rollout,
        )
        self.rollout.settle = self.settler.settle
        self.job_ends = JobEnds(registry_, notifier, self.ledger)

    # ================================================================== training job state change

    def on_training_job(self, detail: Mapping[str, Any]) -> Outcome:
        name = detail.get("TrainingJobName")
        if not isinstance(name, str) or not name:
            return Outcome("ignored", message="the event has no TrainingJobName")
        description = self._aws.describe_job(name)
        if description is None:
            log.warning("training job not found", extra={"job": name})
            return Outcome("ignored", job=name, message=f"training job {name} does not exist")
        job_tags = self._aws.tags(description["TrainingJobArn"]) or {}
        if not tags.owned_by(job_tags, self.ctx.stack):
            owner = job_tags.get(tags.STACK)
            log.info("training job of another stack ignored", extra={"job": name, "owner": owner})
            return Outcome("foreign", job=name, message=f"{name} is not a job of stack {self.ctx.stack} ({owner!r})")
        model = job_tags.get(tags.MODEL) or naming.model_of_job(name)
        status = description.get("TrainingJobStatus")
        if status in ("Failed", "Stopped"):
            return self.job_ends.ended_badly(model, name, description, job_tags)
        if status != "Completed":
            return Outcome("ignored", model, name, message=f"{name} is {status}; waiting for its final state")
        return self._job_completed(model, name, description, job_tags)

    def _job_completed(
        self, model: str, job: str, description: Mapping[str, Any], job_tags: Mapping[str, str]
    ) -> Outcome:
        record = self._registry.get_job(model, job)
        if record is None:
            error = DeployError(
                Problem(
                    f"registry {model}/{registry.JOB_PREFIX}{job}",
                    "sagedrop has no record of this job, so it does not know how to deploy it",
                    "upload training.json again (a new version) to train and deploy a new job",
                ),
                source=job,
            )
            return self.ledger.deploy_failed(model, job, error.describe(), {"job": job})
        job_status = record.get("status")
        if job_status in JOB_DONE:
            return Outcome("duplicate", model, job, message=f"{job} is already {job_status}")
        if job_status not in (JOB_PENDING, JOB_DEPLOYING):
            record, outcome = self._record_completion(model, job, record, description, job_tags)
            if outcome is not None:
                return outcome
        return self._host(model, job, record, description, job_tags)

    def _record_completion(
        self,
        model: str,
        job: str,
        record: Mapping[str, Any],
        description: Mapping[str, Any],
        job_tags: Mapping[str, str],
    ) -> tuple[Mapping[str, Any], Outcome | None]:
        """Record the metrics and artifacts, then: trained (deploy: false), gate failed, or the gate passed
        (None: host it)."""
        metrics = metrics_by_name(description.get("FinalMetricDataList"))
        artifacts = (description.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
        self._registry.update(
            model,
            {
                "status": JOB_COMPLETED,
                "metrics": metrics,
                "model_data": artifacts,
                "ended_at": time_text(description.get("TrainingEndTime")),
                "training_seconds": description.get("TrainingTimeInSeconds"),
                "billable_seconds": description.get("BillableTimeInSeconds"),
            },
            record=registry.JOB_PREFIX + job,
            condition="attribute_not_exists(#js) OR #js IN (:training, :completed)",
            names={"#js": "status"},
            values={":training": JOB_TRAINING, ":completed": JOB_COMPLETED},
        )
        record = {**record, "metrics": metrics, "model_data": artifacts}
        if record.get("deploy") is None:
            return record, self.job_ends.trained(model, job, metrics, artifacts, job_tags)
        settings = DeploySettings.from_dict(record["deploy"])
        summary = self._registry.get(model, consistent=True) or {}
        serving = summary.get("serving_job")
        result = evaluate(
            settings.gate,
            metrics,
            must_beat_current=settings.must_beat_current,
            current_metrics=summary.get("metrics") if serving and serving != job else None,
            current_job=serving if serving != job else None,
        )
        if not result.passed:
            return record, self.job_ends.gate_failed(model, job, result, metrics, summary, job_tags)
        self._registry.update(model, {"gate": result.to_dict()}, record=registry.JOB_PREFIX + job)
        log.info("gate passed", extra={"job": job, "gate": result.describe()})
        return record, None

    # ================================================================== a model brought trained

    def on_pretrained(self, model: str, job: str) -> Outcome:
        """Host the model of a deploy.json drop, recorded as ``JOB#<job>`` (``source: pretrained``, status
        ``completed``), exactly like a training job that passed its gate; a duplicate once it is done."""
        record = self._registry.get_job(model, job)
        if record is None:
            error = DeployError(
                Problem(f"registry {model}/{registry.JOB_PREFIX}{job}", "sagedrop has no record of this drop"),
                source=job,
            )
            return self.ledger.deploy_failed(model, job, error.describe(), {"job": job})
        job_status = record.get("status")
        if job_status in JOB_DONE:
            return Outcome("duplicate", model, job, message=f"{job} is already {job_status}")
        return self._host(model, job, record)

    def _host(
        self,
        model: str,
        job: str,
        record: Mapping[str, Any],
        description: Mapping[str, Any] | None = None,
        job_tags: Mapping[str, str] | None = None,
    ) -> Outcome:
        """Model and endpoint config for ``job``, then the claim and the rollout (newest wins)."""
        try:
            release = self.releases.build(model, job, description, record, job_tags)
            self._aws.ensure_hosting(release)
        except DeployError as exc:
            return self.ledger.deploy_failed(
                model, job, exc.describe(), {"job": job, "problems": messages.problems(exc)}
            )
        claim = self.rollout.claim(release)
        if claim != "claimed":
            return self.rollout.not_claimed(release, claim)
        return self.rollout.rollout(release)

    # ================================================================== endpoint state change

    def on_endpoint(self, detail: Mapping[str, Any]) -> Outcome:
        name = detail.get("EndpointName")
        if not isinstance(name, str) or not name:
            return Outcome("ignored", message="the event has no EndpointName")
        arn = detail.get("EndpointArn")
        if not isinstance(arn, str) or not arn:
            described = self._aws.describe_endpoint(name)
            if described is None:
                return self._endpoint_gone(name, detail)
            arn = described["EndpointArn"]
        endpoint_tags = self._aws.tags(arn)
        if endpoint_tags is None:
            return self._endpoint_gone(name, detail)
        if not tags.owned_by(endpoint_tags, self.ctx.stack):
            return Outcome("foreign", endpoint=name, message=f"{name} is not an endpoint of stack {self.ctx.stack}")
        model = endpoint_tags.get(tags.MODEL)
        if not model:
            return Outcome("ignored", endpoint=name, message=f"{name} has no {tags.MODEL} tag")
        return self.settler.settle(model, name)

    def _endpoint_gone(self, name: str, detail: Mapping[str, Any]) -> Outcome:
        """The endpoint vanished since the event (deleted after it failed): if the registry says this
        stack's model was re-creating it, go on; the event's tags only say which model to look at."""
        model = tags.to_map(detail.get("Tags")).get(tags.MODEL)
        summary = self._registry.get(model, consistent=True) if model else None
        if summary and summary.get("stack") == self.ctx.stack and summary.get("endpoint") == name:
            return self.settler.settle(model, name)
        return Outcome("ignored", endpoint=name, message=f"endpoint {name} no longer exists")
