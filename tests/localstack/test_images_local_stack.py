"""Image classification on the local stack: drop .rec channels, train a ResNet, gate, deploy, predict an image.

The images are scikit-learn's digits packed with ``sagedrop prepare images`` (MXNet .rec, upsampled
to 16x16). The flow goes through template.yaml's S3 notification, the train function, a real local
training job, the deploy function's gate on ``validation:accuracy`` (IC-tuning.html), the endpoint and
the REST API with an ``image/png`` body (image-classification.html: image/png, image/jpeg and
application/x-image requests, a JSON list of class probabilities as the answer).
Sockets are allowed to 127.0.0.1 only (the emulated AWS and the local API).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sagedrop import recordio
from sagedrop_client.prepare.images import prepare_images
from sagedrop_local.stack import LocalStack
from tests.support import signed

pytestmark = [pytest.mark.localstack, pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]

SETTLED = ("in_service", "failed", "gate_failed", "rejected", "deploy_failed", "stopped", "trained")


@pytest.fixture(scope="module")
def local() -> Any:
    lines: list[str] = []
    stack = LocalStack(stack="sagedrop-images", api_port=0, endpoint_delay=0.2, log=lines.append)
    stack.start()
    stack.lines = lines
    yield stack
    stack.stop()


def png(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((values.reshape(8, 8) * (255.0 / 16.0)).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def put(stack: LocalStack, key: str, body: bytes) -> None:
    stack.client("s3").put_object(Bucket=stack.data_bucket, Key=key, Body=body)


def post_image(stack: LocalStack, model: str, body: bytes) -> tuple[int, Any]:
    return signed.call(stack, "POST", f"/models/{model}/predictions", body, "image/png", principal="predictor")


def test_digits_from_rec_drop_to_image_prediction_and_a_redelivered_event(local, tmp_path: Path, monkeypatch):
    from sklearn.datasets import load_digits

    data = load_digits()
    order = np.random.default_rng(5).permutation(len(data.target))
    held, used = order[:60], order[60:760]  # 700 images: enough to learn, quick to train
    for index in used:
        folder = tmp_path / "images" / f"d{data.target[index]}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{index}.png").write_bytes(png(data.data[index]))
    result = prepare_images(tmp_path / "images", tmp_path / "out", resize=16, workers=1)
    for channel in ("train", "validation"):
        put(local, f"digits/{channel}/{channel}.rec", result.paths[channel].read_bytes())
    manifest = {
        "algorithm": "image-classification",
        "hyperparameters": {
            "num_layers": 20,
            "image_shape": "3,16,16",
            "num_classes": 10,
            "num_training_samples": result.num_training_samples,
            "epochs": 4,
            "learning_rate": 0.05,
        },
        "labels": [f"digit {d}" for d in range(10)],
        "deploy": {"gate": {"metric": "validation:accuracy", "min": 0.5}},
    }
    events: list[dict[str, Any]] = []
    original = local.aws.invoke_async

    def recording(function: str, event: dict[str, Any]) -> None:
        if function == "TrainFunction":
            events.append(event)
        original(function, event)

    monkeypatch.setattr(local.aws, "invoke_async", recording)
    put(local, "digits/training.json", json.dumps(manifest).encode())
    item = local.wait_for_status("digits", SETTLED, timeout=120)
    assert item["status"] == "in_service", item
    assert item["metrics"]["validation:accuracy"] > 0.5
    assert set(item["metrics"]) >= {"train:accuracy", "validation:accuracy"}

    hits = 0
    for index in held:
        status, answer = post_image(local, "digits", png(data.data[index]))
        assert status == 200, answer
        prediction = answer["predictions"][0]
        assert len(prediction["probabilities"]) == 10
        assert prediction["label"] == f"digit {prediction['predicted_label']}"
        hits += int(prediction["predicted_label"] == data.target[index])
    assert hits / len(held) > 0.5, f"{hits}/{len(held)} held-out digits right (chance 6)"

    status, answer = post_image(local, "digits", b"\x89PNG\r\n\x1a\n but truncated")
    # the container's 400 comes back as the API's model error, saying what was wrong with the image
    assert status != 500 and "Unable to decode the request body as an image" in answer["error"]["message"], answer

    assert len(events) == 1
    again = local.runner.invoke("TrainFunction", events[0])  # S3 delivers at least once
    assert again["results"][0]["status"] == "duplicate"
    jobs = local.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]
    assert len([j for j in jobs if j["TrainingJobName"].startswith("digits-")]) == 1


def test_a_channel_of_recordio_protobuf_fails_the_job_saying_why(local, tmp_path: Path):
    """RecordIO-protobuf shares the MXNet framing (so the drop passes the magic check) but holds no images."""
    buffer = io.BytesIO()
    recordio.write_dense(buffer, np.ones((8, 3), dtype=np.float32), np.zeros(8, dtype=np.float32))
    for channel in ("train", "validation"):
        put(local, f"protobuf/{channel}/{channel}.rec", buffer.getvalue())
    manifest = {
        "algorithm": "image-classification",
        "hyperparameters": {"num_layers": 20, "image_shape": "3,16,16", "num_classes": 2, "num_training_samples": 8},
    }
    put(local, "protobuf/training.json", json.dumps(manifest).encode())
    item = local.wait_for_status("protobuf", SETTLED, timeout=60)
    assert item["status"] == "failed"
    job = local.client("sagemaker").describe_training_job(TrainingJobName=item["latest_job"])
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: train/train.rec holds no MXNet image records (record index 0")


def test_pretrained_weights_fail_the_job_honestly(local):
    """use_pretrained_model=1 needs ImageNet weights: on AWS it works, locally the job fails saying so."""
    rec = io.BytesIO()
    recordio.write_image_rec(rec, [(recordio.IRHeader(0, 0.0, 0, 0), png(np.zeros(64)))])
    for channel in ("train", "validation"):
        put(local, f"pretrained/{channel}/{channel}.rec", rec.getvalue())
    manifest = {
        "algorithm": "image-classification",
        "hyperparameters": {"num_classes": 2, "num_training_samples": 1, "use_pretrained_model": 1, "num_layers": 18},
    }
    put(local, "pretrained/training.json", json.dumps(manifest).encode())
    item = local.wait_for_status("pretrained", SETTLED, timeout=60)
    assert item["status"] == "failed"
    assert "use_pretrained_model=1 is not available locally" in item["last_error"]
