"""The train function on moto: real-shaped S3 events in, SageMaker training jobs (or clear refusals) out."""

from __future__ import annotations

import json
import struct
import time

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT, load_event, load_function

RECORDIO = struct.pack("<II", 0xCED7230A, 8) + b"\x00" * 8


def csv_rows(rows: int, features: int, classes: int) -> str:
    lines = []
    for i in range(rows):
        label = i % classes
        lines.append(",".join([str(label)] + [f"{(i * 7 + j) % 13 / 3:.4f}" for j in range(features)]))
    return "\n".join(lines) + "\n"


def run(stack, event, lambda_context):
    train = load_function("train")
    return train.handler(event, lambda_context)["results"]


def describe(stack, job):
    return stack.sagemaker.describe_training_job(TrainingJobName=job)


def channels_of(description):
    return {
        c["ChannelName"]: (c["DataSource"]["S3DataSource"]["S3Uri"], c.get("ContentType"))
        for c in description["InputDataConfig"]
    }


def tags_of(stack, arn):
    return {t["Key"]: t["Value"] for t in stack.sagemaker.list_tags(ResourceArn=arn)["Tags"]}


# ------------------------------------------------------------------ one realistic layout per algorithm


def test_linear_learner_big_mart_multiclass(stack, lambda_context):
    folder = "tutorials/big mart"
    stack.put(f"{folder}/train/train.csv", csv_rows(400, 11, 4))
    stack.put(f"{folder}/validation/validation.csv", csv_rows(100, 11, 4))
    manifest = {
        "algorithm": "linear-learner",
        "hyperparameters": {
            "feature_dim": 11,
            "predictor_type": "multiclass_classifier",
            "num_classes": 4,
            "mini_batch_size": 100,
        },
        "labels": ["low", "medium", "high", "very high"],
    }
    results = run(stack, stack.drop_manifest(folder, manifest), lambda_context)
    assert [r["status"] for r in results] == ["started"]
    job = results[0]["job"]
    assert job.startswith("big-mart-")
    d = describe(stack, job)
    assert d["AlgorithmSpecification"]["TrainingImage"] == (
        "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"
    )
    assert d["HyperParameters"] == {
        "feature_dim": "11",
        "predictor_type": "multiclass_classifier",
        "num_classes": "4",
        "mini_batch_size": "100",
    }
    assert channels_of(d) == {
        "train": (f"s3://{stack.data_bucket}/{folder}/train/", "text/csv"),
        "validation": (f"s3://{stack.data_bucket}/{folder}/validation/", "text/csv"),
    }
    assert d["OutputDataConfig"]["S3OutputPath"] == f"s3://{stack.artifact_bucket}/models/big-mart/"
    assert d["ResourceConfig"] == {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}
    assert d["RoleArn"] == stack.role_arn
    assert d["EnableNetworkIsolation"] is True
    tags = tags_of(stack, d["TrainingJobArn"])
    assert tags["sagedrop:stack"] == stack.name
    assert tags["sagedrop:model"] == "big-mart"
    assert tags["sagedrop:manifest"] == f"s3://{stack.data_bucket}/{folder}/training.json"
    item = stack.registry_item("big-mart")
    assert item["status"] == "training"
    assert item["latest_job"] == job
    assert item["labels"] == ["low", "medium", "high", "very high"]
    job_item = stack.registry_item("big-mart", f"JOB#{job}")
    assert job_item["deploy"]["instance_type"] == "ml.m5.large"


def test_xgboost_multiclass_on_csv_train_and_validation(stack, lambda_context):
    folder = "xgb"
    stack.put(f"{folder}/train/part-0.csv", csv_rows(300, 8, 4))
    stack.put(f"{folder}/validation/part-0.csv", csv_rows(60, 8, 4))
    manifest = {
        "algorithm": "xgboost",
        "hyperparameters": {
            "objective": "multi:softmax",
            "num_class": 4,
            "max_depth": 5,
            "eta": 0.2,
            "gamma": 4,
            "min_child_weight": 6,
            "subsample": 0.7,
            "num_round": 50,
        },
        "training": {"spot": True, "max_runtime_s": 3600},
    }
    results = run(stack, stack.drop_manifest(folder, manifest), lambda_context)
    d = describe(stack, results[0]["job"])
    assert d["AlgorithmSpecification"]["TrainingImage"] == (
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    )
    assert d["HyperParameters"]["eta"] == "0.2"
    assert d["HyperParameters"]["num_class"] == "4"
    assert set(channels_of(d)) == {"train", "validation"}
    assert d["EnableManagedSpotTraining"] is True
    assert d["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert d["CheckpointConfig"]["S3Uri"].startswith(f"s3://{stack.artifact_bucket}/checkpoints/xgb/")


def test_blazingtext_batch_skipgram_on_text8(stack, lambda_context):
    folder = "text8"
    stack.put(f"{folder}/train/text8", "anarchism originated as a term of abuse first used against early " * 200)
    manifest = {
        "algorithm": "blazingtext",
        "hyperparameters": {
            "mode": "batch_skipgram",
            "epochs": 5,
            "min_count": 5,
            "sampling_threshold": 0.0001,
            "learning_rate": 0.05,
            "window_size": 5,
            "vector_dim": 100,
            "negative_samples": 5,
            "batch_size": 11,
            "evaluation": True,
            "subwords": False,
        },
    }
    results = run(stack, stack.drop_manifest(folder, manifest), lambda_context)
    assert results[0]["status"] == "started", results
    d = describe(stack, results[0]["job"])
    assert d["AlgorithmSpecification"]["TrainingImage"] == "811284229777.dkr.ecr.us-east-1.amazonaws.com/blazingtext:1"
    assert d["HyperParameters"]["evaluation"] == "True"  # as the SDK sends Python booleans
    assert d["HyperParameters"]["subwords"] == "False"
    assert d["HyperParameters"]["sampling_threshold"] == "0.0001"
    assert channels_of(d)["train"][1] == "text/plain"


def test_image_classification_resnet_on_recordio(stack, lambda_context):
    folder = "caltech"
    stack.put(f"{folder}/train/caltech-256-60-train.rec", RECORDIO)
    stack.put(f"{folder}/validation/caltech-256-60-val.rec", RECORDIO)
    manifest = {
        "algorithm": "image-classification",
        "hyperparameters": {
            "num_layers": 18,
            "image_shape": "3,224,224",
            "num_classes": 257,
            "num_training_samples": 15420,
            "mini_batch_size": 64,
            "epochs": 2,
            "learning_rate": 0.01,
        },
        "training": {"instance_type": "ml.p3.2xlarge"},
    }
    results = run(stack, stack.drop_manifest(folder, manifest), lambda_context)
    assert results[0]["status"] == "started", results
    d = describe(stack, results[0]["job"])
    assert d["AlgorithmSpecification"]["TrainingImage"] == (
        "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
    )
    assert d["ResourceConfig"]["InstanceType"] == "ml.p3.2xlarge"
    assert {name: ct for name, (_, ct) in channels_of(d).items()} == {
        "train": "application/x-recordio",
        "validation": "application/x-recordio",
    }
    assert d["HyperParameters"]["image_shape"] == "3,224,224"


def test_seq2seq_english_to_german_with_vocab(stack, lambda_context):
    folder = "wmt16-en-de"
    stack.put(f"{folder}/train/train.rec", RECORDIO)
    stack.put(f"{folder}/validation/val.rec", RECORDIO)
    stack.put(f"{folder}/vocab/vocab.src.json", json.dumps({"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3, "the": 4}))
    stack.put(f"{folder}/vocab/vocab.trg.json", json.dumps({"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3, "die": 4}))
    manifest = {
        "algorithm": "seq2seq",
        "hyperparameters": {
            "max_seq_len_source": 60,
            "max_seq_len_target": 60,
            "optimized_metric": "bleu",
            "batch_size": 64,
            "rnn_num_hidden": 512,
            "num_layers_encoder": 1,
            "num_layers_decoder": 1,
            "num_embed_source": 512,
            "num_embed_target": 512,
        },
        "training": {"instance_type": "ml.p3.8xlarge"},
        "deploy": {"instance_type": "ml.g5.xlarge"},
    }
    results = run(stack, stack.drop_manifest(folder, manifest), lambda_context)
    assert results[0]["status"] == "started", results
    d = describe(stack, results[0]["job"])
    assert d["AlgorithmSpecification"]["TrainingImage"] == "811284229777.dkr.ecr.us-east-1.amazonaws.com/seq2seq:1"
    assert set(channels_of(d)) == {"train", "validation", "vocab"}


# ------------------------------------------------------------------ refusals: nothing starts, the user hears why


def test_bad_manifest_starts_nothing_and_is_recorded_and_notified(stack, lambda_context):
    stack.put("churn/train/train.csv", csv_rows(10, 3, 2))
    event = stack.drop_manifest("churn", {"algorithm": "xgboost", "hyperparameters": {"num_round": -1, "etaa": 1}})
    results = run(stack, event, lambda_context)
    assert results[0]["status"] == "rejected"
    assert stack.training_jobs() == []
    item = stack.registry_item("churn")
    assert item["status"] == "rejected"
    assert "$.hyperparameters.num_round" in item["last_error"]
    assert "did you mean 'eta'" in item["last_error"]
    [note] = stack.notifications()
    assert "churn" in note["subject"] and "rejected" in note["subject"]
    assert "$.hyperparameters.etaa" in note["message"]
    assert note["attributes"]["event"] == "rejected"


def test_invalid_json_is_explained(stack, lambda_context):
    results = run(stack, stack.drop_manifest("churn", b'{"algorithm": "xgboost",}'), lambda_context)
    assert results[0]["status"] == "rejected"
    assert "not valid JSON" in stack.registry_item("churn")["last_error"]
    assert stack.training_jobs() == []


def test_csv_with_a_header_row_starts_nothing(stack, lambda_context):
    stack.put("churn/train/train.csv", "label,a,b,c\n" + csv_rows(10, 3, 2))
    event = stack.drop_manifest("churn", {"algorithm": "xgboost", "hyperparameters": {"num_round": 5}})
    results = run(stack, event, lambda_context)
    assert results[0]["status"] == "rejected"
    assert "looks like a header row" in stack.registry_item("churn")["last_error"]
    assert stack.training_jobs() == []


def test_missing_required_channel_is_named(stack, lambda_context):
    stack.put("ic/train/train.rec", RECORDIO)
    event = stack.drop_manifest(
        "ic", {"algorithm": "image-classification", "hyperparameters": {"num_classes": 2, "num_training_samples": 10}}
    )
    results = run(stack, event, lambda_context)
    assert results[0]["status"] == "rejected"
    error = stack.registry_item("ic")["last_error"]
    assert "validation" in error and f"s3://{stack.data_bucket}/ic/validation/" in error
    assert stack.training_jobs() == []


def test_feature_dim_that_does_not_match_the_data(stack, lambda_context):
    stack.put("ll/train/train.csv", csv_rows(20, 5, 2))
    event = stack.drop_manifest(
        "ll",
        {"algorithm": "linear-learner", "hyperparameters": {"feature_dim": 11, "predictor_type": "binary_classifier"}},
    )
    results = run(stack, event, lambda_context)
    assert results[0]["status"] == "rejected"
    assert "feature_dim says 11" in stack.registry_item("ll")["last_error"]


def test_seq2seq_without_vocab_files(stack, lambda_context):
    for channel, name in (("train", "train.rec"), ("validation", "val.rec"), ("vocab", "vocab.src.json")):
        stack.put(f"s2s/{channel}/{name}", RECORDIO if name.endswith(".rec") else "{}")
    event = stack.drop_manifest("s2s", {"algorithm": "seq2seq", "training": {"instance_type": "ml.p3.2xlarge"}})
    results = run(stack, event, lambda_context)
    assert results[0]["status"] == "rejected"
    assert "vocab.trg.json is missing" in stack.registry_item("s2s")["last_error"]


def test_rejection_keeps_a_serving_model_serving(stack, lambda_context):
    stack.clients["dynamodb"].put_item(
        TableName=stack.table,
        Item={"model": {"S": "churn"}, "record": {"S": "MODEL"}, "status": {"S": "in_service"}},
    )
    results = run(stack, stack.drop_manifest("churn", {"algorithm": "nope"}), lambda_context)
    assert results[0]["status"] == "rejected"
    item = stack.registry_item("churn")
    assert item["status"] == "in_service"
    assert "unknown algorithm 'nope'" in item["last_error"]


# ------------------------------------------------------------------ idempotency and retries


def test_a_redelivered_event_starts_one_job(stack, lambda_context):
    """S3 may deliver an event more than once, later; the job name comes from the event, never the clock."""
    stack.put("churn/train/train.csv", csv_rows(10, 3, 2))
    event = stack.drop_manifest("churn", {"algorithm": "xgboost", "hyperparameters": {"num_round": 5}})
    event["Records"][0]["eventTime"] = "2024-03-05T06:07:08.123Z"
    first = run(stack, event, lambda_context)
    time.sleep(1.1)  # the redelivery arrives at another wall-clock second
    again = run(stack, event, lambda_context)
    assert first[0]["status"] == "started"
    assert first[0]["job"].startswith("churn-20240305-060708-")
    assert again[0]["status"] == "duplicate"
    assert again[0]["job"] == first[0]["job"]
    assert stack.training_jobs() == [first[0]["job"]]


def test_concurrent_duplicate_refused_by_sagemaker_is_not_an_error(stack, lambda_context, monkeypatch):
    stack.put("churn/train/train.csv", csv_rows(10, 3, 2))
    event = stack.drop_manifest("churn", {"algorithm": "xgboost", "hyperparameters": {"num_round": 5}})
    train = load_function("train")
    sagemaker = train.clients.sagemaker

    def already_exists(**_):
        raise ClientError(
            {"Error": {"Code": "ResourceInUse", "Message": "Training job names must be unique"}}, "CreateTrainingJob"
        )

    monkeypatch.setattr(sagemaker, "create_training_job", already_exists)
    results = train.handler(event, lambda_context)["results"]
    assert results[0]["status"] == "duplicate"


def test_throttling_is_raised_so_lambda_retries(stack, lambda_context, monkeypatch):
    stack.put("churn/train/train.csv", csv_rows(10, 3, 2))
    event = stack.drop_manifest("churn", {"algorithm": "xgboost", "hyperparameters": {"num_round": 5}})
    train = load_function("train")
    sagemaker = train.clients.sagemaker

    def throttled(**_):
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "CreateTrainingJob")

    monkeypatch.setattr(sagemaker, "create_training_job", throttled)
    with pytest.raises(ClientError):
        train.handler(event, lambda_context)
    assert stack.registry_item("churn") is None  # nothing recorded as done


def test_other_files_matching_the_suffix_are_ignored(stack, lambda_context):
    stack.put("churn/train/train.csv", csv_rows(10, 3, 2))
    response = stack.put("churn/old-training.json", json.dumps({"algorithm": "xgboost"}))
    event = stack.s3_event("churn/old-training.json", response.get("VersionId"), "etag", 10)
    assert run(stack, event, lambda_context)[0]["status"] == "ignored"
    assert stack.training_jobs() == []


def test_the_sample_event_in_events_is_real_shaped(stack, lambda_context):
    event = load_event("train", "s3-put-training-json.json")
    record = event["Records"][0]
    assert record["s3"]["object"]["key"] == "my+model/training.json"
    assert record["eventName"].startswith("ObjectCreated:")
    # Pointing it at this stack's bucket, the URL-encoded key resolves to the "my model" folder.
    stack.put("my model/train/train.csv", csv_rows(10, 3, 2))
    event = stack.drop_manifest("my model", {"algorithm": "xgboost", "hyperparameters": {"num_round": 5}})
    assert event["Records"][0]["s3"]["object"]["key"] == "my+model/training.json"
    results = run(stack, event, lambda_context)
    assert results[0]["status"] == "started"
    assert results[0]["model"] == "my-model"
    assert describe(stack, results[0]["job"])["TrainingJobArn"].startswith(f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:")


# ------------------------------------------------------------------ conversion in the train function


def test_convert_and_label_bins_like_the_classic_tutorial(stack, lambda_context):
    from sagedrop import recordio

    rows = [f"{(i * 37) % 200 + 0.5},{i % 7},{i % 5},{i % 3}" for i in range(300)]
    stack.put("bins/train/part-1.csv", "\n".join(rows[:200]) + "\n")
    stack.put("bins/train/part-2.csv", "\n".join(rows[200:250]) + "\n")
    stack.put("bins/validation/validation.csv", "\n".join(rows[250:]) + "\n")
    manifest = {
        "algorithm": "linear-learner",
        "hyperparameters": {"feature_dim": 3, "predictor_type": "multiclass_classifier", "num_classes": 4},
        "convert": "recordio-protobuf",
        "label_bins": 4,
    }
    results = run(stack, stack.drop_manifest("bins", manifest), lambda_context)
    assert results[0]["status"] == "started", results
    job = results[0]["job"]
    d = describe(stack, job)
    prefix = f"s3://{stack.artifact_bucket}/converted/bins/{job}/"
    assert channels_of(d) == {
        "train": (f"{prefix}train/", "application/x-recordio-protobuf"),
        "validation": (f"{prefix}validation/", "application/x-recordio-protobuf"),
    }
    body = stack.s3.get_object(Bucket=stack.artifact_bucket, Key=f"converted/bins/{job}/train/train.pbr")["Body"].read()
    features, labels = recordio.read_dense(body)
    assert features.shape == (250, 3)
    assert sorted(set(labels.tolist())) == [0.0, 1.0, 2.0, 3.0]
    raw = [float(r.split(",")[0]) for r in rows[:250]]
    low, high = min(raw), max(raw)
    expected_first = min(3, int((raw[0] - low) / ((high - low) / 4)))
    assert labels[0] == expected_first
    item = stack.registry_item("bins")
    assert len(item["labels"]) == 4 and item["labels"][0].startswith("(")
    job_item = stack.registry_item("bins", f"JOB#{job}")
    assert job_item["label_bins"]["edges"][-1] == pytest.approx(high)


def test_label_bins_on_a_regressor_is_refused(stack, lambda_context):
    stack.put("reg/train/train.csv", csv_rows(10, 3, 2))
    manifest = {
        "algorithm": "linear-learner",
        "hyperparameters": {"feature_dim": 3, "predictor_type": "regressor"},
        "label_bins": 4,
    }
    results = run(stack, stack.drop_manifest("reg", manifest), lambda_context)
    assert results[0]["status"] == "rejected"
    assert "train a regressor" in stack.registry_item("reg")["last_error"]


def test_converting_a_non_csv_channel_is_refused(stack, lambda_context):
    stack.put("pb/train/train.pbr", RECORDIO)
    manifest = {
        "algorithm": "linear-learner",
        "hyperparameters": {"feature_dim": 3, "predictor_type": "regressor"},
        "convert": "recordio-protobuf",
    }
    results = run(stack, stack.drop_manifest("pb", manifest), lambda_context)
    assert results[0]["status"] == "rejected"
    assert "not text/csv" in stack.registry_item("pb")["last_error"]
    assert stack.training_jobs() == []


def test_the_feature_count_seen_in_the_data_is_recorded_with_the_job(stack, lambda_context):
    """Predict checks rows against it (the job record's feature_count): 8 columns after the label."""
    stack.put("xgb/train/part-0.csv", csv_rows(50, 8, 2))
    manifest = {"algorithm": "xgboost", "hyperparameters": {"objective": "binary:logistic", "num_round": 5}}
    results = run(stack, stack.drop_manifest("xgb", manifest), lambda_context)
    assert stack.registry_item("xgb", f"JOB#{results[0]['job']}")["feature_count"] == 8


def test_an_empty_validation_folder_does_not_hide_a_bad_value_in_train(stack, lambda_context):
    """Issue 15: every problem of every channel in one rejection (the console's "Create folder" leaves a
    zero-byte ``validation/`` key, which lists as an empty channel folder)."""
    stack.put("mixed/train/train.csv", "1,2.5,3\n0,abc,4\n")
    stack.put("mixed/validation/", "")
    event = stack.drop_manifest("mixed", {"algorithm": "xgboost", "hyperparameters": {"num_round": 5}})
    (result,) = run(stack, event, lambda_context)
    assert result["status"] == "rejected"
    assert "channel validation" in result["message"] and "holds no data files" in result["message"]
    assert "line 2, column 2 is not a number: 'abc'" in result["message"]
    assert stack.sagemaker.list_training_jobs()["TrainingJobSummaries"] == []
