"""Batch scoring on the local stack: a dropped file and its batch.json become .out files that match the
endpoint's predictions for the same rows.

The drop goes through template.yaml's BatchDropped notification, the real train function, a transform
job run with the local algorithm (sagedrop_local/transform.py), the transform state change event, the
deploy function's batch record and the signed REST API.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pytest

from sagedrop_local.stack import LocalStack
from tests.localstack.test_local_stack import SETTLED, blobs, csv_text, drop, http, put

pytestmark = [pytest.mark.localstack, pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="module")
def local() -> Any:
    lines: list[str] = []
    stack = LocalStack(stack="sagedrop-batch", api_port=0, endpoint_delay=0.2, log=lines.append)  # own stack name:
    # the emulated AWS outlives a module, so another module's stack of the same name would collide
    stack.start()
    stack.lines = lines
    yield stack
    stack.stop()


def wait_for_batch(stack: LocalStack, model: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, answer = http(stack, "GET", f"/models/{model}/batches")
        if status == 200 and answer["batches"] and answer["batches"][0]["status"] != "InProgress":
            return answer["batches"][0]
        time.sleep(0.2)
    raise AssertionError(f"no batch of {model} ended: {stack.lines[-20:]}")


def read_out(stack: LocalStack, uri: str) -> str:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def test_a_dropped_file_is_scored_like_the_endpoint_scores_it(local):
    x, y = blobs(240, seed=11, classes=2)
    vx, vy = blobs(60, seed=12, classes=2)
    manifest = {
        "algorithm": "xgboost",
        "hyperparameters": {"objective": "binary:logistic", "num_round": 15},
        "labels": ["ham", "spam"],
    }
    drop(local, "spam", manifest, csv_text(x, y), csv_text(vx, vy))
    assert local.wait_for_status("spam", SETTLED, timeout=60)["status"] == "in_service"

    tx, _ = blobs(25, seed=13, classes=2)
    rows = csv_text(tx)
    put(local, "spam/held-out/rows.csv", rows)
    put(local, "spam/held-out/batch.json", json.dumps({"max_payload_mb": 1}))
    record = wait_for_batch(local, "spam")
    assert record["status"] == "Completed", record
    assert record["rows"] == 25  # the predictions in the .out files, counted by the deploy function
    out = read_out(local, record["output"] + "rows.csv.out")
    batch_scores = [float(line) for line in out.splitlines()]

    status, answer = http(local, "POST", "/models/spam/predictions", rows.encode(), "text/csv")
    assert status == 200, answer
    endpoint_scores = [p["score"] for p in answer["predictions"]]
    assert len(batch_scores) == 25
    assert np.allclose(batch_scores, endpoint_scores, atol=1e-6)

    status, one = http(local, "GET", f"/models/spam/batches/{record['job']}", principal="predictor")
    assert status == 200 and one["output"] == record["output"]


def test_join_puts_each_row_before_its_score(local):
    assert local.wait_for_status("spam", SETTLED, timeout=60)["status"] == "in_service"
    put(local, "spam/joined/a.csv", "0.1,0.2,0.3,0.4\n3.1,3.0,2.9,3.2\n")
    put(local, "spam/joined/batch.json", json.dumps({"join": True, "output": "joined"}))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, answer = http(local, "GET", "/models/spam/batches")
        joined = [b for b in answer["batches"] if b["output"].endswith("/joined/")]
        if joined and joined[0]["status"] != "InProgress":
            break
        time.sleep(0.2)
    assert joined[0]["status"] == "Completed", joined
    lines = read_out(local, joined[0]["output"] + "a.csv.out").splitlines()
    assert [line.split(",")[:4] for line in lines] == [["0.1", "0.2", "0.3", "0.4"], ["3.1", "3.0", "2.9", "3.2"]]
    assert all(0.0 <= float(line.split(",")[4]) <= 1.0 for line in lines)


def test_labels_output_matches_the_apis_named_predictions(local):
    assert local.wait_for_status("spam", SETTLED, timeout=60)["status"] == "in_service"
    tx, _ = blobs(12, seed=14, classes=2)
    rows = csv_text(tx)
    put(local, "spam/named/rows.csv", rows)
    put(local, "spam/named/batch.json", json.dumps({"labels": True, "output": "named"}))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, answer = http(local, "GET", "/models/spam/batches")
        named = [b for b in answer["batches"] if b["output"].endswith("/named/")]
        if named and named[0]["status"] != "InProgress":
            break
        time.sleep(0.2)
    assert named[0]["status"] == "Completed", named
    lines = [json.loads(line) for line in read_out(local, named[0]["output"] + "rows.csv.labels.jsonl").splitlines()]
    status, answer = http(local, "POST", "/models/spam/predictions", rows.encode(), "text/csv")
    assert status == 200
    assert [p["label"] for p in lines] == [p["label"] for p in answer["predictions"]]
    assert np.allclose([p["score"] for p in lines], [p["score"] for p in answer["predictions"]], atol=1e-6)


def test_rows_with_the_label_column_are_refused_before_any_job(local):
    """The spam model takes 4 features (blobs(..., features=4)); rows of 5 values are refused by the train
    function's input check, which names the file, the line and both numbers, and starts nothing."""
    if local.wait_for_status("spam", SETTLED, timeout=60)["status"] != "in_service":
        pytest.skip("the spam model of the first test is not in service")
    jobs_before = local.client("sagemaker").list_transform_jobs()["TransformJobSummaries"]
    put(local, "spam/with-labels/rows.csv", "1,0.5,0.5,0.5,0.5\n")
    put(local, "spam/with-labels/batch.json", "{}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        item = local.registry_item("spam") or {}
        if "with-labels" in str(item.get("last_batch_json", "")):
            break
        time.sleep(0.2)
    assert "has 5 values, the model takes 4 features" in item.get("last_batch_error", ""), item
    assert local.client("sagemaker").list_transform_jobs()["TransformJobSummaries"] == jobs_before
