"""The endpoint sweep: rules, then Invocations, then a Describe to confirm, then hibernate what stayed idle.

Calls stay O(N/100): metrics are batched 500 queries a call, and only endpoints about to be hibernated
are described (:mod:`.listings`). An AWS error on one endpoint is recorded on the report and the others
go on (:meth:`~.report.Report.aws_error`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sagedrop import registry

from .hibernate import HibernateRefused, hibernate, scalable_targets, variant_resource_id
from .listings import Hosting, describe_hosting
from .metrics import read_invocations
from .report import EndpointDecision, Report
from .rules import (
    BUSY,
    FAILED,
    GONE,
    HIBERNATED,
    IDLE,
    IN_SERVICE,
    METRICS_UNAVAILABLE,
    NOT_IN_SERVICE,
    SERVERLESS,
    SKIPPED,
    WOULD_HIBERNATE,
    EndpointFacts,
    Knobs,
    Verdict,
    knobs,
    static_verdict,
)

Sums = dict[str, float | None]


@dataclass
class Suspect:
    """An endpoint that looked idle so far: its facts, verdict, Invocations per variant and (once described) hosting."""

    facts: EndpointFacts
    verdict: Verdict
    per_variant: Sums
    hosting: Hosting | None = None


def figures(facts: EndpointFacts, verdict: Verdict, knob: Knobs | None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "status": facts.status,
        "window_minutes": verdict.window_minutes,
        "age_minutes": verdict.age_minutes,
        "last_change": facts.last_change.isoformat(),
    }
    if verdict.detail:
        found["detail"] = verdict.detail
    if knob is not None and knob.notes:
        found["notes"] = list(knob.notes)
    return found


def fail(report: Report, facts: EndpointFacts, verdict: Verdict, step: str, exc: BaseException) -> None:
    message = report.aws_error(f"{step} {facts.name}", exc)
    found = figures(facts, verdict, None)
    found["detail"] = message
    report.decide(EndpointDecision(facts.name, facts.model, FAILED, step.replace(" ", "_"), found))


class EndpointSweep:
    """One run's pass over this stack's endpoints; ``described`` keeps what it described for the orphan sweep."""

    def __init__(
        self,
        *,
        sagemaker: Any,
        cloudwatch: Any,
        autoscaling: Any,
        registry_: registry.Registry,
        default_idle_minutes: int,
    ) -> None:
        self._sagemaker = sagemaker
        self._cloudwatch = cloudwatch
        self._autoscaling = autoscaling
        self._registry = registry_
        self._default_idle_minutes = default_idle_minutes

    def run(
        self,
        endpoints: Sequence[EndpointFacts],
        now: datetime,
        dry: bool,
        report: Report,
        described: dict[str, Hosting | None],
    ) -> None:
        pending = self._by_rules(endpoints, now, report)
        if not pending:
            return
        # Invocations of the variants sagedrop gave them, 500 queries per call.
        sums = read_invocations(
            self._cloudwatch,
            [(f.name, variant, v.window_minutes) for f, v in pending for variant in f.variants()],
            now,
        )
        suspects = []
        for facts, verdict in pending:
            per_variant = {variant: sums.get((facts.name, variant)) for variant in facts.variants()}
            if not self._decided_by_metrics(report, facts, verdict, per_variant):
                suspects.append(Suspect(facts, verdict, per_variant))
        confirmed = self._confirm(suspects, now, report, described)
        if confirmed:
            self._hibernate_all(confirmed, report, dry)

    def _by_rules(
        self, endpoints: Sequence[EndpointFacts], now: datetime, report: Report
    ) -> list[tuple[EndpointFacts, Verdict]]:
        """Skip what a rule keeps; the rest need their metrics."""
        pending: list[tuple[EndpointFacts, Verdict]] = []
        for facts in endpoints:
            knob = knobs(facts, self._default_idle_minutes)
            verdict = static_verdict(facts, knob, now)
            if verdict.reason is not None:
                found = figures(facts, verdict, knob)
                report.decide(EndpointDecision(facts.name, facts.model, SKIPPED, verdict.reason, found))
            else:
                pending.append((facts, verdict))
        return pending

    def _confirm(
        self, suspects: Sequence[Suspect], now: datetime, report: Report, described: dict[str, Hosting | None]
    ) -> list[Suspect]:
        """Confirm what looks idle: still InService, every variant read, serverless after all?"""
        confirmed: list[Suspect] = []
        extra: list[Suspect] = []
        for suspect in suspects:
            facts, verdict = suspect.facts, suspect.verdict
            try:
                hosting = described[facts.name] = describe_hosting(self._sagemaker, facts.name)
            except (ClientError, BotoCoreError) as exc:
                fail(report, facts, verdict, "describe", exc)
                continue
            suspect.hosting = hosting
            reason = self._kept_by_hosting(hosting)
            if reason is not None:
                base = figures(facts, verdict, None)
                if reason == NOT_IN_SERVICE and hosting is not None:
                    base["status"] = hosting.status
                report.decide(EndpointDecision(facts.name, facts.model, SKIPPED, reason, base))
            elif set(hosting.variant_names) - set(suspect.per_variant):  # type: ignore[union-attr]
                extra.append(suspect)
            else:
                confirmed.append(suspect)
        if extra:
            confirmed.extend(self._read_other_variants(extra, now, report))
        return confirmed

    @staticmethod
    def _kept_by_hosting(hosting: Hosting | None) -> str | None:
        if hosting is None:
            return GONE
        if hosting.serverless:
            return SERVERLESS
        if hosting.status != IN_SERVICE:
            return NOT_IN_SERVICE
        return None

    def _read_other_variants(self, extra: Sequence[Suspect], now: datetime, report: Report) -> list[Suspect]:
        """A variant that was not queried (added outside sagedrop) is read before deciding."""
        more = read_invocations(
            self._cloudwatch,
            [
                (s.facts.name, name, s.verdict.window_minutes)
                for s in extra
                for name in s.hosting.variant_names  # type: ignore[union-attr]
                if name not in s.per_variant
            ],
            now,
        )
        idle = []
        for suspect in extra:
            for name in suspect.hosting.variant_names:  # type: ignore[union-attr]
                suspect.per_variant.setdefault(name, more.get((suspect.facts.name, name)))
            if not self._decided_by_metrics(report, suspect.facts, suspect.verdict, suspect.per_variant):
                idle.append(suspect)
        return idle

    def _decided_by_metrics(
        self, report: Report, facts: EndpointFacts, verdict: Verdict, per_variant: Mapping[str, float | None]
    ) -> bool:
        """Record busy / metrics-unavailable; False when every variant read zero (idle so far)."""
        found = figures(facts, verdict, None)
        found["invocations"] = dict(per_variant)
        if any(value is None for value in per_variant.values()):
            found["detail"] = "CloudWatch could not answer for a variant; kept"
            report.decide(EndpointDecision(facts.name, facts.model, SKIPPED, METRICS_UNAVAILABLE, found))
            return True
        total = sum(value or 0.0 for value in per_variant.values())
        if total > 0:
            found["total_invocations"] = total
            report.decide(EndpointDecision(facts.name, facts.model, SKIPPED, BUSY, found))
            return True
        return False

    def _hibernate_all(self, confirmed: Sequence[Suspect], report: Report, dry: bool) -> None:
        resource_ids = [
            variant_resource_id(s.facts.name, name)
            for s in confirmed
            for name in s.hosting.variant_names  # type: ignore[union-attr]
        ]
        try:
            scaling = scalable_targets(self._autoscaling, resource_ids)
        except (ClientError, BotoCoreError) as exc:
            for suspect in confirmed:
                fail(report, suspect.facts, suspect.verdict, "describe autoscaling", exc)
            return
        for suspect in confirmed:
            self._hibernate_one(report, suspect, scaling, dry)

    def _hibernate_one(self, report: Report, suspect: Suspect, scaling: Mapping[str, Sequence[str]], dry: bool) -> None:
        facts, verdict, per_variant, hosting = suspect.facts, suspect.verdict, suspect.per_variant, suspect.hosting
        assert hosting is not None  # confirmed suspects are described
        cost, unpriced = hosting.hourly_cost()
        found = figures(facts, verdict, None)
        found.update(
            {
                "invocations": dict(per_variant),
                "total_invocations": 0.0,
                "instances": hosting.instances(),
                "endpoint_config": hosting.config,
                "hourly_cost_usd": cost,
                "autoscaling": sorted(
                    rid for rid in scaling if rid in {variant_resource_id(facts.name, n) for n in hosting.variant_names}
                ),
            }
        )
        if unpriced:
            found["unpriced_instances"] = unpriced
        reason = (
            f"no invocations in the last {verdict.window_minutes} minutes "
            f"(variants {', '.join(sorted(per_variant))}); hibernated by cleanup"
        )
        if dry:
            report.decide(EndpointDecision(facts.name, facts.model, WOULD_HIBERNATE, IDLE, found))
            return
        try:
            done = hibernate(
                facts.name,
                model=facts.model,
                variants=hosting.variant_names,
                reason=reason,
                sagemaker=self._sagemaker,
                autoscaling=self._autoscaling,
                registry_=self._registry,
                scaling=scaling,
            )
        except HibernateRefused as exc:
            found["detail"] = str(exc)
            report.errors.append(str(exc))
            report.decide(EndpointDecision(facts.name, facts.model, FAILED, "delete_refused", found))
            return
        except (ClientError, BotoCoreError) as exc:
            fail(report, facts, verdict, "hibernate", exc)
            return
        found.update(
            {
                "hibernated_at": done.at,
                "deregistered_autoscaling": list(done.deregistered),
                "registry_updated": done.registry_updated,
            }
        )
        if done.already_deleted:
            found["detail"] = "the endpoint was already deleted"
        report.decide(EndpointDecision(facts.name, facts.model, HIBERNATED, IDLE, found))
