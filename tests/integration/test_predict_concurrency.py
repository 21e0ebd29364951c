"""The predict function calls an endpoint with at most PREDICT_CONCURRENCY requests in flight."""

from __future__ import annotations

import threading
import time

import pytest

from tests.conftest import load_function
from tests.integration.test_predict_function import call, instances
from tests.support.runtime_moto import Answer, Call, Endpoints, serve_model


@pytest.mark.parametrize("bound", [1, 3])
def test_chunks_are_sent_with_at_most_the_configured_concurrency(stack, lambda_context, monkeypatch, bound):
    monkeypatch.setenv("PREDICT_CONCURRENCY", str(bound))
    monkeypatch.setenv("PREDICT_MAX_ROWS", "1")  # one call per row: 8 rows, 8 calls
    endpoints = Endpoints().install(monkeypatch)
    serve_model(stack, "wide", "xgboost", hyperparameters={"num_round": "5"})
    lock = threading.Lock()
    seen = {"now": 0, "max": 0}

    def slow(_call: Call) -> Answer:
        with lock:
            seen["now"] += 1
            seen["max"] = max(seen["max"], seen["now"])
        time.sleep(0.05)
        with lock:
            seen["now"] -= 1
        return Answer("0.5\n", "text/csv")

    endpoints.answer("wide", slow)
    status, _, body = call(load_function("predict"), instances("wide", [[1, 2]] * 8), lambda_context)
    assert status == 200 and len(body["predictions"]) == 8
    assert len(endpoints.calls) == 8
    assert seen["max"] == bound
