"""``Invocations`` of endpoint variants from CloudWatch, batched (the only metric the idle rule reads)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

METRIC_NAMESPACE = "AWS/SageMaker"
METRIC_NAME = "Invocations"
MAX_QUERIES_PER_CALL = 500  # GetMetricData
ONE_MINUTE_DATA_DAYS = 15  # CloudWatch keeps 1-minute data 15 days; older periods must be multiples of 5 min


def metric_period(window_minutes: int) -> int:
    """One CloudWatch period covering the whole window (a multiple of 60 s; of 300 s past 15 days)."""
    seconds = window_minutes * 60
    if seconds > ONE_MINUTE_DATA_DAYS * 86400:
        seconds = -(-seconds // 300) * 300
    return seconds


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def read_invocations(
    cloudwatch: Any, pairs: Iterable[tuple[str, str, int]], now: datetime
) -> dict[tuple[str, str], float | None]:
    """Sum of ``Invocations`` per ``(endpoint, variant)`` over each pair's window (minutes).

    One query per pair with both dimensions, 500 queries per GetMetricData call, calls grouped by
    window length (StartTime is per call). No data points give 0.0; a query CloudWatch could not
    answer (``Forbidden``, ``InternalError``) gives None.
    """
    by_window: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for endpoint, variant, window in dict.fromkeys(pairs):
        by_window[window].append((endpoint, variant))
    paginator = cloudwatch.get_paginator("get_metric_data")
    sums: dict[tuple[str, str], float | None] = {}
    for window, items in sorted(by_window.items()):
        period = metric_period(window)
        start = now - timedelta(minutes=window)
        for chunk in chunks(items, MAX_QUERIES_PER_CALL):
            ids = {f"q{i}": pair for i, pair in enumerate(chunk)}
            queries = [
                {
                    "Id": query_id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": METRIC_NAMESPACE,
                            "MetricName": METRIC_NAME,
                            "Dimensions": [
                                {"Name": "EndpointName", "Value": endpoint},
                                {"Name": "VariantName", "Value": variant},
                            ],
                        },
                        "Period": period,
                        "Stat": "Sum",
                    },
                    "ReturnData": True,
                }
                for query_id, (endpoint, variant) in ids.items()
            ]
            totals = dict.fromkeys(ids, 0.0)
            failed: set[str] = set()
            for page in paginator.paginate(MetricDataQueries=queries, StartTime=start, EndTime=now):
                for result in page.get("MetricDataResults", []):
                    query_id = result.get("Id")
                    if query_id not in totals:
                        continue
                    if result.get("StatusCode") in ("Forbidden", "InternalError"):
                        failed.add(query_id)
                    totals[query_id] += float(sum(result.get("Values") or ()))
            for query_id, pair in ids.items():
                sums[pair] = None if query_id in failed else totals[query_id]
    return sums
