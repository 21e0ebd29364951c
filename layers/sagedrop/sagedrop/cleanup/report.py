"""What a cleanup run decided, endpoint by endpoint and orphan by orphan; its SNS summary; whether to retry."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sagedrop import pricing
from sagedrop.aws_errors import describe, is_retryable
from sagedrop.errors import SagedropError

from .rules import DELETED, FAILED, HIBERNATED, SKIPPED, WOULD_DELETE, WOULD_HIBERNATE

log = logging.getLogger("sagedrop.cleanup")


class CleanupIncomplete(SagedropError):
    """AWS throttled or failed on some resources; the run reported what it did and must be retried."""


@dataclass
class EndpointDecision:
    endpoint: str
    model: str | None
    action: str
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "model": self.model,
            "action": self.action,
            "reason": self.reason,
            **self.figures,
        }


@dataclass
class OrphanDecision:
    kind: str  # "endpoint-config" | "model"
    name: str
    model: str | None
    action: str
    reason: str
    age_days: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "model": self.model,
            "action": self.action,
            "reason": self.reason,
            "age_days": self.age_days,
        }


@dataclass
class Report:
    stack: str
    dry_run: bool
    trigger: str
    started_at: str
    scanned: int = 0
    ignored_other_stacks: int = 0
    decisions: list[EndpointDecision] = field(default_factory=list)
    orphans: list[OrphanDecision] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    retry_causes: list[BaseException] = field(default_factory=list, repr=False)

    @property
    def hibernated(self) -> list[EndpointDecision]:
        """Endpoints hibernated (or, dry, that would be)."""
        return [d for d in self.decisions if d.action in (HIBERNATED, WOULD_HIBERNATE)]

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        return dict(Counter(d.reason for d in self.decisions if d.action == SKIPPED))

    @property
    def failed(self) -> list[EndpointDecision]:
        return [d for d in self.decisions if d.action == FAILED]

    @property
    def orphans_deleted(self) -> list[OrphanDecision]:
        return [o for o in self.orphans if o.action in (DELETED, WOULD_DELETE)]

    @property
    def hourly_cost_avoided(self) -> float:
        return round(sum(d.figures.get("hourly_cost_usd") or 0.0 for d in self.hibernated), 4)

    @property
    def unpriced(self) -> list[str]:
        return [d.endpoint for d in self.hibernated if d.figures.get("unpriced_instances")]

    @property
    def changed(self) -> bool:
        return bool(self.hibernated or self.orphans_deleted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "dry_run": self.dry_run,
            "trigger": self.trigger,
            "started_at": self.started_at,
            "scanned": self.scanned,
            "ignored_other_stacks": self.ignored_other_stacks,
            "hibernated": [d.to_dict() for d in self.hibernated],
            "skipped_by_reason": self.skipped_by_reason,
            "failed": [d.to_dict() for d in self.failed],
            "orphans_deleted": [o.to_dict() for o in self.orphans_deleted],
            "orphans_kept": [o.to_dict() for o in self.orphans if o.action not in (DELETED, WOULD_DELETE)],
            "estimated_hourly_cost_avoided_usd": self.hourly_cost_avoided,
            "price_source": f"{pricing.SOURCE}, {pricing.AS_OF}",
            "errors": list(self.errors),
        }

    def decide(self, decision: EndpointDecision) -> None:
        """Add an endpoint's decision, and log it (a warning when it failed)."""
        self.decisions.append(decision)
        level = logging.WARNING if decision.action == FAILED else logging.INFO
        log.log(level, f"endpoint {decision.action}: {decision.reason}", extra={"decision": decision.to_dict()})

    def aws_error(self, step: str, exc: BaseException) -> str:
        """Note an AWS error of ``step``; a retryable one (throttling, 5xx, no answer) makes the run raise."""
        message = f"{step}: {describe(exc)}"
        self.errors.append(message)
        if is_retryable(exc):
            self.retry_causes.append(exc)
        return message

    def raise_for_errors(self) -> None:
        """Raise (so Lambda retries) when AWS throttled or failed on something during the run."""
        if self.retry_causes:
            raise CleanupIncomplete(
                f"cleanup of stack {self.stack} is incomplete, {len(self.retry_causes)} AWS error(s): "
                + "; ".join(self.errors[:5])
            ) from self.retry_causes[0]

    def message(self) -> tuple[str, str]:
        """Subject and body of the SNS summary."""
        verb = "would hibernate" if self.dry_run else "hibernated"
        parts = []
        if self.hibernated:
            parts.append(f"{verb} {len(self.hibernated)} idle endpoint{'s' if len(self.hibernated) != 1 else ''}")
        if self.orphans_deleted:
            removed = "would delete" if self.dry_run else "deleted"
            parts.append(f"{removed} {len(self.orphans_deleted)} unused config/model(s)")
        subject = ("cleanup (dry run): " if self.dry_run else "cleanup: ") + ", ".join(parts or ["nothing to do"])
        lines = [f"sagedrop cleanup of stack {self.stack} ({'dry run, nothing deleted' if self.dry_run else 'live'})."]
        if self.hibernated:
            lines += ["", f"Endpoints {verb} (nobody called them for their idle window):"]
            for d in self.hibernated:
                cost = d.figures.get("hourly_cost_usd")
                price = f"~${cost:.3f}/h" if cost else "price unknown"
                window = d.figures.get("window_minutes")
                lines.append(
                    f"  - {d.endpoint} (model {d.model or '?'}): 0 invocations in {window} min; "
                    f"{d.figures.get('instances', '?')}, {price}"
                )
            lines += [
                f"  estimated cost avoided: ~${self.hourly_cost_avoided:.3f} per hour "
                f"(us-east-1 on-demand prices, {pricing.AS_OF})",
                "",
                "Their endpoint configs and models are kept: the next prediction re-creates the endpoint "
                "(the API answers 503 with Retry-After while it starts). Set deploy.keep_alive in training.json "
                "to keep a model always on.",
            ]
        if self.orphans_deleted:
            removed = "would be deleted" if self.dry_run else "deleted"
            lines += ["", f"Unused endpoint configs and models {removed} (no endpoint and no registry item uses them):"]
            lines += [f"  - {o.kind} {o.name} ({o.age_days} days old)" for o in self.orphans_deleted]
        if self.failed or self.errors:
            lines += ["", "Problems:"] + [f"  - {e}" for e in self.errors]
        return subject, "\n".join(lines)
