"""The predict function on moto: API Gateway proxy events from events/predict in, the API's answers out.

Endpoint answers are shaped like each algorithm's documented response. Round trips use moto's own
queue of canned answers (moto caches an answer by request body, so two models sent the same body get
the same answer); computed answers, binary bodies and SageMaker's errors go through
tests/support/runtime_moto.Endpoints, behind the real botocore client either way.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError

from tests.conftest import load_event, load_function
from tests.support.runtime_moto import (
    NOT_READY,
    THROTTLED,
    Answer,
    Call,
    Endpoints,
    model_error,
    queue_answers,
    sequence,
    serve_model,
    tiny_jpeg,
    tiny_png,
)

XGB_SOFTMAX = {"objective": "multi:softmax", "num_class": "4", "num_round": "50"}
LL_MULTICLASS = {"predictor_type": "multiclass_classifier", "num_classes": "4", "feature_dim": "11"}
LL_BINARY = {"predictor_type": "binary_classifier", "feature_dim": "11"}
BIG_MART_LABELS = ["low", "medium", "high", "very high"]


@pytest.fixture
def predict(stack: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The predict function, freshly imported (no cached clients or registry entries)."""
    monkeypatch.setenv("PREDICT_MAX_ATTEMPTS", "1")  # SageMaker's errors surface at once (no backoff sleeps)
    return load_function("predict")


@pytest.fixture
def endpoints(monkeypatch: pytest.MonkeyPatch) -> Endpoints:
    return Endpoints().install(monkeypatch)


def call(fn: Any, event: dict[str, Any], context: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
    response = fn.handler(event, context)
    headers = {k: v[0] for k, v in (response.get("multiValueHeaders") or {}).items()}
    headers.update(response.get("headers") or {})
    return response["statusCode"], headers, json.loads(response["body"])


def post(model: str, body: str | bytes, content_type: str, *, query: dict[str, str] | None = None) -> dict[str, Any]:
    """The sample JSON prediction event, re-aimed at ``model`` with another body."""
    event = copy.deepcopy(load_event("predict", "post-predictions-json.json"))
    event["path"] = f"/models/{model}/predictions"
    event["requestContext"]["path"] = f"/v1/models/{model}/predictions"
    event["pathParameters"] = {"model": model}
    binary = isinstance(body, bytes)
    event["body"] = base64.b64encode(body).decode() if binary else body
    event["isBase64Encoded"] = binary
    event["headers"]["Content-Type"] = content_type
    event["multiValueHeaders"]["Content-Type"] = [content_type]
    size = str(len(body) if binary else len(body.encode()))
    event["headers"]["Content-Length"] = size
    event["multiValueHeaders"]["Content-Length"] = [size]
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    return event


def instances(model: str, rows: list[Any], **extra: Any) -> dict[str, Any]:
    return post(model, json.dumps({"instances": rows, **extra}), "application/json")


def error_of(body: dict[str, Any]) -> tuple[str, str]:
    return body["error"]["code"], body["error"]["message"]


# ------------------------------------------------------------------ round trips, one per algorithm


def test_xgboost_softmax_csv_event_names_classes_and_without_labels_gives_indices(stack, predict, lambda_context):
    serve_model(stack, "churn", "xgboost", hyperparameters=XGB_SOFTMAX, labels=["A", "B", "C", "D"])
    serve_model(stack, "churn-raw", "xgboost", hyperparameters=XGB_SOFTMAX)
    queue_answers(("2.0,0.0,3.0", "text/csv"))  # what the container writes for three rows

    status, headers, body = call(predict, load_event("predict", "post-predictions-csv.json"), lambda_context)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert body == {
        "model": "churn",
        "endpoint": "churn",
        "algorithm": "xgboost",
        "predictions": [
            {"predicted_label": 2, "label": "C"},
            {"predicted_label": 0, "label": "A"},
            {"predicted_label": 3, "label": "D"},
        ],
    }

    # The same CSV body to the model without labels: moto answers from its cache (same body).
    event = load_event("predict", "post-predictions-csv.json")
    status, _, body = call(predict, post("churn-raw", event["body"], "text/csv"), lambda_context)
    assert status == 200
    assert body["predictions"] == [{"predicted_label": 2}, {"predicted_label": 0}, {"predicted_label": 3}]


def test_xgboost_binary_logistic_and_softprob(stack, predict, lambda_context):
    serve_model(
        stack,
        "fraud",
        "xgboost",
        hyperparameters={"objective": "binary:logistic", "num_round": "9"},
        labels=["ok", "fraud"],
    )
    serve_model(
        stack, "tri", "xgboost", hyperparameters={"objective": "multi:softprob", "num_class": "3", "num_round": "9"}
    )
    queue_answers(("0.87,0.12", "text/csv"), ("[0.1, 0.2, 0.7],[0.5, 0.3, 0.2]", "text/csv"))

    status, _, body = call(predict, instances("fraud", [[1, 2.5, None], [0, 0.5, 3]]), lambda_context)
    assert status == 200
    assert body["predictions"] == [
        {"score": 0.87, "predicted_label": 1, "label": "fraud"},
        {"score": 0.12, "predicted_label": 0, "label": "ok"},
    ]
    status, _, body = call(predict, instances("tri", [[1, 2], [3, 4]]), lambda_context)
    assert body["predictions"] == [
        {"score": [0.1, 0.2, 0.7], "predicted_label": 2},
        {"score": [0.5, 0.3, 0.2], "predicted_label": 0},
    ]


def test_linear_learner_json_event_multiclass_with_labels(stack, predict, lambda_context):
    serve_model(
        stack, "big-mart", "linear-learner", hyperparameters=LL_MULTICLASS, labels=BIG_MART_LABELS, feature_dim=11
    )
    answer = {
        "predictions": [
            {"score": [0.1, 0.2, 0.6, 0.1], "predicted_label": 2.0},
            {"score": [0.7, 0.1, 0.1, 0.1], "predicted_label": 0.0},
        ]
    }
    queue_answers((json.dumps(answer), "application/json"))
    status, _, body = call(predict, load_event("predict", "post-predictions-json.json"), lambda_context)
    assert status == 200
    assert body["predictions"] == [
        {"score": [0.1, 0.2, 0.6, 0.1], "predicted_label": 2, "label": "high"},
        {"score": [0.7, 0.1, 0.1, 0.1], "predicted_label": 0, "label": "low"},
    ]


def test_linear_learner_binary_without_labels_and_regressor(stack, predict, lambda_context):
    serve_model(stack, "churn-ll", "linear-learner", hyperparameters=LL_BINARY, feature_dim=3)
    serve_model(stack, "price", "linear-learner", hyperparameters={"predictor_type": "regressor"}, feature_dim=3)
    queue_answers(
        (json.dumps({"predictions": [{"score": 0.4, "predicted_label": 0}]}), "application/json"),
        (json.dumps({"predictions": [{"score": 231.5}]}), "application/json"),
    )
    status, _, body = call(predict, instances("churn-ll", [[1, 2, 3]]), lambda_context)
    assert (status, body["predictions"]) == (200, [{"score": 0.4, "predicted_label": 0}])
    status, _, body = call(predict, instances("price", [[3, 2, 1]]), lambda_context)
    assert (status, body["predictions"]) == (200, [{"score": 231.5}])


def test_blazingtext_word_vectors_and_supervised_top_k(stack, predict, lambda_context):
    serve_model(stack, "text8", "blazingtext", hyperparameters={"mode": "batch_skipgram"})
    serve_model(
        stack, "dbpedia", "blazingtext", hyperparameters={"mode": "supervised"}, labels=["Company", "School", "Artist"]
    )
    queue_answers(
        (
            json.dumps(
                [{"vector": [0.1, -0.2, 0.3], "word": "awesome"}, {"vector": [0.0, 0.5, -0.1], "word": "awful"}]
            ),
            "application/json",
        ),
        (json.dumps([{"label": ["__label__1", "__label__2"], "prob": [0.92, 0.05]}]), "application/json"),
    )
    status, _, body = call(predict, instances("text8", ["awesome", "awful"]), lambda_context)
    assert status == 200
    assert body["predictions"] == [
        {"word": "awesome", "vector": [0.1, -0.2, 0.3]},
        {"word": "awful", "vector": [0.0, 0.5, -0.1]},
    ]
    event = instances("dbpedia", ["the school opened in 1901 in vienna"], configuration={"k": 2})
    status, _, body = call(predict, event, lambda_context)
    assert status == 200
    assert body["predictions"] == [
        {
            "predicted_label": 1,
            "label": "School",
            "probability": 0.92,
            "top": [
                {"predicted_label": 1, "label": "School", "probability": 0.92},
                {"predicted_label": 2, "label": "Artist", "probability": 0.05},
            ],
        }
    ]


def test_seq2seq_sentences(stack, predict, lambda_context):
    serve_model(stack, "en-de", "seq2seq", hyperparameters={"max_seq_len_source": "60"})
    queue_answers(
        (json.dumps({"predictions": [{"target": "ich bin hier"}, {"target": "guten morgen"}]}), "application/json")
    )
    status, _, body = call(predict, instances("en-de", ["i am here", {"data": "good morning"}]), lambda_context)
    assert status == 200
    assert body["predictions"] == [{"target": "ich bin hier"}, {"target": "guten morgen"}]


# ------------------------------------------------------------------ images


def test_image_event_binary_body_gives_top_classes(stack, predict, endpoints, lambda_context):
    serve_model(
        stack,
        "caltech",
        "image-classification",
        hyperparameters={"num_classes": "5", "num_training_samples": "100"},
        labels=["ant", "bee", "cat", "dog", "eel"],
    )
    endpoints.answer("caltech", lambda c: Answer(json.dumps([0.05, 0.6, 0.1, 0.2, 0.05])))
    status, _, body = call(predict, load_event("predict", "post-predictions-image.json"), lambda_context)
    assert status == 200
    assert [(c.body, c.content_type, c.accept) for c in endpoints.calls] == [
        (tiny_jpeg(), "image/jpeg", "application/json")
    ]
    (prediction,) = body["predictions"]
    assert prediction["predicted_label"] == 1
    assert prediction["label"] == "bee"
    assert prediction["probability"] == 0.6
    assert prediction["top"] == [  # the event asks ?top_k=3
        {"predicted_label": 1, "probability": 0.6, "label": "bee"},
        {"predicted_label": 3, "probability": 0.2, "label": "dog"},
        {"predicted_label": 2, "probability": 0.1, "label": "cat"},
    ]
    assert prediction["probabilities"] == [0.05, 0.6, 0.1, 0.2, 0.05]


def test_json_base64_images_one_call_each_in_order(stack, predict, endpoints, lambda_context):
    serve_model(
        stack, "pets", "image-classification", hyperparameters={"num_classes": "3", "num_training_samples": "9"}
    )
    images = [tiny_png(shade=s) for s in range(5)]

    def by_image(c: Call) -> Answer:
        index = images.index(c.body)
        probabilities = [0.0, 0.0, 0.0]
        probabilities[index % 3] = 1.0
        return Answer(json.dumps(probabilities))

    endpoints.answer("pets", by_image)
    status, _, body = call(predict, instances("pets", [base64.b64encode(i).decode() for i in images]), lambda_context)
    assert status == 200
    assert [p["predicted_label"] for p in body["predictions"]] == [0, 1, 2, 0, 1]
    assert sorted(c.body for c in endpoints.calls) == sorted(images)
    assert {c.content_type for c in endpoints.calls} == {"image/png"}


def test_image_that_is_not_an_image_is_400_naming_the_instance(stack, predict, endpoints, lambda_context):
    serve_model(
        stack, "pets", "image-classification", hyperparameters={"num_classes": "3", "num_training_samples": "9"}
    )
    status, _, body = call(predict, instances("pets", [base64.b64encode(b"GIF89a....").decode()]), lambda_context)
    assert status == 400
    code, message = error_of(body)
    assert code == "invalid_request"
    assert "$.instances[0]: is not a JPEG or PNG image" in message
    assert endpoints.calls == []


# ------------------------------------------------------------------ large requests


def test_ten_thousand_rows_are_chunked_concurrently_and_reassembled_in_order(stack, predict, endpoints, lambda_context):
    serve_model(stack, "big", "xgboost", hyperparameters={"objective": "reg:squarederror", "num_round": "5"})
    lock, active, peak = threading.Lock(), [0], [0]

    def echo_first_column(c: Call) -> Answer:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.01)  # long enough for calls to overlap
        with lock:
            active[0] -= 1
        rows = c.body.decode().split("\n")
        return Answer(",".join(row.split(",")[0] for row in rows), "text/csv")

    endpoints.answer("big", echo_first_column)
    csv = "\n".join(f"{i},{i % 7},{i % 3}.5" for i in range(10_000)) + "\n"
    status, _, body = call(predict, post("big", csv, "text/csv"), lambda_context)
    assert status == 200
    assert [p["score"] for p in body["predictions"]] == [float(i) for i in range(10_000)]
    assert len(endpoints.calls) == 20  # 500 rows per call (PREDICT_MAX_ROWS default)
    assert {c.body.count(b"\n") + 1 for c in endpoints.calls} == {500}
    assert 2 <= peak[0] <= 8  # concurrent, bounded by PREDICT_CONCURRENCY


def test_max_rows_setting_changes_the_chunks(stack, predict, endpoints, lambda_context, monkeypatch):
    monkeypatch.setenv("PREDICT_MAX_ROWS", "3")
    fn = load_function("predict")
    serve_model(stack, "small", "xgboost", hyperparameters={"num_round": "5"})
    endpoints.answer("small", lambda c: Answer(",".join("1" for _ in c.body.split(b"\n")), "text/csv"))
    status, _, body = call(fn, instances("small", [[i, 0] for i in range(7)]), lambda_context)
    assert status == 200
    assert [c.body.count(b"\n") + 1 for c in endpoints.calls] == [3, 3, 1] or sorted(
        c.body.count(b"\n") + 1 for c in endpoints.calls
    ) == [1, 3, 3]
    assert len(body["predictions"]) == 7


def test_a_5_mb_single_row_goes_in_one_call(stack, predict, endpoints, lambda_context):
    serve_model(stack, "wide", "xgboost", hyperparameters={"objective": "binary:logistic", "num_round": "5"})
    endpoints.answer("wide", lambda c: Answer("0.25", "text/csv"))
    row = ",".join(["0.123456"] * 556_000)  # 5,003,999 bytes
    assert 5_000_000 < len(row) < 6 * 1024 * 1024
    status, _, body = call(predict, post("wide", row, "text/csv"), lambda_context)
    assert status == 200
    assert body["predictions"] == [{"score": 0.25, "predicted_label": 0}]
    assert [len(c.body) for c in endpoints.calls] == [len(row)]


def test_a_5_mb_row_is_413_on_a_serverless_endpoint(stack, predict, endpoints, lambda_context):
    serve_model(stack, "wide-sls", "xgboost", hyperparameters={"num_round": "5"}, serverless=True)
    row = ",".join(["0.123456"] * 556_000)
    status, _, body = call(predict, post("wide-sls", row, "text/csv"), lambda_context)
    assert status == 413
    code, message = error_of(body)
    assert code == "payload_too_large"
    assert "data row 1 of the text/csv body is 5,003,999 bytes" in message
    assert "4,000,000 bytes (4 MB) limit" in message
    assert endpoints.calls == []


def test_a_body_over_lambdas_6_mb_is_413(stack, predict, lambda_context):
    serve_model(stack, "wide", "xgboost", hyperparameters={"num_round": "5"})
    status, _, body = call(predict, post("wide", "1," * 3_200_000, "text/csv"), lambda_context)
    assert status == 413
    message = body["error"]["message"]
    assert "over the 6,266,880 bytes that fit in Lambda's 6,291,456 bytes (6 MB) payload limit" in message
    assert "sagedrop predict --csv rows.csv" in message


def test_an_answer_over_lambdas_6_mb_is_413(stack, predict, endpoints, lambda_context):
    serve_model(stack, "vectors", "blazingtext", hyperparameters={"mode": "skipgram"})
    vector = [0.123456789] * 300

    def vectors(c: Call) -> Answer:
        words = json.loads(c.body)["instances"]
        return Answer(json.dumps([{"vector": vector, "word": w} for w in words]))

    endpoints.answer("vectors", vectors)
    status, _, body = call(predict, instances("vectors", [f"w{i}" for i in range(2_000)]), lambda_context)
    assert status == 413
    assert "over Lambda's 6,291,456 bytes (6 MB) response limit" in body["error"]["message"]


# ------------------------------------------------------------------ every error mapping


def test_unknown_model_is_404_for_predictions_and_status(stack, predict, lambda_context):
    status, _, body = call(predict, instances("nope", [[1]]), lambda_context)
    assert (status, error_of(body)[0]) == (404, "model_not_found")
    assert "no model named 'nope'" in body["error"]["message"]
    event = load_event("predict", "get-model.json")
    event["pathParameters"] = {"model": "nope"}
    event["path"] = "/models/nope"
    status, _, body = call(predict, event, lambda_context)
    assert (status, body["error"]["code"]) == (404, "model_not_found")


MALFORMED = [
    (
        '{"instances": [[1, 2, 3], [4, 5]}',
        "application/json",
        "the body: is not valid JSON: Expecting ',' delimiter at line 1, column 33 (byte 32)",
    ),
    (
        '{"instances": [[1, 2, 3], [4, 5]]}',
        "application/json",
        "$.instances[1]: has 2 values, the model takes 3 features",
    ),
    (
        '{"instances": [[1, 2, 3], [4, "x", 6]]}',
        "application/json",
        "$.instances[1][1]: expected a finite number, got the string 'x'",
    ),
    ('{"rows": [[1, 2, 3]]}', "application/json", "$.rows: unknown field 'rows'"),
    ("1,2,3\n4,5,6,7\n", "text/csv", "text/csv body line 2 (byte 6): has 4 values, the model takes 3 features"),
    ("1,2,3\n4,abc,6\n", "text/csv", "text/csv body line 2 (byte 6), field 2: 'abc' is not a number"),
    ("a,b,c\n1,2,3\n", "text/csv", "text/csv body line 1 (byte 0): is not numeric: it looks like a header"),
    ("", "text/csv", "the body: is empty"),
]


def test_malformed_input_is_400_naming_field_row_or_byte(stack, predict, endpoints, lambda_context):
    hyperparameters = {"predictor_type": "regressor", "feature_dim": "3"}
    serve_model(stack, "ll3", "linear-learner", hyperparameters=hyperparameters, feature_dim=3)
    for body, content_type, expected in MALFORMED:  # one stack for all cases (its setup is the slow part)
        status, _, answer = call(predict, post("ll3", body, content_type), lambda_context)
        assert status == 400, body
        assert answer["error"]["code"] == "invalid_request"
        assert expected in answer["error"]["message"], (body, answer["error"]["message"])
        assert answer["error"]["problems"], body
    assert endpoints.calls == []


def test_invalid_utf8_csv_names_the_byte(stack, predict, endpoints, lambda_context):
    serve_model(stack, "xg", "xgboost", hyperparameters={"num_round": "5"})
    event = post("xg", b"1,2\n3,\xff\n", "text/csv")
    status, _, body = call(predict, event, lambda_context)
    assert status == 400
    assert "byte 6 (0xff) is not valid UTF-8" in body["error"]["message"]


def test_unsupported_body_type_is_415(stack, predict, endpoints, lambda_context):
    serve_model(stack, "text8", "blazingtext", hyperparameters={"mode": "skipgram"})
    status, _, body = call(predict, post("text8", "1,2,3", "text/csv"), lambda_context)
    assert status == 415
    assert body["error"]["code"] == "unsupported_media_type"
    assert "blazingtext models do not take text/csv" in body["error"]["message"]


def test_unknown_option_is_400(stack, predict, endpoints, lambda_context):
    serve_model(stack, "text8", "blazingtext", hyperparameters={"mode": "skipgram"})
    status, _, body = call(predict, instances("text8", ["cat"], configuration={"k": 2}), lambda_context)
    assert status == 400
    assert "$.configuration.k: k applies to text classification (mode supervised)" in body["error"]["message"]


def test_model_error_on_a_valid_request_is_502_with_the_containers_message(stack, predict, endpoints, lambda_context):
    """A container that fails (5xx) on a request it accepted is the model's fault: 502 model_error."""
    serve_model(stack, "xg", "xgboost", hyperparameters={"num_round": "5"})
    endpoints.answer("xg", lambda c: model_error(500, "Unable to load model: [Errno 2] No such file"))
    status, _, body = call(predict, instances("xg", [[1, 2]]), lambda_context)
    assert status == 502
    code, message = error_of(body)
    assert code == "model_error"
    assert message == (
        "the model behind endpoint xg failed on the request (status 500): Unable to load model: [Errno 2] No such file"
    )


def test_throttling_is_429_with_retry_after(stack, predict, endpoints, lambda_context):
    serve_model(stack, "xg", "xgboost", hyperparameters={"num_round": "5"})
    endpoints.answer("xg", lambda c: THROTTLED)
    status, headers, body = call(predict, instances("xg", [[1, 2]]), lambda_context)
    assert (status, headers["Retry-After"], body["error"]["code"]) == (429, "1", "throttled")


def test_one_throttle_is_retried_by_the_client(stack, endpoints, lambda_context, monkeypatch):
    monkeypatch.setenv("PREDICT_MAX_ATTEMPTS", "2")
    fn = load_function("predict")
    serve_model(stack, "xg", "xgboost", hyperparameters={"num_round": "5"})
    endpoints.answer("xg", sequence(THROTTLED, Answer("0.5", "text/csv")))
    status, _, body = call(fn, instances("xg", [[1, 2]]), lambda_context)
    assert (status, body["predictions"]) == (200, [{"score": 0.5}])
    assert len(endpoints.calls) == 2


def test_serverless_not_ready_is_503_with_retry_after(stack, predict, endpoints, lambda_context):
    serve_model(stack, "sls", "xgboost", hyperparameters={"num_round": "5"}, serverless=True)
    endpoints.answer("sls", lambda c: NOT_READY)
    status, headers, body = call(predict, instances("sls", [[1, 2]]), lambda_context)
    assert (status, headers["Retry-After"], body["error"]["code"]) == (503, "10", "model_not_ready")


@pytest.mark.parametrize("in_thread", [True, False], ids=["call in the handler's thread", "call on the pool"])
def test_a_slow_endpoint_is_504_before_api_gateways_29_s(stack, endpoints, lambda_context, monkeypatch, in_thread):
    """One call is made in the handler's thread and cut off by sagedrop.alarm in the main thread (as on
    Lambda); elsewhere (a thread of the local stack's server) it goes on the pool: the same 504 either way."""
    monkeypatch.setenv("PREDICT_TIMEOUT_S", "0.3")
    fn = load_function("predict")
    if in_thread:
        monkeypatch.setattr("sagedrop.predict.ThreadPoolExecutor", None)  # no pool may be started
    else:
        monkeypatch.setattr("sagedrop.alarm.usable", lambda: False)
    serve_model(stack, "slow", "xgboost", hyperparameters={"num_round": "5"})
    endpoints.answer("slow", lambda c: Answer("0.5", "text/csv"))
    endpoints.hold()
    started = time.monotonic()
    try:
        status, _, body = call(fn, instances("slow", [[1, 2]]), lambda_context)
    finally:
        endpoints.release()
    assert time.monotonic() - started < 2
    assert (status, body["error"]["code"]) == (504, "timeout")
    assert body["error"]["message"] == (
        "endpoint slow answered 0 of 1 calls within 0 s (API Gateway allows 29 s): send fewer instances per request"
    )


def test_a_read_timeout_is_504(stack, predict, lambda_context):
    serve_model(stack, "slow", "xgboost", hyperparameters={"num_round": "5"})

    class TimingOut:
        def invoke_endpoint(self, **kwargs: Any) -> Any:
            raise ReadTimeoutError(endpoint_url="https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/slow")

    predict.clients.set("sagemaker-runtime", TimingOut())
    status, _, body = call(predict, instances("slow", [[1, 2]]), lambda_context)
    assert (status, body["error"]["code"]) == (504, "timeout")
    assert "did not answer within 24 s" in body["error"]["message"]


def test_an_answer_with_too_few_predictions_is_502(stack, predict, endpoints, lambda_context):
    serve_model(stack, "xg", "xgboost", hyperparameters={"num_round": "5"})
    endpoints.answer("xg", lambda c: Answer("0.5", "text/csv"))
    status, _, body = call(predict, instances("xg", [[1, 2], [3, 4]]), lambda_context)
    assert (status, body["error"]["code"]) == (502, "bad_model_response")
    assert "answered 1 predictions for 2 instances" in body["error"]["message"]


WITHOUT_ENDPOINT = {
    "deploying": (
        {"status": "deploying", "serving_job": None, "pending_job": "m-20261126-101530-abc123"},
        (503, "not_in_service", "60"),
        "has no endpoint yet: it is being deployed (job m-20261126-101530-abc123)",
    ),
    "training": (
        {"status": "training", "serving_job": None, "training_job": "m-20261126-101530-abc123"},
        (503, "not_in_service", "300"),
        "has no endpoint yet: it is still training",
    ),
    "failed": (
        {"status": "failed", "serving_job": None, "last_error": "training job failed: AlgorithmError"},
        (409, "not_deployed", None),
        "has no endpoint (status failed): training job failed: AlgorithmError",
    ),
    "trained": (
        {"status": "trained", "serving_job": None},
        (409, "not_deployed", None),
        "it was trained with deploy: false",
    ),
}


def test_a_model_without_endpoint_is_503_while_one_is_coming_and_409_otherwise(
    stack, predict, endpoints, lambda_context
):
    for name, (fields, expected, text) in WITHOUT_ENDPOINT.items():
        serve_model(stack, name, "xgboost", hyperparameters={"num_round": "5"}, create_endpoint=False, extra=fields)
        status, headers, body = call(predict, instances(name, [[1, 2]]), lambda_context)
        assert (status, body["error"]["code"], headers.get("Retry-After")) == expected, name
        assert text in body["error"]["message"], (name, body["error"]["message"])
    assert endpoints.calls == []


def test_a_model_in_service_still_serves_while_a_retrain_runs(stack, predict, endpoints, lambda_context):
    serve_model(stack, "m", "xgboost", hyperparameters={"num_round": "5"}, extra={"status": "training"})
    endpoints.answer("m", lambda c: Answer("7.5", "text/csv"))
    status, _, body = call(predict, instances("m", [[1, 2]]), lambda_context)
    assert (status, body["predictions"]) == (200, [{"score": 7.5}])


def test_an_endpoint_that_vanished_is_503(stack, predict, endpoints, lambda_context):
    serve_model(stack, "gone", "xgboost", hyperparameters={"num_round": "5"})  # no responder: "not found"
    status, headers, body = call(predict, instances("gone", [[1, 2]]), lambda_context)
    assert (status, headers["Retry-After"], body["error"]["code"]) == (503, "60", "not_in_service")
    assert "endpoint gone does not exist" in body["error"]["message"]


def test_unknown_route_answers_in_the_error_shape(stack, predict, lambda_context):
    event = load_event("predict", "get-model.json")
    event.update({"resource": "/models/{model}/wake", "path": "/models/big-mart/wake", "httpMethod": "POST"})
    status, _, body = call(predict, event, lambda_context)
    assert (status, body) == (404, {"error": {"code": "not_found", "message": "no route POST /models/big-mart/wake"}})


# ------------------------------------------------------------------ wake


class CountingSageMaker:
    """The moto SageMaker client, counting CreateEndpoint calls."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.created: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def create_endpoint(self, **kwargs: Any) -> Any:
        with self._lock:
            self.created.append(kwargs)
        return self._client.create_endpoint(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class RacingDynamoDB:
    """The moto DynamoDB client; UpdateItem calls meet at a barrier, then apply one at a time.

    DynamoDB applies each conditional write atomically; moto does not lock, so the lock stands in for
    the service. The barrier makes both requests read ``hibernated`` before either claims the wake.
    """

    def __init__(self, client: Any, parties: int) -> None:
        self._client = client
        self._barrier = threading.Barrier(parties, timeout=5)
        self._lock = threading.Lock()
        self._first = True

    def update_item(self, **kwargs: Any) -> Any:
        if self._first:
            with contextlib.suppress(threading.BrokenBarrierError):
                self._barrier.wait()
        with self._lock:
            self._first = False
            return self._client.update_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_two_concurrent_requests_wake_a_hibernated_model_once(stack, predict, endpoints, lambda_context):
    serve_model(
        stack,
        "sleepy",
        "xgboost",
        hyperparameters={"objective": "binary:logistic", "num_round": "5"},
        create_endpoint=False,
        extra={"status": "hibernated", "hibernated_at": "2026-11-26T08:00:00.000Z", "hibernated_reason": "idle"},
    )
    sagemaker = CountingSageMaker(stack.sagemaker)
    predict.clients.set("sagemaker", sagemaker)
    predict.clients.set("dynamodb", RacingDynamoDB(stack.clients["dynamodb"], parties=2))
    results: list[tuple[int, dict[str, str], dict[str, Any]]] = []

    def request() -> None:
        results.append(call(predict, instances("sleepy", [[1, 2]]), lambda_context))

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(sagemaker.created) == 1
    assert [(s, h["Retry-After"], b["error"]["code"]) for s, h, b in results] == [(503, "60", "waking")] * 2
    messages = sorted(b["error"]["message"] for _, _, b in results)
    assert "is already waking up" in messages[0] and "is waking up now" in messages[1]
    created = sagemaker.created[0]
    assert created["EndpointName"] == "sleepy"
    assert created["EndpointConfigName"] == "sleepy-20261126-101530-abc123"
    assert {t["Key"]: t["Value"] for t in created["Tags"]} == {
        "sagedrop:stack": stack.name,
        "sagedrop:model": "sleepy",
        "sagedrop:manifest": f"s3://{stack.data_bucket}/sleepy/training.json",
        "sagedrop:manifest-version": "v1",
        "sagedrop:algorithm": "xgboost",
        "sagedrop:idle-minutes": "120",
        "sagedrop:keep-alive": "false",
        "sagedrop:serverless": "false",
    }
    item = stack.registry_item("sleepy")
    assert item["status"] == "waking"
    assert item["woken_reason"] == "prediction request"
    assert stack.sagemaker.describe_endpoint(EndpointName="sleepy")["EndpointStatus"] == "InService"
    assert endpoints.calls == []

    # moto's endpoint is InService at once: the next request finds it, marks the model in service, predicts.
    endpoints.answer("sleepy", lambda c: Answer("0.9", "text/csv"))
    predict.clients.set("dynamodb", stack.clients["dynamodb"])
    status, _, body = call(predict, instances("sleepy", [[1, 2]]), lambda_context)
    assert (status, body["predictions"]) == (200, [{"score": 0.9, "predicted_label": 1}])
    assert stack.registry_item("sleepy")["status"] == "in_service"
    assert len(sagemaker.created) == 1


def test_waking_model_whose_endpoint_is_creating_is_503(stack, predict, endpoints, lambda_context):
    serve_model(
        stack,
        "m",
        "xgboost",
        hyperparameters={"num_round": "5"},
        create_endpoint=False,
        extra={"status": "waking", "woken_at": "2099-01-01T00:00:00.000Z"},
    )

    class Creating:
        def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:
            return {"EndpointName": EndpointName, "EndpointStatus": "Creating"}

    predict.clients.set("sagemaker", Creating())
    status, headers, body = call(predict, instances("m", [[1, 2]]), lambda_context)
    assert (status, headers["Retry-After"], body["error"]["code"]) == (503, "60", "waking")
    assert stack.registry_item("m")["status"] == "waking"


def test_an_expired_wake_claim_without_endpoint_is_taken_over(stack, predict, endpoints, lambda_context):
    serve_model(
        stack,
        "m",
        "xgboost",
        hyperparameters={"num_round": "5"},
        create_endpoint=False,
        extra={"status": "waking", "woken_at": "2026-11-26T08:00:00.000Z"},
    )
    sagemaker = CountingSageMaker(stack.sagemaker)
    predict.clients.set("sagemaker", sagemaker)
    status, _, body = call(predict, instances("m", [[1, 2]]), lambda_context)
    assert (status, body["error"]["code"]) == (503, "waking")
    assert [c["EndpointName"] for c in sagemaker.created] == ["m"]
    assert stack.registry_item("m")["woken_at"] > "2026-11-26T08:00:00.000Z"


def test_wake_without_the_kept_config_is_502_and_recorded(stack, predict, endpoints, lambda_context):
    serve_model(
        stack, "m", "xgboost", hyperparameters={"num_round": "5"}, create_endpoint=False, extra={"status": "hibernated"}
    )
    stack.sagemaker.delete_endpoint_config(EndpointConfigName="m-20261126-101530-abc123")
    status, _, body = call(predict, instances("m", [[1, 2]]), lambda_context)
    assert (status, body["error"]["code"]) == (502, "wake_failed")
    assert "endpoint config m-20261126-101530-abc123 no longer exists" in body["error"]["message"]
    item = stack.registry_item("m")
    assert item["status"] == "hibernated"
    assert "no longer exists" in item["last_error"]


def test_malformed_input_does_not_wake_a_hibernated_model(stack, predict, endpoints, lambda_context):
    serve_model(
        stack,
        "m",
        "linear-learner",
        hyperparameters=LL_BINARY,
        feature_dim=11,
        create_endpoint=False,
        extra={"status": "hibernated"},
    )
    status, _, _ = call(predict, instances("m", [[1, 2]]), lambda_context)
    assert status == 400
    assert stack.registry_item("m")["status"] == "hibernated"


def test_a_model_hibernated_after_it_was_cached_is_woken_by_the_next_request(stack, predict, endpoints, lambda_context):
    serve_model(stack, "m", "xgboost", hyperparameters={"num_round": "5"})
    endpoints.answer("m", lambda c: Answer("1.5", "text/csv"))
    assert call(predict, instances("m", [[1, 2]]), lambda_context)[0] == 200  # the registry item is now cached

    # cleanup hibernates it: endpoint deleted, registry says hibernated (the cache still says in_service)
    stack.sagemaker.delete_endpoint(EndpointName="m")
    del endpoints.responders["m"]
    stack.clients["dynamodb"].update_item(
        TableName=stack.table,
        Key={"model": {"S": "m"}, "record": {"S": "MODEL"}},
        UpdateExpression="SET #s = :h",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":h": {"S": "hibernated"}},
    )
    sagemaker = CountingSageMaker(stack.sagemaker)
    predict.clients.set("sagemaker", sagemaker)
    status, headers, body = call(predict, instances("m", [[1, 2]]), lambda_context)
    assert (status, headers["Retry-After"], body["error"]["code"]) == (503, "60", "waking")
    assert [c["EndpointName"] for c in sagemaker.created] == ["m"]
    assert stack.registry_item("m")["status"] == "waking"


def test_the_registry_cache_saves_reads_for_a_short_time():
    from sagedrop.predict import ModelDirectory

    class Registry:
        reads = 0

        def get(self, model: str, consistent: bool = False) -> dict[str, Any] | None:
            Registry.reads += 1
            return {"model": model, "status": "in_service", "algorithm": "xgboost"} if model == "m" else None

        def get_job(self, model: str, job: str) -> None:
            return None

    now = [100.0]
    directory = ModelDirectory(Registry(), ttl_s=15, clock=lambda: now[0])  # type: ignore[arg-type]
    assert directory.get("m").status == "in_service"
    directory.get("m")
    assert Registry.reads == 1
    now[0] += 16
    directory.get("m")
    assert Registry.reads == 2
    directory.get("m", fresh=True)
    assert Registry.reads == 3
    assert directory.get("x") is None and directory.get("x") is None
    assert Registry.reads == 5  # unknown models are not cached


# ------------------------------------------------------------------ status routes


def test_get_models_and_model_show_status_without_internal_names(stack, predict, lambda_context):
    serve_model(
        stack, "big-mart", "linear-learner", hyperparameters=LL_MULTICLASS, labels=BIG_MART_LABELS, feature_dim=11
    )
    serve_model(
        stack, "churn", "xgboost", hyperparameters=XGB_SOFTMAX, create_endpoint=False, extra={"status": "hibernated"}
    )

    status, _, body = call(predict, load_event("predict", "get-models.json"), lambda_context)
    assert status == 200
    assert [(m["model"], m["status"]) for m in body["models"]] == [("big-mart", "in_service"), ("churn", "hibernated")]

    status, _, model = call(predict, load_event("predict", "get-model.json"), lambda_context)
    assert status == 200
    assert model["model"] == "big-mart"
    assert model["algorithm"] == "linear-learner"
    assert model["labels"] == BIG_MART_LABELS
    assert model["feature_dim"] == 11
    assert model["links"] == {"self": "/models/big-mart", "predictions": "/models/big-mart/predictions"}
    text = json.dumps(body) + json.dumps(model)
    for internal in ("s3://", "endpoint_config", "sagemaker_model", "manifest", stack.name, "arn:aws"):
        assert internal not in text


# ------------------------------------------------------------------ OpenAPI document and cold start


def test_openapi_document_matches_the_router():
    from scripts.openapi import DOCUMENT, render

    text = render()
    assert DOCUMENT.read_text() == text, "docs/openapi.json is out of date: run python scripts/openapi.py"
    document = json.loads(text)
    assert sorted(document["paths"]) == [
        "/models",
        "/models/{model}",
        "/models/{model}/batches",
        "/models/{model}/batches/{job}",
        "/models/{model}/predictions",
        "/models/{model}/start",
        "/models/{model}/stop",
    ]
    predict_op = document["paths"]["/models/{model}/predictions"]["post"]
    assert sorted(predict_op["responses"]) == [
        "200",
        "400",
        "403",
        "404",
        "409",
        "413",
        "415",
        "429",
        "502",
        "503",
        "504",
    ]
    assert "Retry-After" in predict_op["responses"]["503"]["headers"]
    assert set(predict_op["requestBody"]["content"]) >= {"application/json", "text/csv", "image/jpeg", "image/png"}
    scheme = document["components"]["securitySchemes"]["sigv4"]
    assert (scheme["type"], scheme["name"], scheme["in"]) == ("apiKey", "Authorization", "header")


def test_the_handler_module_imports_neither_boto3_nor_pydantic():
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('app', 'functions/predict/app.py')\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "print(sorted(m for m in ('boto3', 'pydantic', 'aws_xray_sdk') if m in sys.modules))\n"
    )
    env = {"PYTHONPATH": f"{ROOT / 'layers' / 'sagedrop'}", "POWERTOOLS_TRACE_DISABLED": "true", "PATH": ""}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
