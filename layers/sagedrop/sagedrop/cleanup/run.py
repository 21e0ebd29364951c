"""One cleanup run: find this stack's endpoints, sweep them, sweep the orphans, notify, report."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sagedrop import registry, tags
from sagedrop.notify import Notifier

from .endpoints import EndpointSweep
from .listings import Hosting, list_endpoints, tagged_resources
from .orphans import OrphanSweep
from .report import Report
from .rules import EndpointFacts
from .settings import CleanupSettings
from .trigger import Trigger

log = logging.getLogger("sagedrop.cleanup")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Cleanup:
    """The cleanup function's domain logic, with its AWS clients injected."""

    def __init__(
        self,
        settings: CleanupSettings,
        *,
        sagemaker: Any,
        cloudwatch: Any,
        autoscaling: Any,
        tagging: Any,
        registry_: registry.Registry,
        notifier: Notifier,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self._sagemaker = sagemaker
        self._tagging = tagging
        self._registry = registry_
        self._notifier = notifier
        self._clock = clock
        self.endpoint_sweep = EndpointSweep(
            sagemaker=sagemaker,
            cloudwatch=cloudwatch,
            autoscaling=autoscaling,
            registry_=registry_,
            default_idle_minutes=settings.idle_minutes,
        )
        self.orphan_sweep = OrphanSweep(
            sagemaker=sagemaker,
            tagging=tagging,
            stack=settings.stack,
            retention_days=settings.orphan_retention_days,
        )

    # ---- entry point ----------------------------------------------------------------------

    def run(self, trigger: Trigger | None = None) -> Report:
        trigger = trigger or Trigger("scheduler")
        now = self._clock()
        dry = self.settings.dry_run or trigger.dry_run
        report = Report(self.settings.stack, dry, trigger.source, now.isoformat())
        log.info(
            "cleanup started",
            extra={
                "stack": self.settings.stack,
                "dry_run": dry,
                "trigger": trigger.source,
                "trigger_time": trigger.time,
                "idle_minutes": self.settings.idle_minutes,
                "orphan_retention_days": self.settings.orphan_retention_days,
            },
        )
        listed = list_endpoints(self._sagemaker)
        owned = tagged_resources(self._tagging, self.settings.stack, ["sagemaker:endpoint"])
        records = [item for item in self._registry.models() if item.get("stack") in (None, "", self.settings.stack)]
        endpoints = self._facts(listed, owned, records)
        report.scanned = len(endpoints)
        report.ignored_other_stacks = len(listed) - len(endpoints)
        described: dict[str, Hosting | None] = {}
        self.endpoint_sweep.run(endpoints, now, dry, report, described)
        self.orphan_sweep.run(listed, endpoints, records, now, dry, report, described)
        self._notify(report)
        log.info(
            "cleanup finished",
            extra={
                "stack": self.settings.stack,
                "dry_run": dry,
                "scanned": report.scanned,
                "ignored_other_stacks": report.ignored_other_stacks,
                "hibernated": len(report.hibernated),
                "skipped_by_reason": report.skipped_by_reason,
                "failed": len(report.failed),
                "orphans_deleted": len(report.orphans_deleted),
                "estimated_hourly_cost_avoided_usd": report.hourly_cost_avoided,
                "errors": report.errors,
            },
        )
        return report

    # ---- this stack's endpoints -----------------------------------------------------------

    @staticmethod
    def _facts(
        listed: Sequence[Mapping[str, Any]],
        owned: Mapping[str, Mapping[str, str]],
        records: Sequence[Mapping[str, Any]],
    ) -> list[EndpointFacts]:
        by_endpoint: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for record in records:
            if isinstance(record.get("endpoint"), str):
                by_endpoint[record["endpoint"]].append(record)
        facts = []
        for summary in listed:
            tag_map = owned.get(summary["EndpointArn"].lower())
            if tag_map is None:
                continue  # not this stack's: never touched, whatever its name
            name = summary["EndpointName"]
            candidates = by_endpoint.get(name, [])
            # Two models naming one endpoint (a manifest's deploy.endpoint_name): the model tag decides.
            record = next((r for r in candidates if r.get("model") == tag_map.get(tags.MODEL)), None)
            if record is None and candidates:
                record = candidates[0]
            facts.append(
                EndpointFacts(
                    name=name,
                    arn=summary["EndpointArn"],
                    status=summary.get("EndpointStatus", ""),
                    created=summary["CreationTime"],
                    modified=summary.get("LastModifiedTime") or summary["CreationTime"],
                    tags=dict(tag_map),
                    record=record,
                )
            )
        return facts

    # ---- notification ---------------------------------------------------------------------

    def _notify(self, report: Report) -> None:
        if not report.changed and not report.failed:
            return
        subject, body = report.message()
        self._notifier.publish(
            subject,
            body,
            event="cleanup_dry_run" if report.dry_run else "cleanup",
            model="",
            details={
                "hibernated": [d.to_dict() for d in report.hibernated],
                "orphans_deleted": [o.to_dict() for o in report.orphans_deleted],
                "failed": [d.to_dict() for d in report.failed],
                "scanned": report.scanned,
                "skipped_by_reason": report.skipped_by_reason,
                "estimated_hourly_cost_avoided_usd": report.hourly_cost_avoided,
            },
        )
