"""The whole pipeline on the local stack: template.yaml's wiring, the real handlers, real local training.

Each flow drops data and a training.json into the emulated bucket and goes through the S3
notification, the train function, a real local training job, the job state event, the deploy
function, the endpoint lifecycle, the REST API (SigV4-signed as the local admin principal), and idle cleanup.
Sockets are allowed to 127.0.0.1 only (the emulated AWS and the local API).
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import numpy as np
import pytest

from sagedrop_local.stack import LocalStack
from sagedrop_local.wiring import read_template
from tests.support import signed

pytestmark = [pytest.mark.localstack, pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]

SETTLED = ("in_service", "failed", "gate_failed", "rejected", "deploy_failed", "stopped", "trained")


@pytest.fixture(scope="module")
def local() -> Any:
    lines: list[str] = []
    stack = LocalStack(api_port=0, endpoint_delay=0.2, log=lines.append)
    stack.start()
    stack.lines = lines
    yield stack
    stack.stop()


def put(stack: LocalStack, key: str, body: str | bytes) -> None:
    stack.client("s3").put_object(
        Bucket=stack.data_bucket, Key=key, Body=body.encode() if isinstance(body, str) else body
    )


def http(
    stack: LocalStack,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str | None = None,
    principal: str | None = "admin",
) -> tuple[int, Any]:
    """Signed as a local principal (``admin``: the template's AdminPolicy; ``predictor``; None: unsigned)."""
    return signed.call(stack, method, path, body, content_type, principal=principal)


def blobs(rows: int, seed: int, classes: int = 3, features: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, rows)
    centres = np.arange(classes)[:, None] * 3.0 + np.zeros((classes, features))
    return centres[labels] + rng.normal(0, 0.6, (rows, features)), labels


def csv_text(features: np.ndarray, labels: np.ndarray | None = None) -> str:
    lines = []
    for i, row in enumerate(features):
        cells = ([str(int(labels[i]))] if labels is not None else []) + [f"{v:.5f}" for v in row]
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def drop(stack: LocalStack, model: str, manifest: dict[str, Any], train: str, validation: str | None = None) -> None:
    put(stack, f"{model}/train/train.csv" if "," in train[:200] else f"{model}/train/train.txt", train)
    if validation is not None:
        put(stack, f"{model}/validation/validation.csv", validation)
    put(stack, f"{model}/training.json", json.dumps(manifest))


def test_xgboost_from_drop_to_prediction_to_hibernation(local):
    x, y = blobs(300, seed=1)
    vx, vy = blobs(90, seed=2)
    manifest = {
        "algorithm": "xgboost",
        "hyperparameters": {
            "objective": "multi:softmax",
            "num_class": 3,
            "num_round": 20,
            "max_depth": 3,
            "eval_metric": "merror",
        },
        "labels": ["red", "green", "blue"],
        "deploy": {"gate": {"metric": "validation:merror", "max": 0.2}},
    }
    drop(local, "colours", manifest, csv_text(x, y), csv_text(vx, vy))
    item = local.wait_for_status("colours", SETTLED, timeout=60)
    assert item["status"] == "in_service", item
    assert item["metrics"]["validation:merror"] < 0.2
    jobs = local.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]
    job = next(j for j in jobs if j["TrainingJobName"].startswith("colours-"))
    assert job["TrainingJobStatus"] == "Completed"
    artifact = local.client("sagemaker").describe_training_job(TrainingJobName=job["TrainingJobName"])
    assert artifact["ModelArtifacts"]["S3ModelArtifacts"].endswith("/output/model.tar.gz")

    tx, ty = blobs(40, seed=3)
    status, answer = http(local, "POST", "/models/colours/predictions", csv_text(tx).encode(), "text/csv")
    assert status == 200, answer
    predicted = [p["predicted_label"] for p in answer["predictions"]]
    assert len(predicted) == 40
    assert np.mean(np.array(predicted) == ty) > 0.9
    assert answer["predictions"][0]["label"] == ["red", "green", "blue"][predicted[0]]

    status, answer = http(local, "GET", "/models/colours", principal=None)
    assert status == 403 and answer["error"]["message"] == "Missing Authentication Token"
    status, answer = http(
        local, "POST", "/models/colours/predictions", csv_text(tx[:2]).encode(), "text/csv", "predictor"
    )
    assert status == 200 and len(answer["predictions"]) == 2
    status, answer = http(local, "GET", "/models")
    assert status == 200 and any(m["model"] == "colours" for m in answer["models"])

    local.aws.advance_clock(minutes=200)
    local.run_schedule_now()
    assert (local.registry_item("colours") or {})["status"] == "hibernated"
    names = [e["EndpointName"] for e in local.client("sagemaker").list_endpoints()["Endpoints"]]
    assert "colours" not in names
    status, answer = http(local, "POST", "/models/colours/predictions", csv_text(tx[:1]).encode(), "text/csv")
    assert status == 503 and answer["error"]["code"] == "waking"
    assert local.wait_for_status("colours", ("in_service",), timeout=30)["status"] == "in_service"
    status, answer = http(local, "POST", "/models/colours/predictions", csv_text(tx[:2]).encode(), "text/csv")
    assert status == 200 and len(answer["predictions"]) == 2


def test_linear_learner_binary_classifier(local):
    x, y = blobs(300, seed=4, classes=2)
    vx, vy = blobs(80, seed=5, classes=2)
    manifest = {
        "algorithm": "linear-learner",
        "hyperparameters": {
            "feature_dim": 4,
            "predictor_type": "binary_classifier",
            "mini_batch_size": 50,
            "epochs": 10,
        },
        "deploy": {"gate": {"metric": "validation:binary_classification_accuracy", "min": 0.9}},
    }
    drop(local, "binary", manifest, csv_text(x, y), csv_text(vx, vy))
    item = local.wait_for_status("binary", SETTLED, timeout=60)
    assert item["status"] == "in_service", item
    tx, ty = blobs(30, seed=6, classes=2)
    instances = json.dumps({"instances": tx.tolist()}).encode()
    status, answer = http(local, "POST", "/models/binary/predictions", instances, "application/json")
    assert status == 200, answer
    predictions = answer["predictions"]
    assert all(0.0 <= p["score"] <= 1.0 for p in predictions)
    assert np.mean(np.array([p["predicted_label"] for p in predictions]) == ty) > 0.9


def test_blazingtext_word_vectors(local):
    sentences = []
    rng = np.random.default_rng(7)
    animals, places = ["cat", "dog", "horse", "cow"], ["paris", "london", "berlin", "rome"]
    for _ in range(400):
        group = animals if rng.random() < 0.5 else places
        sentences.append(" ".join(rng.choice(group, 6)) + " the and of")
    manifest = {
        "algorithm": "blazingtext",
        "hyperparameters": {"mode": "skipgram", "epochs": 5, "min_count": 2, "vector_dim": 16, "evaluation": False},
    }
    drop(local, "words", manifest, "\n".join(sentences) + "\n")
    item = local.wait_for_status("words", SETTLED, timeout=60)
    assert item["status"] == "in_service", item
    status, answer = http(
        local,
        "POST",
        "/models/words/predictions",
        json.dumps({"instances": ["cat", "paris"]}).encode(),
        "application/json",
    )
    assert status == 200, answer
    vectors = answer["predictions"]
    assert [v["word"] for v in vectors] == ["cat", "paris"]
    assert all(len(v["vector"]) == 16 for v in vectors)


def test_a_bad_hyperparameter_fails_the_job_with_the_algorithms_own_error(local):
    """What the manifest cannot know (the data has 4 features, the constraints name 5) fails in XGBoost
    itself: "The size of monotone constraint should be less or equal to the number of features"
    (src/tree/hist/split_evaluator.h; reproduced with xgboost 1.7.6 and 3.2.0). What the container's
    validation refuses (updater shotgun with a tree booster) no longer starts a job: see
    tests/unit/test_xgboost_versions.py."""
    x, y = blobs(100, seed=8, classes=2)
    hyperparameters = {
        "objective": "binary:logistic",
        "num_round": 5,
        "tree_method": "hist",
        "monotone_constraints": "(1,1,1,1,1)",
    }
    drop(local, "monotone", {"algorithm": "xgboost", "hyperparameters": hyperparameters}, csv_text(x, y))
    item = local.wait_for_status("monotone", SETTLED, timeout=60)
    assert item["status"] == "failed"
    assert "monotone" in item["last_error"]
    job = local.client("sagemaker").describe_training_job(TrainingJobName=item["latest_job"])
    assert job["TrainingJobStatus"] == "Failed"
    assert "monotone" in job["FailureReason"]


def test_the_wiring_comes_from_template_yaml():
    """A wrong suffix filter in the template breaks the local stack as it would break AWS."""
    template = copy.deepcopy(read_template())
    rules = template["Resources"]["TrainFunction"]["Properties"]["Events"]["ManifestDropped"]["Properties"]
    rules["Filter"]["S3Key"]["Rules"] = [{"Name": "suffix", "Value": "manifest.json"}]
    lines: list[str] = []
    with LocalStack(stack="sagedrop-mutated", api_port=None, template=template, log=lines.append) as stack:
        x, y = blobs(50, seed=9, classes=2)
        put(stack, "m/train/train.csv", csv_text(x, y))
        put(stack, "m/training.json", json.dumps({"algorithm": "xgboost", "hyperparameters": {"num_round": 2}}))
        time.sleep(1.0)
        stack.runner.wait_idle(10)
        assert stack.registry_item("m") is None
        assert not any("TrainFunction" in line for line in lines)
        assert ("TrainFunction", "ok") not in stack.runner.invocations
