"""batch.json parsing, per-algorithm batch formats and the CreateTransformJob request."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sagedrop import algorithms, batch, naming
from sagedrop.errors import ManifestError


def problems_of(data, **kwargs):
    with pytest.raises(ManifestError) as caught:
        batch.parse_batch_json(data, **kwargs)
    return {p.path: p for p in caught.value.problems}


def test_an_empty_batch_json_takes_every_default_from_the_folder():
    request = batch.parse_batch_json({}, default_name="churn")
    assert request.model == "churn"
    assert (request.join, request.compression, request.instance_count) == (False, "None", 1)
    assert request.max_payload_mb == 6  # CreateTransformJobRequest.MaxPayloadInMB default (botocore 1.43.11)
    assert request.max_concurrent is None and request.output is None


def test_the_model_defaults_to_the_parent_folder():
    assert batch.default_model("churn/december scores/batch.json") == "churn"
    assert batch.default_model("team/my model/run 1/batch.json") == "my-model"
    assert batch.default_model("scores/batch.json") == ""
    assert batch.default_model("batch.json") == ""


def test_every_problem_is_reported_at_once_with_its_path_and_a_suggestion():
    found = problems_of(
        {
            "modle": "churn",
            "split": "line",
            "join": "yes",
            "compression": "zip",
            "instance_type": "m5.large",
            "instance_count": 0,
            "max_payload_mb": 101,
            "output": "s3://elsewhere/out/",
        },
        default_name="churn",
    )
    assert "did you mean 'model'?" in found["$.modle"].hint
    assert "did you mean 'Line'?" in found["$.split"].hint
    assert set(found) >= {
        "$.join",
        "$.compression",
        "$.instance_type",
        "$.instance_count",
        "$.max_payload_mb",
        "$.output",
    }


def test_payload_times_concurrency_may_not_exceed_100_mb():
    """CreateTransformJobRequest.MaxPayloadInMB (botocore 1.43.11): at most 100 MB, and
    MaxConcurrentTransforms * MaxPayloadInMB at most 100 MB; 0 (chunked) is unsupported by built-ins."""
    found = problems_of({"max_payload_mb": 20, "max_concurrent": 6}, default_name="m")
    assert "6 x 20 MB" in found["$.max_concurrent"].message
    assert "$.max_payload_mb" in problems_of({"max_payload_mb": 0}, default_name="m")
    assert batch.parse_batch_json({"max_payload_mb": 20, "max_concurrent": 5}, default_name="m").max_concurrent == 5


def test_a_batch_json_at_the_top_of_the_bucket_must_name_its_model():
    assert "no parent folder" in problems_of({})["$.model"].message
    assert "$.model" in problems_of({"model": "bad name!"})


def resolve(algorithm, data=None, keys=("churn/d/part-0.csv",)):
    request = batch.parse_batch_json(data or {}, default_name="churn")
    return batch.resolve_format(request, algorithms.get(algorithm), list(keys))


@pytest.mark.parametrize(
    ("algorithm", "keys", "content_type", "split", "accept"),
    [
        ("xgboost", ["a/b/x.csv"], "text/csv", "Line", "text/csv"),
        ("xgboost", ["a/b/x.libsvm"], "text/libsvm", "Line", "text/csv"),
        ("linear-learner", ["a/b/x.csv"], "text/csv", "Line", "application/jsonlines"),
        ("linear-learner", ["a/b/x.pbr"], "application/x-recordio-protobuf", "RecordIO", "application/jsonlines"),
        ("blazingtext", ["a/b/x.jsonl"], "application/jsonlines", "Line", "application/jsonlines"),
        ("seq2seq", ["a/b/x"], "application/jsonlines", "Line", "application/jsonlines"),
        ("image-classification", ["a/b/1.jpg", "a/b/2.jpg"], "image/jpeg", "None", "application/json"),
        ("image-classification", ["a/b/1.jpg", "a/b/2.png"], "application/x-image", "None", "application/json"),
    ],
)
def test_defaults_follow_the_files_and_the_algorithm(algorithm, keys, content_type, split, accept):
    """Formats per algorithm: LL-in-formats.html, xgboost.html, blazingtext.html, seq-2-seq.html,
    image-classification.html (the Algorithm.batch sources)."""
    request = resolve(algorithm, keys=keys)
    assert (request.content_type, request.split, request.format.accept) == (content_type, split, accept)


def test_what_an_algorithm_cannot_do_in_batch_is_refused_with_what_it_can():
    with pytest.raises(ManifestError) as caught:
        resolve("xgboost", {"content_type": "application/json"})
    assert "text/csv, text/libsvm, application/x-recordio-protobuf" in caught.value.problems[0].hint
    with pytest.raises(ManifestError) as caught:
        resolve("image-classification", {"join": True}, keys=["a/b/1.jpg"])
    assert {p.path for p in caught.value.problems} == {"$.join"}
    with pytest.raises(ManifestError) as caught:
        resolve("linear-learner", {"join": True})
    assert "application/jsonlines" in caught.value.problems[0].hint  # the joinable format is named
    with pytest.raises(ManifestError) as caught:
        resolve("xgboost", {"split": "RecordIO"})
    assert caught.value.problems[0].path == "$.split"


def test_the_request_carries_every_setting_and_the_stack_tags():
    request = resolve("xgboost", {"join": True, "max_concurrent": 4, "instance_count": 2, "compression": "gzip"})
    drop = naming.DroppedObject("data", "churn/d/batch.json", "v1", None, datetime(2026, 11, 30, 21, 4, 12, tzinfo=UTC))
    job = naming.job_name("churn", drop.time, drop.digest)
    payload = batch.transform_request(
        request,
        job=job,
        sagemaker_model="churn-20261126-101530-fc8b9c",
        manifest_uri="s3://art/batch-manifests/churn/j.manifest",
        output="s3://art/batch/churn/j/",
        instance_type="ml.m5.large",
        stack="stk",
        source=drop,
    )
    assert job.startswith("churn-20261130-210412-") and len(job) == len("churn-20261130-210412-") + 6
    assert payload["TransformInput"] == {
        "DataSource": {
            "S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": "s3://art/batch-manifests/churn/j.manifest"}
        },
        "ContentType": "text/csv",
        "SplitType": "Line",
        "CompressionType": "Gzip",
    }
    assert payload["TransformOutput"] == {
        "S3OutputPath": "s3://art/batch/churn/j/",
        "Accept": "text/csv",
        "AssembleWith": "Line",
    }
    assert payload["TransformResources"] == {"InstanceType": "ml.m5.large", "InstanceCount": 2}
    assert payload["DataProcessing"] == {"InputFilter": "$", "JoinSource": "Input", "OutputFilter": "$"}
    assert (payload["MaxPayloadInMB"], payload["MaxConcurrentTransforms"], payload["BatchStrategy"]) == (
        6,
        4,
        "MultiRecord",
    )
    tag_map = {t["Key"]: t["Value"] for t in payload["Tags"]}
    assert tag_map["sagedrop:stack"] == "stk" and tag_map["sagedrop:model"] == "churn"


def test_images_go_whole_without_a_batch_strategy():
    request = resolve("image-classification", keys=["a/b/1.png"])
    drop = naming.DroppedObject("data", "a/b/batch.json", None, "e", datetime(2026, 1, 1, tzinfo=UTC))
    payload = batch.transform_request(
        request,
        job="j",
        sagemaker_model="m",
        manifest_uri="s3://a/m",
        output="s3://a/o/",
        instance_type="ml.m5.large",
        stack="s",
        source=drop,
    )
    assert payload["TransformInput"]["SplitType"] == "None" and "BatchStrategy" not in payload
    assert payload["TransformOutput"]["AssembleWith"] == "None"


def test_the_manifest_lists_keys_relative_to_the_folder():
    """ManifestFile: [{"prefix": ...}, relative keys] (API_TransformS3DataSource.html)."""
    assert batch.manifest_body("b", "churn/d/", ["churn/d/a.csv", "churn/d/sub/b.csv"]) == [
        {"prefix": "s3://b/churn/d/"},
        "a.csv",
        "sub/b.csv",
    ]


def test_every_algorithm_declares_its_batch_formats_with_a_source():
    for name in algorithms.NAMES:
        support = algorithms.get(name).batch
        assert support.formats and support.source.startswith("https://docs.aws.amazon.com/")


def test_labels_and_join_exclude_each_other_and_labels_is_a_boolean():
    found = problems_of({"labels": True, "join": True}, default_name="m")
    assert "$.labels" in found
    assert "$.labels" in problems_of({"labels": "yes"}, default_name="m")
    assert batch.parse_batch_json({"labels": True}, default_name="m").labels is True


def test_labelled_lines_are_the_apis_predictions_with_class_names():
    """XGBoost multi:softmax answers one class index per CSV line; Linear Learner one JSON object per line
    (LL-in-formats.html, JSONLINES); both become the prediction API's objects with "label"."""
    from sagedrop.algorithms.base import ServingContext
    from sagedrop.batch_labels import labelled

    xgb = algorithms.get("xgboost")
    ctx = ServingContext(labels=("a", "b", "c"), hyperparameters={"objective": "multi:softmax", "num_class": 3})
    out = list(labelled([b"2.0", b"0.0", b""], xgb, "text/csv", ctx, whole=False))
    assert out == [{"predicted_label": 2, "label": "c"}, {"predicted_label": 0, "label": "a"}]

    ll = algorithms.get("linear-learner")
    ctx = ServingContext(labels=("no", "yes"), hyperparameters={"predictor_type": "binary_classifier"})
    lines = [b'{"score": 0.9, "predicted_label": 1}', b'{"score": 0.2, "predicted_label": 0}']
    out = list(labelled(lines, ll, "application/jsonlines", ctx, whole=False))
    assert [(p["predicted_label"], p["label"]) for p in out] == [(1, "yes"), (0, "no")]
