"""Acting on an endpoint's real state: a model went in service (record, announce, prune, apply what waits),
or the endpoint failed (record, put the newest good model back)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sagedrop import naming, registry
from sagedrop.hosting import DeployError, SageMakerHosting, newer
from sagedrop.manifest import DeploySettings
from sagedrop.notify import Notifier

from . import messages
from .context import (
    JOB_COMPLETED,
    JOB_DEPLOY_FAILED,
    JOB_DEPLOYED,
    JOB_DEPLOYING,
    JOB_PENDING,
    MAX_FOLLOW,
    DeployContext,
    Outcome,
    absent_or,
)
from .ledger import Ledger
from .release import Releases

if TYPE_CHECKING:
    from .rollout import Rollout

log = logging.getLogger("sagedrop.deploy")


class Settler:
    """What an endpoint's state means for the model's registry summary, and what to roll out next."""

    def __init__(
        self,
        ctx: DeployContext,
        *,
        aws: SageMakerHosting,
        registry_: registry.Registry,
        notifier: Notifier,
        ledger: Ledger,
        releases: Releases,
        rollout: Rollout,
    ) -> None:
        self.ctx = ctx
        self._aws = aws
        self._registry = registry_
        self._notifier = notifier
        self._ledger = ledger
        self._releases = releases
        self._rollout = rollout

    def settle(self, model: str, endpoint: str, depth: int = 0) -> Outcome:
        """Act on the endpoint's real state. The summary is read first, then the endpoint, so a
        rollout recorded in the summary was already started when the endpoint was described."""
        summary = self._registry.get(model, consistent=True) or {}
        described = self._aws.describe_endpoint(endpoint)
        if described is None or described.get("EndpointStatus") == "Deleting":
            pending = summary.get("pending_job")
            if pending and summary.get("endpoint") == endpoint and depth < MAX_FOLLOW:
                # A re-creation that an earlier attempt started (its retry lands here): finish it.
                return self.rollout_job(model, pending, depth + 1)
            state = "no longer exists" if described is None else "is being deleted"
            return Outcome("ignored", model, endpoint=endpoint, message=f"endpoint {endpoint} {state}")
        status = described.get("EndpointStatus")
        if status == "InService":
            return self._on_in_service(model, described, summary, depth)
        if status == "Failed":
            return self._on_endpoint_failed(model, described, summary, depth)
        waiting = summary.get("pending_job") or summary.get("deploying_job")
        return Outcome("deploying", model, waiting, endpoint, f"endpoint {endpoint} is {status}")

    def rollout_job(self, model: str, job: str, depth: int) -> Outcome:
        try:
            release = self._releases.build(model, job)
        except DeployError as exc:
            return self._ledger.deploy_failed(
                model, job, exc.describe(), {"job": job, "problems": messages.problems(exc)}
            )
        return self._rollout.rollout(release, depth)

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
            self._ledger.deploy_failed(
                model,
                deploying,
                f"the update of endpoint {endpoint} to {deploying} did not take: {reason}. {live} keeps serving.",
                {"job": deploying, "endpoint": endpoint, "failure_reason": described.get("FailureReason")},
            )
        self._ledger.clear(model, live)
        if pending and pending != rolled_back and newer(pending, live):
            if depth >= MAX_FOLLOW:
                return Outcome("deploying", model, pending, endpoint, "too many chained rollouts for one event")
            log.info("applying the pending job", extra={"job": pending, "endpoint": endpoint})
            return self.rollout_job(model, pending, depth + 1)
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
            self._ledger.deploy_failed(
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
            condition=absent_or("#pending", "<="),
            names={"#pending": "pending_job"},
            values={":job": target, ":null": "NULL"},
        )
        return self.rollout_job(model, target, depth + 1)

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
        deployed_at = registry.now_iso()
        changed = self._record_serving(model, live, endpoint, record, deployed_at)
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
            self._notifier.publish(
                f"{model}: new model in service",
                messages.in_service(model, live, endpoint, record, previous),
                event="in_service",
                model=model,
                details={
                    "job": live,
                    "endpoint": endpoint,
                    "metrics": record.get("metrics") or {},
                    "previous": previous,
                },
            )
            self._aws.prune(model, protect=(protect | {live, previous or ""}) - {""})

        return self._ledger.once(
            model,
            live,
            JOB_DEPLOYED,
            {"deployed_at": deployed_at, "endpoint": endpoint, "previous_job": previous},
            from_states=(JOB_COMPLETED, JOB_PENDING, JOB_DEPLOYING, JOB_DEPLOY_FAILED),
            action=announce,
        )

    def _record_serving(
        self, model: str, live: str, endpoint: str, record: Mapping[str, Any], deployed_at: str
    ) -> bool:
        """The summary names ``live`` as the serving job, unless it already names a newer one."""
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
            "feature_dim": messages.feature_dim(record),
            "idle_minutes": settings.idle_minutes,
            "keep_alive": settings.keep_alive,
            "deployed_at": deployed_at,
            "stack": self.ctx.stack,
        }
        return self._registry.update(
            model,
            fields,
            condition=absent_or("#serving", "<"),
            names={"#serving": "serving_job"},
            values={":job": live, ":null": "NULL"},
        )
