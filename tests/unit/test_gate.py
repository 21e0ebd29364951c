"""The quality gate: metrics read by name, min/max bounds, must-beat-current, clear messages."""

from __future__ import annotations

import math

import pytest

from sagedrop.gate import evaluate, metrics_by_name
from sagedrop.manifest import DeploySettings, Gate

AUC = Gate("validation:auc", minimum=0.8, better="max")
RMSE = Gate("validation:rmse", maximum=0.5, better="min")


def test_metrics_are_read_by_name_not_position():
    final = [
        {"MetricName": "train:auc", "Value": 0.99, "Timestamp": "2026-11-26T10:21:48Z"},
        {"MetricName": "validation:auc", "Value": 0.81},
        {"MetricName": "validation:auc", "Value": 0.83},  # the last value of a repeated name wins
        {"MetricName": "broken"},
        {"MetricName": "flag", "Value": True},
    ]
    assert metrics_by_name(final) == {"train:auc": 0.99, "validation:auc": 0.83}
    assert metrics_by_name(None) == {}


def test_no_gate_passes_everything():
    result = evaluate(None, {})
    assert result.passed is True
    assert result.describe() == "no gate: every completed job is deployed"


@pytest.mark.parametrize(
    ("gate", "value", "passed", "reason"),
    [
        (AUC, 0.85, True, None),
        (AUC, 0.8, True, None),
        (AUC, 0.79, False, "validation:auc = 0.79 is below the minimum 0.8"),
        (RMSE, 0.5, True, None),
        (RMSE, 0.51, False, "validation:rmse = 0.51 is above the maximum 0.5"),
        (Gate("validation:auc", 0.6, 0.7), 0.75, False, "validation:auc = 0.75 is above the maximum 0.7"),
    ],
)
def test_bounds(gate, value, passed, reason):
    result = evaluate(gate, {gate.metric: value, "train:auc": 1.0})
    assert result.passed is passed
    assert result.value == value
    assert result.reasons == ((reason,) if reason else ())


def test_missing_metric_fails_and_names_the_metrics_that_exist():
    result = evaluate(AUC, {"train:auc": 0.97, "train:logloss": 0.2})
    assert result.passed is False
    assert result.value is None
    (reason,) = result.reasons
    assert "did not report 'validation:auc'" in reason
    assert "the metrics it reported: train:auc, train:logloss" in reason
    assert "reported: none" in evaluate(AUC, {}).reasons[0]


def test_non_finite_metric_fails():
    result = evaluate(AUC, {"validation:auc": math.nan})
    assert result.passed is False
    assert "not a finite number" in result.reasons[0]


def test_must_beat_current_higher_is_better():
    current = {"validation:auc": 0.9}
    win = evaluate(AUC, {"validation:auc": 0.91}, must_beat_current=True, current_metrics=current, current_job="j1")
    assert win.passed is True and win.current == 0.9 and win.current_job == "j1"
    tie = evaluate(AUC, {"validation:auc": 0.9}, must_beat_current=True, current_metrics=current, current_job="j1")
    assert tie.passed is False
    assert tie.reasons == ("validation:auc = 0.9 does not beat the model in service (j1: 0.9; higher is better)",)


def test_must_beat_current_lower_is_better():
    current = {"validation:rmse": 0.3}
    win = evaluate(RMSE, {"validation:rmse": 0.29}, must_beat_current=True, current_metrics=current, current_job="j")
    lose = evaluate(RMSE, {"validation:rmse": 0.31}, must_beat_current=True, current_metrics=current, current_job="j")
    assert win.passed is True
    assert lose.passed is False and "lower is better" in lose.reasons[0]


def test_must_beat_current_without_a_model_in_service_or_its_metric():
    alone = evaluate(AUC, {"validation:auc": 0.85}, must_beat_current=True)
    assert alone.passed is True and alone.current is None
    assert "nothing to beat" in alone.describe()
    no_metric = evaluate(
        AUC, {"validation:auc": 0.85}, must_beat_current=True, current_metrics={"train:auc": 1.0}, current_job="j0"
    )
    assert no_metric.passed is True
    assert "the model in service (j0) has no validation:auc" in no_metric.describe()


def test_both_bound_and_current_failures_are_reported():
    result = evaluate(
        AUC, {"validation:auc": 0.7}, must_beat_current=True, current_metrics={"validation:auc": 0.75}, current_job="j"
    )
    assert len(result.reasons) == 2
    text = result.describe()
    assert text.startswith("gate on validation:auc (min 0.8), must beat the model in service (j: 0.75): failed")
    assert "  validation:auc = 0.7" in text


def test_gate_round_trips_through_the_job_record():
    settings = DeploySettings(gate=Gate("validation:rmse", None, 0.4, "min"), must_beat_current=True)
    restored = DeploySettings.from_dict(settings.to_dict())
    result = evaluate(
        restored.gate,
        {"validation:rmse": 0.35},
        must_beat_current=True,
        current_metrics={"validation:rmse": 0.3},
        current_job="old",
    )
    assert result.passed is False
    assert result.to_dict() == {
        "passed": False,
        "metric": "validation:rmse",
        "value": 0.35,
        "min": None,
        "max": 0.4,
        "current": 0.3,
        "current_job": "old",
        "reasons": ["validation:rmse = 0.35 does not beat the model in service (old: 0.3; lower is better)"],
    }
