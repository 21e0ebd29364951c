"""The local XGBoost: training, the artifact the 1.x containers load, and the 1.7-1 container's wire formats.

Sources (cited per test): github.com/aws/sagemaker-xgboost-container branch 1.7-1 at
f7a93a21e50e44b4077f0889a7f676cad8c226f3 (``algorithm_mode/serve.py``, ``serve_utils.py``,
``encoder.py``, ``data_utils.py``, ``train.py``) and github.com/aws/sagemaker-containers v2.8.6.post2
(150ff4674b268a4c6f9518aefa767892c50e1e94, ``_encoders.py``), the version the container pins.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from sagedrop import recordio
from sagedrop_local import algorithms
from sagedrop_local.algorithms import AlgorithmError, InvokeError, Serving
from sagedrop_local.algorithms import xgboost_serving as serving
from tests.local.test_local_algorithms import CSV, JSON, PROTOBUF, blobs, channel, csv_text, metrics_of, split_channels
from tests.local.test_local_algorithms import train as train_algorithm

JSONLINES = "application/jsonlines"


def train(root: Path, hyperparameters: dict[str, str], dirs, types, lines: list[str] | None = None):
    return train_algorithm(root, "xgboost", hyperparameters, dirs, types, lines)


def column(body: bytes) -> list[float]:
    """A text/csv answer of sagemaker-containers' array_to_csv: one value per line, each ending in a newline."""
    text = body.decode()
    assert text.endswith("\n") and "," not in text
    return [float(line) for line in text.splitlines()]


def binary_model(tmp_path: Path, rows: int = 100) -> Path:
    x, y = blobs(rows, 2)
    dirs = {"train": channel(tmp_path, "train", "t.csv", csv_text(x, y))}
    _, model_dir = train(tmp_path, {"num_round": "3", "objective": "binary:logistic"}, dirs, {"train": CSV})
    return model_dir


# --------------------------------------------------------------------------------------------
# training and the artifact
# --------------------------------------------------------------------------------------------


def test_multiclass_training_writes_a_json_model_and_answers_one_value_per_line(tmp_path: Path) -> None:
    """train.py (1.3-1+) saves ``bst.save_model("xgboost-model")``; serve.py answers text/csv through
    sagemaker-containers ``encoders.encode`` = ``array_to_csv`` (a 1-D array is written as a column)."""
    x, y = blobs(400, 3)
    dirs, types, pieces = split_channels(tmp_path, x, y)
    lines: list[str] = []
    hyperparameters = {
        "num_round": "15",
        "objective": "multi:softmax",
        "num_class": "3",
        "eval_metric": "merror,mlogloss",
        "max_depth": "3",
    }
    result, model_dir = train(tmp_path, hyperparameters, dirs, types, lines)
    metrics = metrics_of(result)
    assert set(metrics) == {"train:merror", "train:mlogloss", "validation:merror", "validation:mlogloss"}
    assert metrics["validation:merror"] < 0.1 and 0 < metrics["validation:mlogloss"] < 0.5
    assert lines[-1].startswith("[14]\ttrain-merror:")  # one log line per round, as the container logs them
    assert [p.name for p in model_dir.iterdir()] == ["xgboost-model"]
    document = json.loads((model_dir / "xgboost-model").read_bytes())
    assert document["learner"]["learner_model_param"]["base_score"] == "5E-1"  # a scalar, as xgboost 1.x reads it

    predictor = algorithms.load("xgboost", model_dir)
    val_x, val_y = pieces["validation"]
    body, content_type = predictor.invoke(csv_text(val_x).encode(), CSV, None)
    assert content_type == "text/csv"
    predicted = column(body)
    assert len(predicted) == len(val_y) and set(predicted) <= {0.0, 1.0, 2.0}
    assert np.mean(np.array(predicted) == val_y) > 0.9
    body, content_type = predictor.invoke(csv_text(val_x[:3]).encode(), CSV, JSON)
    assert content_type == JSON  # serve_utils.encode_predictions_as_json
    assert body.decode() == json.dumps({"predictions": [{"score": v} for v in predicted[:3]]})


def test_an_unset_base_score_is_the_constant_of_xgboost_1x(tmp_path: Path) -> None:
    """The 1.x containers run xgboost 1.x whose ``base_score`` defaults to 0.5; xgboost 2+ estimates it from
    the labels unless it is set (https://xgboost.readthedocs.io/en/stable/tutorials/intercept.html), and 3.1+
    writes it as a vector string that xgboost 1.7 does not read as the intercept."""
    x, _ = blobs(200, 2, seed=5)
    y = (x[:, 0] > np.quantile(x[:, 0], 0.8)).astype(float)  # 20% positives: an estimate would not be 0.5
    estimated = xgb.train({"objective": "binary:logistic", "nthread": 1}, xgb.DMatrix(x, label=y), 1)
    assert json.loads(estimated.save_config())["learner"]["learner_model_param"]["base_score"] != "[5E-1]"
    dirs = {"train": channel(tmp_path, "train", "t.csv", csv_text(x, y))}
    _, model_dir = train(tmp_path, {"num_round": "2", "objective": "binary:logistic"}, dirs, {"train": CSV})
    document = json.loads((model_dir / "xgboost-model").read_bytes())
    assert document["learner"]["learner_model_param"]["base_score"] == "5E-1"


def test_early_stopping_records_best_ntree_limit_and_serving_uses_it(tmp_path: Path) -> None:
    """xgboost 1.7 restores ``best_ntree_limit`` from the model's attribute on load (core.py load_model) and
    serve_utils.predict passes ``ntree_limit=getattr(booster, "best_ntree_limit", 0)``."""
    x, y = blobs(400, 3, seed=11)
    dirs, types, pieces = split_channels(tmp_path, x, y)
    lines: list[str] = []
    hyperparameters = {
        "num_round": "300",
        "objective": "multi:softprob",
        "num_class": "3",
        "eval_metric": "merror,accuracy,f1",
        "early_stopping_rounds": "3",
        "eta": "0.5",
    }
    result, model_dir = train(tmp_path, hyperparameters, dirs, types, lines)
    metrics = metrics_of(result)
    assert metrics["validation:accuracy"] == pytest.approx(1 - metrics["validation:merror"], abs=1e-5)
    assert 0.8 < metrics["validation:f1"] <= 1.0
    booster = xgb.Booster()
    booster.load_model(bytearray((model_dir / "xgboost-model").read_bytes()))
    best = int(booster.attr("best_iteration"))
    assert booster.num_boosted_rounds() < 300 and booster.attr("best_ntree_limit") == str(best + 1)
    assert any(line.startswith("best iteration") for line in lines)
    body, _ = algorithms.load("xgboost", model_dir).invoke(csv_text(pieces["validation"][0][:4]).encode(), CSV, None)
    rows = [[float(v) for v in line.split(",")] for line in body.decode().splitlines()]  # a softprob row per line
    expected = booster.predict(xgb.DMatrix(pieces["validation"][0][:4]), iteration_range=(0, best + 1))
    assert np.allclose(rows, expected, atol=1e-6)


def test_libsvm_is_the_default_content_type_and_answers_rmse(tmp_path: Path) -> None:
    """data_utils.get_content_type: no content type means libsvm."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 3))
    y = 2 * x[:, 0] - x[:, 1] + rng.normal(0, 0.1, 300)

    def libsvm(rows: slice) -> str:
        return "\n".join(
            f"{label:.5f} " + " ".join(f"{j}:{v:.5f}" for j, v in enumerate(features) if v > -1)
            for label, features in zip(y[rows], x[rows], strict=True)
        )

    dirs = {
        "train": channel(tmp_path, "train", "a.libsvm", libsvm(slice(0, 240))),
        "validation": channel(tmp_path, "validation", "b.libsvm", libsvm(slice(240, 300))),
    }
    types = {"train": None, "validation": None}
    result, model_dir = train(tmp_path, {"num_round": "30", "max_depth": "3"}, dirs, types)
    metrics = metrics_of(result)
    assert set(metrics) == {"train:rmse", "validation:rmse"}
    assert metrics["validation:rmse"] < 0.5 * float(np.std(y))
    rows = b"0:1.0 1:0.5 2:0.0\n0:-1.0 1:0.0 2:0.0"
    answer, _ = algorithms.load("xgboost", model_dir).invoke(rows, "text/libsvm", None)
    first, second = column(answer)
    assert first > second  # y grows with feature 0


def test_recordio_protobuf_trains_and_answers_the_sdks_record_serializer(tmp_path: Path) -> None:
    """The SDK's RecordSerializer writes dense float records (``write_numpy_to_dense_tensor``; the project's
    ``encode_dense`` reproduces it byte for byte: tests/data/recordio); the container reads
    ``features["values"]`` of each record (encoder.recordio_protobuf_to_dmatrix)."""
    x, y = blobs(300, 2, seed=9)
    x32 = x.astype(np.float32)
    dirs = {
        "train": channel(tmp_path, "train", "train.pbr", recordio.encode_dense(x32[:220], y[:220])),
        "validation": channel(tmp_path, "validation", "v.pbr", recordio.encode_dense(x32[220:], y[220:])),
    }
    hyperparameters = {"num_round": "8", "objective": "binary:logistic", "eval_metric": "error,auc"}
    result, model_dir = train(tmp_path, hyperparameters, dirs, {"train": PROTOBUF, "validation": PROTOBUF})
    metrics = metrics_of(result)
    assert metrics["validation:error"] < 0.1 and metrics["validation:auc"] > 0.9
    predictor = algorithms.load("xgboost", model_dir)
    dense, _ = predictor.invoke(recordio.encode_dense(x[220:230].astype(np.float32)), PROTOBUF, "*/*")
    csv_answer, _ = predictor.invoke(csv_text(x[220:230]).encode(), CSV, None)
    assert len(column(dense)) == 10 and np.allclose(column(dense), column(csv_answer), atol=1e-5)


def test_a_model_saved_with_save_model_is_served_as_the_container_falls_back_to(tmp_path: Path) -> None:
    """serve_utils.get_loaded_booster: pickle.load first, then Booster.load_model, for any file name."""
    x, y = blobs(200, 2, seed=2)
    booster = xgb.train({"objective": "binary:logistic", "nthread": 1}, xgb.DMatrix(x, label=y), 5)
    (tmp_path / "model").mkdir()
    booster.save_model(str(tmp_path / "model" / "xgboost-model.json"))
    body, _ = algorithms.load("xgboost", tmp_path / "model").invoke(csv_text(x[:4]).encode(), CSV, None)
    assert np.allclose(column(body), booster.predict(xgb.DMatrix(x[:4])), atol=1e-6)


def test_old_binary_models_are_refused_with_what_to_do(tmp_path: Path) -> None:
    """train.py of 1.3-1..1.7-1 saves ``bst.save_model("xgboost-model")``: with xgboost 1.x and no extension that
    is the old binary format (it starts with ``binf``), which xgboost 3.1+ no longer reads (xgboost's own error:
    "The binary format has been deprecated in 1.6 and removed in 3.1")."""
    (tmp_path / "xgboost-model").write_bytes(b"binf" + bytes(200))
    with pytest.raises(RuntimeError, match=r"old binary format.*removed in 3\.1.*save_model"):
        algorithms.load("xgboost", tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".keep").write_text("")  # dotfiles are not models (serve_utils._get_full_model_paths)
    with pytest.raises(RuntimeError, match="no model file"):
        algorithms.load("xgboost", empty)


# --------------------------------------------------------------------------------------------
# the wire formats of serve.py
# --------------------------------------------------------------------------------------------


def test_errors_come_with_the_containers_statuses_and_in_its_order(tmp_path: Path) -> None:
    """serve.py invocations: content type and parsing (415), prediction (400), then Accept (406)."""
    predictor = algorithms.load("xgboost", binary_model(tmp_path))
    cases = [
        (b'{"instances": []}', JSON, None, 415, "application/json is not an accepted ContentType: csv, libsvm, "),
        (b"1,2", "text/csv; label_size=2", None, 415, "Optional parameter label_size must be equal to 1"),
        (b"1,2,3,4", "application/x-parquet", None, 415, "Content-type application/x-parquet is not supported."),
        (b"1,2,3,4\n1,2", CSV, None, 415, "Loading csv data failed with Exception, please ensure data is in csv"),
        (b"1:a", "text/libsvm", None, 415, "Loading libsvm data failed with Exception"),
        (b"\x00\x01garbage", PROTOBUF, None, 415, "Loading recordio-protobuf data failed with Exception"),
        (b"1,2,3,4\n1,2", CSV, "image/png", 415, "Loading csv data failed"),  # parsing comes before Accept
        (b"1,2,3,4,5,6", CSV, None, 400, "Unable to evaluate payload provided: "),  # xgboost: too many columns
        (b"1,2,3,4", CSV, "image/png", 406, "Accept type image/png is not supported. Please use supported accept"),
        (b"1,2,3,4", CSV, "text/csv, application/json", 406, "Accept type text/csv, application/json is not"),
    ]
    for body, content_type, accept, status, message in cases:
        with pytest.raises(InvokeError) as failure:
            predictor.invoke(body, content_type, accept)
        assert (failure.value.status_code, message in failure.value.message) == (status, True), (body, accept)
    assert predictor.invoke(b"", CSV, None) == (b"", "text/csv")  # the container's 204 No Content
    assert column(predictor.invoke(b"1,2,3", CSV, None)[0])  # a model file (xgb_format) skips the width check


def test_pickled_models_get_the_feature_count_check(tmp_path: Path) -> None:
    """serve_utils.predict checks the width for "pkl_format" models only: csv/recordio-protobuf must have the
    model's feature count or one less; libsvm at most one more."""
    import pickle

    x, y = blobs(100, 2)
    booster = xgb.train({"objective": "binary:logistic", "nthread": 1}, xgb.DMatrix(x, label=y), 3)
    (tmp_path / "xgboost-model").write_bytes(pickle.dumps(booster))
    predictor = algorithms.load("xgboost", tmp_path)
    with pytest.raises(InvokeError) as failure:
        predictor.invoke(b"1,2", CSV, None)
    assert failure.value.status_code == 400
    assert failure.value.message == (
        "Unable to evaluate payload provided: Feature size of csv inference data 2 is not consistent with feature "
        "size of trained model 4."
    )
    assert len(column(predictor.invoke(b"1,2,3", CSV, None)[0])) == 1


def test_jsonlines_and_recordio_answers_are_the_containers_500_without_selectable_output(tmp_path: Path) -> None:
    """Both are in serve.py's SUPPORTED_ACCEPTS, but sagemaker-containers' ``_encoders_map`` holds NPY, CSV and
    JSON only: ``encoders.encode`` raises UnsupportedFormatError, uncaught, so Flask answers 500."""
    predictor = algorithms.load("xgboost", binary_model(tmp_path))
    for accept in (JSONLINES, PROTOBUF):
        with pytest.raises(InvokeError) as failure:
            predictor.invoke(b"1,2,3,4", CSV, accept)
        assert failure.value.status_code == 500 and "SAGEMAKER_INFERENCE_OUTPUT" in failure.value.message


def test_selectable_inference_output_answers_all_four_accept_types(tmp_path: Path) -> None:
    """serve_utils.get_selected_predictions + encode_selected_predictions (SAGEMAKER_INFERENCE_OUTPUT): JSON,
    JSON Lines (encoder.json_to_jsonlines), CSV with lists quoted, and RecordIO-protobuf with every key a float32
    label tensor; a key the objective does not have is NaN."""
    keys = "predicted_label,probabilities,predicted_score"
    predictor = algorithms.load(
        "xgboost", binary_model(tmp_path), Serving(environment={"SAGEMAKER_INFERENCE_OUTPUT": keys})
    )
    rows = b"1,2,3,4\n-3,-3,-3,-3"
    answer, content_type = predictor.invoke(rows, CSV, JSON)
    items = json.loads(answer)["predictions"]
    assert content_type == JSON and [sorted(item) for item in items] == [sorted(keys.split(","))] * 2
    for item in items:
        assert item["predicted_label"] == int(item["probabilities"][1] > 0.5)
        assert item["probabilities"][0] == pytest.approx(1 - item["probabilities"][1])
        assert np.isnan(item["predicted_score"])  # regression only
    lines = predictor.invoke(rows, CSV, JSONLINES)[0].decode()
    assert lines.endswith("\n")
    parsed = [json.loads(line) for line in lines.splitlines()]
    assert [(p["predicted_label"], p["probabilities"]) for p in parsed] == [
        (i["predicted_label"], i["probabilities"]) for i in items
    ]
    csv_answer = predictor.invoke(rows, CSV, "text/csv")[0].decode()
    first = items[0]
    assert csv_answer.splitlines()[0] == f'{first["predicted_label"]},"{first["probabilities"]}",nan'
    records = list(recordio.read_records(predictor.invoke(rows, CSV, PROTOBUF)[0]))
    assert len(records) == 2
    for record, item in zip(records, items, strict=True):
        assert record.label["predicted_label"].dtype == "float32"
        assert record.label["predicted_label"].values.tolist() == [float(item["predicted_label"])]
        assert np.allclose(record.label["probabilities"].values, item["probabilities"], atol=1e-6)


def test_default_accept_and_legacy_image_tags(tmp_path: Path) -> None:
    """SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT answers ``*/*``; image tags before PR #269/#270/#271 (1.0-1, 1.2-1)
    answer ``",".join(map(str, preds.tolist()))`` as text/csv whatever the valid Accept."""
    model_dir = binary_model(tmp_path)
    rows = b"1,2,3,4\n-3,-3,-3,-3"
    default_json = algorithms.load(
        "xgboost", model_dir, Serving(environment={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": JSON})
    )
    answer, content_type = default_json.invoke(rows, CSV, "*/*")
    scores = [item["score"] for item in json.loads(answer)["predictions"]]
    assert content_type == JSON and len(scores) == 2
    legacy = algorithms.load("xgboost", model_dir, Serving(image_tag="1.0-1"))
    answer, content_type = legacy.invoke(rows, CSV, JSON)
    assert content_type == "text/csv" and answer.decode() == ",".join(map(str, scores))
    with pytest.raises(InvokeError) as failure:
        legacy.invoke(rows, CSV, "image/png")
    assert failure.value.status_code == 406


def test_array_to_csv_writes_a_column_and_rows() -> None:
    """sagemaker-containers v2.8.6.post2 _encoders.array_to_csv: 1-D -> one value per line; 2-D -> rows."""
    assert serving.array_to_csv([0.25, 1.0]) == "0.25\n1.0\n"
    assert serving.array_to_csv([[0.1, 0.9], [0.5, 0.5]]) == "0.1,0.9\n0.5,0.5\n"


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        ({"num_round": "5", "objective": "multi:foo"}, "ClientError: Hyperparameter objective: multi:foo is not in ["),
        ({"objective": "binary:logistic"}, "ClientError: Missing required hyperparameter: num_round"),
        ({"num_round": "ten"}, "ClientError: Hyperparameter num_round: could not parse value (caused by ValueError)"),
        ({"num_round": "5", "eta": "2"}, "ClientError: Hyperparameter eta: 2.0 is not in [0, 1]"),
        ({"num_round": "5", "silly": "1"}, "ClientError: Extraneous hyperparameter found: silly"),
        (
            {"num_round": "5", "objective": "multi:softmax"},
            "Require input for parameter 'num_class' for multi-classification",
        ),
        ({"num_round": "5", "eval_metric": "auc"}, "Metric 'auc' can only be applied for classification and ranking"),
        # xgboost's own check, reported as the user's error like the container's CUSTOMER_ERRORS
        (
            {"num_round": "5", "objective": "multi:softmax", "num_class": "2"},
            "label must be discrete values in the range of [0, num_class)",
        ),
    ],
)
def test_bad_hyperparameters_fail_with_the_algorithms_message(tmp_path: Path, hyperparameters, message) -> None:
    x, y = blobs(60, 3)
    dirs = {"train": channel(tmp_path, "train", "t.csv", csv_text(x, y))}
    with pytest.raises(AlgorithmError) as failure:
        train(tmp_path, hyperparameters, dirs, {"train": CSV})
    assert message in str(failure.value)
    assert "Stack trace" not in str(failure.value)


def test_data_errors_name_the_file_and_line(tmp_path: Path) -> None:
    dirs = {"train": channel(tmp_path, "train", "t.csv", "label,a,b\n1,2,3\n")}
    with pytest.raises(AlgorithmError, match=r"train/t\.csv, line 1, column 1: 'label' is not a number \(a header row"):
        train(tmp_path, {"num_round": "2"}, dirs, {"train": CSV})
    with pytest.raises(AlgorithmError, match="Parquet is not available in the local stack"):
        train(tmp_path, {"num_round": "2"}, dirs, {"train": "application/x-parquet"})
    empty = tmp_path / "input" / "empty"
    empty.mkdir()
    with pytest.raises(AlgorithmError, match="No data in training channel path"):
        train(tmp_path, {"num_round": "2"}, {"train": empty}, {"train": CSV})
