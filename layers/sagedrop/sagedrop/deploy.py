"""From a finished training job to the model behind its endpoint, without ever losing a newer model.

``Deployer`` is what the deploy function runs for two EventBridge events:

* ``SageMaker Training Job State Change`` (Completed, Failed, Stopped) of a job this stack started.
  The event is only a hint: the job is always described again (the event may lack artifacts and
  metrics, and SageMaker may send several events for one change) and its ``sagedrop:stack`` tag is
  checked again, so another stack's job is never touched.

  - Failed/Stopped: the job record and the model summary keep the status and ``FailureReason``;
    an SNS message says which job, why, and which manifest started it.
  - Completed with ``deploy: false``: status ``trained``.
  - Completed: the gate (:mod:`sagedrop.gate`). A failed gate deploys nothing (``gate_failed``,
    with the figures). A passed gate creates the SageMaker model and endpoint config (named after
    the job, tagged; network isolation for instance hosting only), then creates the endpoint, or
    updates it when it is InService (SageMaker's blue/green update keeps the old model serving until
    the new fleet is healthy), or deletes a Failed endpoint and creates it again. An instance-based
    endpoint that must serve a serverless model is replaced (deleted, then created), with the
    downtime announced: SageMaker refuses that UpdateEndpoint (:meth:`Deployer._replace`).

* ``SageMaker Endpoint State Change`` (InService, Failed) of an endpoint this stack created: the
  model whose config is now live is recorded as in service (and announced); a newer job that was
  waiting because the endpoint was Creating or Updating is applied now; a failed update or a
  Failed endpoint is recorded and announced, and the newest good model is put back.

* A model brought trained (``model.tar.gz`` + ``deploy.json``, checked and recorded by
  :mod:`sagedrop.pretrained` as a ``JOB#<release>`` record with ``source: pretrained``):
  :meth:`Deployer.on_pretrained` hosts it like a completed job that passed its gate; there is no
  training job to describe, the record carries the model data URL.

Newest wins: job names sort by the time of the drop that started them (``naming.job_name``).
The summary's ``pending_job`` holds the newest passed job that should end up in service; it only
ever moves forward (conditional writes), and a job older than ``pending_job`` or ``serving_job``
is ``superseded``, so a late event of an older job never rolls back a newer one.
``deploying_job`` is the job whose config was last sent to Create/UpdateEndpoint: when the
endpoint returns to InService with another config, that rollout did not take.

Every step tolerates its own earlier success (duplicate events are harmless), user-fixable
problems are recorded and notified (never raised), and throttling/5xx from AWS propagate so that
Lambda retries the event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sagedrop import algorithms, naming, registry, tags
from sagedrop.errors import Problem, SagedropError, UserError
from sagedrop.gate import GateResult, evaluate, metrics_by_name
from sagedrop.hosting import (
    DeployError,
    Release,
    SageMakerHosting,
    already_exists,
    in_progress,
    newer,
    refused_as_serverless,
)
from sagedrop.manifest import Defaults, DeploySettings
from sagedrop.notify import Notifier

log = logging.getLogger("sagedrop.deploy")

TRAINING_JOB_STATE_CHANGE = "SageMaker Training Job State Change"
ENDPOINT_STATE_CHANGE = "SageMaker Endpoint State Change"

# Statuses of a job record (JOB#<job>); the summary uses the registry's constants.
JOB_TRAINING = registry.TRAINING
JOB_COMPLETED = "completed"
JOB_FAILED = registry.FAILED
JOB_STOPPED = registry.STOPPED
JOB_TRAINED = registry.TRAINED
JOB_GATE_FAILED = registry.GATE_FAILED
JOB_PENDING = "pending"  # passed, waiting for the endpoint to be InService
JOB_DEPLOYING = "deploying"  # its config was sent to CreateEndpoint/UpdateEndpoint
JOB_DEPLOYED = "deployed"  # it went in service
JOB_SUPERSEDED = "superseded"  # passed, but a newer job was already pending or serving
JOB_DEPLOY_FAILED = "deploy_failed"
JOB_DONE = (JOB_FAILED, JOB_STOPPED, JOB_TRAINED, JOB_GATE_FAILED, JOB_DEPLOYED, JOB_SUPERSEDED, JOB_DEPLOY_FAILED)

SOURCE_PRETRAINED = "pretrained"
"""``source`` of a job record written for a model brought trained (deploy.json, :mod:`sagedrop.pretrained`):
no training job exists; the record carries the model data URL."""

# DescribeEndpoint EndpointStatus values
BUSY = ("Creating", "Updating", "SystemUpdating", "RollingBack")
UPDATABLE = ("InService", "OutOfService", "UpdateRollbackFailed")

MAX_FOLLOW = 4
"""How many rollouts one event may chain (pending after in service, recreate after failure)."""


def _time_text(value: Any) -> Any:
    """A DescribeTrainingJob time (a datetime) as ISO 8601 text for the registry."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class EndpointBusy(SagedropError):
    """The endpoint is still being deleted: raised so that Lambda retries the event later."""


@dataclass(frozen=True)
class DeployContext:
    """What the stack gives the deploy function (environment variables of the template)."""

    stack: str
    region: str
    role_arn: str
    defaults: Defaults = field(default_factory=Defaults)
    delete_wait_s: float = 75.0
    """How long to wait for a Failed/Deleting endpoint to disappear before re-creating it."""
    poll_s: float = 5.0


@dataclass(frozen=True)
class Outcome:
    """What one event did: ``ignored``, ``foreign``, ``failed``, ``stopped``, ``trained``,
    ``gate_failed``, ``pending``, ``deploying``, ``in_service``, ``superseded``, ``duplicate`` or
    ``deploy_failed``."""

    status: str
    model: str = ""
    job: str | None = None
    endpoint: str | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "model": self.model,
            "job": self.job,
            "endpoint": self.endpoint,
            "message": self.message,
        }


def _absent_or(placeholder: str, op: str) -> str:
    """A condition that holds when the attribute is missing or NULL, or compares with ``:job``."""
    return f"(attribute_not_exists({placeholder}) OR attribute_type({placeholder}, :null) OR {placeholder} {op} :job)"


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
        self._sm = sagemaker
        self._aws = SageMakerHosting(sagemaker, ctx.stack, ctx.role_arn)
        self._registry = registry_
        self._notifier = notifier
        self._sleep = sleep
        self._clock = clock

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
            return self._job_ended_badly(model, name, description, job_tags)
        if status != "Completed":
            return Outcome("ignored", model, name, message=f"{name} is {status}; waiting for its final state")
        return self._job_completed(model, name, description, job_tags)

    def _job_ended_badly(
        self, model: str, job: str, description: Mapping[str, Any], job_tags: Mapping[str, str]
    ) -> Outcome:
        failed = description["TrainingJobStatus"] == "Failed"
        status = JOB_FAILED if failed else JOB_STOPPED
        secondary = description.get("SecondaryStatus") or ""
        reason = description.get("FailureReason") or (
            "no reason given" if failed else f"stopped ({secondary or 'StopTrainingJob'})"
        )
        record = self._registry.get_job(model, job) or {}
        manifest = job_tags.get(tags.MANIFEST) or record.get("manifest") or "an unknown manifest"
        verb = "failed" if failed else "was stopped"
        hint = _failure_hint(secondary, reason)
        message = (
            f"Training job {job} of model {model} {verb}.\n\n"
            f"Reason: {reason}\n"
            f"Manifest: {manifest}\n"
            + (f"Secondary status: {secondary}\n" if secondary else "")
            + "\nNothing was deployed; a model already in service keeps serving."
            + (f"\n{hint}" if hint else "")
            + "\nFix the cause and upload training.json again to train a new job."
        )
        details = {
            "job": job,
            "status": description["TrainingJobStatus"],
            "secondary_status": secondary,
            "failure_reason": description.get("FailureReason"),
            "manifest": manifest,
            "ended_at": _time_text(description.get("TrainingEndTime") or description.get("LastModifiedTime")),
        }

        def announce() -> None:
            self._job_outcome(model, job, status, self._error_fields(job, f"training job {job} {verb}: {reason}"))
            self._notifier.publish(
                f"{model}: training job {verb}", message, event=f"job_{status}", model=model, details=details
            )

        first = self._once(
            model,
            job,
            status,
            {"failure_reason": reason, "secondary_status": secondary, "ended_at": registry.now_iso()},
            from_states=(JOB_TRAINING, JOB_COMPLETED),
            action=announce,
        )
        if not first:
            return Outcome("duplicate", model, job, message=f"{job} is already recorded as {status}")
        log.warning("training job ended without a model", extra={"job": job, "status": status, "reason": reason})
        return Outcome(status, model, job, message=reason)

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
            return self._deploy_failed(model, job, error.describe(), {"job": job})
        job_status = record.get("status")
        if job_status in JOB_DONE:
            return Outcome("duplicate", model, job, message=f"{job} is already {job_status}")

        metrics = metrics_by_name(description.get("FinalMetricDataList"))
        artifacts = (description.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
        if job_status not in (JOB_PENDING, JOB_DEPLOYING):
            self._registry.update(
                model,
                {
                    "status": JOB_COMPLETED,
                    "metrics": metrics,
                    "model_data": artifacts,
                    "ended_at": _time_text(description.get("TrainingEndTime")),
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
                return self._trained(model, job, metrics, artifacts, job_tags)

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
                return self._gate_failed(model, job, result, metrics, summary, job_tags)
            self._registry.update(model, {"gate": result.to_dict()}, record=registry.JOB_PREFIX + job)
            log.info("gate passed", extra={"job": job, "gate": result.describe()})

        return self._host(model, job, record, description, job_tags)

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
            return self._deploy_failed(model, job, error.describe(), {"job": job})
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
            release = self._release(model, job, description, record, job_tags)
            self._aws.ensure_hosting(release)
        except DeployError as exc:
            return self._deploy_failed(model, job, exc.describe(), {"job": job, "problems": _problems(exc)})
        claim = self._claim(release)
        if claim != "claimed":
            return self._not_claimed(release, claim)
        return self._rollout(release)

    def _trained(
        self, model: str, job: str, metrics: Mapping[str, float], artifacts: str | None, job_tags: Mapping[str, str]
    ) -> Outcome:
        def announce() -> None:
            self._job_outcome(model, job, registry.TRAINED, {})
            self._notifier.publish(
                f"{model}: trained, not deployed",
                f"Training job {job} of model {model} completed. The manifest says deploy: false, so no "
                f"endpoint was created.\n\nModel artifacts: {artifacts}\nMetrics: {_metrics_text(metrics)}\n"
                f"Manifest: {job_tags.get(tags.MANIFEST)}",
                event="trained",
                model=model,
                details={"job": job, "metrics": dict(metrics), "model_data": artifacts},
            )

        if not self._once(model, job, JOB_TRAINED, {}, from_states=(JOB_TRAINING, JOB_COMPLETED), action=announce):
            return Outcome("duplicate", model, job, message=f"{job} is already recorded as trained")
        return Outcome("trained", model, job, message="deploy: false")

    def _gate_failed(
        self,
        model: str,
        job: str,
        result: GateResult,
        metrics: Mapping[str, float],
        summary: Mapping[str, Any],
        job_tags: Mapping[str, str],
    ) -> Outcome:
        serving = summary.get("serving_job")
        verdict = result.describe()
        keeps = f"The model in service ({serving}) keeps serving." if serving else "No endpoint was created or changed."
        message = (
            f"Training job {job} of model {model} completed but did not pass its quality gate, so it was "
            f"not deployed.\n\n{verdict}\n\nAll final metrics: {_metrics_text(metrics)}\n"
            f"Manifest: {job_tags.get(tags.MANIFEST)}\n\n{keeps}\n"
            "Change the training (data, hyperparameters) or the gate in deploy.gate, then upload training.json again."
        )
        short = f"{job} did not pass the gate: " + "; ".join(result.reasons)

        def announce() -> None:
            self._job_outcome(model, job, registry.GATE_FAILED, self._error_fields(job, short))
            self._notifier.publish(
                f"{model}: gate failed, nothing deployed",
                message,
                event="gate_failed",
                model=model,
                details={"job": job, "gate": result.to_dict(), "metrics": dict(metrics)},
            )

        first = self._once(
            model, job, JOB_GATE_FAILED, {"gate": result.to_dict()}, from_states=(JOB_COMPLETED,), action=announce
        )
        if not first:
            return Outcome("duplicate", model, job, message=f"{job} is already recorded as gate_failed")
        log.warning("gate failed", extra={"job": job, "gate": verdict})
        return Outcome("gate_failed", model, job, message=short)

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
        return self._settle(model, name)

    def _endpoint_gone(self, name: str, detail: Mapping[str, Any]) -> Outcome:
        """The endpoint vanished since the event (deleted after it failed): if the registry says this
        stack's model was re-creating it, go on; the event's tags only say which model to look at."""
        model = tags.to_map(detail.get("Tags")).get(tags.MODEL)
        summary = self._registry.get(model, consistent=True) if model else None
        if summary and summary.get("stack") == self.ctx.stack and summary.get("endpoint") == name:
            return self._settle(model, name)
        return Outcome("ignored", endpoint=name, message=f"endpoint {name} no longer exists")

    def _settle(self, model: str, endpoint: str, depth: int = 0) -> Outcome:
        """Act on the endpoint's real state. The summary is read first, then the endpoint, so a
        rollout recorded in the summary was already started when the endpoint was described."""
        summary = self._registry.get(model, consistent=True) or {}
        described = self._aws.describe_endpoint(endpoint)
        if described is None or described.get("EndpointStatus") == "Deleting":
            pending = summary.get("pending_job")
            if pending and summary.get("endpoint") == endpoint and depth < MAX_FOLLOW:
                # A re-creation that an earlier attempt started (its retry lands here): finish it.
                return self._rollout_job(model, pending, depth + 1)
            state = "no longer exists" if described is None else "is being deleted"
            return Outcome("ignored", model, endpoint=endpoint, message=f"endpoint {endpoint} {state}")
        status = described.get("EndpointStatus")
        if status == "InService":
            return self._on_in_service(model, described, summary, depth)
        if status == "Failed":
            return self._on_endpoint_failed(model, described, summary, depth)
        waiting = summary.get("pending_job") or summary.get("deploying_job")
        return Outcome("deploying", model, waiting, endpoint, f"endpoint {endpoint} is {status}")

    def _on_in_service(
        self, model: str, described: Mapping[str, Any], summary: Mapping[str, Any], depth: int
    ) -> Outcome:
        endpoint = described["EndpointName"]
        live = described.get("EndpointConfigName") or ""
        if naming.model_of_job(live) != model:
            log.warning("endpoint serves a config sagedrop did not name", extra={"endpoint": endpoint, "config": live})
            return Outcome("ignored", model, live, endpoint, f"{endpoint} serves {live}, not a job of {model}")
        record = self._registry.get_job(model, live)
        if record is None:
            return Outcome("ignored", model, live, endpoint, f"no registry record for {live}")

        deploying = summary.get("deploying_job")
        pending = summary.get("pending_job")
        changed = self._finalize(model, live, endpoint, record, summary, {pending or "", deploying or ""} - {""})
        rolled_back = None
        if deploying and deploying != live and newer(deploying, live):
            rolled_back = deploying
            reason = described.get("FailureReason") or "SageMaker returned the endpoint to InService with the old model"
            self._deploy_failed(
                model,
                deploying,
                f"the update of endpoint {endpoint} to {deploying} did not take: {reason}. {live} keeps serving.",
                {"job": deploying, "endpoint": endpoint, "failure_reason": described.get("FailureReason")},
            )
        self._clear(model, live)
        if pending and pending != rolled_back and newer(pending, live):
            if depth >= MAX_FOLLOW:
                return Outcome("deploying", model, pending, endpoint, "too many chained rollouts for one event")
            log.info("applying the pending job", extra={"job": pending, "endpoint": endpoint})
            return self._rollout_job(model, pending, depth + 1)
        return Outcome("in_service", model, live, endpoint, "new model in service" if changed else "in service")

    def _on_endpoint_failed(
        self, model: str, described: Mapping[str, Any], summary: Mapping[str, Any], depth: int
    ) -> Outcome:
        endpoint = described["EndpointName"]
        reason = described.get("FailureReason") or "SageMaker gave no reason"
        victim = summary.get("deploying_job") or described.get("EndpointConfigName") or ""
        pending = summary.get("pending_job")
        serving = summary.get("serving_job")
        if naming.model_of_job(victim) == model:
            self._deploy_failed(
                model,
                victim,
                f"endpoint {endpoint} failed while deploying {victim}: {reason}",
                {"job": victim, "endpoint": endpoint, "failure_reason": reason},
            )
        target = None
        if pending and pending != victim and newer(pending, serving):
            target = pending
        elif serving and serving != victim:
            target = serving  # put the last good model back
        if target is None or depth >= MAX_FOLLOW:
            self._registry.update(
                model,
                {"status": registry.FAILED},
                condition="attribute_not_exists(#serving) OR attribute_type(#serving, :null) OR #serving = :victim",
                names={"#serving": "serving_job"},
                values={":victim": victim, ":null": "NULL"},
            )
            return Outcome("deploy_failed", model, victim, endpoint, reason)
        log.warning("endpoint failed; re-creating it", extra={"endpoint": endpoint, "job": target})
        # Recorded first: if the deletion outlasts this invocation, the retry knows what to create.
        self._registry.update(
            model,
            {"pending_job": target, "status": registry.DEPLOYING},
            condition=_absent_or("#pending", "<="),
            names={"#pending": "pending_job"},
            values={":job": target, ":null": "NULL"},
        )
        return self._rollout_job(model, target, depth + 1)

    def _rollout_job(self, model: str, job: str, depth: int) -> Outcome:
        try:
            release = self._release(model, job)
        except DeployError as exc:
            return self._deploy_failed(model, job, exc.describe(), {"job": job, "problems": _problems(exc)})
        return self._rollout(release, depth)

    # ================================================================== the rollout

    def _release(
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

    def _claim(self, release: Release) -> str:
        """Record the job as the one that should end up in service, unless a newer one is."""
        claimed = self._registry.update(
            release.model,
            {"pending_job": release.job, "status": registry.DEPLOYING, "endpoint": release.endpoint},
            condition=f"{_absent_or('#pending', '<=')} AND {_absent_or('#serving', '<')}",
            names={"#pending": "pending_job", "#serving": "serving_job"},
            values={":job": release.job, ":null": "NULL"},
        )
        if claimed:
            return "claimed"
        summary = self._registry.get(release.model, consistent=True) or {}
        if summary.get("serving_job") == release.job:
            return "duplicate"
        return "superseded"

    def _not_claimed(self, release: Release, claim: str) -> Outcome:
        if claim == "duplicate":
            # Already recorded as serving; finish what an interrupted attempt left (the announcement).
            return self._settle(release.model, release.endpoint)
        return self._superseded(release.model, release.job, release.endpoint)

    def _superseded(self, model: str, job: str, endpoint: str) -> Outcome:
        self._job_status(model, job, JOB_SUPERSEDED, {}, from_states=(JOB_COMPLETED, JOB_PENDING))
        self._remove_if(model, "pending_job", "=", job)
        self._restore_status(model)
        log.info("a newer job is already pending or serving", extra={"job": job})
        return Outcome("superseded", model, job, endpoint, "a newer job is already pending or in service")

    def _rollout(self, release: Release, depth: int = 0) -> Outcome:
        """Create, update or re-create the endpoint with the release's config, or leave it pending."""
        model, job, endpoint = release.model, release.job, release.endpoint
        try:
            self._aws.ensure_hosting(release)
            described = self._aws.describe_endpoint(endpoint)
            if described is not None:
                self._check_endpoint_owner(release, described)
                status = described.get("EndpointStatus")
                live = described.get("EndpointConfigName")
                if status in BUSY:
                    return self._wait_turn(release, str(status))
                if status in ("Failed", "Deleting"):
                    if status == "Failed":
                        self._aws.delete_endpoint(endpoint)
                    self._wait_gone(endpoint)
                    described = None
                elif live == release.endpoint_config:
                    return self._settle(model, endpoint, depth)
                elif naming.model_of_job(live or "") == model and newer(live, job):
                    return self._superseded(model, job, endpoint)
                else:
                    summary = self._registry.get(model, consistent=True) or {}
                    if newer(summary.get("pending_job"), job) or newer(summary.get("serving_job"), job):
                        return self._superseded(model, job, endpoint)
                    if release.serverless and self._aws.serves_on_instances(described):
                        return self._replace(release, described, depth)
                    try:
                        self._sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=release.endpoint_config)
                    except Exception as exc:
                        if in_progress(exc):
                            return self._wait_turn(release, "Updating")
                        if release.serverless and refused_as_serverless(exc):
                            return self._replace(release, described, depth)
                        self._aws.raise_for_user(exc, "UpdateEndpoint", job)
                    # The endpoint's knobs follow the model now behind it (cleanup reads them).
                    self._sm.add_tags(
                        ResourceArn=described["EndpointArn"], Tags=tags.to_list(release.hosting_tags(self.ctx.stack))
                    )
                    return self._started(release, "UpdateEndpoint", depth)
            return self._create_endpoint(release, endpoint, depth, "CreateEndpoint")
        except DeployError as exc:
            return self._deploy_failed(model, job, exc.describe(), {"job": job, "problems": _problems(exc)})

    def _check_endpoint_owner(self, release: Release, described: Mapping[str, Any]) -> None:
        owner = self._aws.tags(described["EndpointArn"]) or {}
        if tags.owned_by(owner, self.ctx.stack) and owner.get(tags.MODEL) == release.model:
            return
        who = (
            f"model {owner.get(tags.MODEL)!r} of this stack"
            if tags.owned_by(owner, self.ctx.stack)
            else f"another owner (stack tag {owner.get(tags.STACK)!r})"
        )
        raise DeployError(
            Problem(
                "$.deploy.endpoint_name",
                f"endpoint {release.endpoint!r} already exists and belongs to {who}",
                "give this model its own deploy.endpoint_name",
            ),
            source=release.job,
        )

    def _replace(self, release: Release, described: Mapping[str, Any], depth: int) -> Outcome:
        """Instance-based -> serverless: SageMaker refuses that UpdateEndpoint ("You cannot convert your
        instance-based, real-time endpoint to a serverless endpoint. If you try to update your real-time
        endpoint to serverless, you receive a ValidationError",
        https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html, "Feature exclusions").
        The endpoint is deleted and created again from the release's config, under the same name: the
        model is not served in between, and the notification says so. The claim (``pending_job``) is
        recorded first, so a deletion that outlasts this invocation is finished by the retry or by the
        next event of the endpoint (:meth:`_settle` creates it once it is gone). The reverse direction
        (serverless -> instances) is an UpdateEndpoint that SageMaker accepts (same page)."""
        model, job, endpoint = release.model, release.job, release.endpoint
        live = described.get("EndpointConfigName") or ""
        message = (
            f"Model {model}: {job} asks for serverless hosting ({release.describe_hosting()}), but endpoint "
            f"{endpoint} serves {live} on instances. SageMaker cannot update an instance-based endpoint into "
            "a serverless one (AWS developer guide, serverless-endpoints, Feature exclusions), so sagedrop "
            f"deletes endpoint {endpoint} and creates it again with {job}.\n\n"
            f"Downtime: from now until the new endpoint is InService (usually a few minutes), model {model} "
            "serves no predictions; requests are answered as for a model being deployed (retry later).\n\n"
            "To switch without downtime, keep the hosting kind of the model in service (deploy.instance_type) "
            "or deploy the serverless model under another deploy.endpoint_name and move clients over."
        )
        self._announce_replacement(release, live, message)
        log.warning("endpoint replaced: instances -> serverless", extra={"job": job, "endpoint": endpoint})
        self._aws.delete_endpoint(endpoint)
        self._wait_gone(endpoint)
        return self._create_endpoint(release, endpoint, depth, "CreateEndpoint (replacing the instance-based endpoint)")

    def _create_endpoint(self, release: Release, endpoint: str, depth: int, action: str) -> Outcome:
        try:
            self._sm.create_endpoint(
                EndpointName=endpoint,
                EndpointConfigName=release.endpoint_config,
                Tags=tags.to_list(release.hosting_tags(self.ctx.stack)),
            )
        except Exception as exc:
            if already_exists(exc):
                return self._wait_turn(release, "Creating")
            self._aws.raise_for_user(exc, "CreateEndpoint", release.job)
        return self._started(release, action, depth)

    def _announce_replacement(self, release: Release, live: str, message: str) -> None:
        """Record and notify the replacement once per job (a retried event does not announce it again)."""
        first = self._registry.update(
            release.model,
            {"endpoint_replaced_at": registry.now_iso(), "replaced_config": live},
            record=registry.JOB_PREFIX + release.job,
            condition="attribute_not_exists(endpoint_replaced_at)",
        )
        if not first:
            return
        try:
            self._notifier.publish(
                f"{release.model}: endpoint replaced, predictions paused",
                message,
                event="endpoint_replaced",
                model=release.model,
                details={"job": release.job, "endpoint": release.endpoint, "previous_config": live},
            )
        except Exception:
            self._registry.update(
                release.model,
                {},
                record=registry.JOB_PREFIX + release.job,
                remove=("endpoint_replaced_at", "replaced_config"),
            )
            raise

    def _wait_turn(self, release: Release, status: str) -> Outcome:
        self._job_status(release.model, release.job, JOB_PENDING, {}, from_states=(JOB_COMPLETED,))
        message = f"endpoint {release.endpoint} is {status}; {release.job} will be applied when it is InService"
        log.info("endpoint busy, job pending", extra={"job": release.job, "endpoint": release.endpoint})
        return Outcome("pending", release.model, release.job, release.endpoint, message)

    def _started(self, release: Release, action: str, depth: int) -> Outcome:
        self._registry.update(
            release.model,
            {"deploying_job": release.job, "status": registry.DEPLOYING, "endpoint": release.endpoint},
        )
        self._job_status(
            release.model,
            release.job,
            JOB_DEPLOYING,
            {"deploy_started_at": registry.now_iso(), "hosting": release.describe_hosting()},
            from_states=(JOB_COMPLETED, JOB_PENDING, JOB_DEPLOY_FAILED),
        )
        log.info(f"{action} started", extra={"job": release.job, "endpoint": release.endpoint})
        outcome = self._settle(release.model, release.endpoint, depth)
        if outcome.status in ("deploying", "ignored"):
            return Outcome("deploying", release.model, release.job, release.endpoint, f"{action}: {outcome.message}")
        return outcome

    # ================================================================== registry steps

    def _finalize(
        self,
        model: str,
        live: str,
        endpoint: str,
        record: Mapping[str, Any],
        summary: Mapping[str, Any],
        protect: set[str],
    ) -> bool:
        """Record ``live`` as the model in service, announce it and prune, once; True when it went in
        service just now. The job record's move to ``deployed`` guards the announcement, so a
        failed publish is retried with the event and a duplicate event announces nothing."""
        settings = DeploySettings.from_dict(record["deploy"]) if record.get("deploy") else DeploySettings()
        fields: dict[str, Any] = {
            "status": registry.IN_SERVICE,
            "serving_job": live,
            "sagemaker_model": naming.sagemaker_model_name(live),
            "endpoint_config": naming.endpoint_config_name(live),
            "endpoint": endpoint,
            "variant": naming.VARIANT_NAME,
            "serverless": settings.serverless is not None,
            "metrics": record.get("metrics") or {},
            "labels": record.get("labels"),
            "label_bins": record.get("label_bins"),  # {"edges", "names"} of a label_bins model, shown by the API
            "feature_dim": _feature_dim(record),
            "idle_minutes": settings.idle_minutes,
            "keep_alive": settings.keep_alive,
            "deployed_at": registry.now_iso(),
            "stack": self.ctx.stack,
        }
        changed = self._registry.update(
            model,
            fields,
            condition=_absent_or("#serving", "<"),
            names={"#serving": "serving_job"},
            values={":job": live, ":null": "NULL"},
        )
        if not changed:
            # Same model back in service (a duplicate event, a rollback, a woken endpoint).
            self._registry.update(
                model,
                {"status": registry.IN_SERVICE, "endpoint": endpoint},
                condition="#serving = :job AND #s IN (:deploying, :waking, :hibernated, :failed)",
                names={"#serving": "serving_job", "#s": "status"},
                values={
                    ":job": live,
                    ":deploying": registry.DEPLOYING,
                    ":waking": registry.WAKING,
                    ":hibernated": registry.HIBERNATED,
                    ":failed": registry.FAILED,
                },
            )
            if summary.get("serving_job") != live:
                log.warning(
                    "endpoint serves an older job than the registry's serving job",
                    extra={"endpoint": endpoint, "live": live, "serving": summary.get("serving_job")},
                )
                return False
        previous = summary.get("serving_job") if changed else record.get("previous_job")

        def announce() -> None:
            self._announce_in_service(model, live, endpoint, record, previous)
            self._aws.prune(model, protect=(protect | {live, previous or ""}) - {""})

        return self._once(
            model,
            live,
            JOB_DEPLOYED,
            {"deployed_at": fields["deployed_at"], "endpoint": endpoint, "previous_job": previous},
            from_states=(JOB_COMPLETED, JOB_PENDING, JOB_DEPLOYING, JOB_DEPLOY_FAILED),
            action=announce,
        )

    def _clear(self, model: str, live: str) -> None:
        """``pending_job``/``deploying_job`` at or before the live job are done."""
        self._remove_if(model, "pending_job", "<=", live)
        self._remove_if(model, "deploying_job", "<=", live)

    def _remove_if(self, model: str, attribute: str, op: str, job: str) -> bool:
        return self._registry.update(
            model,
            {},
            condition=f"#a {op} :job",
            names={"#a": attribute},
            values={":job": job},
            remove=(attribute,),
        )

    def _job_status(
        self, model: str, job: str, status: str, fields: Mapping[str, Any], *, from_states: tuple[str, ...]
    ) -> bool:
        """Move the job record to ``status`` if it is in one of ``from_states`` (or has none)."""
        placeholders = {f":from{i}": state for i, state in enumerate(from_states)}
        return self._registry.update(
            model,
            {**fields, "status": status, "job": job},
            record=registry.JOB_PREFIX + job,
            condition=f"attribute_not_exists(#js) OR #js IN ({', '.join(placeholders)})",
            names={"#js": "status"},
            values=placeholders,
        )

    def _once(
        self,
        model: str,
        job: str,
        status: str,
        fields: Mapping[str, Any],
        *,
        from_states: tuple[str, ...],
        action: Callable[[], None],
    ) -> bool:
        """Move the job to ``status`` and run ``action`` (record + notify) exactly once.

        The job record's transition is the guard against duplicate events; if ``action`` fails
        (throttling), the transition is undone so that Lambda's retry does it all again.
        """
        before = (self._registry.get_job(model, job) or {}).get("status")
        if before not in (None, *from_states):
            return False
        if not self._job_status(model, job, status, fields, from_states=from_states):
            return False
        try:
            action()
        except Exception:
            if before is not None:
                self._registry.update(model, {"status": before}, record=registry.JOB_PREFIX + job)
            else:
                self._registry.update(model, {}, record=registry.JOB_PREFIX + job, remove=("status",))
            raise
        return True

    @staticmethod
    def _error_fields(job: str, message: str) -> dict[str, Any]:
        return {"last_error": message, "last_error_at": registry.now_iso(), "last_error_job": job}

    def _job_outcome(self, model: str, job: str, status: str, fields: Mapping[str, Any]) -> None:
        """Record a job's end on the summary. The status changes only for the model's newest job and
        never during a rollout; a model with a serving job keeps the endpoint's status
        (``in_service``, ``hibernated``, ``failed``), else it takes ``status``."""
        summary = self._registry.get(model, consistent=True) or {}
        seen = summary.get("status")
        if not newer(summary.get("latest_job"), job) and seen not in (registry.DEPLOYING, registry.WAKING):
            new_status = self._endpoint_status(summary) if summary.get("serving_job") else status
            if self._registry.update(
                model,
                {**fields, "status": new_status},
                condition="#s = :seen" if seen is not None else "attribute_not_exists(#s)",
                names={"#s": "status"},
                values={":seen": seen} if seen is not None else None,
            ):
                return
        if fields:
            self._registry.update(model, fields)

    def _endpoint_status(self, summary: Mapping[str, Any]) -> str:
        """The summary status a model with a serving job has when no rollout is in flight."""
        described = self._aws.describe_endpoint(summary.get("endpoint") or "")
        if described is None:
            return registry.HIBERNATED
        if described.get("EndpointStatus") == "Failed":
            return registry.FAILED
        return registry.IN_SERVICE

    def _deploy_failed(self, model: str, job: str, message: str, details: Mapping[str, Any]) -> Outcome:
        """A job that cannot (or did not) go in service: record, restore the summary, notify once."""

        def announce() -> None:
            self._remove_if(model, "pending_job", "=", job)
            self._remove_if(model, "deploying_job", "=", job)
            self._restore_status(model)
            self._job_outcome(model, job, registry.FAILED, self._error_fields(job, message))
            pretrained = (self._registry.get_job(model, job) or {}).get("source") == SOURCE_PRETRAINED
            what, again = (
                (f"the model brought trained as {job}", "model.tar.gz and deploy.json")
                if pretrained
                else (f"training job {job}", "training.json")
            )
            self._notifier.publish(
                f"{model}: deploy failed",
                f"sagedrop could not put {what} of model {model} in service.\n\n{message}\n\n"
                f"A model already in service keeps serving. Fix the cause and upload {again} again.",
                event="deploy_failed",
                model=model,
                details=dict(details),
            )

        first = self._once(
            model,
            job,
            JOB_DEPLOY_FAILED,
            {"deploy_error": message},
            from_states=(JOB_TRAINING, JOB_COMPLETED, JOB_PENDING, JOB_DEPLOYING, JOB_DEPLOYED),
            action=announce,
        )
        if first:
            log.warning("deploy failed", extra={"job": job, "error": message})
            return Outcome("deploy_failed", model, job, message=message)
        return Outcome("duplicate", model, job, message=f"{job} is already recorded as deploy_failed")

    def _restore_status(self, model: str) -> None:
        """After a rollout ended without a new model: the status says what the endpoint does now."""
        summary = self._registry.get(model, consistent=True) or {}
        if summary.get("status") != registry.DEPLOYING or summary.get("pending_job") or summary.get("deploying_job"):
            return
        status = self._endpoint_status(summary) if summary.get("serving_job") else registry.FAILED
        self._registry.update(
            model,
            {"status": status},
            condition="#s = :deploying",
            names={"#s": "status"},
            values={":deploying": registry.DEPLOYING},
        )

    def _announce_in_service(
        self, model: str, job: str, endpoint: str, record: Mapping[str, Any], previous: str | None
    ) -> None:
        settings = DeploySettings.from_dict(record["deploy"]) if record.get("deploy") else DeploySettings()
        hosting = record.get("hosting") or (
            "serverless" if settings.serverless is not None else f"{settings.instance_count} x {settings.instance_type}"
        )
        metrics = record.get("metrics") or {}
        if record.get("source") == SOURCE_PRETRAINED:
            lines = [
                f"Model {model} now serves the model brought trained as {job} on endpoint {endpoint} ({hosting}).",
                "",
                f"Model archive: {record.get('archive') or record.get('model_data')} (from {record.get('manifest')})",
            ]
        else:
            lines = [
                f"Model {model} now serves training job {job} on endpoint {endpoint} ({hosting}).",
                "",
                f"Metrics: {_metrics_text(metrics)}",
            ]
        gate = record.get("gate") or {}
        if gate.get("metric"):
            lines.append(f"Gate: {gate['metric']} = {gate.get('value')} passed")
        if previous:
            lines.append(f"Previous model: {previous} (its endpoint config and model are kept for rollback)")
        lines.append(f"Predict: POST /models/{model}/predictions")
        self._notifier.publish(
            f"{model}: new model in service",
            "\n".join(lines),
            event="in_service",
            model=model,
            details={"job": job, "endpoint": endpoint, "metrics": metrics, "previous": previous},
        )

    # ================================================================== waiting for a deletion

    def _wait_gone(self, name: str) -> None:
        deadline = self._clock() + self.ctx.delete_wait_s
        while self._aws.describe_endpoint(name) is not None:
            if self._clock() >= deadline:
                raise EndpointBusy(
                    f"endpoint {name} is still being deleted after {self.ctx.delete_wait_s:g} s; "
                    "the event is retried and the newest passed job is kept as pending_job"
                )
            self._sleep(self.ctx.poll_s)


# ---------------------------------------------------------------------------------------------- text


def _metrics_text(metrics: Mapping[str, Any]) -> str:
    if not metrics:
        return "none reported"
    return ", ".join(
        f"{name} = {value:g}" if isinstance(value, float) else f"{name} = {value}"
        for name, value in sorted(metrics.items())
    )


def _problems(exc: UserError) -> list[dict[str, str]]:
    return [{"path": p.path, "message": p.message, "hint": p.hint} for p in exc.problems]


def _failure_hint(secondary: str, reason: str) -> str:
    text = f"{secondary} {reason}".lower()
    if "maxruntimeexceeded" in text:
        return "The job reached training.max_runtime_s: raise it in the manifest or train on less data."
    if "maxwaittimeexceeded" in text:
        return "Spot capacity did not come in time (training.max_wait_s): raise it or set spot: false."
    if "resourcelimitexceeded" in text or "quota" in text:
        return "A SageMaker quota was reached: ask for more in Service Quotas or use another instance type."
    if "capacityerror" in text or "insufficient capacity" in text:
        return "SageMaker had no capacity for the instance type: retry later or pick another training.instance_type."
    return ""


def _feature_dim(record: Mapping[str, Any]) -> int | None:
    """What predict checks CSV rows against, from the serving job's hyperparameters."""
    try:
        algorithm = algorithms.get(str(record.get("algorithm")))
        typed, _, problems = algorithm.resolve_hyperparameters(dict(record.get("hyperparameters") or {}))
    except (algorithms.UnknownAlgorithm, TypeError, ValueError):
        return None
    if problems:
        return None
    return algorithm.expected_feature_count(typed)
