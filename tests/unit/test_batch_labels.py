"""``labels`` of a batch (batch_labels.py): the container's output lines become the prediction API's objects."""

import json

from sagedrop import algorithms
from sagedrop.algorithms.base import ServingContext
from sagedrop.batch_labels import CHUNK, LabelResult, labelled


def test_a_file_longer_than_a_chunk_is_labelled_line_for_line_in_order():
    """Lines are decoded CHUNK at a time (bounded memory); every line still gets its object, in order, and
    blank lines (the container's trailing newline) none. XGBoost multi:softmax answers one class index per
    line (https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost.html, the form test_batch.py's labelled test uses)."""
    xgb = algorithms.get("xgboost")
    ctx = ServingContext(labels=("a", "b", "c"), hyperparameters={"objective": "multi:softmax", "num_class": 3})
    classes = [i % 3 for i in range(2 * CHUNK + 7)]
    lines = [f"{c}.0".encode() for c in classes[:CHUNK]] + [b""] + [f"{c}.0".encode() for c in classes[CHUNK:]]

    out = list(labelled(iter(lines), xgb, "text/csv", ctx, whole=False))

    assert [p["predicted_label"] for p in out] == classes
    assert [p["label"] for p in out] == ["abc"[c] for c in classes]


def test_a_whole_file_answer_is_one_prediction():
    """Without split_lines a .out file is the answer to one whole input: Image Classification's is one JSON
    list of class probabilities, index i = class i (https://docs.aws.amazon.com/sagemaker/latest/dg/image-classification.html,
    "Inference"), here spread over two lines as a
    container may write it; it becomes one object with the top class's label."""
    ic = algorithms.get("image-classification")
    ctx = ServingContext(labels=("cat", "dog", "fox"), hyperparameters={})
    lines = [b"[0.1,", b" 0.7, 0.2]"]

    [prediction] = labelled(iter(lines), ic, "application/json", ctx, whole=True)

    assert (prediction["predicted_label"], prediction["label"]) == (1, "dog")
    assert json.dumps(prediction["probabilities"]) == "[0.1, 0.7, 0.2]"


def test_the_status_says_whether_every_file_was_labelled():
    assert LabelResult(2, 2).status().startswith("labelled: 2 file(s)")
    assert LabelResult(1, 3).status().startswith("partial: 1 of 3 file(s)")


def test_label_outputs_writes_a_labels_file_beside_each_out_file_until_the_deadline(aws):
    """Each <file>.out under the batch's output prefix (and only those) gets <file>.labels.jsonl beside it, one
    JSON object per line; past the deadline no new file is started and the status says how many were done."""
    import time

    import boto3

    from sagedrop.batch_labels import label_outputs

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="drops")
    s3.put_object(Bucket="drops", Key="batches/churn/out/a.csv.out", Body=b"2.0\n0.0\n")
    s3.put_object(Bucket="drops", Key="batches/churn/out/sub/b.csv.out", Body=b"1.0\n")
    s3.put_object(Bucket="drops", Key="batches/churn/out/notes.txt", Body=b"not an output")
    s3.put_object(Bucket="drops", Key="batches/other/c.csv.out", Body=b"1.0\n")
    xgb = algorithms.get("xgboost")
    hyperparameters = {"objective": "multi:softmax", "num_class": 3}
    record = {
        "output": "s3://drops/batches/churn/out/",
        "labels": ["a", "b", "c"],
        "accept": "text/csv",
        "split_lines": True,
    }

    late = label_outputs(s3, record, xgb, hyperparameters, deadline=time.monotonic() - 1)
    assert late == LabelResult(0, 2) and late.status().startswith("partial: 0 of 2")
    assert label_outputs(s3, record, xgb, hyperparameters, deadline=time.monotonic() + 60) == LabelResult(2, 2, rows=3)

    def labels(key: str) -> list[dict]:
        return [json.loads(line) for line in s3.get_object(Bucket="drops", Key=key)["Body"].read().splitlines()]

    assert labels("batches/churn/out/a.csv.labels.jsonl") == [
        {"predicted_label": 2, "label": "c"},
        {"predicted_label": 0, "label": "a"},
    ]
    assert labels("batches/churn/out/sub/b.csv.labels.jsonl") == [{"predicted_label": 1, "label": "b"}]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="drops")["Contents"]}
    assert "batches/other/c.csv.labels.jsonl" not in keys and "batches/churn/out/notes.labels.jsonl" not in keys
