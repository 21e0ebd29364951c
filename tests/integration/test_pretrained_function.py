"""Bringing a trained model (model.tar.gz + deploy.json) through the deploy function, and stop/start, on moto.

The S3 events are shaped like events/deploy/s3-put-deploy-json.json; hosting behaves as on SageMaker
through tests/support/sagemaker_moto (UpdateEndpoint, refusals of existing names, tags). Stop and
start go through the predict function with API Gateway proxy events.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import tarfile
import zipfile
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest

from sagedrop import naming
from tests.conftest import REGION, load_event, load_function
from tests.support.sagemaker_moto import install, train

XGB_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
SEQ2SEQ_IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/seq2seq:1"
T0, T1, T2, T3 = (f"2026-11-27T0{h}:05:12.456Z" for h in range(4))
SOFTMAX = {"objective": "multi:softmax", "num_class": 3}


@pytest.fixture
def hosting(stack, monkeypatch):
    return install(stack, monkeypatch)


def tar_gz(files: dict[str, bytes]) -> bytes:
    """A model.tar.gz holding ``files`` (the same bytes for the same files: no time stamps)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


def xgboost_archive(tag: bytes = b"booster-1") -> bytes:
    return tar_gz({"xgboost-model": b"\x80\x04pickled " + tag})


def seq2seq_archive(vocab: bool = True) -> bytes:
    files = {"params.best": b"\x00" * 64, "config": b"num_embed_source: 512\n", "symbol.json": b"{}"}
    if vocab:
        files["vocab.src.json"] = json.dumps({"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3, "hello": 4}).encode()
        files["vocab.trg.json"] = json.dumps({"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3, "hallo": 4}).encode()
    return tar_gz(files)


def drop(stack, folder: str, deploy_json: Any, *, archive: bytes | None = None, when: str = T1) -> dict[str, Any]:
    """Upload <folder>/model.tar.gz (when given), then <folder>/deploy.json; the S3 event for deploy.json."""
    if archive is not None:
        stack.put(f"{folder}/model.tar.gz", archive)
    body = json.dumps(deploy_json) if not isinstance(deploy_json, str | bytes) else deploy_json
    key = f"{folder}/deploy.json"
    response = stack.put(key, body)
    event = copy.deepcopy(load_event("deploy", "s3-put-deploy-json.json"))
    record = event["Records"][0]
    record["eventTime"] = when
    record["s3"]["bucket"].update({"name": stack.data_bucket, "arn": f"arn:aws:s3:::{stack.data_bucket}"})
    size = len(body.encode() if isinstance(body, str) else body)
    record["s3"]["object"].update({"key": quote_plus(key, safe="/"), "size": size, "eTag": response["ETag"].strip('"')})
    record["s3"]["object"]["versionId"] = response["VersionId"]
    return event


def deploy(event, context) -> dict[str, Any]:
    return load_function("deploy").handler(event, context)


def one(result: dict[str, Any]) -> dict[str, Any]:
    [outcome] = result["results"]
    return outcome


def release_of(stack, event) -> str:
    record = event["Records"][0]
    obj = record["s3"]["object"]
    when = naming.parse_event_time(record["eventTime"])
    return naming.job_name("churn", when, naming.event_hash(stack.data_bucket, "churn/deploy.json", obj["versionId"]))


def artifact_bytes(stack, release: str, model: str = "churn") -> bytes:
    key = f"models/{model}/{release}/model.tar.gz"
    return stack.s3.get_object(Bucket=stack.artifact_bucket, Key=key)["Body"].read()


# ------------------------------------------------------------------ a pretrained model goes in service


def test_a_pretrained_xgboost_model_deploys_like_a_trained_one(stack, hosting, lambda_context):
    archive = xgboost_archive()
    manifest = {
        "algorithm": "xgboost",
        "hyperparameters": SOFTMAX,
        "labels": ["low", "mid", "high"],
        "deploy": {"instance_type": "ml.m5.xlarge", "idle_minutes": 30},
    }
    event = drop(stack, "churn", manifest, archive=archive)
    release = release_of(stack, event)
    assert release.startswith("churn-20261127-010512-") and len(release) == len("churn-20261127-010512-") + 6

    out = one(deploy(event, lambda_context))
    assert out == {
        "manifest": f"s3://{stack.data_bucket}/churn/deploy.json",
        "status": "in_service",
        "model": "churn",
        "job": release,
        "endpoint": "churn",
        "message": "new model in service",
    }
    assert stack.training_jobs() == []  # no training job
    model_data = f"s3://{stack.artifact_bucket}/models/churn/{release}/model.tar.gz"
    described = stack.sagemaker.describe_model(ModelName=release)
    assert described["PrimaryContainer"] == {"Image": XGB_IMAGE, "ModelDataUrl": model_data}
    assert described["ExecutionRoleArn"] == stack.role_arn
    assert artifact_bytes(stack, release) == archive  # the checked version, copied byte for byte
    config = stack.sagemaker.describe_endpoint_config(EndpointConfigName=release)
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.m5.xlarge"
    endpoint = stack.sagemaker.describe_endpoint(EndpointName="churn")
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService", release)
    for arn in (described["ModelArn"], config["EndpointConfigArn"], endpoint["EndpointArn"]):
        tags = hosting.tags(arn)
        assert tags["sagedrop:stack"] == stack.name
        assert tags["sagedrop:model"] == "churn"
        assert tags["sagedrop:manifest"] == f"s3://{stack.data_bucket}/churn/deploy.json"
        assert tags["sagedrop:algorithm"] == "xgboost"
        assert tags["sagedrop:idle-minutes"] == "30"

    item = stack.registry_item("churn")
    assert item["status"] == "in_service"
    assert item["serving_job"] == item["latest_job"] == release
    assert item["algorithm"] == "xgboost"
    assert item["labels"] == ["low", "mid", "high"]
    assert item["idle_minutes"] == 30
    assert item["metrics"] == {}
    job = stack.registry_item("churn", f"JOB#{release}")
    assert job["source"] == "pretrained"
    assert job["status"] == "deployed"
    assert job["model_data"] == model_data
    assert job["archive"] == f"s3://{stack.data_bucket}/churn/model.tar.gz"
    assert job["archive_files"] == ["xgboost-model"]
    assert job["hyperparameters"] == {"objective": "multi:softmax", "num_class": "3"}
    notes = stack.notifications()
    assert [n["subject"] for n in notes] == ["[sagedrop] churn: new model in service"]
    assert f"the model brought trained as {release} on endpoint churn (1 x ml.m5.xlarge)" in notes[0]["message"]

    # The same event again (S3 delivers at least once): nothing new is created or announced.
    again = one(deploy(event, lambda_context))
    assert (again["status"], again["job"]) == ("duplicate", release)
    assert hosting.models() == [release]
    assert stack.notifications() == []


def test_a_pretrained_seq2seq_model_gets_its_image_a_cpu_instance_and_its_archive(stack, hosting, lambda_context):
    archive = seq2seq_archive()
    event = drop(stack, "en-de", {"algorithm": "seq2seq", "name": "churn"}, archive=archive)
    out = one(deploy(event, lambda_context))
    assert out["status"] == "in_service", out
    release = out["job"]
    described = stack.sagemaker.describe_model(ModelName=release)
    assert described["PrimaryContainer"]["Image"] == SEQ2SEQ_IMAGE
    assert described["PrimaryContainer"]["ModelDataUrl"] == (
        f"s3://{stack.artifact_bucket}/models/churn/{release}/model.tar.gz"
    )
    assert artifact_bytes(stack, release) == archive
    variant = stack.sagemaker.describe_endpoint_config(EndpointConfigName=release)["ProductionVariants"][0]
    # seq2seq hosts on CPU (the official en-de example notebook uses ml.m4.xlarge): 16 GiB by default
    assert variant["InstanceType"] == "ml.m5.xlarge"
    item = stack.registry_item("churn")
    assert (item["status"], item["algorithm"], item["endpoint"]) == ("in_service", "seq2seq", "churn")
    assert stack.registry_item("churn", f"JOB#{release}")["manifest"] == f"s3://{stack.data_bucket}/en-de/deploy.json"


# ------------------------------------------------------------------ refused before anything is created


def plain_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("xgboost-model")
        info.size = 3
        archive.addfile(info, io.BytesIO(b"abc"))
    return buffer.getvalue()


def zip_file() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xgboost-model", b"abc")
    return buffer.getvalue()


BAD_ARCHIVES = {
    "not gzip": (b"just some text\n", "is not gzip-compressed (it starts with 6a 75 73 74, gzip starts with 1f 8b)"),
    "tar, not gzip": (plain_tar(), "is a tar archive that is not gzip-compressed"),
    "zip": (zip_file(), "is a zip file, not a gzip-compressed tar archive"),
    "gzip, not tar": (gzip.compress(b"xgboost-model\n" * 100), "is gzip-compressed but holds no tar archive"),
    "truncated": (xgboost_archive(b"x" * 50_000)[:40], "the gzip data ends early, after 40 bytes"),
    "a README beside the model": (
        tar_gz({"xgboost-model": b"\x80\x04pickled", "README.md": b"# churn model\n"}),
        "holds README.md at its top level, a text file and not a model; the container loads every file at the top "
        "level of the archive as a model, whatever its name (aws/sagemaker-xgboost-container@f7a93a2",
    ),
    "nested": (
        tar_gz({"model/xgboost-model": b"\x80\x04pickled"}),
        "holds no model file at its top level",
    ),
    "cut short after the last file": (
        xgboost_archive(bytes(range(256)) * 2000)[:-6],
        "the gzip data ends early, after ",
    ),
    "corrupt checksum": (
        xgboost_archive(b"x" * 5000)[:-8] + b"\x00\x00\x00\x00" + xgboost_archive(b"x" * 5000)[-4:],
        "the gzip data is corrupt near byte ",
    ),
    "empty": (b"", "is empty (0 bytes)"),
}


@pytest.mark.parametrize("case", list(BAD_ARCHIVES))
def test_a_bad_archive_is_rejected_recorded_and_notified_before_anything_is_created(
    case, stack, hosting, lambda_context
):
    archive, expected = BAD_ARCHIVES[case]
    out = one(deploy(drop(stack, "churn", {"algorithm": "xgboost"}, archive=archive), lambda_context))
    assert out["status"] == "rejected"
    assert expected in out["message"]
    assert f"s3://{stack.data_bucket}/churn/model.tar.gz" in out["message"]
    item = stack.registry_item("churn")
    assert item["status"] == "rejected"
    assert expected in item["last_error"]
    assert item["last_rejection"]["manifest"] == f"s3://{stack.data_bucket}/churn/deploy.json"
    [note] = stack.notifications()
    assert note["subject"] == "[sagedrop] churn: deploy.json rejected, nothing deployed"
    assert expected in note["message"]
    assert hosting.models() == [] and hosting.configs() == []
    assert stack.s3.list_objects_v2(Bucket=stack.artifact_bucket).get("KeyCount", 0) == 0


def test_an_xgboost_model_file_of_any_name_deploys(stack, hosting, lambda_context):
    """aws/sagemaker-xgboost-container@f7a93a2 (1.7-1) algorithm_mode/serve_utils.py get_loaded_booster loads
    every top-level file that is not a dotfile, whatever its name; a nested file is not read."""
    archive = tar_gz({"churn.bst": b"\x80\x04pickled", "._churn.bst": b"\x00\x05\x16\x07", "docs/README": b"hi"})
    out = one(deploy(drop(stack, "churn", {"algorithm": "xgboost"}, archive=archive), lambda_context))
    assert out["status"] == "in_service", out
    assert stack.registry_item("churn", f"JOB#{out['job']}")["archive_files"] == [
        "churn.bst",
        "._churn.bst",
        "docs/README",
    ]


def test_a_missing_archive_says_to_upload_it_first(stack, hosting, lambda_context):
    out = one(deploy(drop(stack, "churn", {"algorithm": "xgboost"}), lambda_context))
    assert out["status"] == "rejected"
    assert f"s3://{stack.data_bucket}/churn/model.tar.gz: does not exist" in out["message"]
    assert "upload the trained model as model.tar.gz into the same folder first, then deploy.json" in out["message"]
    assert hosting.models() == []


def test_seq2seq_without_vocab_in_the_archive_is_rejected_and_vocab_beside_it_is_named(stack, hosting, lambda_context):
    out = one(
        deploy(drop(stack, "churn", {"algorithm": "seq2seq"}, archive=seq2seq_archive(vocab=False)), lambda_context)
    )
    assert out["status"] == "rejected"
    assert "holds no file named vocab.src*.json at its top level" in out["message"]
    assert "holds no file named vocab.trg*.json at its top level" in out["message"]
    assert "it holds: params.best, config, symbol.json" in out["message"]

    # The walkthrough downloads vocab.src.json and vocab.trg.json next to model.tar.gz: say where they must go.
    stack.put("churn/vocab.src.json", b"{}")
    stack.put("churn/vocab.trg.json", b"{}")
    out = one(deploy(drop(stack, "churn", {"algorithm": "seq2seq"}, when=T2), lambda_context))
    assert out["status"] == "rejected"
    assert (
        "holds no vocab.src*.json: vocab.src.json lies beside model.tar.gz in the folder, but the container reads it "
        "from inside the archive" in out["message"]
    )
    assert "vocab.trg.json lies beside model.tar.gz" in out["message"]
    assert "vocab" in stack.registry_item("churn")["last_error"]
    assert hosting.models() == []


def test_every_deploy_json_problem_is_reported_at_once(stack, hosting, lambda_context):
    manifest = {
        "algorithm": "seq2seq",
        "training": {"instance_type": "ml.p3.2xlarge"},
        "deploy": {"serverless": True, "gate": {"metric": "validation:bleu", "min": 0.2}},
        "lables": ["a"],
    }
    out = one(deploy(drop(stack, "churn", manifest, archive=seq2seq_archive()), lambda_context))
    assert out["status"] == "rejected"
    message = out["message"]
    assert message.startswith(f"invalid manifest in s3://{stack.data_bucket}/churn/deploy.json: 4 problems")
    assert "$.training: deploy.json deploys a model that is already trained" in message
    assert "$.lables: unknown field 'lables' (did you mean 'labels'?)" in message
    assert "$.deploy.gate: a model trained elsewhere has no training metrics to compare" in message
    assert "$.deploy.serverless: seq2seq cannot be served serverless (no AWS documentation" in message
    assert hosting.models() == []


def test_labels_must_match_the_classes_the_hyperparameters_say(stack, hosting, lambda_context):
    manifest = {"algorithm": "xgboost", "hyperparameters": SOFTMAX, "labels": ["a", "b"], "deploy": False}
    out = one(deploy(drop(stack, "churn", manifest, archive=xgboost_archive()), lambda_context))
    assert "$.labels: 2 labels for a model with 3 classes" in out["message"]
    assert "$.deploy: deploy.json exists to deploy the model, deploy: false would do nothing" in out["message"]


def test_other_files_are_ignored(stack, hosting, lambda_context):
    event = drop(stack, "churn", {"algorithm": "xgboost"}, archive=xgboost_archive())
    event["Records"][0]["s3"]["object"]["key"] = "churn/old-deploy.json"
    assert one(deploy(event, lambda_context))["status"] == "ignored"
    assert stack.registry_item("churn") is None


# ------------------------------------------------------------------ a new drop updates the endpoint


def test_a_new_drop_updates_a_model_in_service_and_an_older_one_arriving_late_is_superseded(
    stack, hosting, lambda_context
):
    first = one(deploy(drop(stack, "churn", {"algorithm": "xgboost"}, archive=xgboost_archive(b"v1")), lambda_context))
    assert first["status"] == "in_service"
    stack.notifications()

    late_event = drop(stack, "churn", {"algorithm": "xgboost"}, archive=xgboost_archive(b"v0"), when=T0)
    second = one(
        deploy(drop(stack, "churn", {"algorithm": "xgboost"}, archive=xgboost_archive(b"v2"), when=T2), lambda_context)
    )
    assert second["status"] == "deploying"
    assert hosting.update_calls == [("churn", second["job"])]
    assert stack.registry_item("churn")["status"] == "deploying"
    assert artifact_bytes(stack, second["job"]) == xgboost_archive(b"v2")
    assert artifact_bytes(stack, first["job"]) == xgboost_archive(b"v1")  # the old release keeps its bytes

    hosting.finish_update("churn")
    settled = deploy(hosting.endpoint_event("churn"), lambda_context)
    assert (settled["status"], settled["job"]) == ("in_service", second["job"])
    item = stack.registry_item("churn")
    assert (item["status"], item["serving_job"]) == ("in_service", second["job"])
    assert [n["subject"] for n in stack.notifications()] == ["[sagedrop] churn: new model in service"]

    # A drop made before the one in service, delivered late, never rolls it back.
    late = one(deploy(late_event, lambda_context))
    assert late["status"] == "superseded"
    assert hosting.live_config("churn") == second["job"]
    assert stack.registry_item("churn")["serving_job"] == second["job"]


def test_a_pretrained_drop_replaces_a_trained_model_in_service(stack, hosting, lambda_context):
    job = train(stack, lambda_context, {"algorithm": "xgboost", "hyperparameters": {"num_round": 5}}, when=T1)
    hosting.set_job(job, metrics={"validation:rmse": 0.4})
    assert deploy(hosting.training_event(job), lambda_context)["status"] == "in_service"

    out = one(
        deploy(drop(stack, "churn", {"algorithm": "xgboost"}, archive=xgboost_archive(), when=T2), lambda_context)
    )
    assert out["status"] == "deploying"
    assert hosting.update_calls == [("churn", out["job"])]
    hosting.finish_update("churn")
    assert deploy(hosting.endpoint_event("churn"), lambda_context)["job"] == out["job"]
    item = stack.registry_item("churn")
    assert (item["serving_job"], item["metrics"]) == (out["job"], {})


def test_a_serverless_drop_over_an_instance_endpoint_replaces_it_and_says_so(stack, hosting, lambda_context):
    """https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html ("Feature exclusions"): an
    instance-based endpoint cannot be updated to serverless, and serverless models exclude network isolation."""
    first = one(deploy(drop(stack, "churn", {"algorithm": "xgboost"}, archive=xgboost_archive()), lambda_context))
    assert first["status"] == "in_service"
    stack.notifications()
    serverless = {"algorithm": "xgboost", "deploy": {"serverless": {"memory_mb": 2048, "max_concurrency": 2}}}
    out = one(deploy(drop(stack, "churn", serverless, archive=xgboost_archive(b"2"), when=T2), lambda_context))
    assert out["status"] == "in_service" and out["job"] != first["job"]
    assert hosting.update_calls == []
    assert hosting.create_calls == [("churn", first["job"]), ("churn", out["job"])]
    assert stack.sagemaker.describe_model(ModelName=out["job"])["EnableNetworkIsolation"] is False
    assert stack.sagemaker.describe_model(ModelName=first["job"])["EnableNetworkIsolation"] is True
    subjects = [n["subject"] for n in stack.notifications()]
    assert subjects == [
        "[sagedrop] churn: endpoint replaced, predictions paused",
        "[sagedrop] churn: new model in service",
    ]


def test_a_rejected_drop_leaves_the_model_in_service_serving(stack, hosting, lambda_context):
    assert (
        one(deploy(drop(stack, "churn", {"algorithm": "xgboost"}, archive=xgboost_archive()), lambda_context))["status"]
        == "in_service"
    )
    out = one(deploy(drop(stack, "churn", {"algorithm": "xgboost"}, archive=b"oops", when=T2), lambda_context))
    assert out["status"] == "rejected"
    item = stack.registry_item("churn")
    assert item["status"] == "in_service"
    assert "is not gzip-compressed" in item["last_error"]


def test_throttling_is_raised_so_lambda_retries_and_the_retry_finishes(stack, hosting, lambda_context):
    from botocore.exceptions import ClientError

    app = load_function("deploy")
    real = boto3.client("s3", region_name=REGION)

    class Throttled:
        calls = 0

        def copy_object(self, **kwargs):
            Throttled.calls += 1
            if Throttled.calls == 1:
                error = {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}
                raise ClientError(error, "CopyObject")
            return real.copy_object(**kwargs)

        def __getattr__(self, name):
            return getattr(real, name)

    app.clients.set("s3", Throttled())
    event = drop(stack, "churn", {"algorithm": "xgboost"}, archive=xgboost_archive())
    with pytest.raises(ClientError):
        app.handler(event, lambda_context)
    assert Throttled.calls == 1
    assert stack.registry_item("churn", f"JOB#{release_of(stack, event)}") is None
    assert one(app.handler(event, lambda_context))["status"] == "in_service"  # Lambda's retry
    assert Throttled.calls == 2


# ------------------------------------------------------------------ stop and start


@pytest.fixture
def predict(stack, monkeypatch):
    return load_function("predict")


def action(predict, model: str, verb: str, context) -> tuple[int, dict[str, Any]]:
    event = copy.deepcopy(load_event("predict", "get-model.json"))
    event.update({"resource": f"/models/{{model}}/{verb}", "path": f"/models/{model}/{verb}", "httpMethod": "POST"})
    event["pathParameters"] = {"model": model}
    event["requestContext"].update(
        {"resourcePath": f"/models/{{model}}/{verb}", "httpMethod": "POST", "path": f"/v1/models/{model}/{verb}"}
    )
    response = predict.handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def test_stop_and_start_round_trip(stack, hosting, predict, lambda_context):
    out = one(deploy(drop(stack, "churn", {"algorithm": "xgboost"}, archive=xgboost_archive()), lambda_context))
    release = out["job"]
    autoscaling = boto3.client("application-autoscaling", region_name=REGION)
    resource_id = "endpoint/churn/variant/AllTraffic"
    autoscaling.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=resource_id,
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=2,
    )

    status, body = action(predict, "churn", "stop", lambda_context)
    assert status == 200
    assert (body["model"], body["status"], body["endpoint"]) == ("churn", "hibernated", "churn")
    assert body["message"] == (
        "model churn is stopped: endpoint churn was deleted, its endpoint config and model are kept; "
        "POST /models/churn/start or a prediction wakes it"
    )
    assert body["hibernated_at"]
    assert "churn" not in [e["EndpointName"] for e in stack.sagemaker.list_endpoints()["Endpoints"]]
    assert hosting.configs() == [release] and hosting.models() == [release]
    assert autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    item = stack.registry_item("churn")
    assert item["status"] == "hibernated"
    assert item["hibernated_reason"] == "stopped by request (POST /models/churn/stop)"

    status, body = action(predict, "churn", "stop", lambda_context)  # idempotent
    assert status == 200 and body["status"] == "hibernated"
    assert body["message"].startswith("model churn is already stopped (since ")

    status, body = action(predict, "churn", "start", lambda_context)
    assert status == 202
    assert (body["status"], body["endpoint"]) == ("waking", "churn")
    assert body["message"].startswith("model churn is waking up now: endpoint churn is being created")
    assert hosting.create_calls[-1] == ("churn", release)
    tags = hosting.tags(stack.sagemaker.describe_endpoint(EndpointName="churn")["EndpointArn"])
    assert (tags["sagedrop:stack"], tags["sagedrop:model"]) == (stack.name, "churn")
    assert stack.registry_item("churn")["woken_reason"] == "start requested"

    # moto's endpoint is InService at once; the deploy function's event (or the next call) records it.
    status, body = action(predict, "churn", "start", lambda_context)
    assert (status, body["status"], body["message"]) == (200, "in_service", "model churn is running")
    assert stack.registry_item("churn")["status"] == "in_service"
    status, body = action(predict, "churn", "start", lambda_context)
    assert status == 200 and body["message"] == "model churn is already running (endpoint churn is InService)"
    assert len(hosting.create_calls) == 2  # the first deploy and the one start


def test_start_answers_202_while_another_wake_is_on_its_way(stack, hosting, predict, lambda_context):
    one(deploy(drop(stack, "churn", {"algorithm": "xgboost"}, archive=xgboost_archive()), lambda_context))
    assert action(predict, "churn", "stop", lambda_context)[0] == 200
    hosting.slow_create = True
    assert action(predict, "churn", "start", lambda_context)[0] == 202
    status, body = action(predict, "churn", "start", lambda_context)
    assert status == 202
    assert body["message"].startswith("model churn is already waking up (since ")
    assert len(hosting.create_calls) == 2
    status, body = action(predict, "churn", "stop", lambda_context)
    assert (status, body["error"]["code"]) == (409, "busy")
    assert "it is waking up" in body["error"]["message"]


def test_stop_and_start_of_an_unknown_model_are_404(stack, predict, lambda_context):
    for verb in ("stop", "start"):
        status, body = action(predict, "nobody", verb, lambda_context)
        assert (status, body["error"]["code"]) == (404, "model_not_found")
        assert "no model named 'nobody'" in body["error"]["message"]


def test_a_model_that_was_never_deployed_cannot_be_stopped_or_started(stack, hosting, predict, lambda_context):
    one(deploy(drop(stack, "churn", {"algorithm": "xgboost"}, archive=b"not an archive"), lambda_context))
    status, body = action(predict, "churn", "stop", lambda_context)
    assert (status, body["error"]["code"]) == (409, "not_deployed")
    assert body["error"]["message"] == (
        "model churn has no endpoint to stop (status rejected): nothing was deployed yet"
    )
    status, body = action(predict, "churn", "start", lambda_context)
    assert (status, body["error"]["code"]) == (409, "not_deployed")
    assert "model churn was never deployed, so there is nothing to start (status rejected)" in body["error"]["message"]


def test_stop_while_a_new_model_rolls_out_is_409_busy(stack, hosting, predict, lambda_context):
    one(deploy(drop(stack, "churn", {"algorithm": "xgboost"}, archive=xgboost_archive(b"1")), lambda_context))
    one(deploy(drop(stack, "churn", {"algorithm": "xgboost"}, archive=xgboost_archive(b"2"), when=T2), lambda_context))
    status, body = action(predict, "churn", "stop", lambda_context)
    assert (status, body["error"]["code"]) == (409, "busy")
    assert "a new model is being deployed to it (endpoint churn)" in body["error"]["message"]
    assert stack.sagemaker.describe_endpoint(EndpointName="churn")["EndpointStatus"] == "Updating"


def test_start_recreates_an_endpoint_deleted_behind_the_registrys_back(stack, hosting, predict, lambda_context):
    out = one(deploy(drop(stack, "churn", {"algorithm": "xgboost"}, archive=xgboost_archive()), lambda_context))
    stack.sagemaker.delete_endpoint(EndpointName="churn")
    status, body = action(predict, "churn", "start", lambda_context)
    assert (status, body["status"]) == (202, "waking")
    assert hosting.create_calls[-1] == ("churn", out["job"])


def test_the_deploy_json_event_sample_is_what_s3_sends():
    event = load_event("deploy", "s3-put-deploy-json.json")
    record = event["Records"][0]
    assert record["eventSource"] == "aws:s3" and record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["object"]["key"].endswith("/deploy.json")
    assert datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00")).tzinfo == UTC
