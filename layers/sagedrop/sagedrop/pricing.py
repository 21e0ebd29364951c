"""Hourly on-demand prices of common SageMaker real-time inference instances, to estimate savings.

Cleanup reports "estimated hourly cost avoided" when it hibernates an endpoint: the sum, over its
variants, of instance price x instance count. It is an estimate for a report, never used to decide
anything, so a missing instance type only means "price unknown" (counted apart), not an error.

Source: the Amazon SageMaker pricing page, https://aws.amazon.com/sagemaker/pricing/, tab
"On-Demand Pricing", section "Real-Time Inference", region US East (N. Virginia), USD per instance
hour, as published in 2024 and transcribed on 2026-11-26 without network access to re-check them.
Prices differ by region and change over time; Savings Plans and free-tier hours are not reflected.
Update the table (and this date) from that page when it matters.
"""

from __future__ import annotations

from collections.abc import Iterable

REGION = "us-east-1"
SOURCE = "https://aws.amazon.com/sagemaker/pricing/ (Real-Time Inference, us-east-1, on-demand)"
AS_OF = "2024 price list, transcribed 2026-11-26"

HOURLY_USD: dict[str, float] = {
    # burstable
    "ml.t2.medium": 0.056,
    "ml.t2.large": 0.111,
    "ml.t2.xlarge": 0.223,
    "ml.t2.2xlarge": 0.445,
    # general purpose
    "ml.m4.xlarge": 0.28,
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.m5.2xlarge": 0.461,
    "ml.m5.4xlarge": 0.922,
    "ml.m5.12xlarge": 2.765,
    "ml.m5.24xlarge": 5.53,
    # compute optimized
    "ml.c5.large": 0.102,
    "ml.c5.xlarge": 0.204,
    "ml.c5.2xlarge": 0.408,
    "ml.c5.4xlarge": 0.816,
    "ml.c5.9xlarge": 1.836,
    "ml.c5.18xlarge": 3.672,
    # memory optimized
    "ml.r5.large": 0.151,
    "ml.r5.xlarge": 0.302,
    "ml.r5.2xlarge": 0.605,
    # GPU
    "ml.g4dn.xlarge": 0.736,
    "ml.g4dn.2xlarge": 0.94,
    "ml.g4dn.4xlarge": 1.505,
    "ml.g4dn.8xlarge": 2.72,
    "ml.g4dn.12xlarge": 4.89,
    "ml.g4dn.16xlarge": 5.44,
    "ml.g5.xlarge": 1.408,
    "ml.g5.2xlarge": 1.515,
    "ml.g5.4xlarge": 2.03,
    "ml.g5.8xlarge": 3.06,
    "ml.g5.12xlarge": 7.09,
    "ml.g5.16xlarge": 5.12,
    "ml.g5.24xlarge": 10.18,
    "ml.g5.48xlarge": 20.36,
    "ml.p3.2xlarge": 3.825,
    "ml.p3.8xlarge": 14.688,
    "ml.p3.16xlarge": 28.152,
}


def hourly_price(instance_type: str | None) -> float | None:
    """USD per hour for one instance of ``instance_type``, or None when the table does not know it."""
    if not instance_type:
        return None
    return HOURLY_USD.get(instance_type.strip().lower())


def hourly_cost(instances: Iterable[tuple[str | None, int]]) -> tuple[float, list[str]]:
    """Cost per hour of ``(instance_type, count)`` pairs, and the instance types without a price."""
    total = 0.0
    unknown: list[str] = []
    for instance_type, count in instances:
        price = hourly_price(instance_type)
        if price is None:
            unknown.append(instance_type or "?")
            continue
        total += price * max(int(count), 0)
    return round(total, 4), unknown
