"""deploy.json validation, the model.tar.gz scan, release names, and the template's wiring for both (pure logic)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from datetime import UTC, datetime
from typing import Any

import pytest

from sagedrop import algorithms, naming
from sagedrop.errors import ManifestError
from sagedrop.manifest import Defaults
from sagedrop.pretrained import (
    ArchiveContents,
    ArchiveError,
    DropObject,
    archive_problems,
    inspect_archive,
    model_data_key,
    parse_deploy_json,
    release_name,
)
from tests.support.template import resource

XGB = algorithms.get("xgboost")
S2S = algorithms.get("seq2seq")
BT = algorithms.get("blazingtext")
WHERE = "s3://bucket/churn/model.tar.gz"


def tar_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tar_gz(files: dict[str, bytes]) -> bytes:
    return gzip.compress(tar_bytes(files), mtime=0)


class Trickle(io.RawIOBase):
    """A stream that returns at most ``step`` bytes per read, as a network body may."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self._data, self._at, self._step = data, 0, step
        self.reads = 0

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        size = self._step if size < 0 else min(size, self._step)
        chunk = self._data[self._at : self._at + size]
        self._at += len(chunk)
        return chunk


def parse(data: dict[str, Any], **kwargs: Any):
    return parse_deploy_json(data, default_name=kwargs.pop("default_name", "churn"), source="deploy.json", **kwargs)


def messages(exc: pytest.ExceptionInfo) -> list[str]:
    return [str(p) for p in exc.value.problems]


# ------------------------------------------------------------------ deploy.json


def test_minimal_deploy_json_takes_the_folder_name_and_every_default():
    spec = parse({"algorithm": "xgboost"})
    assert (spec.name, spec.version, spec.labels, spec.hyperparameters) == ("churn", "1.7-1", None, {})
    assert spec.deploy.to_dict() == {
        "endpoint_name": None,
        "instance_type": "ml.m5.large",
        "instance_count": 1,
        "serverless": None,
        "gate": None,
        "must_beat_current": False,
        "idle_minutes": 120,
        "keep_alive": False,
    }
    assert spec.serving_patterns() == ("xgboost-model*",)


def test_the_deploy_section_is_training_jsons():
    spec = parse(
        {
            "algorithm": "xgboost",
            "name": "fraud",
            "version": "1.5-1",
            "labels": ["ok", "fraud"],
            "hyperparameters": {"objective": "binary:logistic", "num_round": 50},
            "deploy": {"serverless": {"memory_mb": 3072, "max_concurrency": 4}, "idle_minutes": 30, "keep_alive": True},
            "description": "trained in our notebook",
        },
        defaults=Defaults(idle_minutes=60),
    )
    assert (spec.name, spec.version, spec.labels) == ("fraud", "1.5-1", ("ok", "fraud"))
    assert spec.wire_hyperparameters == {"objective": "binary:logistic", "num_round": "50"}
    assert spec.deploy.serverless is not None and spec.deploy.serverless.memory_mb == 3072
    assert (spec.deploy.idle_minutes, spec.deploy.keep_alive, spec.deploy.instance_type) == (30, True, None)
    assert spec.description == "trained in our notebook"


def test_every_problem_is_reported_with_its_path():
    with pytest.raises(ManifestError) as exc:
        parse(
            {
                "algorithm": "seq2seq",
                "name": "Bad Name!",
                "version": "2",
                "channels": {"train": "train/"},
                "hyperparameters": {"optimizer_type": "nadam", "beam_sise": 3},
                "deploy": {"serverless": True, "gate": {"metric": "validation:bleu"}, "must_beat_current": True},
                "labels": "a,b",
                "extra": 1,
            }
        )
    found = messages(exc)
    assert "$.channels: deploy.json deploys a model that is already trained, so 'channels' has no use " in found[0]
    assert any(m.startswith("$.extra: unknown field 'extra'") for m in found)
    assert any(m.startswith("$.name: 'Bad Name!' is not a valid name") for m in found)
    assert any(m.startswith("$.labels: expected a non-empty list of class names, got a string") for m in found)
    assert "$.version: seq2seq has no version '2' (use one of 1)" in found
    assert any(m.startswith("$.hyperparameters.optimizer_type: expected one of adam, sgd, rmsprop") for m in found)
    assert "$.hyperparameters.beam_sise: seq2seq has no hyperparameter 'beam_sise' (did you mean 'beam_size'?)" in found
    assert any(m.startswith("$.deploy.gate: a model trained elsewhere has no training metrics") for m in found)
    assert any(m.startswith("$.deploy.must_beat_current: a model trained elsewhere") for m in found)
    assert any(m.startswith("$.deploy.serverless: seq2seq cannot be served serverless") for m in found)
    assert exc.value.describe().startswith("invalid manifest in deploy.json: ")


def test_without_an_algorithm_or_a_folder_the_message_says_what_to_add():
    with pytest.raises(ManifestError) as exc:
        parse({}, default_name="")
    assert messages(exc) == [
        '$.algorithm: deploy.json must name the algorithm that trained the model (add "algorithm": one of '
        "linear-learner, xgboost, blazingtext, image-classification, seq2seq)",
        "$.name: deploy.json sits at the top of the bucket, so it has no folder to name the model after (put it in a "
        'folder with model.tar.gz (my-model/deploy.json) or set "name")',
    ]


def test_unknown_algorithm_suggests_the_close_one():
    with pytest.raises(ManifestError) as exc:
        parse({"algorithm": "xgbost"})
    assert messages(exc) == [
        "$.algorithm: unknown algorithm 'xgbost': use one of linear-learner, xgboost, blazingtext, "
        "image-classification, seq2seq; did you mean 'xgboost'?"
    ]


def test_labels_are_checked_against_the_classes_and_hyperparameter_combinations_too():
    with pytest.raises(ManifestError) as exc:
        parse({"algorithm": "xgboost", "hyperparameters": {"objective": "binary:logistic"}, "labels": ["a", "b", "c"]})
    assert messages(exc) == [
        "$.labels: 3 labels for a model with 2 classes (give exactly 2 class names, in class-index order)"
    ]
    with pytest.raises(ManifestError) as exc:
        parse({"algorithm": "xgboost", "hyperparameters": {"objective": "multi:softmax"}})
    assert any("num_class" in m for m in messages(exc))


def test_deploy_false_and_a_gpu_only_algorithm_on_cpu_are_refused():
    with pytest.raises(ManifestError) as exc:
        parse({"algorithm": "xgboost", "deploy": False})
    assert messages(exc) == [
        "$.deploy: deploy.json exists to deploy the model, deploy: false would do nothing "
        "(remove deploy or give the hosting settings)"
    ]
    # seq2seq hosts on CPU (the official en-de example notebook uses ml.m4.xlarge), not serverless.
    assert parse({"algorithm": "seq2seq", "deploy": {"instance_type": "ml.c5.xlarge"}}).deploy.instance_type == (
        "ml.c5.xlarge"
    )
    assert parse({"algorithm": "seq2seq"}).deploy.instance_type == "ml.m5.xlarge"
    with pytest.raises(ManifestError) as exc:
        parse({"algorithm": "seq2seq", "deploy": {"serverless": True}})
    assert "seq2seq cannot be served serverless" in messages(exc)[0]


def test_serving_patterns_follow_the_hyperparameters_when_they_say_enough():
    assert parse({"algorithm": "blazingtext", "hyperparameters": {"mode": "supervised"}}).serving_patterns() == (
        "model.bin",
    )
    assert parse({"algorithm": "blazingtext", "hyperparameters": {"mode": "skipgram"}}).serving_patterns() == (
        "vectors.bin",
    )
    assert parse({"algorithm": "blazingtext"}).serving_patterns() == ("*.bin",)  # mode unknown: either
    assert parse({"algorithm": "seq2seq"}).serving_patterns() == ("vocab.src*.json", "vocab.trg*.json")


# ------------------------------------------------------------------ model.tar.gz


def test_a_good_archive_is_scanned_until_every_serving_file_was_seen():
    files = {"xgboost-model": b"booster", "notes.txt": b"x" * 100_000}
    contents = inspect_archive(io.BytesIO(tar_gz(files)), ["xgboost-model*"], where=WHERE)
    assert contents == ArchiveContents(("xgboost-model",), complete=False, compressed_bytes=contents.compressed_bytes)
    full = inspect_archive(io.BytesIO(tar_gz(files)), [], where=WHERE)
    assert (full.files, full.complete) == (("xgboost-model", "notes.txt"), True)
    assert archive_problems(full, ["xgboost-model*"], algorithm=XGB, where=WHERE) == []


def test_leading_dot_slash_directories_and_short_reads_are_handled():
    raw = tar_gz({"./vocab.src.json": b"{}", "./params.best": b"\0" * 3000, "./vocab.trg.0.json": b"{}"})
    stream = Trickle(raw)
    contents = inspect_archive(stream, S2S.serving_files, where=WHERE)
    assert contents.top_level == ("vocab.src.json", "params.best", "vocab.trg.0.json")
    assert stream.reads > 10
    assert archive_problems(contents, S2S.serving_files, algorithm=S2S, where=WHERE) == []


def test_a_multi_member_gzip_is_read_through():
    data = tar_bytes({"a.txt": b"a" * 5000, "xgboost-model": b"b"})
    raw = gzip.compress(data[:4096], mtime=0) + gzip.compress(data[4096:], mtime=0)
    assert inspect_archive(io.BytesIO(raw), ["xgboost-model*"], where=WHERE).top_level == ("a.txt", "xgboost-model")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "is empty (0 bytes)"),
        (b"hello", "is not gzip-compressed (it starts with 68 65 6c 6c, gzip starts with 1f 8b)"),
        (tar_bytes({"xgboost-model": b"x"}), "is a tar archive that is not gzip-compressed"),
        (b"PK\x03\x04rest", "is a zip file, not a gzip-compressed tar archive"),
        (b"BZh91AY", "is bzip2-compressed, not gzip-compressed"),
        (b"\xfd7zXZ\x00\x00", "is xz-compressed, not gzip-compressed"),
        (gzip.compress(b"not a tar " * 200, mtime=0), "is gzip-compressed but holds no tar archive (invalid header)"),
        (gzip.compress(b"not a tar " * 200, mtime=0)[:-9], "the gzip data ends early, after "),
        (b"\x1f\x8b\x08\x00" + b"\xff" * 40, "the gzip data is corrupt near byte 44 ("),
    ],
)
def test_what_is_wrong_with_a_bad_archive_is_said_precisely(data, expected):
    with pytest.raises(ArchiveError) as exc:
        inspect_archive(io.BytesIO(data), ["xgboost-model*"], where=WHERE)
    [problem] = exc.value.problems
    assert problem.path == WHERE
    assert problem.message.startswith(expected)
    assert problem.hint


def test_missing_serving_files_name_what_the_container_needs_and_what_is_there():
    contents = ArchiveContents(("model.json", "README"), complete=True)
    [problem] = archive_problems(contents, ["xgboost-model*"], algorithm=XGB, where=WHERE)
    assert problem.message == (
        "holds no file named xgboost-model* at its top level (the SageMaker XGBoost container loads the Booster "
        "saved as xgboost-model (pickle.dump(booster) or booster.save_model('xgboost-model'))); it holds: "
        "model.json, README"
    )
    [problem] = archive_problems(ArchiveContents((), complete=True), ["xgboost-model*"], algorithm=XGB, where=WHERE)
    assert problem.message == "holds no files"


def test_a_nested_serving_file_says_how_to_pack_from_inside_the_folder():
    contents = ArchiveContents(("output/model/xgboost-model",), complete=True)
    [problem] = archive_problems(contents, ["xgboost-model*"], algorithm=XGB, where=WHERE)
    assert "holds output/model/xgboost-model inside the folder output/model/" in problem.message
    assert problem.hint == "pack from inside the folder: tar -czf model.tar.gz -C output/model ."


def test_vocab_left_beside_the_archive_is_named():
    contents = ArchiveContents(("params.best", "config"), complete=True)
    problems = archive_problems(
        contents, S2S.serving_files, algorithm=S2S, where=WHERE, beside=["model.tar.gz", "vocab.src.json"]
    )
    assert [p.message for p in problems] == [
        "holds no vocab.src*.json: vocab.src.json lies beside model.tar.gz in the folder, but the container reads "
        "it from inside the archive",
        "holds no file named vocab.trg*.json at its top level (the Seq2Seq container reads the model files and the "
        "vocabularies vocab.src.json and vocab.trg.json side by side from the archive's top level (a seq2seq "
        "training job's model.tar.gz holds them so)); it holds: params.best, config",
    ]


def test_a_scan_past_its_deadline_says_how_to_make_it_fast():
    ticks = iter(range(1000))
    raw = tar_gz({"big.bin": bytes(range(256)) * 4000, "xgboost-model": b"x"})
    with pytest.raises(ArchiveError) as exc:
        inspect_archive(Trickle(raw, 4096), ["xgboost-model*"], where=WHERE, deadline=lambda: next(ticks) > 3)
    [problem] = exc.value.problems
    assert problem.message.startswith("could not be checked in time: ")
    assert "still missing xgboost-model*" in problem.message
    assert problem.hint.startswith("put the files the container serves first in the archive")


def test_a_gzip_bomb_is_read_in_small_slices():
    raw = tar_gz({"zeros": b"\0" * 30_000_000, "xgboost-model": b"x"})
    assert len(raw) < 100_000
    contents = inspect_archive(io.BytesIO(raw), ["xgboost-model*"], where=WHERE)
    assert contents.top_level == ("zeros", "xgboost-model")


# ------------------------------------------------------------------ names


def test_release_names_have_the_job_format_and_are_stable_per_object_version():
    when = datetime(2026, 11, 27, 9, 5, 12, tzinfo=UTC)
    obj = DropObject("bucket", "churn/deploy.json", "v1", "etag", when)
    name = release_name("churn", obj)
    assert name == f"churn-20261127-090512-{naming.event_hash('bucket', 'churn/deploy.json', 'v1')}"
    assert name == release_name("churn", DropObject("bucket", "churn/deploy.json", "v1", "other", when))
    assert name != release_name("churn", DropObject("bucket", "churn/deploy.json", "v2", "etag", when))
    assert naming.model_of_job(name) == "churn"
    assert model_data_key("churn", name) == f"models/churn/{name}/model.tar.gz"


# ------------------------------------------------------------------ template.yaml


def test_deploy_json_drops_go_to_the_deploy_function_without_a_reference_cycle():
    props = resource("DeployFunction")["Properties"]
    event = props["Events"]["PretrainedDropped"]
    assert event["Type"] == "S3"
    assert event["Properties"]["Bucket"] == {"Ref": "DataBucket"}
    assert event["Properties"]["Events"] == "s3:ObjectCreated:*"
    assert event["Properties"]["Filter"]["S3Key"]["Rules"] == [{"Name": "suffix", "Value": "deploy.json"}]
    text = json.dumps(props["Policies"]) + json.dumps(props["Environment"])
    assert "DataBucket" not in text  # the bucket's notification names the function: name the bucket instead
    assert props["Timeout"] >= 300 and props["MemorySize"] >= 1024  # streaming an archive takes CPU and time


def test_the_deploy_function_reads_drops_and_writes_only_under_models():
    statements = {s["Sid"]: s for s in resource("DeployFunction")["Properties"]["Policies"][0]["Statement"]}
    read = statements["ReadDroppedModels"]
    assert read["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert read["Resource"]["Fn::Sub"][0] == "arn:${AWS::Partition}:s3:::sagedrop-data-${AWS::AccountId}-${Suffix}/*"
    assert (
        resource("DataBucket")["Properties"]["BucketName"]["Fn::Sub"][0] == "sagedrop-data-${AWS::AccountId}-${Suffix}"
    )
    assert statements["ListDroppedModels"]["Action"] == "s3:ListBucket"
    assert statements["CopyCheckedArchives"]["Resource"] == {"Fn::Sub": "${ArtifactBucket.Arn}/models/*"}


def test_the_two_drop_suffixes_do_not_overlap():
    """S3 refuses overlapping suffix filters for the same event type on one bucket."""
    suffixes = [
        rule["Value"]
        for name in ("TrainFunction", "DeployFunction")
        for event in resource(name)["Properties"]["Events"].values()
        if event["Type"] == "S3"
        for rule in event["Properties"]["Filter"]["S3Key"]["Rules"]
    ]
    assert sorted(suffixes) == ["deploy.json", "training.json"]
    assert not any(a != b and a.endswith(b) for a in suffixes for b in suffixes)


def test_the_predict_function_may_stop_endpoints_as_cleanup_does():
    statements = {s["Sid"]: s for s in resource("PredictFunction")["Properties"]["Policies"][0]["Statement"]}
    assert statements["StopOwnEndpoints"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/sagedrop:stack": {"Ref": "AWS::StackName"}}
    }
    assert statements["FindAutoscaling"]["Action"] == "application-autoscaling:DescribeScalableTargets"
    assert statements["DeregisterAutoscaling"]["Action"] == "application-autoscaling:DeregisterScalableTarget"
    assert "scalable-target/*" in statements["DeregisterAutoscaling"]["Resource"]["Fn::Sub"]
    cleanup = {s["Sid"]: s for s in resource("CleanupFunction")["Properties"]["Policies"][0]["Statement"]}
    assert statements["AutoscalingAlarmsGoWithItsPolicies"] == cleanup["AutoscalingAlarmsGoWithItsPolicies"]
    events = resource("PredictFunction")["Properties"]["Events"]
    assert {(e["Properties"]["Path"], e["Properties"]["Method"]) for e in events.values()} >= {
        ("/models/{model}/stop", "POST"),
        ("/models/{model}/start", "POST"),
    }
