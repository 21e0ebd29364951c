"""The rollout: claim the endpoint for the newest passed job, then create, update or re-create it.

Newest wins: ``pending_job`` only moves forward (conditional writes), a job older than the pending or
serving one is ``superseded``; an endpoint that is Creating/Updating keeps the job pending until its
next state change (:mod:`sagedrop.deploy.settle` applies it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from sagedrop import naming, registry, tags
from sagedrop.aws_errors import already_exists, in_progress
from sagedrop.errors import Problem
from sagedrop.hosting import DeployError, Release, SageMakerHosting, newer, refused_as_serverless
from sagedrop.notify import Notifier

from . import messages
from .context import (
    BUSY,
    JOB_COMPLETED,
    JOB_DEPLOY_FAILED,
    JOB_DEPLOYING,
    JOB_PENDING,
    JOB_SUPERSEDED,
    DeployContext,
    EndpointBusy,
    Outcome,
    absent_or,
)
from .ledger import Ledger

log = logging.getLogger("sagedrop.deploy")


def _unset_settle(model: str, endpoint: str, depth: int = 0) -> Outcome:
    raise RuntimeError("Rollout.settle is wired by the Deployer")


class Rollout:
    """Create, update or re-create a release's endpoint; ``settle`` (the Settler's) follows its new state."""

    def __init__(
        self,
        ctx: DeployContext,
        *,
        sagemaker: Any,
        aws: SageMakerHosting,
        registry_: registry.Registry,
        notifier: Notifier,
        ledger: Ledger,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ctx = ctx
        self._sm = sagemaker
        self._aws = aws
        self._registry = registry_
        self._notifier = notifier
        self._ledger = ledger
        self._sleep = sleep
        self._clock = clock
        self.settle: Callable[..., Outcome] = _unset_settle

    # ---- claim

    def claim(self, release: Release) -> str:
        """Record the job as the one that should end up in service, unless a newer one is."""
        claimed = self._registry.update(
            release.model,
            {"pending_job": release.job, "status": registry.DEPLOYING, "endpoint": release.endpoint},
            condition=f"{absent_or('#pending', '<=')} AND {absent_or('#serving', '<')}",
            names={"#pending": "pending_job", "#serving": "serving_job"},
            values={":job": release.job, ":null": "NULL"},
        )
        if claimed:
            return "claimed"
        summary = self._registry.get(release.model, consistent=True) or {}
        if summary.get("serving_job") == release.job:
            return "duplicate"
        return "superseded"

    def not_claimed(self, release: Release, claim: str) -> Outcome:
        if claim == "duplicate":
            # Already recorded as serving; finish what an interrupted attempt left (the announcement).
            return self.settle(release.model, release.endpoint)
        return self.superseded(release.model, release.job, release.endpoint)

    def superseded(self, model: str, job: str, endpoint: str) -> Outcome:
        self._ledger.job_status(model, job, JOB_SUPERSEDED, {}, from_states=(JOB_COMPLETED, JOB_PENDING))
        self._ledger.remove_if(model, "pending_job", "=", job)
        self._ledger.restore_status(model)
        log.info("a newer job is already pending or serving", extra={"job": job})
        return Outcome("superseded", model, job, endpoint, "a newer job is already pending or in service")

    # ---- rollout

    def rollout(self, release: Release, depth: int = 0) -> Outcome:
        """Create, update or re-create the endpoint with the release's config, or leave it pending."""
        try:
            self._aws.ensure_hosting(release)
            described = self._aws.describe_endpoint(release.endpoint)
            if described is not None:
                outcome = self._on_existing(release, described, depth)
                if outcome is not None:
                    return outcome
            return self._create_endpoint(release, depth, "CreateEndpoint")
        except DeployError as exc:
            details = {"job": release.job, "problems": messages.problems(exc)}
            return self._ledger.deploy_failed(release.model, release.job, exc.describe(), details)

    def _on_existing(self, release: Release, described: Mapping[str, Any], depth: int) -> Outcome | None:
        """The endpoint exists: wait, settle, supersede, update or replace it; None when it is gone now
        (a Failed endpoint deleted) and must be created."""
        model, job, endpoint = release.model, release.job, release.endpoint
        self._check_endpoint_owner(release, described)
        status = described.get("EndpointStatus")
        live = described.get("EndpointConfigName")
        if status in BUSY:
            return self._wait_turn(release, str(status))
        if status in ("Failed", "Deleting"):
            if status == "Failed":
                self._aws.delete_endpoint(endpoint)
            self._wait_gone(endpoint)
            return None
        if live == release.endpoint_config:
            return self.settle(model, endpoint, depth)
        if naming.model_of_job(live or "") == model and newer(live, job):
            return self.superseded(model, job, endpoint)
        summary = self._registry.get(model, consistent=True) or {}
        if newer(summary.get("pending_job"), job) or newer(summary.get("serving_job"), job):
            return self.superseded(model, job, endpoint)
        if release.serverless and self._aws.serves_on_instances(described):
            return self._replace(release, described, depth)
        return self._update(release, described, depth)

    def _update(self, release: Release, described: Mapping[str, Any], depth: int) -> Outcome:
        try:
            self._sm.update_endpoint(EndpointName=release.endpoint, EndpointConfigName=release.endpoint_config)
        except Exception as exc:
            if in_progress(exc):
                return self._wait_turn(release, "Updating")
            if release.serverless and refused_as_serverless(exc):
                return self._replace(release, described, depth)
            self._aws.raise_for_user(exc, "UpdateEndpoint", release.job)
        # The endpoint's knobs follow the model now behind it (cleanup reads them).
        self._sm.add_tags(ResourceArn=described["EndpointArn"], Tags=tags.to_list(release.hosting_tags(self.ctx.stack)))
        return self._started(release, "UpdateEndpoint", depth)

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
        next event of the endpoint (the Settler creates it once it is gone). The reverse direction
        (serverless -> instances) is an UpdateEndpoint that SageMaker accepts (same page)."""
        live = described.get("EndpointConfigName") or ""
        self._announce_replacement(release, live, messages.replacement(release, live))
        log.warning(
            "endpoint replaced: instances -> serverless", extra={"job": release.job, "endpoint": release.endpoint}
        )
        self._aws.delete_endpoint(release.endpoint)
        self._wait_gone(release.endpoint)
        return self._create_endpoint(release, depth, "CreateEndpoint (replacing the instance-based endpoint)")

    def _create_endpoint(self, release: Release, depth: int, action: str) -> Outcome:
        try:
            self._sm.create_endpoint(
                EndpointName=release.endpoint,
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
        self._ledger.job_status(release.model, release.job, JOB_PENDING, {}, from_states=(JOB_COMPLETED,))
        message = f"endpoint {release.endpoint} is {status}; {release.job} will be applied when it is InService"
        log.info("endpoint busy, job pending", extra={"job": release.job, "endpoint": release.endpoint})
        return Outcome("pending", release.model, release.job, release.endpoint, message)

    def _started(self, release: Release, action: str, depth: int) -> Outcome:
        self._registry.update(
            release.model,
            {"deploying_job": release.job, "status": registry.DEPLOYING, "endpoint": release.endpoint},
        )
        self._ledger.job_status(
            release.model,
            release.job,
            JOB_DEPLOYING,
            {"deploy_started_at": registry.now_iso(), "hosting": release.describe_hosting()},
            from_states=(JOB_COMPLETED, JOB_PENDING, JOB_DEPLOY_FAILED),
        )
        log.info(f"{action} started", extra={"job": release.job, "endpoint": release.endpoint})
        outcome = self.settle(release.model, release.endpoint, depth)
        if outcome.status in ("deploying", "ignored"):
            return Outcome("deploying", release.model, release.job, release.endpoint, f"{action}: {outcome.message}")
        return outcome

    def _wait_gone(self, name: str) -> None:
        deadline = self._clock() + self.ctx.delete_wait_s
        while self._aws.describe_endpoint(name) is not None:
            if self._clock() >= deadline:
                raise EndpointBusy(
                    f"endpoint {name} is still being deleted after {self.ctx.delete_wait_s:g} s; "
                    "the event is retried and the newest passed job is kept as pending_job"
                )
            self._sleep(self.ctx.poll_s)
