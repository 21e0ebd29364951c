"""Input modes, distributions, metrics and hyperparameter rules refused (or warned about) before any job.

Each test names the page or repository file (with commit) the rule comes from.
"""

from __future__ import annotations

from typing import Any

import pytest

from sagedrop import manifest as m
from sagedrop.algorithms import get
from sagedrop.errors import ManifestError, Problem

IC_HPS = {"num_classes": 2, "num_training_samples": 10}
LL_HPS = {"feature_dim": 3, "predictor_type": "regressor"}
REC = "application/x-recordio"


def parse(data: dict[str, Any]) -> m.Manifest:
    return m.parse(data, default_name="model")


def refused(data: dict[str, Any]) -> dict[str, Problem]:
    with pytest.raises(ManifestError) as info:
        parse(data)
    return {p.path: p for p in info.value.problems}


# ------------------------------------------------------------------ input modes against content types


@pytest.mark.parametrize(
    "data",
    [
        {"channels": {"train": {"folder": "train/", "content_type": "text/libsvm", "input_mode": "Pipe"}}},
        {"channels": {"train": "train/"}, "content_type": "text/x-libsvm", "training": {"input_mode": "Pipe"}},
    ],
)
def test_xgboost_pipe_mode_refuses_libsvm(data: dict[str, Any]) -> None:
    """aws/sagemaker-xgboost-container @ f7a93a21e50e (1.7-1), src/sagemaker_xgboost_container/data_utils.py:
    VALID_PIPED_CONTENT_TYPES is CSV, Parquet and RecordIO-protobuf; get_libsvm_dmatrix raises "Pipe mode
    not supported for LibSVM." (the same on every version branch)."""
    found = refused({"algorithm": "xgboost", "hyperparameters": {"num_round": 5}, **data})
    assert "reads text/" in found["$.channels.train"].message and "File mode only" in found["$.channels.train"].message
    for content_type in ("text/csv", "application/x-parquet", "application/x-recordio-protobuf"):
        channel = {"folder": "train/", "content_type": content_type, "input_mode": "Pipe"}
        parse({"algorithm": "xgboost", "hyperparameters": {"num_round": 5}, "channels": {"train": channel}})
    parse(
        {
            "algorithm": "xgboost",
            "hyperparameters": {"num_round": 5},
            "channels": {"train": {"folder": "train/", "content_type": "text/libsvm"}},
        }
    )


def test_image_classification_pipe_mode_reads_recordio_only() -> None:
    """https://docs.aws.amazon.com/sagemaker/latest/dg/image-classification.html: "supports the RecordIO
    (application/x-recordio) content type for training in pipe mode"; image files in Pipe mode only
    "by using the augmented manifest format", which sagedrop does not build."""
    channels = {
        "train": {"folder": "train/", "content_type": "application/x-image"},
        "validation": {"folder": "validation/", "content_type": "application/x-image"},
        "train_lst": "train_lst/",
        "validation_lst": "validation_lst/",
    }
    data = {
        "algorithm": "image-classification",
        "hyperparameters": {**IC_HPS, "resize": 256},
        "channels": channels,
    }
    parse(data)  # File mode
    found = refused({**data, "training": {"input_mode": "Pipe"}})
    assert "augmented manifest" in found["$.channels.train"].message
    rec = {"train": {"folder": "train/", "content_type": REC}, "validation": {"folder": "v/", "content_type": REC}}
    parse({**data, "channels": rec, "training": {"input_mode": "Pipe"}})


# ------------------------------------------------------------------ distribution types


def test_image_classification_recordio_in_pipe_mode_must_be_fully_replicated() -> None:
    """image-classification.html: "When using the RecordIO content type in pipe mode, you must set the
    S3DataDistributionType of the S3DataSource to FullyReplicated"."""
    sharded = {"folder": "train/", "content_type": REC, "distribution": "ShardedByS3Key"}
    data = {
        "algorithm": "image-classification",
        "hyperparameters": IC_HPS,
        "channels": {"train": sharded, "validation": {"folder": "v/", "content_type": REC}},
        "training": {"input_mode": "Pipe", "instance_count": 2},
    }
    found = refused(data)
    assert "FullyReplicated" in found["$.channels.train.distribution"].message
    parse({**data, "training": {"input_mode": "File", "instance_count": 2}})


def test_linear_learner_validation_channel_must_be_fully_replicated() -> None:
    """https://docs.aws.amazon.com/sagemaker/latest/dg/linear-learner.html ("Input/Output interface"): "If
    you provide validation data, the S3DataDistributionType should be FullyReplicated"."""
    data = {
        "algorithm": "linear-learner",
        "hyperparameters": LL_HPS,
        "training": {"instance_count": 2},
        "channels": {
            "train": {"folder": "train/", "distribution": "ShardedByS3Key"},
            "validation": {"folder": "validation/", "distribution": "ShardedByS3Key"},
        },
    }
    found = refused(data)
    assert list(found) == ["$.channels.validation.distribution"]
    data["channels"]["validation"]["distribution"] = "FullyReplicated"
    parse(data)


# ------------------------------------------------------------------ metrics and hyperparameters


def test_linear_learner_gate_on_validation_rmse() -> None:
    """https://docs.aws.amazon.com/sagemaker/latest/dg/linear-learner-tuning.html lists validation:rmse
    (Minimize)."""
    got = parse(
        {
            "algorithm": "linear-learner",
            "hyperparameters": LL_HPS,
            "deploy": {"gate": {"metric": "validation:rmse", "max": 3}},
        }
    )
    assert got.deploy.gate.better == "min"


def test_linear_learner_num_classes_for_a_binary_classifier_is_a_warning() -> None:
    """https://docs.aws.amazon.com/sagemaker/latest/dg/ll_hyperparameters.html, num_classes: "Otherwise,
    the algorithm ignores it." The manifest is accepted and carries the warning."""
    hps = {"feature_dim": 3, "predictor_type": "binary_classifier", "num_classes": 3}
    got = parse({"algorithm": "linear-learner", "hyperparameters": hps})
    assert [w.path for w in got.warnings] == ["$.hyperparameters.num_classes"]
    assert "ignored" in got.warnings[0].message
    assert parse({"algorithm": "linear-learner", "hyperparameters": LL_HPS}).warnings == ()


def test_blazingtext_early_stopping_needs_a_validation_channel() -> None:
    """https://docs.aws.amazon.com/sagemaker/latest/dg/blazingtext_hyperparameters.html, early_stopping:
    "Note that a validation channel is required if early stopping is used." """
    hps = {"mode": "supervised", "early_stopping": True}
    found = refused({"algorithm": "blazingtext", "hyperparameters": hps, "channels": {"train": "train/"}})
    assert "early_stopping needs a validation channel" in found["$.channels.validation"].message
    parse({"algorithm": "blazingtext", "hyperparameters": hps, "channels": {"train": "t/", "validation": "v/"}})
    bt = get("blazingtext")
    assert bt.check_channels({"train": "text/plain"}, {"mode": "supervised"}, "$.channels") == []


@pytest.mark.parametrize(
    ("resize", "shape", "ok"),
    [(224, "3,224,224", False), (225, "3,224,224", True), (256, "3,300,200", False), (301, "3,300,200", True)],
)
def test_image_classification_resize_must_be_larger_than_both_image_dimensions(
    resize: int, shape: str, ok: bool
) -> None:
    """https://docs.aws.amazon.com/sagemaker/latest/dg/IC-Hyperparameter.html, resize: "The parameter should
    be larger than both the width and height components of image_shape to prevent training failure." """
    ic = get("image-classification")
    _, _, problems = ic.resolve_hyperparameters({**IC_HPS, "resize": resize, "image_shape": shape})
    assert (problems == []) is ok
    if not ok:
        assert problems[0].path == "$.hyperparameters.resize"


def test_seq2seq_rnn_num_hidden_must_be_even_and_min_num_epochs_exists() -> None:
    """https://docs.aws.amazon.com/sagemaker/latest/dg/seq-2-seq-hyperparameters.html: rnn_num_hidden "must
    be a multiple of 2 because the algorithm uses bi-directional Long Term Short Term Memory (LSTM) by
    default", valid values "positive even integer"; min_num_epochs "Minimum number of epochs the training
    must run before it is stopped via early_stopping conditions", default 0."""
    s2s = get("seq2seq")
    _, _, problems = s2s.resolve_hyperparameters({"rnn_num_hidden": 511})
    assert problems[0].path == "$.hyperparameters.rnn_num_hidden" and "even" in problems[0].message
    _, wire, problems = s2s.resolve_hyperparameters({"rnn_num_hidden": 512, "min_num_epochs": 3})
    assert problems == [] and wire["min_num_epochs"] == "3"
    _, _, problems = s2s.resolve_hyperparameters({"min_num_epochs": 5, "max_num_epochs": 2})
    assert problems[0].path == "$.hyperparameters.min_num_epochs"


# ------------------------------------------------------------------ seq2seq hosting


def test_seq2seq_hosts_on_cpu_by_default_and_refuses_serverless_with_the_reason() -> None:
    """aws/amazon-sagemaker-examples @ a75d5f253ef1, introduction_to_amazon_algorithms/
    seq2seq_translation_en-de/SageMaker-Seq2Seq-Translation-English-German.ipynb hosts on ml.m4.xlarge
    (CPU, 16 GiB); no AWS page serves seq2seq serverless and serverless memory stops at 6144 MB
    (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html). Training stays GPU only
    (https://docs.aws.amazon.com/sagemaker/latest/dg/seq-2-seq.html)."""
    got = parse({"algorithm": "seq2seq"})
    assert got.deploy.instance_type == "ml.m5.xlarge"
    assert got.training.instance_type == "ml.g5.xlarge"
    assert parse({"algorithm": "seq2seq", "deploy": {"instance_type": "ml.m4.xlarge"}}).deploy.instance_type == (
        "ml.m4.xlarge"
    )
    found = refused({"algorithm": "seq2seq", "deploy": {"serverless": True}})
    assert "no AWS documentation or example serves seq2seq serverless" in found["$.deploy.serverless"].message
    found = refused({"algorithm": "seq2seq", "training": {"instance_type": "ml.m5.xlarge"}})
    assert "needs a GPU instance" in found["$.training.instance_type"].message
