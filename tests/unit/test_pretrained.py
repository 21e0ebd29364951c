"""deploy.json validation, the model.tar.gz scan, release names, and the template's wiring for both (pure logic)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from sagedrop import naming
from sagedrop.algorithms import NAMES
from sagedrop.errors import ManifestError
from sagedrop.manifest import Defaults
from sagedrop.pretrained import (
    DropObject,
    model_data_key,
    parse_deploy_json,
    release_name,
)
from tests.support.template import resource

ALGORITHMS = ", ".join(NAMES)
"""The registry's names, in its order, as the messages list them."""


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
    assert spec.serving_patterns() == ()  # any name: see tests/unit/test_archive.py
    assert spec.algorithm.directory_loading(spec.version) is not None


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
        f"{ALGORITHMS})",
        "$.name: deploy.json sits at the top of the bucket, so it has no folder to name the model after (put it in a "
        'folder with model.tar.gz (my-model/deploy.json) or set "name")',
    ]


def test_unknown_algorithm_suggests_the_close_one():
    with pytest.raises(ManifestError) as exc:
        parse({"algorithm": "xgbost"})
    assert messages(exc) == [
        f"$.algorithm: unknown algorithm 'xgbost': use one of {ALGORITHMS}; did you mean 'xgboost'?"
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
    assert sorted(suffixes) == ["batch.json", "deploy.json", "training.json"]
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
