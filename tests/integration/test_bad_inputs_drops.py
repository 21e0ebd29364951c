"""Bad drops, tried as a new user would: each is refused before any job, recorded, notified, and explained.

One row per mistake: the files dropped, the manifest, and the words the rejection must contain (where
the problem is and how to fix it). None may start a training job, raise, or be lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import FAKE_AWS_ENVIRONMENT, REGION, STACK, load_function

CSV = "".join(f"{i % 2},{i * 0.5:.2f},{(i * 7) % 5},{i % 3}\n" for i in range(20))
TEXT = "".join(f"__label__{i % 2} the quick brown fox number {i}\n" for i in range(20))
RECORDIO_EMPTY = bytes.fromhex("0a23d7ce") + b"\x08\x00\x00\x00" + b"\x00" * 8
XGB = {"algorithm": "xgboost", "hyperparameters": {"num_round": 5}}
LL = {"algorithm": "linear-learner", "hyperparameters": {"feature_dim": 3, "predictor_type": "binary_classifier"}}
IC = {
    "algorithm": "image-classification",
    "hyperparameters": {"num_classes": 2, "num_training_samples": 10},
    "training": {"instance_type": "ml.p3.2xlarge"},
}
IC_FILES = {"train/a.rec": RECORDIO_EMPTY, "validation/a.rec": RECORDIO_EMPTY}
S2S_FILES = {
    "train/a.rec": RECORDIO_EMPTY,
    "validation/a.rec": RECORDIO_EMPTY,
    "vocab/vocab.src.json": "{}",
    "vocab/vocab.trg.json": "{}",
}


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    merged = json.loads(json.dumps(base))
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


# (id = the model folder, files under it, manifest (dict, or raw bytes), words the rejection must contain)
CASES: list[tuple[str, dict[str, str | bytes], Any, list[str]]] = [
    ("invalid-json", {"train/a.csv": CSV}, b'{"algorithm": "xgboost",}', ["not valid JSON"]),
    ("too-big", {"train/a.csv": CSV}, b'{"algorithm": "xgboost"' + b" " * 70_000 + b"}", ["70,024 bytes", "64 KiB"]),
    ("not-an-object", {"train/a.csv": CSV}, b'["xgboost"]', ["object"]),
    ("empty-file", {"train/a.csv": CSV}, b"", ["the manifest is empty"]),
    ("algorithm-typo", {"train/a.csv": CSV}, {"algorithm": "xgbost"}, ["xgbost", "did you mean 'xgboost'"]),
    ("algorithm-missing", {"train/a.csv": CSV}, {"hyperparameters": {"num_round": 5}}, ["$.algorithm"]),
    ("top-level-typo", {"train/a.csv": CSV}, with_(XGB, hyperparameter={}), ["$.hyperparameter", "did you mean"]),
    ("xgb-num-round-missing", {"train/a.csv": CSV}, {"algorithm": "xgboost"}, ["num_round"]),
    ("xgb-num-round-negative", {"train/a.csv": CSV}, with_(XGB, hyperparameters={"num_round": -1}), ["num_round"]),
    ("xgb-num-round-text", {"train/a.csv": CSV}, with_(XGB, hyperparameters={"num_round": "ten"}), ["num_round"]),
    ("xgb-eta-over-1", {"train/a.csv": CSV}, with_(XGB, hyperparameters={"eta": 1.5}), ["eta"]),
    ("xgb-hp-typo", {"train/a.csv": CSV}, with_(XGB, hyperparameters={"etaa": 0.1}), ["etaa", "did you mean 'eta'"]),
    (
        "xgb-objective-unknown",
        {"train/a.csv": CSV},
        with_(XGB, hyperparameters={"objective": "multi:soft"}),
        ["objective"],
    ),
    (
        "xgb-multi-without-num-class",
        {"train/a.csv": CSV},
        with_(XGB, hyperparameters={"objective": "multi:softmax"}),
        ["num_class"],
    ),
    ("xgb-version-unknown", {"train/a.csv": CSV}, with_(XGB, version="9.9-9"), ["9.9-9"]),
    ("ll-predictor-type-missing", {"train/a.csv": CSV}, {"algorithm": "linear-learner"}, ["predictor_type"]),
    (
        "ll-feature-dim-mismatch",
        {"train/a.csv": CSV},
        with_(LL, hyperparameters={"feature_dim": 11}),
        ["feature_dim says 11"],
    ),
    (
        "ll-multiclass-without-num-classes",
        {"train/a.csv": CSV},
        with_(LL, hyperparameters={"predictor_type": "multiclass_classifier"}),
        ["num_classes"],
    ),
    ("bt-mode-missing", {"train/a.txt": TEXT}, {"algorithm": "blazingtext"}, ["mode"]),
    (
        "bt-mode-unknown",
        {"train/a.txt": TEXT},
        {"algorithm": "blazingtext", "hyperparameters": {"mode": "cbow2"}},
        ["mode"],
    ),
    (
        "bt-not-utf8",
        {"train/a.txt": b"__label__1 caf\xe9\n"},
        {"algorithm": "blazingtext", "hyperparameters": {"mode": "supervised"}},
        ["UTF-8"],
    ),
    ("ic-num-classes-missing", IC_FILES, with_(IC, hyperparameters={"num_classes": None}), ["num_classes"]),
    ("ic-cpu-training", IC_FILES, with_(IC, training={"instance_type": "ml.m5.xlarge"}), ["GPU"]),
    ("ic-validation-missing", {"train/a.rec": RECORDIO_EMPTY}, IC, ["validation"]),
    ("s2s-cpu-training", S2S_FILES, {"algorithm": "seq2seq", "training": {"instance_type": "ml.c5.xlarge"}}, ["GPU"]),
    (
        "s2s-vocab-missing",
        {k: v for k, v in S2S_FILES.items() if "trg" not in k},
        {"algorithm": "seq2seq", "training": {"instance_type": "ml.p3.2xlarge"}},
        ["vocab.trg.json is missing"],
    ),
    ("csv-header-row", {"train/a.csv": "label,a,b,c\n" + CSV}, XGB, ["header row"]),
    ("csv-not-a-number", {"train/a.csv": CSV + "1,2,abc,4\n"}, XGB, ["abc"]),
    ("csv-ragged", {"train/a.csv": CSV + "1,2\n"}, XGB, ["column"]),
    ("train-missing", {"validation/a.csv": CSV}, XGB, ["train"]),
    ("train-empty", {"train/a.csv": ""}, XGB, ["train"]),
    (
        "instance-type-unknown",
        {"train/a.csv": CSV},
        with_(XGB, training={"instance_type": "ml.m5.huge"}),
        ["ml.m5.huge"],
    ),
    ("instance-count-zero", {"train/a.csv": CSV}, with_(XGB, training={"instance_count": 0}), ["instance_count"]),
    ("volume-negative", {"train/a.csv": CSV}, with_(XGB, training={"volume_gb": -5}), ["volume_gb"]),
    ("runtime-negative", {"train/a.csv": CSV}, with_(XGB, training={"max_runtime_s": -1}), ["max_runtime_s"]),
    ("input-mode-unknown", {"train/a.csv": CSV}, with_(XGB, training={"input_mode": "Streaming"}), ["input_mode"]),
    (
        "gate-metric-unreported",
        {"train/a.csv": CSV, "validation/a.csv": CSV},
        with_(XGB, deploy={"gate": {"metric": "validation:auc", "min": 0.7}}),
        ["validation:auc"],
    ),
    (
        "serverless-memory-odd",
        {"train/a.csv": CSV},
        with_(XGB, deploy={"serverless": {"memory_mb": 1500, "max_concurrency": 5}}),
        ["memory_mb"],
    ),
    (
        "serverless-concurrency-high",
        {"train/a.csv": CSV},
        with_(XGB, deploy={"serverless": {"memory_mb": 2048, "max_concurrency": 5000}}),
        ["max_concurrency"],
    ),
    (
        "channel-content-type-unknown",
        {"train/a.csv": CSV},
        with_(XGB, channels={"train": {"content_type": "text/tsv"}}),
        ["text/tsv"],
    ),
]


@pytest.fixture(scope="module")
def drops() -> Iterator[tuple[Any, Any]]:
    """One moto stack and one train function for the whole table (each case drops into its own folder)."""
    from moto import mock_aws

    from tests.support.stack import MotoStack

    with pytest.MonkeyPatch.context() as env:
        for name, value in FAKE_AWS_ENVIRONMENT.items():
            env.setenv(name, value)
        with mock_aws():
            stack = MotoStack.create(STACK, REGION)
            for name, value in stack.environment().items():
                env.setenv(name, value)
            yield stack, load_function("train")


@pytest.mark.parametrize(("model", "files", "manifest", "words"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_drop_starts_nothing_and_says_what_to_fix(drops, lambda_context, model, files, manifest, words):
    stack, train = drops
    for name, body in files.items():
        stack.put(f"{model}/{name}", body)
    event = stack.drop_manifest(model, manifest if isinstance(manifest, bytes) else json.dumps(manifest))
    results = train.handler(event, lambda_context)["results"]
    assert results[0]["status"] == "rejected", results
    assert stack.training_jobs() == []
    error = stack.registry_item(model)["last_error"]
    for word in words:
        assert word in error, f"{word!r} not in: {error}"
    [note] = stack.notifications()
    assert note["attributes"]["event"] == "rejected"
    assert words[0] in note["message"]
