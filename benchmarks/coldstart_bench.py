"""Cold start: how long importing each handler module takes, against `import boto3` + one client.

Each measurement runs in a fresh Python process (as a cold Lambda start does) and times the
import with time.perf_counter inside that process, so interpreter start-up is not counted. The
baseline, measured in the same run, is what every boto3 Lambda pays anyway: `import boto3` and
creating one client. Tracing stays off (the template's default), so X-Ray is not imported.

    python benchmarks/coldstart_bench.py [--runs 15] [--requests 300]

It also measures the predict handler's own work per request, warm: a 100-row JSON request to a
linear-learner model through ``functions/predict/app.py``'s handler (API Gateway proxy event in,
response out), on moto, with the registry entry cached (after a first request) and the endpoint
call excluded (the sagemaker-runtime client is replaced by one that answers at once). Goal:
<= 2 ms of CPU per request (issue 16); the exit status is 1 when it is not met.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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


PREDICT_GOAL_MS = 2.0


class _InstantRuntime:
    """sagemaker-runtime stand-in: answers linear-learner's documented JSON at once."""

    def __init__(self, rows: int) -> None:
        self.body = json.dumps({"predictions": [{"score": 0.75, "predicted_label": 1}] * rows}).encode()

    def invoke_endpoint(self, **_: Any) -> dict[str, Any]:
        return {"Body": io.BytesIO(self.body), "ContentType": "application/json"}


def predict_handler_ms(requests: int, rows: int = 100) -> tuple[float, float, float]:
    """(median, fastest, median CPU) ms of the predict handler's own work per ``rows``-row JSON request.

    The CPU time (``time.process_time``: every thread of this process) leaves out the time other processes
    held the cores, which on a shared machine inflates the wall-clock figure."""
    os.environ.update({"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"})
    os.environ.update({"POWERTOOLS_TRACE_DISABLED": "true", "STAGE_NAME": "v1", "POWERTOOLS_METRICS_NAMESPACE": "b"})
    sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "sagedrop")]
    from moto import mock_aws

    from tests.conftest import LambdaContext, load_event, load_function
    from tests.support.runtime_moto import serve_model
    from tests.support.stack import MotoStack

    with mock_aws():
        stack = MotoStack.create("sagedrop-bench", "us-east-1")
        os.environ.update(stack.environment())
        serve_model(stack, "bench", "linear-learner", hyperparameters={"predictor_type": "binary_classifier"})
        app = load_function("predict")
        app.clients._clients["sagemaker-runtime"] = _InstantRuntime(rows)
        event = copy.deepcopy(load_event("predict", "post-predictions-json.json"))
        event["path"] = "/models/bench/predictions"
        event["requestContext"]["path"] = "/v1/models/bench/predictions"
        event["pathParameters"] = {"model": "bench"}
        event["body"] = json.dumps({"instances": [[0.5] * 11 for _ in range(rows)]})
        for header in ("headers", "multiValueHeaders"):
            event[header].pop("Content-Length", None)
        context = LambdaContext()
        for handler in logging.getLogger(os.environ.get("POWERTOOLS_SERVICE_NAME", "sagedrop")).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(io.StringIO())  # its log lines are written, to memory (Lambda: a pipe)
        times, cpu = [], []
        with contextlib.redirect_stdout(io.StringIO()):  # the metrics' EMF lines (Lambda: a pipe)
            first = app.handler(copy.deepcopy(event), context)  # fills the registry cache
            assert first["statusCode"] == 200, first["body"]
            assert len(json.loads(first["body"])["predictions"]) == rows
            for _ in range(requests):
                request = copy.deepcopy(event)
                start, start_cpu = time.perf_counter(), time.process_time()
                app.handler(request, context)
                times.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
    return statistics.median(times) * 1000, min(times) * 1000, statistics.median(cpu) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--requests", type=int, default=300, help="warm predict requests timed")
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

    median, fastest, cpu = predict_handler_ms(args.requests)
    print("\npredict handler's own work, 100-row linear-learner JSON request, registry cached, endpoint call excluded")
    print(f"  wall-clock median {median:.2f} ms, fastest {fastest:.2f} ms; CPU median {cpu:.2f} ms")
    print(f"  ({args.requests} warm requests in process, load average {os.getloadavg()[0]:.1f};")
    print("   benchmarks/predict_request_bench.py measures it against a baseline in the same run)")
    for what, value in (("CPU", cpu), ("wall-clock", median)):
        verdict = "MET" if value <= PREDICT_GOAL_MS else "NOT MET"
        print(f"  goal <= {PREDICT_GOAL_MS:g} ms ({what} median): {value:.2f} ms {verdict}")
    return 0 if cpu <= PREDICT_GOAL_MS else 1  # the CPU figure decides, as in predict_request_bench.py


if __name__ == "__main__":
    sys.exit(main())
