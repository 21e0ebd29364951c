"""The demo's image classification part: scikit-learn's digits as an image set, trained and scored over HTTP.

1. The 1,797 digits (8x8 grey images, 10 classes, shipped with scikit-learn) are written as PNG files
   in one folder per class; 200 are held out and never uploaded.
2. ``sagedrop prepare images`` packs the rest into MXNet ``.rec`` files (80 % train, 20 % validation),
   upsampling each image to 16x16 (im2rec's ``--resize``) so that a small ResNet takes it.
3. The channels and a training.json go to the data bucket: ResNet-20 (the ResNet paper's CIFAR design,
   one of the documented small-image depths), gated on ``validation:accuracy``.
4. The held-out images are sent one by one to the local HTTP API as ``image/png``; the demo prints the
   accuracy the deployed model really achieves on them.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

MODEL = "digits-images"
LABELS = [str(d) for d in range(10)]
HELD_OUT = 200
SEED = 11


def _png(values: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((values.reshape(8, 8) * (255.0 / 16.0)).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def manifest(num_training_samples: int) -> dict[str, Any]:
    return {
        "algorithm": "image-classification",
        "hyperparameters": {
            "num_layers": 20,
            "image_shape": "3,16,16",
            "num_classes": 10,
            "num_training_samples": num_training_samples,
            "epochs": 4,
            "mini_batch_size": 32,
            "learning_rate": 0.05,
        },
        "labels": LABELS,
        "deploy": {"gate": {"metric": "validation:accuracy", "min": 0.5}},
    }


def drop(stack: Any, log: Callable[[str], None]) -> list[tuple[bytes, int]]:
    """Prepare and upload the digits; returns the held-out (PNG, label) pairs."""
    from sklearn.datasets import load_digits

    from sagedrop_client.prepare.images import prepare_images

    data = load_digits()
    order = np.random.default_rng(SEED).permutation(len(data.target))
    held = [(_png(data.data[i]), int(data.target[i])) for i in order[:HELD_OUT]]
    s3 = stack.client("s3")
    with tempfile.TemporaryDirectory(prefix="sagedrop-digits-") as tmp:
        root = Path(tmp) / "digits"
        for index in order[HELD_OUT:]:
            folder = root / LABELS[data.target[index]]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{index}.png").write_bytes(_png(data.data[index]))
        result = prepare_images(root, Path(tmp) / "channels", resize=16, validation_ratio=0.2)
        for channel in ("train", "validation"):
            s3.put_object(
                Bucket=stack.data_bucket,
                Key=f"demo/{MODEL}/{channel}/{channel}.rec",
                Body=result.paths[channel].read_bytes(),
            )
    log(
        f"digits packed with sagedrop prepare images: {result.num_training_samples} train + "
        f"{result.num_validation_samples} validation images (16x16 .rec), {HELD_OUT} held out"
    )
    s3.put_object(
        Bucket=stack.data_bucket,
        Key=f"demo/{MODEL}/training.json",
        Body=json.dumps(manifest(result.num_training_samples), indent=2).encode(),
    )
    log(f"dropped s3://{stack.data_bucket}/demo/{MODEL}/training.json")
    return held


def report(
    held: list[tuple[bytes, int]],
    call: Callable[[str, str, bytes, str], tuple[int, Any]],
    log: Callable[[str], None],
) -> float:
    """Send each held-out image as image/png; log and return the accuracy of the answers."""
    hits = 0
    first: dict[str, Any] = {}
    for body, label in held:
        status, answer = call("POST", f"/models/{MODEL}/predictions", body, "image/png")
        if status != 200:
            raise RuntimeError(f"prediction for {MODEL} failed: HTTP {status} {answer}")
        prediction = answer["predictions"][0]
        first = first or {**prediction, "truth": label}
        hits += int(prediction["predicted_label"] == label)
    accuracy = hits / len(held)
    log(
        f"{MODEL:20s} accuracy {accuracy:.3f} on {len(held)} held-out digit images sent as image/png (chance 0.100; "
        f"first: label {first.get('label')!r} p={first.get('probability', 0):.3f}, truth {first.get('truth')})"
    )
    return accuracy
