"""A model trained outside sagedrop, brought to the local stack as model.tar.gz + deploy.json, answers over HTTP.

The booster is trained here with the xgboost library and pickled as ``xgboost-model``, as the SageMaker
XGBoost container (and the local algorithm) writes it. The drop goes through template.yaml's
``deploy.json`` notification, the deploy function's archive check and copy, the endpoint lifecycle and
the REST API with its key; then the model is stopped and started through the API.
Sockets are allowed to 127.0.0.1 only (the emulated AWS and the local API).
"""

from __future__ import annotations

import io
import json
import pickle
import tarfile
from typing import Any

import numpy as np
import pytest

from sagedrop_local.stack import LocalStack
from tests.support import signed

pytestmark = [pytest.mark.localstack, pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]

SETTLED = ("in_service", "failed", "rejected", "deploy_failed")
COLOURS = ["red", "green", "blue"]


@pytest.fixture(scope="module")
def local() -> Any:
    lines: list[str] = []
    stack = LocalStack(stack="sagedrop-pretrained", api_port=0, endpoint_delay=0.2, log=lines.append)
    stack.start()
    stack.lines = lines
    yield stack
    stack.stop()


def http(stack: LocalStack, method: str, path: str, body: bytes | None = None, content_type: str | None = None):
    """Signed as the local admin principal (the template's AdminPolicy)."""
    return signed.call(stack, method, path, body, content_type)


def blobs(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, rows)
    return labels[:, None] * 3.0 + rng.normal(0, 0.6, (rows, 4)), labels


def booster_archive() -> bytes:
    """model.tar.gz of an xgboost Booster trained here, pickled as ``xgboost-model``."""
    import xgboost as xgb

    x, y = blobs(300, seed=21)
    booster = xgb.train(
        {"objective": "multi:softmax", "num_class": 3, "max_depth": 3, "eta": 0.3},
        xgb.DMatrix(x, label=y),
        num_boost_round=15,
    )
    model = pickle.dumps(booster)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(model)
        archive.addfile(info, io.BytesIO(model))
    return buffer.getvalue()


def put(stack: LocalStack, key: str, body: bytes | str) -> None:
    data = body.encode() if isinstance(body, str) else body
    stack.client("s3").put_object(Bucket=stack.data_bucket, Key=key, Body=data)


def test_a_model_trained_elsewhere_deploys_predicts_stops_and_starts(local):
    put(local, "outside/model.tar.gz", booster_archive())
    deploy_json = {
        "algorithm": "xgboost",
        "hyperparameters": {"objective": "multi:softmax", "num_class": 3},
        "labels": COLOURS,
        "deploy": {"idle_minutes": 60},
    }
    put(local, "outside/deploy.json", json.dumps(deploy_json))
    item = local.wait_for_status("outside", SETTLED, timeout=60)
    assert item["status"] == "in_service", item
    jobs = local.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]  # moto's state is per process
    assert not [j for j in jobs if j["TrainingJobName"].startswith("outside-")]
    release = item["serving_job"]
    container = local.client("sagemaker").describe_model(ModelName=release)["PrimaryContainer"]
    artifacts = local.physical("ArtifactBucket")
    assert container["ModelDataUrl"] == f"s3://{artifacts}/models/outside/{release}/model.tar.gz"
    assert container["Image"].endswith("/sagemaker-xgboost:1.7-1")
    assert any("DeployFunction" in line and "deploy.json" in line for line in local.lines)

    tx, ty = blobs(45, seed=22)
    rows = "\n".join(",".join(f"{v:.5f}" for v in row) for row in tx) + "\n"
    status, answer = http(local, "POST", "/models/outside/predictions", rows.encode(), "text/csv")
    assert status == 200, answer
    predicted = np.array([p["predicted_label"] for p in answer["predictions"]])
    assert np.mean(predicted == ty) > 0.9
    assert [p["label"] for p in answer["predictions"][:5]] == [COLOURS[i] for i in predicted[:5]]

    status, answer = http(local, "POST", "/models/outside/stop")
    assert (status, answer["status"]) == (200, "hibernated"), answer
    assert "outside" not in [e["EndpointName"] for e in local.client("sagemaker").list_endpoints()["Endpoints"]]
    status, answer = http(local, "POST", "/models/outside/start")
    assert (status, answer["status"]) == (202, "waking"), answer
    assert local.wait_for_status("outside", ("in_service",), timeout=30)["serving_job"] == release
    status, answer = http(local, "POST", "/models/outside/predictions", rows.encode(), "text/csv")
    assert status == 200 and len(answer["predictions"]) == 45


def test_a_bad_archive_is_rejected_on_the_local_stack_too(local):
    put(local, "broken/model.tar.gz", b"this is not an archive")
    put(local, "broken/deploy.json", json.dumps({"algorithm": "xgboost"}))
    item = local.wait_for_status("broken", SETTLED, timeout=30)
    assert item["status"] == "rejected"
    assert "model.tar.gz: is not gzip-compressed" in item["last_error"]
    status, answer = http(local, "POST", "/models/broken/start")
    assert (status, answer["error"]["code"]) == (409, "not_deployed")
