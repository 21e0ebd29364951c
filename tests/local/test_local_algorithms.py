"""sagedrop_local.algorithms: real training on small data, the artifacts, the metrics and the wire formats.

Data is generated with a fixed seed (clusters that a good model separates well) or ships with a
package (gensim's Lee corpus, its Pang & Lee polarity sentences and its WS-353 copy), so nothing is
downloaded and every assertion is on concrete values.
"""

from __future__ import annotations

import importlib
import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

from sagedrop import recordio
from sagedrop_local import algorithms
from sagedrop_local.algorithms import AlgorithmError, InvokeError
from sagedrop_local.algorithms import blazingtext as bt
from sagedrop_local.algorithms import linear_learner as ll

CSV = "text/csv"
PROTOBUF = "application/x-recordio-protobuf"
JSON = "application/json"

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def blobs(
    rows: int, classes: int, features: int = 4, seed: int = 7, spread: float = 0.6
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters, one per class, centred on distinct corners: separable up to a little overlap."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-3, 3, size=(classes, features))
    labels = rng.integers(0, classes, size=rows)
    return centres[labels] + rng.normal(0, spread, size=(rows, features)), labels.astype(np.float64)


def csv_text(x: np.ndarray, y: np.ndarray | None = None) -> str:
    rows = x if y is None else np.column_stack([y, x])
    return "\n".join(",".join(f"{v:.6g}" for v in row) for row in rows) + "\n"


def channel(root: Path, name: str, filename: str, content: str | bytes) -> Path:
    directory = root / "input" / name
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / filename
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content)
    return directory


def split_channels(root: Path, x: np.ndarray, y: np.ndarray, parts: tuple[str, ...] = ("train", "validation")):
    """Channels of CSV files cut from one data set: train gets 3/4 (or half with a test channel)."""
    cut = len(y) * 3 // 4 if len(parts) == 2 else len(y) // 2
    pieces = {"train": (x[:cut], y[:cut])}
    rest_x, rest_y = x[cut:], y[cut:]
    if len(parts) == 3:
        half = len(rest_y) // 2
        pieces["validation"] = (rest_x[:half], rest_y[:half])
        pieces["test"] = (rest_x[half:], rest_y[half:])
    else:
        pieces["validation"] = (rest_x, rest_y)
    dirs = {name: channel(root, name, "part-0.csv", csv_text(*pieces[name])) for name in parts}
    return dirs, dict.fromkeys(parts, CSV), pieces


def train(root: Path, algorithm: str, hyperparameters: dict[str, str], dirs, types, lines: list[str] | None = None):
    model_dir = root / "model"
    sink: list[str] = [] if lines is None else lines
    result = algorithms.train(algorithm, hyperparameters, dirs, types, model_dir, log=sink.append)
    return result, model_dir


def metrics_of(result) -> dict[str, float]:
    names = [name for name, _ in result.metrics]
    assert len(names) == len(set(names)), f"duplicate metric names: {names}"
    return dict(result.metrics)


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------


def test_every_algorithm_of_the_layer_has_a_local_module_or_a_reason_not_to() -> None:
    """An algorithm added to the layer's registry fails here until local/sagedrop_local/algorithms/ has a
    module named like its layer module, with ``train`` and ``load`` (or NOT_TRAINED_LOCALLY says why not)."""
    from sagedrop.algorithms import NAMES

    assert set(algorithms.NOT_TRAINED_LOCALLY) <= set(NAMES)
    assert all(reason.strip() for reason in algorithms.NOT_TRAINED_LOCALLY.values())
    assert set(algorithms.ALGORITHMS) | set(algorithms.NOT_TRAINED_LOCALLY) == set(NAMES)
    problems = []
    for name, module_path in algorithms.ALGORITHMS.items():
        try:
            module = importlib.import_module(module_path)
        except ModuleNotFoundError as exc:
            if exc.name != module_path:
                raise
            problems.append(f"{name}: no module {module_path} (write it, or add {name} to NOT_TRAINED_LOCALLY)")
            continue
        problems += [
            f"{name}: {module_path}.{f} is missing" for f in ("train", "load") if not callable(getattr(module, f, None))
        ]
    assert problems == []


def test_other_algorithms_are_refused_clearly(tmp_path: Path) -> None:
    message = algorithms.unsupported_message("kmeans")
    assert message.startswith("ClientError: ")
    with pytest.raises(AlgorithmError, match="unknown algorithm 'kmeans'"):
        algorithms.train("kmeans", {}, {}, {}, tmp_path / "model")
    with pytest.raises(RuntimeError, match="unknown algorithm 'kmeans'"):
        algorithms.load("kmeans", tmp_path)
    assert not (tmp_path / "model").exists()  # nothing pretends to have trained
    assert "unknown algorithm 'kmeans'" in algorithms.unsupported_message("kmeans")


def test_the_lambda_layer_never_imports_the_local_package() -> None:
    layer = Path(__file__).resolve().parents[2] / "layers" / "sagedrop" / "sagedrop"
    offenders = [p.name for p in layer.rglob("*.py") if "sagedrop_local" in p.read_text()]
    assert offenders == []


def test_failure_reasons_are_cut_to_sagemaker_length() -> None:
    assert len(str(AlgorithmError("ClientError: " + "x" * 5000))) == 1024


# --------------------------------------------------------------------------------------------
# linear-learner
# --------------------------------------------------------------------------------------------

BINARY_METRICS = {
    "objective_loss",
    "binary_classification_accuracy",
    "binary_f_beta",
    "precision",
    "recall",
    "roc_auc_score",
}


def test_linear_learner_binary_trains_calibrates_and_answers_every_format(tmp_path: Path) -> None:
    x, y = blobs(600, 2, features=5, seed=21, spread=1.2)
    dirs, types, pieces = split_channels(tmp_path, x, y, ("train", "validation", "test"))
    lines: list[str] = []
    result, model_dir = train(
        tmp_path, "linear-learner", {"predictor_type": "binary_classifier", "mini_batch_size": "64"}, dirs, types, lines
    )
    metrics = metrics_of(result)
    expected = {"train:objective_loss"} | {f"{c}:{m}" for c in ("validation", "test") for m in BINARY_METRICS}
    assert set(metrics) == expected
    assert (
        metrics["validation:binary_classification_accuracy"] > 0.9
        and metrics["test:binary_classification_accuracy"] > 0.9
    )
    assert metrics["test:roc_auc_score"] > 0.95 and 0 < metrics["validation:objective_loss"] < 0.4
    assert any("decision threshold" in line for line in lines)
    assert [p.name for p in model_dir.iterdir()] == ["model_algo-1"]

    predictor = algorithms.load("linear-learner", model_dir)
    test_x, test_y = pieces["test"]
    request = {"instances": [{"features": list(row)} for row in test_x]}
    body, content_type = predictor.invoke(json.dumps(request).encode(), JSON, JSON)
    assert content_type == JSON
    predictions = json.loads(body)["predictions"]
    assert all(
        set(p) == {"score", "predicted_label"} and 0 <= p["score"] <= 1 and p["predicted_label"] in (0, 1)
        for p in predictions
    )
    assert np.mean([p["predicted_label"] for p in predictions] == test_y) > 0.9
    # the same rows as CSV (printed with 6 digits), and in the common {"data": {"features": {"values": [...]}}} form
    from_csv = json.loads(predictor.invoke(csv_text(test_x).encode(), CSV, None)[0])["predictions"]
    assert [p["predicted_label"] for p in from_csv] == [p["predicted_label"] for p in predictions]
    assert [p["score"] for p in from_csv] == pytest.approx([p["score"] for p in predictions], rel=1e-3, abs=1e-6)
    common = {"instances": [{"data": {"features": {"values": list(test_x[0])}}}]}
    (single,) = json.loads(predictor.invoke(json.dumps(common).encode(), JSON, None)[0])["predictions"]
    assert single == {
        "score": pytest.approx(predictions[0]["score"]),
        "predicted_label": predictions[0]["predicted_label"],
    }
    lines_body, lines_type = predictor.invoke(csv_text(test_x[:2]).encode(), CSV, "application/jsonlines")
    assert (
        lines_type == "application/jsonlines"
        and [json.loads(r) for r in lines_body.decode().splitlines()] == from_csv[:2]
    )
    records = list(recordio.read_records(predictor.invoke(csv_text(test_x[:2]).encode(), CSV, PROTOBUF)[0]))
    assert [float(r.label["predicted_label"].values[0]) for r in records] == [
        p["predicted_label"] for p in from_csv[:2]
    ]
    assert records[0].label["score"].values[0] == pytest.approx(from_csv[0]["score"], rel=1e-6)


def test_linear_learner_multiclass_from_recordio_protobuf(tmp_path: Path) -> None:
    x, y = blobs(600, 3, features=4, seed=22)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    dirs = {
        "train": channel(tmp_path, "train", "a.pbr", recordio.encode_dense(x32[:450], y32[:450])),
        "validation": channel(tmp_path, "validation", "b.pbr", recordio.encode_dense(x32[450:], y32[450:])),
    }
    result, model_dir = train(
        tmp_path,
        "linear-learner",
        {"predictor_type": "multiclass_classifier", "num_classes": "3", "mini_batch_size": "50", "feature_dim": "4"},
        dirs,
        {"train": PROTOBUF, "validation": PROTOBUF},
    )
    metrics = metrics_of(result)
    assert set(metrics) == {"train:objective_loss"} | {
        f"validation:{m}"
        for m in (
            "objective_loss",
            "multiclass_accuracy",
            "multiclass_top_k_accuracy",
            "macro_f_beta",
            "macro_precision",
            "macro_recall",
        )
    }
    assert metrics["validation:multiclass_accuracy"] > 0.9 and metrics["validation:multiclass_top_k_accuracy"] == 1.0
    body, _ = algorithms.load("linear-learner", model_dir).invoke(recordio.encode_dense(x32[450:460]), PROTOBUF, None)
    predictions = json.loads(body)["predictions"]
    assert all(len(p["score"]) == 3 and abs(sum(p["score"]) - 1) < 1e-9 for p in predictions)
    assert [p["predicted_label"] for p in predictions] == [int(np.argmax(p["score"])) for p in predictions]
    assert np.mean([p["predicted_label"] for p in predictions] == y[450:460]) >= 0.8


@pytest.mark.parametrize(
    "loss",
    [
        "auto",
        "absolute_loss",
        "huber_loss",
        "quantile_loss",
        "eps_insensitive_squared_loss",
        "eps_insensitive_absolute_loss",
    ],
)
def test_linear_learner_regressor_learns_a_linear_target_with_each_loss(tmp_path: Path, loss: str) -> None:
    rng = np.random.default_rng(23)
    x = rng.normal(size=(500, 3)) * [1, 10, 0.1]  # unequal scales: normalize_data matters
    y = 50 + 3 * x[:, 0] - 0.5 * x[:, 1] + 20 * x[:, 2] + rng.normal(0, 0.2, 500)
    dirs, types, pieces = split_channels(tmp_path, x, y)
    result, model_dir = train(
        tmp_path,
        "linear-learner",
        {"predictor_type": "regressor", "loss": loss, "mini_batch_size": "32", "epochs": "20"},
        dirs,
        types,
    )
    metrics = metrics_of(result)
    assert set(metrics) == {
        "train:objective_loss",
        "validation:objective_loss",
        "validation:mse",
        "validation:absolute_loss",
    }
    assert metrics["validation:mse"] < 0.05 * float(np.var(y))
    body, _ = algorithms.load("linear-learner", model_dir).invoke(
        csv_text(pieces["validation"][0][:3]).encode(), CSV, None
    )
    predictions = json.loads(body)["predictions"]
    assert all(set(p) == {"score"} for p in predictions)
    assert np.allclose([p["score"] for p in predictions], pieces["validation"][1][:3], atol=3.0)


def test_linear_learner_hinge_loss_and_a_selection_criterion(tmp_path: Path) -> None:
    x, y = blobs(400, 2, seed=24, spread=1.0)
    dirs, types, _ = split_channels(tmp_path, x, y)
    result, _ = train(
        tmp_path,
        "linear-learner",
        {
            "predictor_type": "binary_classifier",
            "loss": "hinge_loss",
            "optimizer": "sgd",
            "learning_rate": "0.05",
            "binary_classifier_model_selection_criteria": "recall_at_target_precision",
            "target_precision": "0.9",
            "mini_batch_size": "20",
        },
        dirs,
        types,
    )
    metrics = metrics_of(result)
    assert metrics["validation:precision"] >= 0.9 and metrics["validation:recall"] > 0.8


@pytest.mark.parametrize(
    "criterion", ["accuracy", "f_beta", "precision_at_target_recall", "recall_at_target_precision"]
)
def test_linear_learner_threshold_calibration_matches_a_brute_force_search(criterion: str) -> None:
    rng = np.random.default_rng(26)
    labels = rng.integers(0, 2, 300).astype(float)
    scores = np.round(np.clip(0.35 * labels + rng.normal(0.3, 0.2, 300), 0, 1), 2)  # ties included
    values = {**{k: s.default for k, s in ll.SPECS.items()}, "binary_classifier_model_selection_criteria": criterion}
    threshold, best = ll.calibrate(scores, labels, values, 0.5)

    def value(t: float) -> float:
        stats = ll.binary_scores(labels, (scores > t).astype(np.int64), 1.0)
        if criterion in ("accuracy", "f_beta"):
            return stats[criterion]
        if criterion == "precision_at_target_recall":
            return stats["precision"] if stats["recall"] >= 0.8 else stats["recall"] - 1
        return stats["recall"] if stats["precision"] >= 0.8 else stats["precision"] - 1

    brute = max(value(t) for t in np.concatenate((np.unique(scores), np.unique(scores) - 1e-3)))
    assert best == pytest.approx(brute) and value(threshold) == pytest.approx(brute)


@pytest.mark.parametrize(
    "loss",
    [
        "logistic",
        "hinge_loss",
        "softmax_loss",
        "squared_loss",
        "absolute_loss",
        "huber_loss",
        "quantile_loss",
        "eps_insensitive_squared_loss",
        "eps_insensitive_absolute_loss",
    ],
)
def test_linear_learner_loss_gradients_match_finite_differences(loss: str) -> None:
    rng = np.random.default_rng(25)
    options = {"margin": 1.0, "loss_insensitivity": 0.05, "quantile": 0.3, "huber_delta": 0.7}
    outputs = 3 if loss == "softmax_loss" else 1
    z = rng.normal(size=(6, outputs)) * 2
    if loss in ("logistic", "hinge_loss"):
        y = rng.integers(0, 2, 6).astype(float)
    elif loss == "softmax_loss":
        y = rng.integers(0, 3, 6).astype(float)
    else:
        y = rng.normal(size=6) * 2
    _, grad = ll.loss_and_gradient(loss, z, y, options)
    step = 1e-6
    numeric = np.zeros_like(z)
    for index in np.ndindex(*z.shape):
        up, down = z.copy(), z.copy()
        up[index] += step
        down[index] -= step
        numeric[index] = (
            ll.loss_and_gradient(loss, up, y, options)[0][index[0]]
            - ll.loss_and_gradient(loss, down, y, options)[0][index[0]]
        ) / (2 * step)
    assert np.allclose(grad, numeric, atol=1e-4)


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        ({"epochs": "3"}, "'predictor_type' is a required property"),
        (
            {"predictor_type": "multiclass_classifier"},
            "num_classes is required when predictor_type is multiclass_classifier",
        ),
        (
            {"predictor_type": "regressor", "loss": "logistic"},
            "loss logistic is not valid for predictor_type regressor",
        ),
        ({"predictor_type": "regressor", "epochs": "0"}, "epochs='0' is not an integer >= 1"),
        (
            {"predictor_type": "regressor", "learning_rate": "fast"},
            "learning_rate='fast' is not a number > 0 or \"auto\"",
        ),
        (
            {"predictor_type": "regressor", "shuffle": "true"},
            "Additional properties are not allowed ('shuffle' was unexpected)",
        ),
        (
            {"predictor_type": "regressor", "feature_dim": "7"},
            "the train channel has 2 features per row but feature_dim is 7",
        ),
        ({"predictor_type": "binary_classifier"}, "Invalid label in channel 'train', data row 3: 2 must be 0 or 1"),
    ],
)
def test_linear_learner_errors_are_client_errors_that_say_what_to_fix(tmp_path: Path, hyperparameters, message) -> None:
    dirs = {"train": channel(tmp_path, "train", "t.csv", "0,1,2\n1,2,3\n2,3,4\n")}
    with pytest.raises(AlgorithmError) as failure:
        train(tmp_path, "linear-learner", hyperparameters, dirs, {"train": CSV})
    assert str(failure.value).startswith("ClientError: ")
    assert message in str(failure.value)


def test_linear_learner_data_errors(tmp_path: Path) -> None:
    dirs = {"train": channel(tmp_path, "train", "t.csv", "1,2,3\n0,1,2\n")}
    with pytest.raises(
        AlgorithmError, match=r"is not RecordIO-protobuf \(the default when the channel has no ContentType\)"
    ):
        train(tmp_path, "linear-learner", {"predictor_type": "regressor"}, dirs, {"train": None})
    holes = {"train": channel(tmp_path, "holes", "t.csv", "1,2,3\n0,,2\n")}
    with pytest.raises(
        AlgorithmError, match="data row 2, column 2 is empty: linear learner does not accept missing values"
    ):
        train(tmp_path, "linear-learner", {"predictor_type": "regressor"}, holes, {"train": CSV})


def test_linear_learner_refuses_bad_requests(tmp_path: Path) -> None:
    x, y = blobs(80, 2, features=3)
    dirs = {"train": channel(tmp_path, "train", "t.csv", csv_text(x, y))}
    _, model_dir = train(
        tmp_path, "linear-learner", {"predictor_type": "binary_classifier", "epochs": "2"}, dirs, {"train": CSV}
    )
    predictor = algorithms.load("linear-learner", model_dir)
    for body, content_type, accept, status, text in [
        (b"1,2", CSV, None, 400, "the model expects 3 features per record, the request has 2"),
        (b"{nope", JSON, None, 400, "Unable to parse the application/json request body as JSON"),
        (b'{"rows": []}', JSON, None, 400, '{"instances": [{"features": [...]}, ...]}'),
        (b"1,2,3", "image/png", None, 415, "Content type image/png is not supported"),
        (b"1,2,3", CSV, "text/html", 406, "Accept type text/html is not supported"),
    ]:
        with pytest.raises(InvokeError) as failure:
            predictor.invoke(body, content_type, accept)
        assert failure.value.status_code == status and text in str(failure.value)
    (model_dir / "model_algo-1").write_bytes(b"PK\x03\x04 an MXNet zip")
    with pytest.raises(RuntimeError, match="cannot be served locally"):
        algorithms.load("linear-learner", model_dir)


# --------------------------------------------------------------------------------------------
# blazingtext
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lee_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("lee") / "train"
    directory.mkdir()
    (directory / "lee_background.txt").write_text(Path(datapath("lee_background.cor")).read_text())
    return directory


def test_blazingtext_skipgram_writes_vectors_evaluates_on_ws353_and_serves_words(
    tmp_path: Path, lee_corpus: Path
) -> None:
    result, model_dir = train(
        tmp_path,
        "blazingtext",
        {"mode": "skipgram", "vector_dim": "24", "epochs": "3", "min_count": "3"},
        {"train": lee_corpus},
        {"train": "text/plain"},
    )
    assert sorted(p.name for p in model_dir.iterdir()) == ["eval.json", "vectors.bin", "vectors.txt"]
    header = (model_dir / "vectors.txt").read_text().splitlines()[0].split()
    assert header[1] == "24" and int(header[0]) > 1000
    vectors = KeyedVectors.load_word2vec_format(str(model_dir / "vectors.txt"))  # as the docs show for gensim
    assert vectors.vector_size == 24 and "government" in vectors.key_to_index
    binary = KeyedVectors.load_word2vec_format(str(model_dir / "vectors.bin"), binary=True)
    assert np.allclose(binary["government"], vectors["government"], atol=1e-5)
    metrics = metrics_of(result)
    assert list(metrics) == ["train:mean_rho"] and -1 <= metrics["train:mean_rho"] <= 1
    report = json.loads((model_dir / "eval.json").read_text())
    assert report["mean_rho"] == metrics["train:mean_rho"] and report["WS-353"]["pairs"] == 353
    assert 0 < report["WS-353"]["pairs_not_found"] < 353

    predictor = algorithms.load("blazingtext", model_dir)
    body, content_type = predictor.invoke(json.dumps({"instances": ["government", "zzqxj"]}).encode(), JSON, JSON)
    answer = json.loads(body)
    assert content_type == JSON and [a["word"] for a in answer] == ["government", "zzqxj"]
    assert np.allclose(answer[0]["vector"], vectors["government"], atol=1e-5)
    assert (
        answer[1]["vector"] == [0.0] * 24
    )  # "If the word is not found in vocabulary, inference returns a vector of zeros"


@pytest.mark.parametrize("mode", ["cbow", "batch_skipgram"])
def test_blazingtext_other_word2vec_modes(tmp_path: Path, lee_corpus: Path, mode: str) -> None:
    result, model_dir = train(
        tmp_path,
        "blazingtext",
        {
            "mode": mode,
            "vector_dim": "16",
            "epochs": "2",
            "min_count": "5",
            "window_size": "3",
            "negative_samples": "3",
            "evaluation": "False",
        },
        {"train": lee_corpus},
        {"train": None},
    )
    assert result.metrics == []  # no evaluation asked
    assert sorted(p.name for p in model_dir.iterdir()) == ["vectors.bin", "vectors.txt"]
    kept = KeyedVectors.load_word2vec_format(str(model_dir / "vectors.txt"))
    counts = Counter((lee_corpus / "lee_background.txt").read_text().split())
    assert kept.vector_size == 16 and set(kept.index_to_key) == {w for w, c in counts.items() if c >= 5}


def test_blazingtext_subwords_give_vectors_to_unknown_words(tmp_path: Path, lee_corpus: Path) -> None:
    _, model_dir = train(
        tmp_path,
        "blazingtext",
        {
            "mode": "skipgram",
            "subwords": "True",
            "buckets": "20000",
            "min_char": "3",
            "max_char": "5",
            "vector_dim": "16",
            "epochs": "2",
            "evaluation": "False",
        },
        {"train": lee_corpus},
        {"train": "text/plain"},
    )
    assert int.from_bytes((model_dir / "vectors.bin").read_bytes()[:4], "little") == bt.FASTTEXT_MAGIC
    body, _ = algorithms.load("blazingtext", model_dir).invoke(b'{"instances": ["governments"]}', JSON, None)
    vector = json.loads(body)[0]["vector"]
    assert len(vector) == 16 and any(v != 0.0 for v in vector)


def topic_lines(count: int, seed: int) -> list[str]:
    """Sentences about one of three topics, each drawing most words from its own pool plus shared filler."""
    rng = random.Random(seed)
    pools = {
        "sports": ["goal", "match", "team", "score", "league", "coach", "player", "season", "win", "stadium"],
        "weather": ["rain", "storm", "cloud", "sunny", "wind", "forecast", "snow", "cold", "temperature", "humid"],
        "finance": ["stock", "market", "bank", "price", "profit", "invest", "share", "trade", "bond", "dollar"],
    }
    filler = ["the", "a", "of", "and", "today", "we", "said", "very", "it", "was"]
    lines = []
    for _ in range(count):
        topic = rng.choice(sorted(pools))
        words = rng.choices(pools[topic], k=5) + rng.choices(filler, k=4)
        rng.shuffle(words)
        lines.append(f"__label__{topic} " + " ".join(words))
    return lines


def test_blazingtext_supervised_classifies_held_out_sentences_and_answers_top_k(tmp_path: Path) -> None:
    dirs = {
        "train": channel(tmp_path, "train", "train.txt", "\n".join(topic_lines(300, 1)) + "\n"),
        "validation": channel(tmp_path, "validation", "val.txt", "\n".join(topic_lines(90, 2)) + "\n"),
    }
    lines: list[str] = []
    result, model_dir = train(
        tmp_path,
        "blazingtext",
        {
            "mode": "supervised",
            "epochs": "10",
            "min_count": "1",
            "vector_dim": "16",
            "learning_rate": "0.3",
            "word_ngrams": "2",
        },
        dirs,
        {"train": "text/plain", "validation": "text/plain"},
        lines,
    )
    assert metrics_of(result)["validation:accuracy"] > 0.9
    assert [p.name for p in model_dir.iterdir()] == ["model.bin"]
    predictor = algorithms.load("blazingtext", model_dir)
    request = {
        "instances": ["the stock price and bank profit", "rain and snow in the forecast"],
        "configuration": {"k": 2},
    }
    body, content_type = predictor.invoke(json.dumps(request).encode(), JSON, JSON)
    answer = json.loads(body)
    assert content_type == JSON and [set(a) for a in answer] == [{"label", "prob"}] * 2
    assert [a["label"][0] for a in answer] == ["__label__finance", "__label__weather"]
    assert all(len(a["label"]) == 2 and a["prob"][0] >= a["prob"][1] and sum(a["prob"]) <= 1 + 1e-9 for a in answer)
    default_k = json.loads(predictor.invoke(b'{"instances": ["team goal"]}', JSON, None)[0])
    assert default_k[0]["label"] == ["__label__sports"] and len(default_k[0]["prob"]) == 1
    jsonlines, lines_type = predictor.invoke(
        b'{"source": "team goal", "k": 3}\n{"source": "bond trade"}', "application/jsonlines", JSON
    )
    rows = [json.loads(r) for r in jsonlines.decode().splitlines()]
    assert lines_type == "application/jsonlines" and [len(r["label"]) for r in rows] == [3, 1]
    assert rows[1]["label"] == ["__label__finance"]


def test_blazingtext_supervised_fits_the_polarity_sentences_gensim_ships(tmp_path: Path) -> None:
    text = Path(datapath("pang_lee_polarity.cor")).read_text(encoding="latin-1")
    dirs = {
        "train": channel(tmp_path, "train", "polarity.txt", text),
        "validation": channel(tmp_path, "validation", "p.txt", text),
    }
    result, _ = train(
        tmp_path,
        "blazingtext",
        {"mode": "supervised", "epochs": "15", "min_count": "1", "vector_dim": "20", "learning_rate": "0.5"},
        dirs,
        {"train": None, "validation": None},
    )
    assert metrics_of(result)["validation:accuracy"] > 0.9  # the training sentences themselves: the model fits them


def test_fasttext_hash_is_fnv1a_as_fasttext_computes_it() -> None:
    assert bt.fasttext_hash("") == 2166136261
    assert bt.fasttext_hash("a") == 0xE40C292C  # the published 32-bit FNV-1a of "a"
    # fastText sign-extends bytes >= 0x80 before the XOR (int8_t -> uint32_t)
    expected = 2166136261
    for byte in "é".encode():
        expected = ((expected ^ (0xFFFFFF00 | byte)) * 16777619) & 0xFFFFFFFF
    assert bt.fasttext_hash("é") == expected


@pytest.mark.parametrize(
    ("hyperparameters", "channels", "message"),
    [
        ({"epochs": "2"}, ("train",), "'mode' is a required property"),
        ({"mode": "skipgrams"}, ("train",), "mode 'skipgrams' is not one of"),
        (
            {"mode": "skipgram", "word_ngrams": "2"},
            ("train",),
            "word_ngrams is a text classification (supervised) hyperparameter",
        ),
        ({"mode": "supervised", "window_size": "2"}, ("train",), "window_size is a Word2Vec hyperparameter"),
        ({"mode": "skipgram", "vector_dim": "0"}, ("train",), "vector_dim='0' must be >= 1"),
        ({"mode": "skipgram", "subwords": "maybe"}, ("train",), "subwords='maybe' is not True or False"),
        (
            {"mode": "skipgram", "min_count": "50"},
            ("train",),
            "The vocabulary is empty: no word of the train channel occurs min_count=50",
        ),
        ({"mode": "skipgram"}, ("train", "validation"), "channel 'validation' is not supported in mode skipgram"),
        ({"mode": "supervised"}, ("train",), "No labels found in channel 'train'"),
        (
            {"mode": "supervised", "early_stopping": "True"},
            ("train",),
            "early_stopping=True needs a validation channel",
        ),
    ],
)
def test_blazingtext_errors(tmp_path: Path, hyperparameters, channels, message) -> None:
    dirs = {name: channel(tmp_path, name, "t.txt", "a b c d\ne f g h\n") for name in channels}
    with pytest.raises(AlgorithmError) as failure:
        train(tmp_path, "blazingtext", hyperparameters, dirs, dict.fromkeys(channels, "text/plain"))
    assert str(failure.value).startswith("ClientError: ") and message in str(failure.value)


def test_blazingtext_refuses_other_content_types(tmp_path: Path, lee_corpus: Path) -> None:
    _, model_dir = train(
        tmp_path,
        "blazingtext",
        {"mode": "cbow", "vector_dim": "8", "epochs": "1", "evaluation": "False"},
        {"train": lee_corpus},
        {"train": None},
    )
    predictor = algorithms.load("blazingtext", model_dir)
    with pytest.raises(InvokeError) as failure:
        predictor.invoke(b"word", "text/csv", None)
    assert failure.value.status_code == 415
    with pytest.raises(InvokeError, match=r'\{"instances": \[...\]\}'):
        predictor.invoke(b'["word"]', JSON, None)
