"""Cold start: how long importing each handler module takes, against `import boto3` + one client.

Each measurement runs in a fresh Python process (as a cold Lambda start does) and times the
import with time.perf_counter inside that process, so interpreter start-up is not counted. The
baseline, measured in the same run, is what every boto3 Lambda pays anyway: `import boto3` and
creating one client. Tracing stays off (the template's default), so X-Ray is not imported.

    python benchmarks/coldstart_bench.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BASELINE = """
import time
t = time.perf_counter()
import boto3
boto3.client("sagemaker-runtime", region_name="us-east-1")
print(time.perf_counter() - t)
"""

HANDLER = """
import importlib.util, sys, time
t = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(time.perf_counter() - t)
"""


def measure(code: str, runs: int) -> list[float]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "layers" / "sagedrop"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "sagedrop",
    }
    times = []
    subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, check=True)  # writes the .pyc files
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    baseline = measure(BASELINE, args.runs)
    base = statistics.median(baseline)
    print(f"{'what':40s} {'median ms':>10s} {'min ms':>8s} {'vs baseline':>12s}")
    label = "import boto3 + sagemaker-runtime client"
    print(f"{label:40s} {base * 1000:10.1f} {min(baseline) * 1000:8.1f} {'1.00x':>12s}")
    for name in ("train", "deploy", "predict", "cleanup"):
        path = ROOT / "functions" / name / "app.py"
        times = measure(HANDLER.format(path=str(path)), args.runs)
        median = statistics.median(times)
        label = f"functions/{name}/app.py import"
        print(f"{label:40s} {median * 1000:10.1f} {min(times) * 1000:8.1f} {median / base:11.2f}x")
    version = sys.version.split()[0]
    print(f"({args.runs} fresh processes each; Python {version}; handler imports exclude client creation,")
    print(" which happens on first use; .pyc files are warm, as the layer ships them precompiled)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
