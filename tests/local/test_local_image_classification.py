"""Local image classification: a real ResNet trained on scikit-learn's digits, its artifacts, metrics and answers.

The digits (8x8 grey images, 10 classes, shipped with scikit-learn) are written as PNG files in class
folders, packed by ``sagedrop prepare images`` (the im2rec-compatible tool) into MXNet ``.rec`` files
or image files with ``.lst`` lists, upsampled to 16x16, and a held-out part never seen in training is
scored through the predictor's wire format. Facts are from the SageMaker developer guide:
image-classification.html (channels, content types, inference answers) and IC-Hyperparameter.html
(hyperparameters).
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sagedrop import recordio
from sagedrop_client.prepare.images import prepare_images
from sagedrop_local import algorithms
from sagedrop_local.algorithms import AlgorithmError, InvokeError
from sagedrop_local.algorithms import image_classification as ic
from sagedrop_local.algorithms.image_resnet import LARGE_UNITS, SMALL_DEPTHS, ResNet, depth_of, design

REC = "application/x-recordio"
FAST = {
    "num_layers": "20",
    "image_shape": "3,16,16",
    "num_classes": "10",
    "epochs": "4",
    "mini_batch_size": "32",
    "learning_rate": "0.05",
    "optimizer": "sgd",
}


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def digit_pixels(values: np.ndarray) -> np.ndarray:
    """scikit-learn's 0..16 intensities as 0..255 grey pixels."""
    return (values.reshape(8, 8) * (255.0 / 16.0)).astype(np.uint8)


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Class folders of digit PNGs (1,297 images) plus 500 held-out (pixels, label) pairs."""
    from sklearn.datasets import load_digits

    data = load_digits()
    order = np.random.default_rng(3).permutation(len(data.target))
    held, used = order[:500], order[500:]
    root = tmp_path_factory.mktemp("digits") / "images"
    for index in used:
        folder = root / f"digit{data.target[index]}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{index}.png").write_bytes(png(digit_pixels(data.data[index])))
    test = [(digit_pixels(data.data[i]), int(data.target[i])) for i in held]
    return {"root": root, "test": test, "count": len(used)}


@pytest.fixture(scope="module")
def small(digits: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """30 images per class (300): class folders and their .rec channels, for the quicker variants."""
    base = tmp_path_factory.mktemp("small")
    root = base / "images"
    for folder in sorted(digits["root"].iterdir()):
        (root / folder.name).mkdir(parents=True)
        for image in sorted(folder.iterdir())[:30]:
            (root / folder.name / image.name).write_bytes(image.read_bytes())
    result = prepare_images(root, base / "rec", resize=16, validation_ratio=0.2, workers=1)
    return {"root": root, "rec": base / "rec", "result": result}


@pytest.fixture(scope="module")
def rec_channels(digits: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("rec") / "out"
    result = prepare_images(digits["root"], out, resize=16, validation_ratio=0.2, workers=1)
    return {"out": out, "result": result}


@pytest.fixture(scope="module")
def trained(rec_channels: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = rec_channels["out"]
    model_dir = tmp_path_factory.mktemp("model")
    lines: list[str] = []
    hyperparameters = {**FAST, "num_training_samples": str(rec_channels["result"].num_training_samples)}
    result = algorithms.train(
        "image-classification",
        hyperparameters,
        {"train": out / "train", "validation": out / "validation"},
        {"train": REC, "validation": REC},
        model_dir,
        log=lines.append,
    )
    return {"result": result, "model_dir": model_dir, "lines": lines}


def test_the_resnets_have_the_documented_depths() -> None:
    """IC-Hyperparameter.html: num_layers 18/34/50/101/152/200 (large images) and 20/32/44/56/110 (small)."""
    import torch

    torch.set_num_threads(1)
    for depth in (*SMALL_DEPTHS, 18, 34, 50):
        model = ResNet(depth, 4, (3, 16, 16))
        assert depth_of(model) == depth
        if depth in (20, 18, 50):
            assert model(torch.zeros(2, 3, 16, 16)).shape == (2, 4)
    assert ResNet(18, 3, (3, 64, 64)).eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 3)  # 7x7 stem + pooling
    for depth in (101, 152, 200):  # too large to build in a unit test: the unit counts give the depth
        units, filters, bottleneck = design(depth)
        assert bottleneck and units == LARGE_UNITS[depth] and 3 * sum(units) + 2 == depth and filters[-1] == 2048
    assert design(110)[0] == (18, 18, 18) and design(20)[1] == (16, 16, 32, 64)
    with pytest.raises(ValueError, match="num_layers 19"):
        design(19)


def test_learns_the_digits_and_beats_chance_on_held_out_images(trained: dict, digits: dict) -> None:
    metrics = dict(trained["result"].metrics)
    assert set(metrics) == {"train:accuracy", "validation:accuracy"}
    assert metrics["validation:accuracy"] > 0.8, trained["lines"]
    lines = trained["lines"]
    assert any(line.startswith("Epoch[0] Train-accuracy=") for line in lines)
    assert any(line.startswith("Epoch[3] Validation-accuracy=") for line in lines)

    predictor = algorithms.load("image-classification", trained["model_dir"])
    hits = 0
    for pixels, label in digits["test"]:
        body, content_type = predictor.invoke(png(pixels), "image/png", "application/json")
        probabilities = json.loads(body)
        assert content_type == "application/json" and len(probabilities) == 10
        hits += int(np.argmax(probabilities) == label)
    accuracy = hits / len(digits["test"])
    assert accuracy > 0.8, f"held-out accuracy {accuracy:.3f} (chance 0.1)"


def test_the_archive_has_the_containers_file_names(trained: dict) -> None:
    """model.tar.gz of the real algorithm: image-classification-symbol.json, -<epoch>.params, model-shapes.json."""
    names = sorted(p.name for p in trained["model_dir"].iterdir())
    assert names[0].startswith("image-classification-0") and names[0].endswith(".params")
    assert names[1:] == ["image-classification-symbol.json", "model-shapes.json"]
    shapes = json.loads((trained["model_dir"] / "model-shapes.json").read_text())
    assert shapes == [{"name": "data", "shape": [32, 3, 16, 16]}]
    assert len([n for n in names if n.endswith(".params")]) == 1  # default: the best epoch only


def test_serving_speaks_the_containers_formats(trained: dict, digits: dict) -> None:
    """image-classification.html: image/png, image/jpeg, application/x-image in; JSON list or JSON Lines out."""
    predictor = algorithms.load("image-classification", trained["model_dir"])
    pixels, _label = digits["test"][0]
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert("RGB").save(buffer, format="JPEG")
    as_json = json.loads(predictor.invoke(buffer.getvalue(), "application/x-image", None)[0])
    assert abs(sum(as_json) - 1.0) < 1e-4
    body, content_type = predictor.invoke(buffer.getvalue(), "image/jpeg", "application/jsonlines")
    assert content_type == "application/jsonlines"
    assert body.endswith(b"\n") and list(json.loads(body)) == ["prediction"]
    with pytest.raises(InvokeError) as refused:
        predictor.invoke(b"1,2,3", "text/csv", None)
    assert refused.value.status_code == 415
    with pytest.raises(InvokeError) as refused:
        predictor.invoke(buffer.getvalue(), "image/jpeg", "text/csv")
    assert refused.value.status_code == 406
    with pytest.raises(InvokeError) as refused:
        predictor.invoke(b"not an image", "image/png", None)
    assert refused.value.status_code == 400 and "decode" in refused.value.message


def test_incremental_training_starts_from_a_local_model(trained: dict, rec_channels: dict, tmp_path: Path) -> None:
    """image-classification.html, Incremental Training: a model channel; num_layers, image_shape, num_classes match."""
    channel = tmp_path / "model"
    channel.mkdir()
    with tarfile.open(channel / "model.tar.gz", "w:gz") as archive:
        for path in trained["model_dir"].iterdir():
            archive.add(path, arcname=path.name)
    out = rec_channels["out"]
    lines: list[str] = []
    result = algorithms.train(
        "image-classification",
        {**FAST, "epochs": "1", "learning_rate": "0.001", "num_training_samples": "1037"},
        {"train": out / "train", "validation": out / "validation", "model": channel},
        {"train": REC, "validation": REC, "model": "application/x-sagemaker-model"},
        tmp_path / "next",
        log=lines.append,
    )
    assert any(line.startswith("starting from the model channel's model") for line in lines)
    assert dict(result.metrics)["validation:accuracy"] > 0.8  # one gentle epoch keeps what the seed knew
    with pytest.raises(AlgorithmError, match="the model channel's model has num_layers=20, this job 32"):
        algorithms.train(
            "image-classification",
            {**FAST, "num_layers": "32", "num_training_samples": "1037"},
            {"train": out / "train", "validation": out / "validation", "model": channel},
            {},
            tmp_path / "other",
        )


def test_a_sagemaker_mxnet_archive_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "image-classification-symbol.json").write_text(json.dumps({"nodes": [], "arg_nodes": [], "heads": []}))
    (tmp_path / "image-classification-0010.params").write_bytes(b"\x12\x01\x00\x00\x00\x00\x00\x00")
    with pytest.raises(RuntimeError, match="MXNet symbol"):
        algorithms.load("image-classification", tmp_path)


def test_image_format_with_lst_files_and_multi_label_vectors(small: dict, digits: dict, tmp_path: Path) -> None:
    """Image format: train/validation image files, one .lst each in train_lst/validation_lst; multi-hot labels."""
    out = tmp_path / "raw"
    prepare_images(small["root"], out, layout="raw", resize=16, validation_ratio=0.2, workers=1)
    single = ic.train(
        {**FAST, "epochs": "4", "num_training_samples": "240"},
        {name: out / name for name in ("train", "validation", "train_lst", "validation_lst")},
        dict.fromkeys(("train", "validation", "train_lst", "validation_lst"), "application/x-image"),
        tmp_path / "model-single",
        log=lambda _line: None,
    )
    assert dict(single.metrics)["validation:accuracy"] > 0.3

    for name in ("train", "validation"):  # two labels per image: "odd digit" and "digit >= 5", multi-hot
        lst = out / f"{name}_lst" / f"{name}.lst"
        lines = []
        for line in lst.read_text().splitlines():
            index, label, path = line.split("\t")
            digit = int(float(label))
            lines.append(f"{index}\t{digit % 2}\t{int(digit >= 5)}\t{path}")
        lst.write_text("\n".join(lines) + "\n")
    model_dir = tmp_path / "model-multi"
    lines_logged: list[str] = []
    multi = ic.train(
        {
            **FAST,
            "num_classes": "2",
            "multi_label": "1",
            "use_weighted_loss": "1",
            "epochs": "4",
            "num_training_samples": "240",
        },
        {name: out / name for name in ("train", "validation", "train_lst", "validation_lst")},
        dict.fromkeys(("train", "validation", "train_lst", "validation_lst"), "application/x-image"),
        model_dir,
        log=lines_logged.append,
    )
    assert dict(multi.metrics)["validation:accuracy"] > 0.6, lines_logged
    probabilities = json.loads(ic.load(model_dir).invoke(png(digits["test"][0][0]), "image/png", None)[0])
    assert len(probabilities) == 2 and all(0.0 <= p <= 1.0 for p in probabilities)


def test_optimizers_schedule_augmentation_checkpoints_and_early_stopping(small: dict, tmp_path: Path) -> None:
    out = small["rec"]
    base = {**FAST, "num_training_samples": "240", "epochs": "3", "image_shape": "3,12,12"}
    for settings in (
        {"optimizer": "adam", "learning_rate": "0.01", "augmentation_type": "crop_color_transform", "resize": "14"},
        {"num_layers": "18", "epochs": "1", "augmentation_type": "crop", "mini_batch_size": "100"},
        {"optimizer": "rmsprop", "learning_rate": "0.001", "augmentation_type": "crop_color", "top_k": "3"},
        {"optimizer": "nag", "lr_scheduler_step": "1,2", "lr_scheduler_factor": "0.5", "checkpoint_frequency": "2"},
        {
            "early_stopping": "True",
            "early_stopping_min_epochs": "1",
            "early_stopping_patience": "1",
            "early_stopping_tolerance": "1.0",
        },
    ):
        model_dir = tmp_path / "-".join(settings)
        lines: list[str] = []
        result = ic.train(
            {**base, **settings},
            {"train": out / "train", "validation": out / "validation"},
            {"train": REC, "validation": REC},
            model_dir,
            log=lines.append,
        )
        assert "validation:accuracy" in dict(result.metrics), settings
        params = sorted(p.name for p in model_dir.glob("*.params"))
        if "checkpoint_frequency" in settings:
            assert params == ["image-classification-0002.params", "image-classification-0003.params"]
        if "top_k" in settings:
            assert any("Validation-top_k_accuracy_3=" in line for line in lines)
        if "early_stopping" in settings:  # a tolerance of 100 % means no epoch ever improves enough
            assert any(line.startswith("Early stopping after epoch 1") for line in lines), lines
        ic.load(model_dir)  # every variant serves


def test_settings_it_cannot_honour_fail_the_job_clearly(small: dict, tmp_path: Path) -> None:
    out = small["rec"]
    dirs = {"train": out / "train", "validation": out / "validation"}
    types = {"train": REC, "validation": REC}
    base = {**FAST, "num_training_samples": "240"}
    cases = [
        ({"use_pretrained_model": "1", "num_layers": "18", "image_shape": "3,224,224"}, "cannot download"),
        ({"precision_dtype": "float16"}, "precision_dtype=float16 is not available locally"),
        ({"num_layers": "19"}, "num_layers='19' is not one of 18, 34"),
        ({"image_shape": "3,32,32"}, "smaller than image_shape's 32x32"),
        ({"optimizer": "adagrad"}, "optimizer='adagrad'"),
        ({"checkpoint_frequency": "9"}, "checkpoint_frequency (9) is larger than epochs (4)"),
        ({"frobnicate": "1"}, "'frobnicate' was unexpected"),
    ]
    for settings, expected in cases:
        with pytest.raises(AlgorithmError) as failed:
            algorithms.train("image-classification", {**base, **settings}, dirs, types, tmp_path / "m")
        assert failed.value.message.startswith("ClientError: ") and expected in failed.value.message, failed.value
    without = {k: v for k, v in base.items() if k != "num_classes"}
    with pytest.raises(AlgorithmError, match="'num_classes' is a required property"):
        algorithms.train("image-classification", without, dirs, types, tmp_path / "m")
    mxnet = tmp_path / "mxnet"
    (mxnet / "model").mkdir(parents=True)
    (mxnet / "image-classification-symbol.json").write_text(json.dumps({"nodes": [], "heads": []}))
    with tarfile.open(mxnet / "model" / "model.tar.gz", "w:gz") as archive:
        archive.add(mxnet / "image-classification-symbol.json", arcname="image-classification-symbol.json")
    with pytest.raises(AlgorithmError, match=r"model\.tar\.gz cannot seed this job: .* is an MXNet symbol"):
        algorithms.train("image-classification", base, {**dirs, "model": mxnet / "model"}, types, tmp_path / "m")
    with pytest.raises(AlgorithmError, match="validation is missing"):
        algorithms.train("image-classification", base, {"train": dirs["train"]}, types, tmp_path / "m")


def test_a_channel_in_the_wrong_record_format_fails_with_the_file_named(tmp_path: Path) -> None:
    """RecordIO-protobuf shares MXNet's framing but holds no image; CSV is not RecordIO at all."""
    protobuf = tmp_path / "protobuf"
    protobuf.mkdir()
    with open(protobuf / "train.rec", "wb") as handle:
        recordio.write_dense(handle, np.ones((4, 3), dtype=np.float32), np.zeros(4, dtype=np.float32))
    csv = tmp_path / "csv"
    csv.mkdir()
    (csv / "train.rec").write_text("0,1,2\n1,2,3\n")
    base = {**FAST, "num_training_samples": "4"}
    for folder in (protobuf, csv):
        with pytest.raises(AlgorithmError) as failed:
            algorithms.train(
                "image-classification",
                base,
                {"train": folder, "validation": folder},
                {"train": REC, "validation": REC},
                tmp_path / "model",
            )
        assert failed.value.message.startswith(
            "ClientError: train/train.rec holds no MXNet image records (record index 0"
        )
    labelled = tmp_path / "labels"
    labelled.mkdir()
    with open(labelled / "train.rec", "wb") as handle:
        recordio.write_image_rec(handle, [(recordio.IRHeader(0, 12.0, 0, 0), png(np.zeros((16, 16), np.uint8)))])
    with pytest.raises(AlgorithmError, match=r"label 12 is not a class index from 0 to 9"):
        algorithms.train(
            "image-classification", base, {"train": labelled, "validation": labelled}, {}, tmp_path / "model"
        )
