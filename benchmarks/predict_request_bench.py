"""Predict: the handler's own work per 100-row request, registry cached and endpoint call excluded.

Drives the real handler (functions/predict/app.py ``handler``) in process with the API Gateway proxy
event of events/predict/post-predictions-json.json, its body replaced by 100 rows. The registry is read
through the real ``Registry`` from an in-memory DynamoDB stand-in (then cached by ``ModelDirectory``,
as on a warm Lambda), and the sagemaker-runtime client is an in-process stand-in that answers each
call instantly with a valid answer for the algorithm (precomputed), so only sagedrop's own work is
timed: parsing the event, logging the caller, checking the request's size and rows, encoding,
chunking, the thread pool, decoding, the response body, metrics and log lines (written to /dev/null).

The baseline, measured in the same run, is ``json.loads`` + ``json.dumps`` of the same event (what any
Python Lambda pays to receive and answer it), so the ratio stays comparable on a loaded machine.

    python benchmarks/predict_request_bench.py [--requests 2000] [--rounds 5] [--profile]
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import io
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOAL_MS = 2.0
"""Issue 16: the predict handler's own work per 100-row JSON request, at most 2 ms."""
ROWS = 100
FEATURES = 11  # the sample event's rows (big-mart: 11 features)
STACK, TABLE = "sagedrop-bench", "sagedrop-bench-registry"
JOB = "bench-20261126-101530-abc123"

os.environ.update(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAGEDROP_STACK": STACK,
        "REGISTRY_TABLE": TABLE,
        "STAGE_NAME": "v1",
        "AUTH_MODE": "iam",
        # template.yaml's Globals: service, namespace, log level (LogLevel's default), tracing off
        "POWERTOOLS_SERVICE_NAME": "sagedrop",
        "POWERTOOLS_METRICS_NAMESPACE": "Sagedrop",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PREDICT_CACHE_SECONDS": "86400",  # the registry stays cached for the whole run
    }
)
sys.path.insert(0, str(ROOT / "layers" / "sagedrop"))

from sagedrop.registry import JOB_PREFIX, SUMMARY, to_item  # noqa: E402


class MemoryTable:
    """The DynamoDB ``get_item`` the registry reads with, from items held in memory."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.reads = 0

    def put(self, model: str, record: str, data: dict[str, Any]) -> None:
        self.items[(model, record)] = to_item({"model": model, "record": record, **data})

    def get_item(self, *, TableName: str, Key: dict[str, Any], ConsistentRead: bool = False) -> dict[str, Any]:
        self.reads += 1
        item = self.items.get((Key["model"]["S"], Key["record"]["S"]))
        return {"Item": item} if item else {}


class Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self) -> bytes:
        return self._data


class InstantRuntime:
    """sagemaker-runtime's ``invoke_endpoint``, answering at once with the algorithm's documented answer
    for as many rows as the call sent (answers precomputed per row count, so no time is spent here)."""

    def __init__(self, answer_for: Callable[[int], tuple[bytes, str]]) -> None:
        self._answer_for = answer_for
        self._answers: dict[int, tuple[bytes, str]] = {}
        self.calls = 0

    def invoke_endpoint(self, *, EndpointName: str, Body: bytes, ContentType: str, Accept: str) -> dict[str, Any]:
        self.calls += 1
        rows = Body.count(b"\n") + 1
        answer = self._answers.get(rows)
        if answer is None:
            answer = self._answers[rows] = self._answer_for(rows)
        return {"Body": _Reader(answer[0]), "ContentType": answer[1]}


_Reader = Body


def xgboost_answer(rows: int) -> tuple[bytes, str]:
    """binary:logistic through the XGBoost container: one probability per row, comma-separated text/csv
    (aws/sagemaker-xgboost-container algorithm_mode/serve.py, as sagedrop.algorithms.xgboost describes)."""
    rng = random.Random(rows)
    return ",".join(repr(round(rng.random(), 6)) for _ in range(rows)).encode(), "text/csv"


def linear_learner_answer(rows: int) -> tuple[bytes, str]:
    """Binary classifier with Accept application/json: {"predictions": [{"score", "predicted_label"}]}
    (https://docs.aws.amazon.com/sagemaker/latest/dg/LL-in-formats.html)."""
    rng = random.Random(rows)
    scores = [round(rng.random(), 6) for _ in range(rows)]
    body = {"predictions": [{"score": s, "predicted_label": int(s > 0.5)} for s in scores]}
    return json.dumps(body).encode(), "application/json"


def rows(count: int = ROWS) -> list[list[float]]:
    rng = random.Random(16)
    return [[round(rng.uniform(0, 250), 2) for _ in range(FEATURES)] for _ in range(count)]


def event_for(model: str, body: str, content_type: str) -> dict[str, Any]:
    """The sample JSON prediction event, re-aimed at ``model`` with another body (as the tests do)."""
    event = json.loads((ROOT / "events" / "predict" / "post-predictions-json.json").read_text())
    event["path"] = f"/models/{model}/predictions"
    event["requestContext"]["path"] = f"/v1/models/{model}/predictions"
    event["pathParameters"] = {"model": model}
    event["body"] = body
    for headers in (event["headers"], event["multiValueHeaders"]):
        size = str(len(body.encode()))
        headers["Content-Type"] = content_type if headers is event["headers"] else [content_type]
        headers["Content-Length"] = size if headers is event["headers"] else [size]
    return event


class Context:
    """The parts of the Lambda context object Powertools reads."""

    function_name = "sagedrop-bench-predict"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sagedrop-bench-predict"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/sagedrop-bench-predict"
    log_stream_name = "2026/11/26/[$LATEST]0000"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def load_predict() -> Any:
    spec = importlib.util.spec_from_file_location("sagedrop_bench_predict_app", ROOT / "functions/predict/app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def setup() -> tuple[Any, dict[str, InstantRuntime], dict[str, dict[str, Any]]]:
    app = load_predict()
    table = MemoryTable()
    models = {
        "xgb": ("xgboost", {"objective": "binary:logistic", "num_round": "50"}),
        "ll": ("linear-learner", {"predictor_type": "binary_classifier", "feature_dim": str(FEATURES)}),
    }
    for name, (algorithm, hyperparameters) in models.items():
        job = {"status": "deployed", "algorithm": algorithm, "hyperparameters": hyperparameters}
        table.put(name, JOB_PREFIX + JOB, job)
        table.put(
            name,
            SUMMARY,
            {
                "status": "in_service",
                "algorithm": algorithm,
                "version": "1",
                "serving_job": JOB,
                "latest_job": JOB,
                "endpoint": f"{name}-endpoint",
                "variant": "AllTraffic",
                "serverless": False,
                "labels": ["no", "yes"],
                "feature_dim": FEATURES,
                "stack": STACK,
            },
        )
    runtime = _RoutingRuntime(
        {"xgb-endpoint": InstantRuntime(xgboost_answer), "ll-endpoint": InstantRuntime(linear_learner_answer)}
    )
    app.clients.set("dynamodb", table)
    app.clients.set("sagemaker-runtime", runtime)
    data = rows()
    csv = "\n".join(",".join(repr(v) for v in row) for row in data) + "\n"
    events = {
        "xgboost JSON rows": event_for("xgb", json.dumps({"instances": data}), "application/json"),
        "xgboost text/csv": event_for("xgb", csv, "text/csv"),
        "linear-learner JSON rows": event_for("ll", json.dumps({"instances": data}), "application/json"),
    }
    return app, runtime.routes, events


class _RoutingRuntime:
    def __init__(self, routes: dict[str, InstantRuntime]) -> None:
        self.routes = routes

    def invoke_endpoint(self, **kwargs: Any) -> dict[str, Any]:
        return self.routes[kwargs["EndpointName"]].invoke_endpoint(**kwargs)


def check(app: Any, event: dict[str, Any]) -> None:
    """The request is a real, successful one: 200 and one prediction per row."""
    response = app.handler(copy.deepcopy(event), Context())
    body = json.loads(response["body"])
    if response["statusCode"] != 200 or len(body.get("predictions", ())) != ROWS:
        raise SystemExit(f"the benchmark request failed: {response['statusCode']} {response['body'][:300]}")


def time_per_call(fn: Callable[[], Any], count: int) -> list[float]:
    times = []
    clock = time.perf_counter
    for _ in range(count):
        start = clock()
        fn()
        times.append(clock() - start)
    return times


def measure(app: Any, events: dict[str, dict[str, Any]], requests: int, rounds: int) -> dict[str, list[float]]:
    """Per-request times (s), rounds interleaved so that a burst of load on the machine hits every case."""
    context = Context()
    results: dict[str, list[float]] = {name: [] for name in ("baseline", *events)}
    per_round = max(1, requests // rounds)
    baseline_event = events["xgboost JSON rows"]

    def baseline() -> None:
        json.dumps(json.loads(json.dumps(baseline_event)))

    for _ in range(rounds):
        results["baseline"] += time_per_call(baseline, per_round)
        for name, event in events.items():
            # Lambda hands the handler a freshly parsed event every time: a shallow copy suffices, the
            # handler does not mutate it (Powertools wraps it), and copying is not what is measured.
            results[name] += time_per_call(lambda e=event: app.handler(dict(e), context), per_round)
    return results


def quiet(app: Any) -> Any:
    """Log lines and the EMF metrics go to /dev/null (they are still formatted and written)."""
    sink = open(os.devnull, "w")  # noqa: SIM115 - kept open for the run
    for handler in app.logger.handlers if hasattr(app.logger, "handlers") else []:
        if hasattr(handler, "setStream"):
            handler.setStream(sink)
    registered = getattr(app.logger, "registered_handler", None)
    if registered is not None and hasattr(registered, "setStream"):
        registered.setStream(sink)
    return sink


def profile(app: Any, event: dict[str, Any], count: int) -> None:
    import cProfile
    import pstats

    context = Context()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        app.handler(dict(event), context)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(45)
    sys.__stdout__.write(out.getvalue())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per case (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the xgboost JSON case")
    args = parser.parse_args()
    app, runtimes, events = setup()
    real_stdout = sys.stdout
    sink = quiet(app)
    sys.stdout = sink  # Powertools' metrics print their EMF line per invocation
    try:
        for event in events.values():
            check(app, event)
        calls_before = {name: runtime.calls for name, runtime in runtimes.items()}
        if args.profile:
            profile(app, events["xgboost JSON rows"], args.requests)
            return 0
        for event in events.values():  # warm-up
            for _ in range(50):
                app.handler(dict(event), Context())
        results = measure(app, events, args.requests, args.rounds)
    finally:
        sys.stdout = real_stdout
    calls = sum(runtime.calls - calls_before[name] for name, runtime in runtimes.items())
    base = statistics.median(results["baseline"])
    print(f"{'what (100 rows per request)':34s} {'median ms':>10s} {'p90 ms':>8s} {'vs baseline':>12s}")
    verdict_ok = True
    for name, times in results.items():
        times.sort()
        median, p90 = statistics.median(times), times[int(len(times) * 0.9)]
        label = "baseline: json.loads+dumps of event" if name == "baseline" else f"handler, {name}"
        print(f"{label:34s} {median * 1000:10.3f} {p90 * 1000:8.3f} {median / base:11.1f}x")
        if name == "xgboost JSON rows":
            verdict_ok = median * 1000 <= GOAL_MS
            headline = median
    version = sys.version.split()[0]
    print(
        f"({len(results['baseline'])} requests per case in {args.rounds} interleaved rounds; {calls} endpoint calls "
        f"answered in process; registry reads after warm-up: cached; Python {version})"
    )
    verdict = "MET" if verdict_ok else "NOT MET"
    print(f"goal: xgboost JSON rows <= {GOAL_MS:.1f} ms per request (issue 16): {headline * 1000:.3f} ms -> {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
