"""The prediction API's HTTP shapes: request parsing, public model views, error bodies (OpenAPI schemas:
:mod:`sagedrop.api_schemas`, re-exported here).

The predict function's router (functions/predict/app.py) is thin: it hands the raw API Gateway
request to :func:`prediction_input`, the registry items to :func:`public_model`, and every domain
error to :func:`error_response`. The JSON schemas below document the same shapes in the OpenAPI
document (docs/openapi.json, generated from the router by scripts/openapi.py); they are plain dicts so
that nothing here imports pydantic at run time.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from sagedrop.algorithms.base import PredictionInput
from sagedrop.api_schemas import (  # noqa: F401  (re-exported: the router reads them as api.<NAME>)
    ACTION_SCHEMA,
    BATCH_RESPONSES,
    BATCH_SCHEMA,
    BATCHES_RESPONSES,
    COMMON_ERRORS,
    ERROR_SCHEMA,
    GET_RESPONSES,
    LIST_RESPONSES,
    MODEL_SCHEMA,
    PREDICT_RESPONSES,
    PREDICTION_REQUEST,
    PREDICTION_SCHEMA,
    PREDICTIONS_SCHEMA,
    START_RESPONSES,
    STOP_RESPONSES,
)
from sagedrop.codecs import MB, BadInput, PayloadTooLarge, parse_json_body, size_text
from sagedrop.errors import Problem, UserError

LAMBDA_PAYLOAD_LIMIT = 6 * MB
"""Lambda's synchronous invocation payload, 6 MB for the request and 6 MB for the response
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html, "Invocation payload (request
and response)"; https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html). The request is the whole
API Gateway proxy event (body, headers, request context), not the body alone. The pages say "6 MB";
6,291,456 bytes (MiB) is the reading used here and the one reported in Lambda's errors."""
RESPONSE_HEADROOM = 4096
"""Bytes kept for the proxy response's envelope (status, headers) around the JSON-escaped body."""
EVENT_ENVELOPE_BYTES = 24 * 1024
"""Bytes of the proxy event besides the body: API Gateway puts the headers in the event twice
(``headers`` and ``multiValueHeaders``), and a REST API allows 10,240 bytes of request line and
headers (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-execution-service-limits-table.html),
plus the request context, path and query string (a few KB)."""
MAX_EVENT_BODY = LAMBDA_PAYLOAD_LIMIT - EVENT_ENVELOPE_BYTES
"""The body as it sits in the event, at most: 6,266,880 bytes."""
MAX_TEXT_BODY = MAX_EVENT_BODY
"""A text body (JSON, CSV, libsvm, plain text) after JSON string escaping (each quote, backslash and line
break takes one byte more): about 6.2 MB of rows reach the function."""
MAX_BINARY_BODY = MAX_EVENT_BODY * 3 // 4
"""A binary body (image/jpeg, image/png, application/x-image: the API's BinaryMediaTypes in
template.yaml) reaches the function base64-encoded, 4 bytes for every 3
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html): at
most 4,700,160 bytes (about 4.5 MB) of image."""
API_GATEWAY_PAYLOAD_LIMIT = 10 * MB
"""REST API payload size: 10 MB, answered 413 by API Gateway itself (the quotas page above)."""
LARGE_JOBS = (
    "split the rows over several requests (`sagedrop predict --csv rows.csv` does it: at most 1,000 rows "
    "and 5 MiB per request)"
)
JSON_TYPES = ("application/json", "text/json")
JSON_FIELDS = ("instances", "configuration")

# Registry summary fields GET /models shows. Everything else (S3 URIs of manifests, SageMaker model
# and endpoint config names, the owning stack, rejection details, pending work) stays internal.
PUBLIC_FIELDS = (
    "model",
    "status",
    "algorithm",
    "version",
    "endpoint",
    "serverless",
    "labels",
    "label_bins",
    "feature_dim",
    "metrics",
    "serving_job",
    "latest_job",
    "last_error",
    "last_error_at",
    "idle_minutes",
    "keep_alive",
    "deployed_at",
    "hibernated_at",
    "hibernated_reason",
    "woken_at",
    "created_at",
    "updated_at",
)


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def media_type(content_type: str | None) -> str:
    """``text/csv; charset=utf-8`` -> ``text/csv``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


_NOT_UTF8 = re.compile("[\ufffd\ud800-\udfff]")
"""The replacement character and lone surrogates: what bytes that were not UTF-8 become in a text body."""


def request_bytes(body: str | None, is_base64: bool) -> bytes:
    """The request body as bytes (API Gateway base64-encodes binary media types such as images).

    A text body reaches the function as a string: bytes that were not UTF-8 arrive as U+FFFD
    (the replacement character) or as lone surrogates. Either is refused with its byte offset
    rather than sent on as if it were the client's text.
    """
    if body is None:
        return b""
    if is_base64:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadInput(Problem("the body", f"API Gateway marked it base64 but it is not: {exc}")) from None
    try:
        data = body.encode("utf-8")  # strict: a lone surrogate raises
        bad = _NOT_UTF8.search(body) if "\ufffd" in body else None
    except UnicodeEncodeError:
        data, bad = b"", _NOT_UTF8.search(body)
    if bad is not None:
        offset = len(body[: bad.start()].encode("utf-8", errors="surrogatepass"))
        raise BadInput(
            Problem(
                "the body",
                f"byte {offset} is not valid UTF-8 (it reached the API as the replacement character U+FFFD)",
                "send UTF-8 text; send images with their image/* content type",
            )
        )
    return data


_CONTROLS = bytes(c for c in range(32) if c not in (9, 10, 13))
"""Control characters JSON escapes as ``\\u00XX`` (6 bytes): all below 0x20 but tab, line feed, carriage return."""


ESCAPED_MAX = 6
"""Bytes one byte takes at most as a JSON string (a control character, ``\\u00XX``)."""


def escaped_size(data: bytes) -> int:
    """Bytes a text body takes as a JSON string in the proxy event: quotes, backslashes, \\n, \\r and \\t
    take 2 bytes, other control characters 6 (\\u00XX)."""
    controls = len(data) - len(data.translate(None, _CONTROLS))
    doubled = sum(data.count(c) for c in (b'"', b"\\", b"\n", b"\r", b"\t"))
    return len(data) + doubled + 5 * controls


def check_size(data: bytes, is_base64: bool) -> None:
    """413 for a body that could not have reached the function on AWS (:data:`MAX_BINARY_BODY`,
    :data:`MAX_TEXT_BODY`): on AWS such a request never reaches it (API Gateway answers 413 itself),
    so the local stack answers the same, and the message says the limit that applies."""
    if is_base64 and len(data) > MAX_BINARY_BODY:
        raise PayloadTooLarge(
            f"the request body is {size_text(len(data))}; a binary body (an image) reaches the prediction "
            f"function base64-encoded inside Lambda's {size_text(LAMBDA_PAYLOAD_LIMIT)} event, so at most "
            f"{size_text(MAX_BINARY_BODY)} fit: send a smaller image (resize it to the model's image_shape)"
        )
    if not is_base64 and len(data) * ESCAPED_MAX > MAX_TEXT_BODY:  # else it fits however it is escaped
        size = escaped_size(data)
        if size > MAX_TEXT_BODY:
            raise PayloadTooLarge(
                f"the request body takes {size_text(size)} in the Lambda event (quotes and line breaks are "
                f"escaped), over the {size_text(MAX_TEXT_BODY)} that fit in Lambda's "
                f"{size_text(LAMBDA_PAYLOAD_LIMIT)} payload limit: {LARGE_JOBS}"
            )


def prediction_input(
    body: str | None,
    *,
    is_base64: bool,
    content_type: str | None,
    query: Mapping[str, str] | None = None,
) -> PredictionInput:
    """A prediction request from the API Gateway proxy event's parts.

    JSON (``application/json``, or a body that starts with ``{`` sent without a JSON content type,
    as ``curl -d`` does) must be ``{"instances": [...], "configuration": {...}}``; anything else is
    a raw body for the algorithm (``text/csv``, an image, ...), whose options come from the query
    string.
    """
    data = request_bytes(body, is_base64)
    check_size(data, is_base64)
    if not data.strip():
        raise BadInput(
            Problem(
                "the body",
                "is empty",
                'send {"instances": [...]} as application/json, rows as text/csv, or an image as image/jpeg',
            )
        )
    kind = media_type(content_type)
    query_options = dict(query or {})
    looks_json = data.lstrip()[:1] == b"{" and kind in ("", "application/x-www-form-urlencoded", "text/plain")
    if kind in JSON_TYPES or looks_json:
        document = parse_json_body(data)
        if not isinstance(document, dict):
            raise BadInput(
                Problem("$", f"expected an object, got {type(document).__name__}", 'send {"instances": [...]}')
            )
        problems = [
            Problem(f"$.{key}", f"unknown field {key!r}", "the fields are instances and configuration")
            for key in document
            if key not in JSON_FIELDS
        ]
        if "instances" not in document:
            problems.append(Problem("$.instances", "is missing", 'send {"instances": [...]}'))
        configuration = document.get("configuration", {})
        if not isinstance(configuration, dict):
            problems.append(Problem("$.configuration", "expected an object of inference options"))
        if problems:
            raise BadInput(problems)
        return PredictionInput(
            instances=document["instances"],
            options={**query_options, **configuration},
            options_path="$.configuration",
            json_body=data,
        )
    return PredictionInput(body=data, content_type=kind, options=query_options, options_path="query string")


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


def public_model(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A registry summary as GET /models shows it: the public fields that are set."""
    view = {key: summary[key] for key in PUBLIC_FIELDS if summary.get(key) is not None}
    if view.get("last_error"):
        view["last_error"] = str(view["last_error"])
    name = view.get("model")
    if name:
        view["links"] = {"self": f"/models/{name}", "predictions": f"/models/{name}/predictions"}
    return view


BATCH_FIELDS = (
    "job",
    "status",
    "input",
    "files",
    "output",
    "content_type",
    "accept",
    "join",
    "instance_type",
    "batch_json",
    "started_at",
    "ended_at",
    "duration_s",
    "failure_reason",
    "labels_status",
    "rows",
    "rows_note",
)


def public_batch(model: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """A registry batch record as GET /models/{model}/batches shows it (no SageMaker model name)."""
    view = {"model": model, **{key: record[key] for key in BATCH_FIELDS if record.get(key) is not None}}
    if "rows" in record:
        view["rows"] = record["rows"]  # null says "not counted"; rows_note says why
    view["links"] = {"self": f"/models/{model}/batches/{record.get('job')}", "model": f"/models/{model}"}
    return view


def json_body(data: Any) -> str:
    """Compact JSON for a response, refused with 413 when Lambda could not return it."""
    # check_circular=False: the answers are built here and never hold themselves; the same text, faster.
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str, check_circular=False)
    # The proxy response carries the body as a JSON string: quotes and backslashes are escaped.
    size = len(text.encode()) + text.count('"') + text.count("\\") + RESPONSE_HEADROOM
    if size > LAMBDA_PAYLOAD_LIMIT:
        raise PayloadTooLarge(
            f"the answer would be {size_text(size)}, over Lambda's {size_text(LAMBDA_PAYLOAD_LIMIT)} response "
            "limit: send fewer instances per request"
        )
    return text


def error_response(exc: BaseException) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) for a domain error: ``{"error": {"code", "message"}}``.

    Errors carry their answer as ``http_status``, ``error_code`` and (429, 503) ``retry_after``;
    other user errors are 400s. The body adds ``problems`` (path, message, hint) for a 400.
    """
    status = int(getattr(exc, "http_status", 400 if isinstance(exc, UserError) else 500))
    code = str(getattr(exc, "error_code", "invalid_request" if isinstance(exc, UserError) else "internal_error"))
    message = exc.describe() if isinstance(exc, UserError) else str(exc)
    error: dict[str, Any] = {"code": code, "message": message}
    if isinstance(exc, UserError):
        error["problems"] = [{"path": p.path, "message": p.message, "hint": p.hint} for p in exc.problems]
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))
        error["retry_after_s"] = int(retry_after)
    return status, {"error": error}, headers
