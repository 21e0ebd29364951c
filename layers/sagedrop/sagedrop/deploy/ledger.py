"""The registry side of the deploy flow: guarded job-record transitions, the model summary's status,
and the one "deploy failed" path (record, restore, notify once)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sagedrop import registry
from sagedrop.hosting import SageMakerHosting, newer
from sagedrop.notify import Notifier

from . import messages
from .context import (
    JOB_COMPLETED,
    JOB_DEPLOY_FAILED,
    JOB_DEPLOYED,
    JOB_DEPLOYING,
    JOB_PENDING,
    JOB_TRAINING,
    SOURCE_PRETRAINED,
    Outcome,
)

log = logging.getLogger("sagedrop.deploy")


def error_fields(job: str, message: str) -> dict[str, Any]:
    return {"last_error": message, "last_error_at": registry.now_iso(), "last_error_job": job}


class Ledger:
    """Job records and model summaries, moved only by conditional writes (duplicate events are harmless)."""

    def __init__(self, registry_: registry.Registry, notifier: Notifier, aws: SageMakerHosting) -> None:
        self._registry = registry_
        self._notifier = notifier
        self._aws = aws

    def remove_if(self, model: str, attribute: str, op: str, job: str) -> bool:
        return self._registry.update(
            model,
            {},
            condition=f"#a {op} :job",
            names={"#a": attribute},
            values={":job": job},
            remove=(attribute,),
        )

    def clear(self, model: str, live: str) -> None:
        """``pending_job``/``deploying_job`` at or before the live job are done."""
        self.remove_if(model, "pending_job", "<=", live)
        self.remove_if(model, "deploying_job", "<=", live)

    def job_status(
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

    def once(
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
        if not self.job_status(model, job, status, fields, from_states=from_states):
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

    def job_outcome(self, model: str, job: str, status: str, fields: Mapping[str, Any]) -> None:
        """Record a job's end on the summary. The status changes only for the model's newest job and
        never during a rollout; a model with a serving job keeps the endpoint's status
        (``in_service``, ``hibernated``, ``failed``), else it takes ``status``."""
        summary = self._registry.get(model, consistent=True) or {}
        seen = summary.get("status")
        if not newer(summary.get("latest_job"), job) and seen not in (registry.DEPLOYING, registry.WAKING):
            new_status = self.endpoint_status(summary) if summary.get("serving_job") else status
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

    def endpoint_status(self, summary: Mapping[str, Any]) -> str:
        """The summary status a model with a serving job has when no rollout is in flight."""
        described = self._aws.describe_endpoint(summary.get("endpoint") or "")
        if described is None:
            return registry.HIBERNATED
        if described.get("EndpointStatus") == "Failed":
            return registry.FAILED
        return registry.IN_SERVICE

    def restore_status(self, model: str) -> None:
        """After a rollout ended without a new model: the status says what the endpoint does now."""
        summary = self._registry.get(model, consistent=True) or {}
        if summary.get("status") != registry.DEPLOYING or summary.get("pending_job") or summary.get("deploying_job"):
            return
        status = self.endpoint_status(summary) if summary.get("serving_job") else registry.FAILED
        self._registry.update(
            model,
            {"status": status},
            condition="#s = :deploying",
            names={"#s": "status"},
            values={":deploying": registry.DEPLOYING},
        )

    def deploy_failed(self, model: str, job: str, message: str, details: Mapping[str, Any]) -> Outcome:
        """A job that cannot (or did not) go in service: record, restore the summary, notify once."""

        def announce() -> None:
            self.remove_if(model, "pending_job", "=", job)
            self.remove_if(model, "deploying_job", "=", job)
            self.restore_status(model)
            self.job_outcome(model, job, registry.FAILED, error_fields(job, message))
            pretrained = (self._registry.get_job(model, job) or {}).get("source") == SOURCE_PRETRAINED
            self._notifier.publish(
                f"{model}: deploy failed",
                messages.deploy_failed(model, job, message, pretrained=pretrained),
                event="deploy_failed",
                model=model,
                details=dict(details),
            )

        first = self.once(
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
