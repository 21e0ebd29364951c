"""Count the AWS API calls one cleanup run makes for 10, 100 and 1,000 managed endpoints (on moto).

    python benchmarks/cleanup_calls_bench.py [--sizes 10 100 1000] [--idle 5]

For each size N, a fresh moto account gets N endpoints deployed the way the deploy function
deploys them (model, endpoint config with one ``AllTraffic`` variant, endpoint, tags, registry
summary), six hours old. All but ``--idle`` of them have traffic in CloudWatch; the idle ones are
hibernated by the run. Every AWS request the cleanup's clients send is counted with a botocore
``before-call`` hook, by operation.

Two figures matter:

* **scan calls**: finding this stack's endpoints and reading their traffic (ListEndpoints,
  tag:GetResources, the registry Scan, GetMetricData, the orphan listings). They must grow as
  O(N/100), not O(N): no call per endpoint.
* **calls per hibernated endpoint**: DescribeEndpoint, DescribeEndpointConfig, DeleteEndpoint and
  the registry UpdateItem, plus one DescribeScalableTargets per 50 and one SNS message per run.
  Deleting is one call per deleted endpoint by nature; only idle endpoints pay it.

moto's shortcuts, so the figures read right: its tag:GetResources fills a page with at most 100
*tags* (AWS: ``ResourcesPerPage`` = 100 resources), so with the 6 sagedrop tags a page holds ~16
endpoints here; its ListModels ignores ``MaxResults`` (one page). Both only change constants.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "sagedrop"), str(ROOT)]

SCAN_OPERATIONS = {
    "sagemaker.ListEndpoints",
    "sagemaker.ListEndpointConfigs",
    "sagemaker.ListModels",
    "resourcegroupstaggingapi.GetResources",
    "dynamodb.Scan",
    "cloudwatch.GetMetricData",
}


def fake_aws_environment() -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )


def counted_client(service: str, counter: Counter) -> object:
    import boto3

    from sagedrop.aws import client_config

    client = boto3.client(service, region_name="us-east-1", config=client_config(service))

    def count(model, **_):
        counter[f"{model.service_model.service_name}.{model.name}"] += 1

    client.meta.events.register("before-call.*.*", count)
    return client


def one_size(size: int, idle: int) -> dict:
    import logging

    from moto import mock_aws

    from sagedrop.cleanup import Cleanup, CleanupSettings
    from sagedrop.notify import Notifier
    from sagedrop.registry import Registry
    from tests.support.cleanup_fixtures import CleanupWorld
    from tests.support.stack import MotoStack

    logging.getLogger("sagedrop").setLevel(logging.WARNING)
    with mock_aws():
        stack = MotoStack.create("sagedrop-bench", "us-east-1")
        world = CleanupWorld(stack)
        started = time.perf_counter()
        managed = world.deploy_many([f"m{i:05d}" for i in range(size)], age=timedelta(hours=6))
        busy_metrics = [m.endpoint for m in managed[idle:]]
        # seed traffic in batches (PutMetricData takes up to 1,000 values per call)
        for start in range(0, len(busy_metrics), 1000):
            world.cloudwatch.put_metric_data(
                Namespace="AWS/SageMaker",
                MetricData=[
                    {
                        "MetricName": "Invocations",
                        "Dimensions": [
                            {"Name": "EndpointName", "Value": endpoint},
                            {"Name": "VariantName", "Value": "AllTraffic"},
                        ],
                        "Timestamp": datetime.now(UTC) - timedelta(minutes=10),
                        "Value": 3.0,
                        "Unit": "None",
                    }
                    for endpoint in busy_metrics[start : start + 1000]
                ],
            )
        setup_s = time.perf_counter() - started

        counter: Counter = Counter()
        clients = {
            name: counted_client(name, counter)
            for name in ("sagemaker", "cloudwatch", "application-autoscaling", "resourcegroupstaggingapi", "dynamodb")
        }
        sns = counted_client("sns", counter)
        run = Cleanup(
            CleanupSettings(stack.name, idle_minutes=120, dry_run=False, orphan_retention_days=7),
            sagemaker=clients["sagemaker"],
            cloudwatch=clients["cloudwatch"],
            autoscaling=clients["application-autoscaling"],
            tagging=clients["resourcegroupstaggingapi"],
            registry_=Registry(stack.table, clients["dynamodb"]),
            notifier=Notifier(stack.topic_arn, sns),
        )
        started = time.perf_counter()
        report = run.run()
        run_s = time.perf_counter() - started
        assert report.scanned == size, report.scanned
        assert len(report.hibernated) == idle, [d.endpoint for d in report.hibernated]
        assert report.skipped_by_reason == ({"busy": size - idle} if size > idle else {})
    scan = sum(n for op, n in counter.items() if op in SCAN_OPERATIONS)
    return {
        "size": size,
        "idle": idle,
        "total": sum(counter.values()),
        "scan": scan,
        "hibernate": sum(counter.values()) - scan,
        "by_operation": dict(sorted(counter.items())),
        "setup_s": setup_s,
        "run_s": run_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--idle", type=int, default=5, help="endpoints without traffic in each size (hibernated)")
    args = parser.parse_args()
    fake_aws_environment()

    rows = [one_size(size, min(args.idle, size)) for size in args.sizes]

    print("cleanup: AWS API calls of one run (moto, botocore before-call hook)\n")
    header = (
        f"{'endpoints':>9} {'idle':>5} {'scan calls':>10} {'scan/endpoint':>13} "
        f"{'hibernate calls':>15} {'per hibernated':>14} {'total':>6} {'run s':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        per_idle = (row["hibernate"] / row["idle"]) if row["idle"] else 0.0
        print(
            f"{row['size']:>9} {row['idle']:>5} {row['scan']:>10} {row['scan'] / row['size']:>13.3f} "
            f"{row['hibernate']:>15} {per_idle:>14.1f} {row['total']:>6} {row['run_s']:>6.2f}"
        )
    print("\ncalls by operation:")
    operations = sorted({op for row in rows for op in row["by_operation"]})
    print(f"  {'operation':<42}" + "".join(f"{row['size']:>8}" for row in rows))
    for op in operations:
        print(f"  {op:<42}" + "".join(f"{row['by_operation'].get(op, 0):>8}" for row in rows))

    first, last = rows[0], rows[-1]
    if last["size"] > first["size"]:
        growth = last["scan"] / first["scan"]
        ratio = last["size"] / first["size"]
        print(
            f"\nscan calls grew {growth:.1f}x for {ratio:.0f}x the endpoints "
            f"({last['scan'] / last['size']:.3f} calls per endpoint at {last['size']}; "
            "one call per endpoint would be 1.0)"
        )
        met = last["scan"] / last["size"] <= 0.2
        print(
            f"goal: scan calls per endpoint <= 0.2 at {last['size']} endpoints (O(N/100)): "
            f"{last['scan'] / last['size']:.3f} {'MET' if met else 'NOT MET'}"
        )
        if not met:
            return 1
    print(
        "note: moto's tag:GetResources pages by 100 tags (~16 endpoints with sagedrop's 6 tags); AWS pages by\n"
        "      ResourcesPerPage=100, so on AWS GetResources is ceil(N/100) calls (10 at 1,000 endpoints)."
    )
    print(f"setup (not counted): {sum(r['setup_s'] for r in rows):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
