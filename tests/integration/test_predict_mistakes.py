"""A client's mistakes on the prediction API are 4xx answers that say what to fix (moto).

Sources of the container behaviour used here: aws/sagemaker-xgboost-container, branch 1.7-1, commit
f7a93a21e50e44b4077f0889a7f676cad8c226f3: ``algorithm_mode/serve.py`` answers a body it cannot parse
415 (``str(e)`` of ``parse_content_data``) and a failed prediction 400 ("Unable to evaluate payload
provided: ..."); ``algorithm_mode/serve_utils.py`` reads libsvm indices as 0-based column positions.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from sagedrop.registry import JOB_PREFIX, Registry
from tests.conftest import load_function
from tests.integration.test_predict_function import call, error_of, instances, post
from tests.support.runtime_moto import Answer, Endpoints, model_error, serve_model, tiny_jpeg

XGB = {"objective": "reg:squarederror", "num_round": "5"}


@pytest.fixture
def predict(stack: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PREDICT_MAX_ATTEMPTS", "1")
    return load_function("predict")


@pytest.fixture
def endpoints(monkeypatch: pytest.MonkeyPatch) -> Endpoints:
    return Endpoints().install(monkeypatch)


def xgboost_seen_with(stack: Any, name: str, features: int) -> None:
    """An xgboost model whose train function saw ``features`` columns after the label (job record)."""
    serve_model(stack, name, "xgboost", hyperparameters=XGB)
    Registry(stack.table, stack.clients["dynamodb"]).update(
        name, {"feature_count": features}, record=f"{JOB_PREFIX}{name}-20261126-101530-abc123"
    )


# ------------------------------------------------------------------ the feature count from the data


def test_a_row_of_another_width_is_400_naming_both_numbers_before_the_endpoint(
    stack, predict, endpoints, lambda_context
):
    """Before: the container answered 400 "Feature size of csv inference data 5 is not consistent with
    feature size of trained model 4." and the API 502. Now the width is checked against the count the
    train function saw, for JSON rows, CSV and libsvm, and nothing is sent."""
    xgboost_seen_with(stack, "four", 4)
    status, _, body = call(predict, instances("four", [[1, 2, 3, 4, 5]]), lambda_context)
    assert (status, error_of(body)[0]) == (400, "invalid_request")
    assert "$.instances[0]: has 5 values, the model takes 4 features" in body["error"]["message"]

    status, _, body = call(predict, post("four", "1,2,3,4\n1,2,3\n", "text/csv"), lambda_context)
    assert status == 400
    assert "text/csv body line 2 (byte 8): has 3 values, the model takes 4 features" in body["error"]["message"]

    status, _, body = call(predict, post("four", "1:0.5 2:1.2 4:1\n", "text/libsvm"), lambda_context)
    assert status == 400
    assert "index 4 is out of range: the model takes 4 features, indices 0 to 3" in body["error"]["message"]
    assert "libsvm indices count from 0" in body["error"]["message"]
    assert endpoints.calls == []

    endpoints.answer("four", lambda c: Answer("1.5", "text/csv"))
    status, _, body = call(predict, post("four", "0:0.5 1:1.2 3:1\n", "text/libsvm"), lambda_context)
    assert (status, body["predictions"]) == (200, [{"score": 1.5}])


def test_ragged_rows_are_400_even_without_a_known_feature_count(stack, predict, endpoints, lambda_context):
    serve_model(stack, "xg", "xgboost", hyperparameters=XGB)
    status, _, body = call(predict, instances("xg", [[1, 2, 3], [1, 2]]), lambda_context)
    assert status == 400
    assert "$.instances[1]: has 2 values, the first row has 3" in body["error"]["message"]
    assert endpoints.calls == []


# ------------------------------------------------------------------ model errors: whose mistake


RAGGED_415 = (
    "Loading csv data failed with Exception, please ensure data is in csv format:\n <class 'ValueError'>\n "
    "setting an array element with a sequence. The requested array has an inhomogeneous shape after 1 "
    "dimensions. The detected shape was (2,) + inhomogeneous part."
)


@pytest.mark.parametrize(
    ("original", "text", "expected"),
    [
        (
            415,
            RAGGED_415,
            (
                400,
                "rejected_by_model",
                "the model refused the request: status 415: Loading csv data failed with Exception, please ensure "
                "data is in csv format: setting an array element with a sequence.",
            ),
        ),
        (
            400,
            "Unable to evaluate payload provided: Feature size of csv inference data 5 is not consistent with "
            "feature size of trained model 4.",
            (400, "rejected_by_model", "status 400: Unable to evaluate payload provided: Feature size of csv"),
        ),
        (
            400,
            "Unable to evaluate payload provided: xgboost.core.XGBoostError: [10:23:11] ../src/learner.cc:1470: "
            "Check failed: num_feature == 4",
            (400, "rejected_by_model", "status 400: Unable to evaluate payload provided: Check failed: num_feature"),
        ),
        (406, "Accept type application/x-foo is not supported", (502, "model_error", "(status 406)")),
        (
            500,
            "Unable to load model: <class 'OSError'> gone",
            (502, "model_error", "(status 500): Unable to load model"),
        ),
    ],
)
def test_a_model_error_is_400_when_the_request_caused_it(
    original, text, expected, stack, predict, endpoints, lambda_context
):
    """ModelError carries OriginalStatusCode and OriginalMessage (botocore sagemaker-runtime model: ModelError).
    A 4xx means the container refused the request: 400 with its message cleaned; 406 (the Accept sagedrop
    chose) and 5xx are the model's side: 502."""
    serve_model(stack, "xg", "xgboost", hyperparameters=XGB)
    endpoints.answer("xg", lambda c: model_error(original, text))
    status, _, body = call(predict, instances("xg", [[1, 2]]), lambda_context)
    code, message = error_of(body)
    assert (status, code) == expected[:2], message
    assert expected[2] in message
    for internal in ("<class", "xgboost.core", "XGBoostError", "learner.cc", "\n"):
        assert internal not in message


# ------------------------------------------------------------------ bodies


def test_text_that_was_not_utf8_is_400_with_the_byte_offset(stack, predict, endpoints, lambda_context):
    """API Gateway hands a text body to Lambda as a string: bytes that were not UTF-8 arrive as U+FFFD.
    BlazingText sent them on as words before."""
    serve_model(stack, "bt", "blazingtext", hyperparameters={"mode": "supervised"})
    status, _, body = call(predict, post("bt", "good movie\nbad \ufffd film\n", "text/plain"), lambda_context)
    assert (status, error_of(body)[0]) == (400, "invalid_request")
    assert "the body: byte 15 is not valid UTF-8" in body["error"]["message"]
    status, _, body = call(predict, post("bt", b'{"instances": ["caf\xe9"]}', "application/json"), lambda_context)
    assert status == 400
    assert "byte 19 (0xe9) is not valid UTF-8" in body["error"]["message"]
    assert endpoints.calls == []


def test_an_image_over_the_base64_limit_is_413_naming_it(stack, predict, endpoints, lambda_context):
    """API Gateway base64-encodes binary media types into the event (4 bytes for 3): 4,700,160 bytes of
    image fit in Lambda's 6,291,456-byte event with 24 KiB for the rest (sagedrop.api)."""
    serve_model(
        stack, "pets", "image-classification", hyperparameters={"num_classes": "3", "num_training_samples": "9"}
    )
    endpoints.answer("pets", lambda c: Answer("[0.2, 0.5, 0.3]"))
    image = tiny_jpeg()
    fits = image + b"\x00" * (4_700_160 - len(image))
    assert call(predict, post("pets", fits, "image/jpeg"), lambda_context)[0] == 200
    status, _, body = call(predict, post("pets", fits + b"\x00", "image/jpeg"), lambda_context)
    assert (status, error_of(body)[0]) == (413, "payload_too_large")
    assert "at most 4,700,160 bytes fit" in body["error"]["message"]
    assert len(base64.b64encode(fits)) <= 6_291_456 - 24 * 1024
