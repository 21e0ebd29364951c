"""How a training job ended without going to a rollout: failed or stopped, trained only (``deploy: false``),
or completed below its quality gate. Each is recorded on the job record and the summary, and announced,
exactly once (:meth:`.ledger.Ledger.once`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sagedrop import registry, tags
from sagedrop.gate import GateResult
from sagedrop.notify import Notifier

from . import messages
from .context import (
    JOB_COMPLETED,
    JOB_FAILED,
    JOB_GATE_FAILED,
    JOB_STOPPED,
    JOB_TRAINED,
    JOB_TRAINING,
    Outcome,
    time_text,
)
from .ledger import Ledger, error_fields

log = logging.getLogger("sagedrop.deploy")


class JobEnds:
    """Record and announce a job's end that deploys nothing."""

    def __init__(self, registry_: registry.Registry, notifier: Notifier, ledger: Ledger) -> None:
        self._registry = registry_
        self._notifier = notifier
        self._ledger = ledger

    def ended_badly(self, model: str, job: str, description: Mapping[str, Any], job_tags: Mapping[str, str]) -> Outcome:
        failed = description["TrainingJobStatus"] == "Failed"
        status = JOB_FAILED if failed else JOB_STOPPED
        secondary = description.get("SecondaryStatus") or ""
        reason = description.get("FailureReason") or (
            "no reason given" if failed else f"stopped ({secondary or 'StopTrainingJob'})"
        )
        record = self._registry.get_job(model, job) or {}
        manifest = job_tags.get(tags.MANIFEST) or record.get("manifest") or "an unknown manifest"
        verb = "failed" if failed else "was stopped"
        message = messages.job_ended(model, job, verb=verb, reason=reason, manifest=manifest, secondary=secondary)
        details = {
            "job": job,
            "status": description["TrainingJobStatus"],
            "secondary_status": secondary,
            "failure_reason": description.get("FailureReason"),
            "manifest": manifest,
            "ended_at": time_text(description.get("TrainingEndTime") or description.get("LastModifiedTime")),
        }

        def announce() -> None:
            self._ledger.job_outcome(model, job, status, error_fields(job, f"training job {job} {verb}: {reason}"))
            self._notifier.publish(
                f"{model}: training job {verb}", message, event=f"job_{status}", model=model, details=details
            )

        first = self._ledger.once(
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

    def trained(
        self, model: str, job: str, metrics: Mapping[str, float], artifacts: str | None, job_tags: Mapping[str, str]
    ) -> Outcome:
        def announce() -> None:
            self._ledger.job_outcome(model, job, registry.TRAINED, {})
            self._notifier.publish(
                f"{model}: trained, not deployed",
                messages.trained(
                    model, job, artifacts=artifacts, metrics=metrics, manifest=job_tags.get(tags.MANIFEST)
                ),
                event="trained",
                model=model,
                details={"job": job, "metrics": dict(metrics), "model_data": artifacts},
            )

        if not self._ledger.once(
            model, job, JOB_TRAINED, {}, from_states=(JOB_TRAINING, JOB_COMPLETED), action=announce
        ):
            return Outcome("duplicate", model, job, message=f"{job} is already recorded as trained")
        return Outcome("trained", model, job, message="deploy: false")

    def gate_failed(
        self,
        model: str,
        job: str,
        result: GateResult,
        metrics: Mapping[str, float],
        summary: Mapping[str, Any],
        job_tags: Mapping[str, str],
    ) -> Outcome:
        verdict = result.describe()
        message = messages.gate_failed(
            model,
            job,
            verdict=verdict,
            metrics=metrics,
            manifest=job_tags.get(tags.MANIFEST),
            serving=summary.get("serving_job"),
        )
        short = f"{job} did not pass the gate: " + "; ".join(result.reasons)

        def announce() -> None:
            self._ledger.job_outcome(model, job, registry.GATE_FAILED, error_fields(job, short))
            self._notifier.publish(
                f"{model}: gate failed, nothing deployed",
                message,
                event="gate_failed",
                model=model,
                details={"job": job, "gate": result.to_dict(), "metrics": dict(metrics)},
            )

        first = self._ledger.once(
            model, job, JOB_GATE_FAILED, {"gate": result.to_dict()}, from_states=(JOB_COMPLETED,), action=announce
        )
        if not first:
            return Outcome("duplicate", model, job, message=f"{job} is already recorded as gate_failed")
        log.warning("gate failed", extra={"job": job, "gate": verdict})
        return Outcome("gate_failed", model, job, message=short)
