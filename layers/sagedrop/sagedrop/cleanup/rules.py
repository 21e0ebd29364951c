"""The rules that need no metric: what the listings say about one endpoint, its knobs, and the verdict.

Decisions and skip reasons are named here (the handler's metric names use them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sagedrop import naming, registry, tags

from .settings import MAX_IDLE_MINUTES, MIN_IDLE_MINUTES

IN_SERVICE = "InService"

# ---- decisions -------------------------------------------------------------------------------

HIBERNATED = "hibernated"
WOULD_HIBERNATE = "would_hibernate"
SKIPPED = "skipped"
FAILED = "failed"

DELETED = "deleted"
WOULD_DELETE = "would_delete"
KEPT = "kept"

# Why an endpoint of this stack was not hibernated (metric names use these).
SERVERLESS = "serverless"
NOT_IN_SERVICE = "not_in_service"
KEEP_ALIVE = "keep_alive"
YOUNG = "young"
DEPLOYING = "deploying"
BUSY = "busy"
METRICS_UNAVAILABLE = "metrics_unavailable"
GONE = "gone"
SKIP_REASONS = (SERVERLESS, NOT_IN_SERVICE, KEEP_ALIVE, YOUNG, DEPLOYING, BUSY, METRICS_UNAVAILABLE, GONE)

IDLE = "idle"


@dataclass(frozen=True)
class EndpointFacts:
    """One endpoint of this stack, from ListEndpoints, its tags and its registry summary."""

    name: str
    arn: str
    status: str
    created: datetime
    modified: datetime
    tags: Mapping[str, str] = field(default_factory=dict)
    record: Mapping[str, Any] | None = None

    @property
    def model(self) -> str | None:
        return self.tags.get(tags.MODEL) or (self.record or {}).get("model")

    @property
    def last_change(self) -> datetime:
        return max(self.created, self.modified)

    def variants(self) -> tuple[str, ...]:
        """The variant names sagedrop gave the endpoint (registry, else the naming contract)."""
        recorded = (self.record or {}).get("variant")
        return (recorded if isinstance(recorded, str) and recorded else naming.VARIANT_NAME,)


@dataclass(frozen=True)
class Knobs:
    idle_minutes: int
    keep_alive: bool
    serverless: bool
    notes: tuple[str, ...] = ()


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    return None


def _minutes(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes if MIN_IDLE_MINUTES <= minutes <= MAX_IDLE_MINUTES else None


def knobs(facts: EndpointFacts, default_idle_minutes: int) -> Knobs:
    """Idle window, keep-alive and serverless for an endpoint: its tags first, then the registry.

    ``keep_alive`` and ``serverless`` hold when either source says so (the safe side). A tag that
    cannot be read is noted and the next source is used.
    """
    record = facts.record or {}
    notes = []
    idle = None
    raw_tag = facts.tags.get(tags.IDLE_MINUTES)
    if raw_tag is not None:
        idle = _minutes(raw_tag)
        if idle is None:
            notes.append(f"tag {tags.IDLE_MINUTES}={raw_tag!r} is not {MIN_IDLE_MINUTES}..{MAX_IDLE_MINUTES} minutes")
    if idle is None and record.get("idle_minutes") is not None:
        idle = _minutes(record.get("idle_minutes"))
    keep_alive = bool(_flag(facts.tags.get(tags.KEEP_ALIVE))) or bool(_flag(record.get("keep_alive")))
    serverless = bool(_flag(facts.tags.get(tags.SERVERLESS))) or bool(_flag(record.get("serverless")))
    return Knobs(idle or default_idle_minutes, keep_alive, serverless, tuple(notes))


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Verdict:
    """The rules' answer before (``reason`` None: read the metrics) or instead of the metrics."""

    reason: str | None
    window_minutes: int
    age_minutes: float
    detail: str = ""


def static_verdict(facts: EndpointFacts, knob: Knobs, now: datetime) -> Verdict:
    """Every rule that needs no metric, in order: serverless, status, keep-alive, age, deploy in progress."""
    window = knob.idle_minutes
    elapsed = now - facts.last_change
    age = round(elapsed.total_seconds() / 60, 1)
    if knob.serverless:
        return Verdict(SERVERLESS, window, age, "serverless endpoints cost nothing while idle")
    if facts.status != IN_SERVICE:
        return Verdict(NOT_IN_SERVICE, window, age, f"status {facts.status}: left to the deploy logic")
    if knob.keep_alive:
        return Verdict(KEEP_ALIVE, window, age, "deploy.keep_alive is set")
    if elapsed < timedelta(minutes=window):
        return Verdict(YOUNG, window, age, f"created or updated {age} min ago, window {window} min")
    record = facts.record or {}
    if record.get("status") in (registry.DEPLOYING, registry.WAKING):
        updated = _parse_time(record.get("updated_at"))
        if updated is not None and now - updated < timedelta(minutes=window):
            return Verdict(DEPLOYING, window, age, f"registry status {record['status']} since {record['updated_at']}")
    return Verdict(None, window, age)
