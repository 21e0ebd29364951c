"""The API's body parsing (sagedrop.api) and the ModelError mapping (sagedrop.predict_errors).

Limits: Lambda's synchronous payload is 6 MB for the whole proxy event
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html); API Gateway base64-encodes
binary media types into it (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html).
"""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagedrop import algorithms, api
from sagedrop.algorithms.base import ServingContext
from sagedrop.codecs import BadInput, PayloadTooLarge
from sagedrop.errors import SagedropError
from sagedrop.predict_errors import ModelFailed, ModelRefusedInput, clean_model_message, model_error

# ---------------------------------------------------------------------------------- limits


def test_the_limits_follow_from_lambdas_6_mb_event():
    assert api.LAMBDA_PAYLOAD_LIMIT == 6_291_456
    assert api.MAX_TEXT_BODY == 6_291_456 - 24_576 == 6_266_880
    assert api.MAX_BINARY_BODY == 4_700_160
    assert len(base64.b64encode(b"\x00" * api.MAX_BINARY_BODY)) <= api.MAX_EVENT_BODY
    assert len(base64.b64encode(b"\x00" * (api.MAX_BINARY_BODY + 3))) > api.MAX_EVENT_BODY


def test_escaped_size_counts_what_json_escapes():
    for text in ('1,2\n"a"\\\t\x01', "plain,rows\r\n", '{"instances": ["a \\"b\\""]}'):
        assert api.escaped_size(text.encode()) == len(json.dumps(text)) - 2  # what JSON string escaping takes


def test_a_text_body_is_measured_as_it_sits_in_the_event():
    rows = b"1\n" * (api.MAX_TEXT_BODY // 3)  # 2 bytes a row, 3 in the event
    api.check_size(rows, is_base64=False)
    with pytest.raises(PayloadTooLarge) as exc:
        api.check_size(rows + b"1\n", is_base64=False)
    assert "sagedrop predict --csv" in str(exc.value)
    with pytest.raises(PayloadTooLarge):
        api.check_size(b"\x00" * (api.MAX_BINARY_BODY + 1), is_base64=True)


def test_replacement_characters_are_refused_with_their_byte_offset():
    with pytest.raises(BadInput) as exc:
        api.request_bytes("héllo \ufffd", is_base64=False)
    assert exc.value.problems[0].message.startswith("byte 7 is not valid UTF-8")
    with pytest.raises(BadInput):
        api.request_bytes("x\udcff", is_base64=False)  # a lone surrogate (surrogateescape'd byte)
    assert api.request_bytes("héllo", is_base64=False) == "héllo".encode()


# ---------------------------------------------------------------------------------- ModelError


def test_clean_model_message_drops_class_names_log_prefixes_and_tracebacks():
    text = (
        "Loading csv data failed with Exception, please ensure data is in csv format:\n <class 'ValueError'>\n "
        "could not convert string to float: 'a'"
    )
    assert clean_model_message(text) == (
        "Loading csv data failed with Exception, please ensure data is in csv format: could not convert string to "
        "float: 'a'"
    )
    assert (
        clean_model_message(
            'Traceback (most recent call last):\n  File "/x.py", line 3, in f\nxgboost.core.XGBoostError: '
            "[10:23:11] ../src/learner.cc:1470: Check failed: n == 4"
        )
        == "Check failed: n == 4"
    )
    assert len(clean_model_message("x" * 5000)) == 500
    assert clean_model_message("") == "no message"


@pytest.mark.parametrize(
    ("status", "kind", "http"),
    [
        (400, ModelRefusedInput, 400),
        (415, ModelRefusedInput, 400),
        (413, ModelRefusedInput, 400),
        (406, ModelFailed, 502),
        (500, ModelFailed, 502),
        (None, ModelFailed, 502),
        (429, SagedropError, 429),
        (408, SagedropError, 504),
    ],
)
def test_model_error_status_decides_whose_mistake(status, kind, http):
    """ModelError's shape: OriginalStatusCode, OriginalMessage, LogStreamArn (botocore sagemaker-runtime
    ModelError; https://docs.aws.amazon.com/botocore/latest/reference/services/sagemaker-runtime/client/exceptions/ModelError.html)."""
    error = model_error({"OriginalStatusCode": status, "OriginalMessage": "bad"}, "m", "ep")
    assert isinstance(error, kind)
    assert error.http_status == http


# ---------------------------------------------------------------------------------- no input is a 500

CONTENT_TYPES = st.sampled_from(
    [
        None,
        "",
        "application/json",
        "text/csv",
        "text/libsvm",
        "text/plain",
        "image/jpeg",
        "image/png",
        "application/x-image",
        "application/x-www-form-urlencoded",
        "application/octet-stream",
        "text/csv; charset=x",
    ]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
)
CONTEXTS = {
    "linear-learner": ServingContext(feature_dim=3),
    "xgboost": ServingContext(hyperparameters={"objective": "multi:softprob", "num_class": 3}),
    "blazingtext": ServingContext(hyperparameters={"mode": "supervised"}),
    "image-classification": ServingContext(hyperparameters={"num_classes": 3}),
    "seq2seq": ServingContext(),
}


def parse_and_encode(body: str | None, is_base64: bool, content_type: str | None, query: dict[str, str]) -> None:
    """What the predict route does with a request before any endpoint is called, for every algorithm."""
    refused: list[tuple[str, SagedropError]] = []
    try:
        payload = api.prediction_input(body, is_base64=is_base64, content_type=content_type, query=query)
    except SagedropError as exc:
        refused.append(("api", exc))
    else:
        for name, ctx in CONTEXTS.items():
            algorithm = algorithms.get(name)
            try:
                options = algorithm.resolve_options(payload.options, payload.options_path, ctx.hyperparameters)
                algorithm.encode_request(payload, ServingContext(**{**ctx.__dict__, "options": options}))
            except SagedropError as exc:
                refused.append((name, exc))
    statuses = {name: api.error_response(exc)[0] for name, exc in refused}
    assert all(400 <= status < 500 for status in statuses.values()), statuses


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300), content_type=CONTENT_TYPES, binary=st.booleans())
def test_any_bytes_with_any_content_type_is_answered_or_refused_with_a_4xx(data, content_type, binary):
    body = base64.b64encode(data).decode() if binary else data.decode("utf-8", errors="replace")
    parse_and_encode(body, binary, content_type, {})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    document=JSON,
    content_type=CONTENT_TYPES,
    query=st.dictionaries(st.sampled_from(["k", "top_k", "x"]), st.text(max_size=5), max_size=2),
)
def test_any_json_is_answered_or_refused_with_a_4xx(document, content_type, query):
    parse_and_encode(json.dumps(document), False, content_type, query)
    parse_and_encode(json.dumps({"instances": document}), False, content_type, query)
    parse_and_encode(
        json.dumps({"instances": [document], "configuration": {"k": document}}), False, "application/json", query
    )


@settings(max_examples=150, deadline=None)
@given(body=st.text(max_size=200), base64_flag=st.booleans())
def test_any_text_even_when_marked_base64(body, base64_flag):
    parse_and_encode(body, base64_flag, "text/csv", {})
