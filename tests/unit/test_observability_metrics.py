"""Metrics with POWERTOOLS_METRICS_DISABLED print nothing, however many invocations a process runs.

Powertools 3.37.0 (aws_lambda_powertools/metrics/provider/cloudwatch_emf/cloudwatch.py): ``flush_metrics``
neither prints nor clears when metrics are disabled, and ``add_metric`` prints the EMF JSON once a metric
holds 100 values (aws-powertools/powertools-lambda-python pull request #1046), disabled or not. The local
stack runs the functions many times in one process with metrics disabled; sagedrop.observability clears
the set at each flush.
"""

from __future__ import annotations

from sagedrop.observability import MetricUnit, metrics


def test_a_hundred_invocations_with_metrics_disabled_print_no_emf(monkeypatch, capsys, lambda_context):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")

    @metrics.log_metrics
    def handler(event, context):
        metrics.add_metric(name="Batch_started", unit=MetricUnit.Count, value=1)
        return {}

    for _ in range(150):
        handler({}, lambda_context)
    assert '"_aws"' not in capsys.readouterr().out


def test_with_metrics_on_every_invocation_flushes_its_own_values(monkeypatch, capsys, lambda_context):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)

    @metrics.log_metrics
    def handler(event, context):
        metrics.add_metric(name="Batch_started", unit=MetricUnit.Count, value=1)
        return {}

    for _ in range(3):
        handler({}, lambda_context)
    lines = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert len(lines) == 3 and all('"Batch_started":[1.0]' in line for line in lines)
