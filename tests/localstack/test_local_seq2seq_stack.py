"""Seq2Seq through the whole local stack: drop -> train function -> local training -> deploy -> REST API.

The model folder is what ``sagedrop prepare seq2seq`` writes from the synthetic English -> German
corpus shipped with the local stack; the manifest is a user's ``training.json``. Sockets are
allowed to 127.0.0.1 only (the emulated AWS and the local API).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest

from sagedrop import recordio
from sagedrop_client.prepare.seq2seq import prepare_seq2seq
from sagedrop_local.demo_seq2seq import corpus_bleu
from sagedrop_local.seq2seq_corpus import read_corpus
from sagedrop_local.stack import LocalStack
from tests.support import signed

pytestmark = [pytest.mark.localstack, pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]

SETTLED = ("in_service", "failed", "gate_failed", "rejected", "deploy_failed", "stopped", "trained")
HYPERPARAMETERS = {
    "rnn_cell_type": "gru",
    "rnn_num_hidden": 48,
    "num_embed_source": 24,
    "num_embed_target": 24,
    "max_seq_len_source": 16,
    "max_seq_len_target": 16,
    "batch_size": 64,
    "learning_rate": 0.01,
    "checkpoint_frequency_num_batches": 15,
    "max_num_epochs": 5,
    "optimized_metric": "bleu",
    "bleu_sample_size": 60,
    "beam_size": 3,
}


@pytest.fixture(scope="module")
def local() -> Any:
    lines: list[str] = []
    stack = LocalStack(stack="sagedrop-seq2seq", api_port=0, endpoint_delay=0.2, log=lines.append)  # own tables
    stack.start()
    stack.lines = lines
    yield stack
    stack.stop()


def put_folder(stack: LocalStack, prefix: str, folder) -> None:
    """The channels first, training.json last (its upload starts training), as `sagedrop submit` does."""
    s3 = stack.client("s3")
    files = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: (p.name == "training.json", p))
    for path in files:
        key = f"{prefix}/{path.relative_to(folder).as_posix()}"
        s3.put_object(Bucket=stack.data_bucket, Key=key, Body=path.read_bytes())


def post(stack: LocalStack, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    return signed.call(stack, "POST", path, json.dumps(body).encode(), "application/json", principal="predictor")


def test_seq2seq_from_drop_to_translations_and_a_redelivered_event(local, tmp_path):
    pairs = read_corpus()
    train, test = pairs[:1000], pairs[-100:]
    (tmp_path / "src").write_text("".join(s + "\n" for s, _ in train), encoding="utf-8")
    (tmp_path / "trg").write_text("".join(t + "\n" for _, t in train), encoding="utf-8")
    folder = tmp_path / "en-de"
    prepare_seq2seq(tmp_path / "src", tmp_path / "trg", folder, validation_ratio=0.15, seed=0)
    manifest = {
        "algorithm": "seq2seq",
        "hyperparameters": HYPERPARAMETERS,
        # moto's CreateEndpointConfig knows no ml.g5 types (the stack's default GPU hosting instance)
        "deploy": {"instance_type": "ml.g4dn.xlarge", "gate": {"metric": "validation:bleu", "min": 0.5}},
    }
    (folder / "training.json").write_text(json.dumps(manifest))
    train_events: list[dict[str, Any]] = []
    original = local.aws.invoke_async

    def spy(function: str, event: dict[str, Any]) -> None:
        if function == "TrainFunction":
            train_events.append(copy.deepcopy(event))
        original(function, event)

    local.aws.invoke_async = spy
    try:
        put_folder(local, "en-de", folder)
    finally:
        local.aws.invoke_async = original
    item = local.wait_for_status("en-de", SETTLED, timeout=240)
    assert item["status"] == "in_service", item
    assert item["metrics"]["validation:bleu"] > 0.5
    assert set(item["metrics"]) >= {"validation:bleu", "validation:perplexity", "validation:accuracy"}

    status, answer = post(local, "/models/en-de/predictions", {"instances": [{"data": s} for s, _ in test]})
    assert status == 200, answer
    hypotheses = [p["target"] for p in answer["predictions"]]
    references = [t for _, t in test]
    assert corpus_bleu(hypotheses, references) > 50 > 5 > corpus_bleu([s for s, _ in test], references)

    # S3 may deliver the same notification twice: the same job name, so no second job starts.
    manifest_events = [e for e in train_events if e["Records"][0]["s3"]["object"]["key"].endswith("training.json")]
    assert len(manifest_events) == 1
    local.runner.invoke("TrainFunction", manifest_events[0])
    jobs = local.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]
    assert len([j for j in jobs if j["TrainingJobName"].startswith("en-de-")]) == 1
    assert local.registry_item("en-de")["status"] == "in_service"


def test_a_seq2seq_job_with_a_setting_it_cannot_honour_fails_with_the_reason(local, tmp_path):
    pairs = read_corpus()[:200]
    (tmp_path / "src").write_text("".join(s + "\n" for s, _ in pairs), encoding="utf-8")
    (tmp_path / "trg").write_text("".join(t + "\n" for _, t in pairs), encoding="utf-8")
    folder = tmp_path / "cnn"
    prepare_seq2seq(tmp_path / "src", tmp_path / "trg", folder, validation_ratio=0.2, seed=0)
    (folder / "training.json").write_text(
        json.dumps({"algorithm": "seq2seq", "hyperparameters": {"encoder_type": "cnn"}})
    )
    put_folder(local, "cnn-s2s", folder)
    item = local.wait_for_status("cnn-s2s", SETTLED, timeout=60)
    assert item["status"] == "failed"
    assert "encoder_type=cnn" in item["last_error"] and "not available locally" in item["last_error"]
    job = local.client("sagemaker").describe_training_job(TrainingJobName=item["latest_job"])
    assert job["TrainingJobStatus"] == "Failed" and "not available locally" in job["FailureReason"]


def small_folder(tmp_path, name: str):
    pairs = read_corpus()[:200]
    (tmp_path / "src").write_text("".join(s + "\n" for s, _ in pairs), encoding="utf-8")
    (tmp_path / "trg").write_text("".join(t + "\n" for _, t in pairs), encoding="utf-8")
    folder = tmp_path / name
    prepare_seq2seq(tmp_path / "src", tmp_path / "trg", folder, validation_ratio=0.2, seed=0)
    (folder / "training.json").write_text(json.dumps({"algorithm": "seq2seq", "hyperparameters": HYPERPARAMETERS}))
    return folder


def test_records_of_another_algorithm_fail_the_job_naming_the_file(local, tmp_path):
    """RecordIO-protobuf framing passes the train function's check; the records' layout fails the job."""
    folder = small_folder(tmp_path, "dense-s2s")
    with open(folder / "train" / "train.rec", "wb") as handle:
        recordio.write_dense(handle, np.ones((4, 3), dtype=np.float32), np.zeros(4, dtype=np.float32))
    put_folder(local, "dense-s2s", folder)
    item = local.wait_for_status("dense-s2s", SETTLED, timeout=60)
    assert item["status"] == "failed"
    assert "train/train.rec is not seq2seq RecordIO-protobuf" in item["last_error"]
    assert 'features["source"]' in item["last_error"]


def test_a_missing_vocabulary_file_starts_no_job(local, tmp_path):
    """The train function checks the vocab channel before any job starts (a recorded rejection)."""
    folder = small_folder(tmp_path, "novocab-s2s")
    (folder / "vocab" / "vocab.trg.json").unlink()
    put_folder(local, "novocab-s2s", folder)
    item = local.wait_for_status("novocab-s2s", SETTLED, timeout=60)
    assert item["status"] == "rejected"
    assert "vocab.trg.json" in item["last_error"]
    jobs = local.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]
    assert not [j for j in jobs if j["TrainingJobName"].startswith("novocab-s2s-")]
