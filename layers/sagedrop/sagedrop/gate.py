"""The quality gate between a finished training job and its endpoint (pure logic, no AWS).

The manifest's ``deploy.gate`` names one metric of the job's ``FinalMetricDataList`` (read by
name, never by position) with a ``min`` (higher is better) and/or a ``max`` (lower is better);
``must_beat_current`` also asks the new value to beat the same metric of the model in service,
in the metric's better direction. A metric the job did not report fails the gate, and the message
lists the metrics the job did report so the user can fix the manifest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sagedrop.manifest import Gate


def metrics_by_name(final_metric_data_list: Iterable[Mapping[str, Any]] | None) -> dict[str, float]:
    """``FinalMetricDataList`` as ``{name: value}`` (the last value wins if a name repeats)."""
    metrics: dict[str, float] = {}
    for entry in final_metric_data_list or ():
        name = entry.get("MetricName")
        value = entry.get("Value")
        if isinstance(name, str) and isinstance(value, int | float) and not isinstance(value, bool):
            metrics[name] = float(value)
    return metrics


def _fmt(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class GateResult:
    """The verdict on one job, with the figures a user needs to understand it."""

    passed: bool
    metric: str | None = None
    value: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    current: float | None = None
    current_job: str | None = None
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        if self.metric is None:
            return "no gate: every completed job is deployed"
        head = f"gate on {self.metric}"
        bounds = []
        if self.minimum is not None:
            bounds.append(f"min {_fmt(self.minimum)}")
        if self.maximum is not None:
            bounds.append(f"max {_fmt(self.maximum)}")
        if bounds:
            head += " (" + ", ".join(bounds) + ")"
        if self.current is not None:
            head += f", must beat the model in service ({self.current_job}: {_fmt(self.current)})"
        verdict = "passed" if self.passed else "failed"
        lines = [f"{head}: {verdict}"]
        if self.value is not None:
            lines.append(f"  {self.metric} = {_fmt(self.value)}")
        lines.extend(f"  - {reason}" for reason in self.reasons)
        lines.extend(f"  ({note})" for note in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "metric": self.metric,
            "value": self.value,
            "min": self.minimum,
            "max": self.maximum,
            "current": self.current,
            "current_job": self.current_job,
            "reasons": list(self.reasons),
        }


def evaluate(
    gate: Gate | None,
    metrics: Mapping[str, float],
    *,
    must_beat_current: bool = False,
    current_metrics: Mapping[str, Any] | None = None,
    current_job: str | None = None,
) -> GateResult:
    """Judge a job's final metrics against the gate (and the model in service, if asked)."""
    if gate is None:
        return GateResult(passed=True)
    value = metrics.get(gate.metric)
    if value is None:
        reported = ", ".join(sorted(metrics)) if metrics else "none"
        return GateResult(
            passed=False,
            metric=gate.metric,
            minimum=gate.minimum,
            maximum=gate.maximum,
            reasons=(
                f"the job did not report {gate.metric!r}; the metrics it reported: {reported}. "
                "Name one of them in deploy.gate.metric (a validation metric needs a validation channel)",
            ),
        )
    if not math.isfinite(value):
        return GateResult(
            passed=False,
            metric=gate.metric,
            value=value,
            minimum=gate.minimum,
            maximum=gate.maximum,
            reasons=(f"{gate.metric} = {value!r} is not a finite number",),
        )

    reasons: list[str] = []
    notes: list[str] = []
    verdict = gate.verdict(value)
    if verdict:
        reasons.append(verdict)

    current: float | None = None
    if must_beat_current:
        raw = (current_metrics or {}).get(gate.metric)
        if current_job is None:
            notes.append("no model in service yet, so there is nothing to beat")
        elif not isinstance(raw, int | float) or isinstance(raw, bool) or not math.isfinite(float(raw)):
            notes.append(f"the model in service ({current_job}) has no {gate.metric} to compare with")
        else:
            current = float(raw)
            if not gate.beats(value, current):
                direction = "higher" if gate.better == "max" else "lower"
                reasons.append(
                    f"{gate.metric} = {_fmt(value)} does not beat the model in service "
                    f"({current_job}: {_fmt(current)}; {direction} is better)"
                )

    return GateResult(
        passed=not reasons,
        metric=gate.metric,
        value=value,
        minimum=gate.minimum,
        maximum=gate.maximum,
        current=current,
        current_job=current_job if current is not None else None,
        reasons=tuple(reasons),
        notes=tuple(notes),
    )
