"""Batch scoring on moto: a batch.json drop starts one tagged transform job with the model that serves; its
state change event is recorded, notified and shown by GET /models/{model}/batches.

The model is trained and deployed by the real train and deploy functions; the transform job's end is
forced through moto's backend and its event is shaped like events/batch/transform-job-completed.json
(the EventBridge schema aws.sagemaker@SageMakerTransformJobStateChange: DescribeTransformJob's fields
and the tags as a map).
"""

from __future__ import annotations

import copy
import json

import pytest

from tests.conftest import load_event, load_function
from tests.support.sagemaker_moto import csv_rows, install, train

T1, T2 = "2026-11-26T10:15:30.000Z", "2026-11-30T21:04:12.481Z"
FOLDER = "churn/december scores"


@pytest.fixture
def hosting(stack, monkeypatch):
    return install(stack, monkeypatch)


@pytest.fixture
def serving(stack, hosting, lambda_context):
    """churn: an xgboost model in service."""
    job = train(stack, lambda_context, {"algorithm": "xgboost", "hyperparameters": {"num_round": 10}}, when=T1)
    hosting.set_job(job, metrics={"validation:rmse": 0.3})
    out = load_function("deploy").handler(hosting.training_event(job), lambda_context)
    assert out["status"] == "in_service", out
    stack.notifications()
    return job


def drop(stack, body, folder=FOLDER, when=T2):
    key = f"{folder}/batch.json"
    text = body if isinstance(body, str) else json.dumps(body)
    response = stack.put(key, text)
    return stack.s3_event(key, response.get("VersionId"), response["ETag"].strip('"'), len(text), when)


def run(event, context):
    return load_function("train").handler(event, context)["results"]


def transform_jobs(stack):
    return [j["TransformJobName"] for j in stack.sagemaker.list_transform_jobs()["TransformJobSummaries"]]


def transform_event(stack, job, status="Completed", reason=None):
    described = stack.sagemaker.describe_transform_job(TransformJobName=job)
    event = copy.deepcopy(load_event("batch", "transform-job-completed.json"))
    arn = described["TransformJobArn"]
    tag_map = {t["Key"]: t["Value"] for t in stack.sagemaker.list_tags(ResourceArn=arn)["Tags"]}
    event["resources"] = [arn]
    event["detail"].update(
        {
            "TransformJobName": job,
            "TransformJobArn": arn,
            "TransformJobStatus": status,
            "ModelName": described["ModelName"],
            "TransformOutput": described["TransformOutput"],
            "Tags": tag_map,
        }
    )
    if reason:
        event["detail"]["FailureReason"] = reason
    return event


def end(stack, job, status, reason=""):
    from tests.support.sagemaker_moto import backend

    fake = backend().transform_jobs[job]
    fake.transform_job_status, fake.failure_reason = status, reason


def test_a_drop_scores_the_folder_with_the_serving_model_once(stack, serving, lambda_context):
    rows = csv_rows(5, 6).splitlines()[1:]
    stack.put(f"{FOLDER}/part-0.csv", "".join(row.split(",", 1)[1] + "\n" for row in rows))  # features only
    stack.put(f"{FOLDER}/part-1.csv", "1,2,3,4,5,6\n")
    event = drop(stack, {"max_concurrent": 2})
    (result,) = run(event, lambda_context)
    assert result["status"] == "started", result
    job = result["job"]
    assert job.startswith("churn-20261130-210412-")
    described = stack.sagemaker.describe_transform_job(TransformJobName=job)
    assert described["ModelName"] == serving
    source = described["TransformInput"]["DataSource"]["S3DataSource"]
    assert source["S3DataType"] == "ManifestFile"
    manifest_key = source["S3Uri"].split(f"s3://{stack.artifact_bucket}/", 1)[1]
    listed = json.loads(stack.s3.get_object(Bucket=stack.artifact_bucket, Key=manifest_key)["Body"].read())
    assert listed == [{"prefix": f"s3://{stack.data_bucket}/{FOLDER}/"}, "part-0.csv", "part-1.csv"]
    assert described["TransformOutput"]["S3OutputPath"] == f"s3://{stack.artifact_bucket}/batch/churn/{job}/"
    assert described["TransformInput"]["ContentType"] == "text/csv"
    tag_map = {
        t["Key"]: t["Value"] for t in stack.sagemaker.list_tags(ResourceArn=described["TransformJobArn"])["Tags"]
    }
    assert tag_map["sagedrop:stack"] == stack.name and tag_map["sagedrop:model"] == "churn"
    assert stack.registry_item("churn", f"BATCH#{job}")["status"] == "InProgress"

    # S3 delivers the same event again: nothing new starts
    (again,) = run(event, lambda_context)
    assert again["status"] == "duplicate" and transform_jobs(stack) == [job]


def test_a_hibernated_model_scores_with_its_kept_model_and_stays_asleep(stack, serving, lambda_context):
    stack.clients["dynamodb"].update_item(
        TableName=stack.table,
        Key={"model": {"S": "churn"}, "record": {"S": "MODEL"}},
        UpdateExpression="SET #s = :h",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":h": {"S": "hibernated"}},
    )
    stack.sagemaker.delete_endpoint(EndpointName="churn")
    stack.put(f"{FOLDER}/rows.csv", "1,2,3,4,5,6\n")
    (result,) = run(drop(stack, {}), lambda_context)
    assert result["status"] == "started"
    assert stack.sagemaker.describe_transform_job(TransformJobName=result["job"])["ModelName"] == serving
    assert stack.registry_item("churn")["status"] == "hibernated"
    assert not stack.sagemaker.list_endpoints()["Endpoints"]


def test_a_bad_batch_json_is_refused_with_every_problem_and_starts_nothing(stack, serving, lambda_context):
    stack.put(f"{FOLDER}/rows.csv", "1,2,3,4,5,6\n")
    (result,) = run(drop(stack, {"modle": "churn", "max_payload_mb": 500, "split": "RecordIO"}), lambda_context)
    assert result["status"] == "rejected"
    assert any("did you mean 'model'?" in p for p in result["problems"])
    assert any("$.max_payload_mb" in p for p in result["problems"])
    assert transform_jobs(stack) == []
    (note,) = stack.notifications()
    assert note["subject"] == "[sagedrop] churn: batch.json rejected, nothing started"
    assert "max_payload_mb" in stack.registry_item("churn")["last_batch_error"]


def test_an_unknown_model_is_named_with_the_closest_one(stack, serving, lambda_context):
    stack.put("chrun/x/rows.csv", "1,2,3,4,5,6\n")
    (result,) = run(drop(stack, {}, folder="chrun/x"), lambda_context)
    assert result["status"] == "rejected" and "did you mean 'churn'?" in result["message"]
    assert stack.registry_item("chrun") is None


def test_what_the_algorithm_cannot_read_and_an_empty_folder_are_refused(stack, serving, lambda_context):
    stack.put(f"{FOLDER}/rows.jsonl", '{"features": [1, 2]}\n')
    (result,) = run(drop(stack, {}), lambda_context)
    assert result["status"] == "rejected" and "does not read application/jsonlines" in result["message"]
    (empty,) = run(drop(stack, {}, folder="churn/empty"), lambda_context)
    assert empty["status"] == "rejected" and "no data files beside batch.json" in empty["message"]
    assert transform_jobs(stack) == []


def test_a_model_without_a_deployed_model_is_refused(stack, hosting, lambda_context):
    train(stack, lambda_context, {"algorithm": "xgboost", "hyperparameters": {"num_round": 10}}, when=T1)
    stack.put(f"{FOLDER}/rows.csv", "1,2,3,4,5,6\n")
    (result,) = run(drop(stack, {}), lambda_context)
    assert result["status"] == "rejected" and "no deployed model" in result["message"]


def api_get(path, params):
    event = copy.deepcopy(load_event("predict", "get-model.json"))
    event["path"] = path
    event["resource"] = "/models/{model}/batches" + ("/{job}" if "job" in params else "")
    event["requestContext"]["path"] = f"/v1{path}"
    event["requestContext"]["resourcePath"] = event["resource"]
    event["pathParameters"] = params
    return event


def test_the_outcome_is_recorded_notified_and_listed(stack, serving, lambda_context, monkeypatch):
    stack.put(f"{FOLDER}/rows.csv", "1,2,3,4,5,6\n")
    (started,) = run(drop(stack, {}), lambda_context)
    job = started["job"]
    end(stack, job, "Completed")
    deploy = load_function("deploy")
    out = deploy.handler(transform_event(stack, job), lambda_context)
    assert out["status"] == "recorded" and out["output"] == f"s3://{stack.artifact_bucket}/batch/churn/{job}/"
    record = stack.registry_item("churn", f"BATCH#{job}")
    assert record["status"] == "Completed" and "duration_s" in record
    assert record["rows"] == 0  # moto's job wrote no .out file: nothing was scored
    (note,) = stack.notifications()
    assert note["subject"] == "[sagedrop] churn: batch scoring done" and out["output"] in note["message"]
    # SageMaker may send the event twice: one notification only
    assert deploy.handler(transform_event(stack, job), lambda_context)["status"] == "duplicate"
    assert stack.notifications() == []

    predict = load_function("predict")
    listed = predict.handler(api_get("/models/churn/batches", {"model": "churn"}), lambda_context)
    assert listed["statusCode"] == 200
    (item,) = json.loads(listed["body"])["batches"]
    assert (item["job"], item["status"], item["output"]) == (job, "Completed", out["output"])
    assert "sagemaker_model" not in item
    one = predict.handler(api_get(f"/models/churn/batches/{job}", {"model": "churn", "job": job}), lambda_context)
    assert one["statusCode"] == 200 and json.loads(one["body"])["job"] == job
    missing = predict.handler(api_get("/models/churn/batches/nope", {"model": "churn", "job": "nope"}), lambda_context)
    assert missing["statusCode"] == 404
    unknown = predict.handler(api_get("/models/none/batches", {"model": "none"}), lambda_context)
    assert unknown["statusCode"] == 404


def test_a_failed_job_says_why_in_the_users_words(stack, serving, lambda_context):
    stack.put(f"{FOLDER}/rows.csv", "0,1,2,3,4,5\n")
    (started,) = run(drop(stack, {}), lambda_context)
    job = started["job"]
    reason = "ClientError: 400 Bad Request: unable to parse the CSV row"
    end(stack, job, "Failed", reason)
    load_function("deploy").handler(transform_event(stack, job, "Failed", reason), lambda_context)
    record = stack.registry_item("churn", f"BATCH#{job}")
    assert record["status"] == "Failed"
    assert (
        record["failure_reason"].startswith("the container refused some records") and reason in record["failure_reason"]
    )
    (note,) = stack.notifications()
    assert "batch scoring failed" in note["subject"]


def test_another_stacks_transform_job_is_ignored(stack, lambda_context):
    out = load_function("deploy").handler(load_event("batch", "transform-job-other-stack.json"), lambda_context)
    assert out["status"] == "ignored"


def test_labels_output_names_the_classes_beside_the_out_files(stack, hosting, lambda_context):
    manifest = {"algorithm": "xgboost", "hyperparameters": {"objective": "binary:logistic", "num_round": 10}}
    job = train(stack, lambda_context, {**manifest, "labels": ["stay", "churn"]}, when=T1)
    hosting.set_job(job, metrics={"validation:rmse": 0.3})
    assert load_function("deploy").handler(hosting.training_event(job), lambda_context)["status"] == "in_service"
    stack.put(f"{FOLDER}/rows.csv", "1,2,3,4,5,6\n6,5,4,3,2,1\n")
    (started,) = run(drop(stack, {"labels": True}), lambda_context)
    assert started["status"] == "started", started
    batch_job = started["job"]
    # what SageMaker would have written: one score per input row
    out_key = f"batch/churn/{batch_job}/rows.csv.out"
    stack.s3.put_object(Bucket=stack.artifact_bucket, Key=out_key, Body=b"0.91\n0.12\n")
    end(stack, batch_job, "Completed")
    load_function("deploy").handler(transform_event(stack, batch_job), lambda_context)
    body = stack.s3.get_object(Bucket=stack.artifact_bucket, Key=f"batch/churn/{batch_job}/rows.csv.labels.jsonl")
    lines = [json.loads(line) for line in body["Body"].read().splitlines()]
    assert [(p["predicted_label"], p["label"]) for p in lines] == [(1, "churn"), (0, "stay")]
    record = stack.registry_item("churn", f"BATCH#{batch_job}")
    assert record["labels_status"].startswith("labelled: 1 file(s)") and record["rows"] == 2


def test_labels_output_needs_a_model_with_class_names(stack, serving, lambda_context):
    stack.put(f"{FOLDER}/rows.csv", "1,2,3,4,5,6\n")
    (result,) = run(drop(stack, {"labels": True}), lambda_context)
    assert result["status"] == "rejected" and "has no class names" in result["message"]
