"""What started a cleanup run: the schedule (either kind) or a person asking for a dry run."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("sagedrop.cleanup")


@dataclass(frozen=True)
class Trigger:
    """What started a run: the schedule (EventBridge Scheduler or a classic scheduled rule) or a person."""

    source: str
    time: str | None = None
    dry_run: bool = False

    @classmethod
    def from_event(cls, event: Any) -> Trigger:
        """Accept every shape a schedule delivers, and ``{"dry_run": true}`` for a manual preview.

        * EventBridge Scheduler (the template's ``ScheduleV2``, no ``Input``): Lambda receives ``{}``.
        * A classic EventBridge scheduled rule: ``{"detail-type": "Scheduled Event", "source":
          "aws.events", "time": ..., "resources": [rule arn], "detail": {}}``.
        * A manual ``aws lambda invoke`` with ``{"dry_run": true}`` reports without deleting (it
          can only make a run drier: ``false`` never overrides the stack's CleanupDryRun).

        Other keys are logged and ignored: the run does not depend on the event.
        """
        if event is None:
            return cls("scheduler")
        if not isinstance(event, Mapping):
            raise ValueError(
                f"the cleanup function expects a JSON object (the schedule's event), got {type(event).__name__}; "
                'invoke it with {} or {"dry_run": true}'
            )
        dry = event.get("dry_run", False)
        if not isinstance(dry, bool):
            raise ValueError(f'"dry_run" must be true or false, got {dry!r}; invoke with {{"dry_run": true}}')
        if event.get("detail-type") == "Scheduled Event":
            resources = event.get("resources") or []
            rule = resources[0] if isinstance(resources, list) and resources else event.get("source", "aws.events")
            return cls(f"rule:{rule}", str(event.get("time") or "") or None, dry)
        if event.get("source") == "aws.scheduler":
            return cls("scheduler", str(event.get("time") or "") or None, dry)
        unknown = sorted(set(event) - {"dry_run"})
        if unknown:
            log.warning("unrecognised keys in the cleanup event, ignored", extra={"keys": unknown[:20]})
        return cls("manual" if "dry_run" in event else "scheduler", None, dry)
