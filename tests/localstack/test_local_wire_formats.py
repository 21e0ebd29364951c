"""InvokeEndpoint on the local stack with the bodies the SageMaker Python SDK's predictors send.

The SDK is not a dependency here: its ``RecordSerializer`` writes ``write_numpy_to_dense_tensor``
records, which the project's ``recordio.encode_dense`` reproduces byte for byte
(tests/data/recordio, made with the SDK's writer), and its ``RecordDeserializer`` reads the
records that ``recordio.read_records`` decodes. ``LinearLearnerPredictor`` sends
application/x-recordio-protobuf with that Accept (sagemaker-python-sdk
``src/sagemaker/amazon/linear_learner.py``); a plain ``Predictor`` sends Accept ``*/*``.

Before the fix moto decoded every request body as UTF-8, so a RecordIO body (bytes such as 0xd7)
ended in an HTTP 500 page from the emulator. Errors must be the container's, as InvokeEndpoint's
``ModelError`` with ``OriginalStatusCode`` (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html).
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sagedrop import recordio
from sagedrop.algorithms import get
from sagedrop_local import algorithms
from sagedrop_local.stack import LocalStack

pytestmark = [pytest.mark.localstack, pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]

PROTOBUF = "application/x-recordio-protobuf"
ROWS = np.random.default_rng(0).normal(size=(120, 3))
LABELS = (ROWS[:, 0] > 0).astype(int)


def archive(tmp: Path, algorithm: str, hyperparameters: dict[str, str]) -> bytes:
    data = tmp / algorithm / "train"
    data.mkdir(parents=True)
    table = np.column_stack([LABELS, ROWS])
    (data / "t.csv").write_text("\n".join(",".join(f"{v:.5f}" for v in row) for row in table) + "\n")
    model_dir = tmp / algorithm / "model"
    algorithms.train(algorithm, hyperparameters, {"train": data}, {"train": "text/csv"}, model_dir, log=lambda _: None)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in model_dir.iterdir():
            tar.add(path, arcname=path.name)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Any:
    tmp = tmp_path_factory.mktemp("wire")
    local = LocalStack(stack="sagedrop-wire", api_port=None, endpoint_delay=0.1, log=lambda _: None).start()
    try:
        s3, sagemaker = local.client("s3"), local.client("sagemaker")
        models = {
            "linear-learner": ({"predictor_type": "binary_classifier", "epochs": "3"}, "1"),
            "xgboost": ({"num_round": "5", "objective": "binary:logistic"}, "1.7-1"),
        }
        for algorithm, (hyperparameters, tag) in models.items():
            body = archive(tmp, algorithm, hyperparameters)
            s3.put_object(Bucket=local.data_bucket, Key=f"m/{algorithm}.tar.gz", Body=body)
            sagemaker.create_model(
                ModelName=algorithm,
                PrimaryContainer={
                    "Image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{get(algorithm).repository}:{tag}",
                    "ModelDataUrl": f"s3://{local.data_bucket}/m/{algorithm}.tar.gz",
                },
                ExecutionRoleArn="arn:aws:iam::123456789012:role/local",
            )
            variant = {"VariantName": "v", "ModelName": algorithm, "InitialInstanceCount": 1}
            variant["InstanceType"] = "ml.m5.large"
            sagemaker.create_endpoint_config(EndpointConfigName=algorithm, ProductionVariants=[variant])
            sagemaker.create_endpoint(EndpointName=algorithm, EndpointConfigName=algorithm)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = {sagemaker.describe_endpoint(EndpointName=a)["EndpointStatus"] for a in models}
            if states == {"InService"}:
                break
            time.sleep(0.1)
        yield local
    finally:
        local.stop()


def invoke(stack: Any, endpoint: str, body: bytes, content_type: str, accept: str | None = None) -> Any:
    extra = {"Accept": accept} if accept else {}
    return stack.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, Body=body, ContentType=content_type, **extra
    )


def model_error(stack: Any, endpoint: str, body: bytes, content_type: str, accept: str | None = None) -> tuple:
    runtime = stack.client("sagemaker-runtime")
    with pytest.raises(runtime.exceptions.ModelError) as failure:
        invoke(stack, endpoint, body, content_type, accept)
    response = failure.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    return response["OriginalStatusCode"], response["OriginalMessage"]


def test_linear_learner_answers_the_sdks_recordio_predictor(stack) -> None:
    """LL-in-formats.html "RECORDIO response formats": label map with float32 ``score`` and ``predicted_label``."""
    answer = invoke(stack, "linear-learner", recordio.encode_dense(ROWS[:4].astype(np.float32)), PROTOBUF, PROTOBUF)
    assert answer["ContentType"] == PROTOBUF
    records = list(recordio.read_records(answer["Body"].read()))
    assert len(records) == 4
    for record in records:
        assert record.features == {} and set(record.label) == {"score", "predicted_label"}
        assert record.label["score"].dtype == "float32" and record.label["predicted_label"].dtype == "float32"
        assert record.label["predicted_label"].values.tolist() in ([0.0], [1.0])
    dense = recordio.encode_dense(ROWS[:4])
    as_json = json.loads(invoke(stack, "linear-learner", dense, PROTOBUF, "application/json")["Body"].read())
    assert [p["predicted_label"] for p in as_json["predictions"]] == [
        int(r.label["predicted_label"].values[0]) for r in records
    ]


def test_xgboost_answers_the_sdks_record_serializer_with_one_value_per_line(stack) -> None:
    """serve.py: Accept ``*/*`` means text/csv; sagemaker-containers array_to_csv writes one value per line."""
    answer = invoke(stack, "xgboost", recordio.encode_dense(ROWS[:3].astype(np.float32)), PROTOBUF, "*/*")
    assert answer["ContentType"] == "text/csv"
    text = answer["Body"].read().decode()
    assert text.endswith("\n") and len(text.splitlines()) == 3 and "," not in text


def test_errors_are_model_errors_with_the_containers_status(stack) -> None:
    """serve.py invocations: 415 content type or parse, 400 prediction, 406 Accept, 500 an unencodable Accept."""
    rows = b"0.1,0.2,0.3"
    assert model_error(stack, "xgboost", rows, "application/json")[0] == 415
    assert model_error(stack, "xgboost", b"1,2\n1", "text/csv")[0] == 415
    assert model_error(stack, "xgboost", b"1,2,3,4,5,6", "text/csv")[0] == 400
    assert model_error(stack, "xgboost", rows, "text/csv", "image/png")[0] == 406
    status, message = model_error(stack, "xgboost", rows, "text/csv", "application/jsonlines")
    assert status == 500 and "SAGEMAKER_INFERENCE_OUTPUT" in message
    assert model_error(stack, "linear-learner", b"\xff\xfe", "image/png")[0] == 415
    assert model_error(stack, "linear-learner", rows, "text/csv", "image/png")[0] == 406
