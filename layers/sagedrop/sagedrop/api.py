"""The prediction API's HTTP shapes: request parsing, public model views, error bodies, OpenAPI schemas.

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

from sagedrop.algorithms import NAMES
from sagedrop.algorithms.base import PredictionInput
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
    if not is_base64:
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
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
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


# --------------------------------------------------------------------------------------------
# OpenAPI: schemas and responses (plain JSON Schema; documentation only)
# --------------------------------------------------------------------------------------------

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "examples": ["model_not_found"]},
                "message": {"type": "string"},
                "problems": {
                    "type": "array",
                    "description": "400 only: every problem found, with where it is and how to fix it",
                    "items": {
                        "type": "object",
                        "properties": {
                            "path": {"type": "string", "examples": ["$.instances[3][2]"]},
                            "message": {"type": "string"},
                            "hint": {"type": "string"},
                        },
                    },
                },
                "retry_after_s": {"type": "integer", "description": "429 and 503: seconds to wait (as Retry-After)"},
            },
        }
    },
}

MODEL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["model"],
    "properties": {
        "model": {"type": "string"},
        "status": {
            "type": "string",
            "enum": [
                "training",
                "rejected",
                "failed",
                "stopped",
                "gate_failed",
                "deploying",
                "in_service",
                "hibernated",
                "waking",
                "trained",
            ],
        },
        "algorithm": {
            "type": "string",
            "enum": list(NAMES),
        },
        "version": {"type": "string"},
        "endpoint": {"type": "string"},
        "serverless": {"type": "boolean"},
        "labels": {"type": "array", "items": {"type": "string"}},
        "label_bins": {
            "type": "object",
            "description": "label_bins models: the class edges (class i is (edges[i], edges[i+1]]) and their names",
            "properties": {
                "edges": {"type": "array", "items": {"type": "number"}},
                "names": {"type": "array", "items": {"type": "string"}},
            },
        },
        "feature_dim": {"type": "integer"},
        "metrics": {"type": "object", "additionalProperties": {"type": "number"}},
        "serving_job": {"type": "string"},
        "latest_job": {"type": "string"},
        "last_error": {"type": "string"},
        "last_error_at": {"type": "string", "format": "date-time"},
        "idle_minutes": {"type": "integer"},
        "keep_alive": {"type": "boolean"},
        "deployed_at": {"type": "string", "format": "date-time"},
        "hibernated_at": {"type": "string", "format": "date-time"},
        "hibernated_reason": {"type": "string"},
        "woken_at": {"type": "string", "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "links": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

PREDICTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "One answer per instance, in request order. Classifiers: predicted_label (class index), label "
        "(class name, when the manifest gave labels), score or probability; image classification and "
        "BlazingText with k > 1: top (best classes first); regression: score; Word2Vec: word, vector; "
        "Seq2Seq: target."
    ),
    "properties": {
        "score": {"oneOf": [{"type": "number"}, {"type": "array", "items": {"type": "number"}}]},
        "predicted_label": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
        "label": {"type": "string"},
        "probability": {"type": "number"},
        "probabilities": {"type": "array", "items": {"type": "number"}},
        "top": {"type": "array", "items": {"type": "object"}},
        "word": {"type": "string"},
        "vector": {"type": "array", "items": {"type": "number"}},
        "target": {"type": "string"},
    },
}

PREDICTIONS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["model", "endpoint", "algorithm", "predictions"],
    "properties": {
        "model": {"type": "string"},
        "endpoint": {"type": "string"},
        "algorithm": {"type": "string"},
        "predictions": {"type": "array", "items": PREDICTION_SCHEMA},
    },
}

PREDICTION_REQUEST: dict[str, Any] = {
    "required": True,
    "description": (
        'JSON {"instances": [...], "configuration": {...}}, or a raw body: text/csv rows (linear-learner, '
        "xgboost), text/libsvm (xgboost), text/plain lines (blazingtext, seq2seq), one image "
        "(image-classification: image/jpeg, image/png, application/x-image). Lambda's 6 MB event holds at most "
        "6,266,880 bytes of a text body after JSON escaping (quotes and line breaks count twice) and 4,700,160 "
        "bytes of an image (base64-encoded by API Gateway); larger requests never reach the function."
    ),
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["instances"],
                "properties": {
                    "instances": {
                        "type": "array",
                        "minItems": 1,
                        "description": (
                            "rows of numbers (linear-learner, xgboost; null is a missing value for xgboost), "
                            "words or sentences (blazingtext), sentences or {data} (seq2seq), base64 images "
                            "(image-classification)"
                        ),
                        "items": {},
                    },
                    "configuration": {
                        "type": "object",
                        "description": (
                            "inference options: k (blazingtext supervised), top_k (image-classification), "
                            "attention_matrix (seq2seq)"
                        ),
                        "properties": {
                            "k": {"type": "integer", "minimum": 1},
                            "top_k": {"type": "integer", "minimum": 1},
                            "attention_matrix": {"type": "boolean"},
                        },
                    },
                },
            },
            "examples": {
                "rows": {"value": {"instances": [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]]}},
                "sentences": {"value": {"instances": ["the movie was great"], "configuration": {"k": 2}}},
            },
        },
        "text/csv": {"schema": {"type": "string"}, "example": "5.1,3.5,1.4,0.2\n6.2,2.9,4.3,1.3\n"},
        "text/libsvm": {"schema": {"type": "string"}, "example": "0:5.1 1:3.5 3:0.2\n"},
        "text/plain": {"schema": {"type": "string"}, "example": "the movie was great\n"},
        "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
        "image/png": {"schema": {"type": "string", "format": "binary"}},
        "application/x-image": {"schema": {"type": "string", "format": "binary"}},
    },
}


def _json(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": dict(schema)}}


def _error(description: str, *, retry: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": _json(ERROR_SCHEMA)}
    if retry:
        response["headers"] = {
            "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}
        }
    return response


COMMON_ERRORS: dict[int, dict[str, Any]] = {
    403: _error(
        "refused by API Gateway (unsigned or mis-signed request, a principal without the policy for this route, "
        "a missing API key when the stack asks for one) or, with Cognito, a caller outside the admin group; "
        "also a route or method the API does not have (MISSING_AUTHENTICATION_TOKEN, before any auth check)"
    ),
    429: _error("throttled: the API key's rate or quota, or SageMaker's", retry=True),
}

PREDICT_RESPONSES: dict[int, dict[str, Any]] = {
    200: {"description": "one prediction per instance, in order", "content": _json(PREDICTIONS_SCHEMA)},
    400: _error(
        "malformed request (invalid_request): every problem names the field, row or byte that is wrong, e.g. a "
        "row whose width is not the model's feature count; or the model's container refused the request "
        "(rejected_by_model), with its message"
    ),
    404: _error("no such model"),
    409: _error(
        "not_deployed: the model has no endpoint and none is on its way (rejected, failed, gate_failed, stopped, "
        "trained with deploy: false), or its endpoint failed; the message gives the recorded reason"
    ),
    413: _error(
        "a text body over 6,266,880 bytes after JSON escaping or an image over 4,700,160 bytes (on AWS, API "
        "Gateway answers these itself), an instance over the endpoint's 6 MB (serverless 4 MB), or an answer "
        "over 6 MB"
    ),
    415: _error("a body type the model's algorithm does not take"),
    **COMMON_ERRORS,
    502: _error(
        "the model failed on a valid request (model_error), or answered something that is not its format "
        "(bad_model_response)"
    ),
    503: _error("the endpoint is not in service: waking up (after idle cleanup), deploying or training", retry=True),
    504: _error("the endpoint did not answer in time (the API's limit is 29 s)"),
}

LIST_RESPONSES: dict[int, dict[str, Any]] = {
    200: {
        "description": "every model in the registry",
        "content": _json({"type": "object", "properties": {"models": {"type": "array", "items": MODEL_SCHEMA}}}),
    },
    **COMMON_ERRORS,
}

GET_RESPONSES: dict[int, dict[str, Any]] = {
    200: {"description": "the model's status", "content": _json(MODEL_SCHEMA)},
    404: _error("no such model"),
    **COMMON_ERRORS,
}

ACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["model", "status", "message"],
    "properties": {
        "model": {"type": "string"},
        "status": {"type": "string", "description": "the registry status after the call", "examples": ["hibernated"]},
        "endpoint": {"type": "string"},
        "hibernated_at": {"type": "string", "format": "date-time"},
        "woken_at": {"type": "string", "format": "date-time"},
        "message": {"type": "string", "description": "what was done, or why nothing had to be done"},
    },
}

STOP_RESPONSES: dict[int, dict[str, Any]] = {
    200: {
        "description": "stopped now, or already stopped (the message says which): the endpoint is deleted, its "
        "config and model are kept, the status is hibernated",
        "content": _json(ACTION_SCHEMA),
    },
    404: _error("no such model"),
    409: _error(
        "nothing to stop (not_deployed: the model has no endpoint), or not now (busy: a deploy or wake is in "
        "progress, or the endpoint is being created or updated)"
    ),
    **COMMON_ERRORS,
}

START_RESPONSES: dict[int, dict[str, Any]] = {
    200: {"description": "the model is already running", "content": _json(ACTION_SCHEMA)},
    202: {
        "description": "the endpoint is being created (now, or by an earlier request); the registry says waking, "
        "then in_service",
        "content": _json(ACTION_SCHEMA),
    },
    404: _error("no such model"),
    409: _error(
        "nothing to start (not_deployed: the model was never deployed), or not now (busy: its endpoint failed "
        "or is being deleted)"
    ),
    **COMMON_ERRORS,
    502: _error(
        "the endpoint cannot be created again (wake_failed: its kept endpoint config is gone, or SageMaker refused)"
    ),
}

BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["model", "job", "status"],
    "properties": {
        "model": {"type": "string"},
        "job": {"type": "string", "description": "the batch transform job's name"},
        "status": {"type": "string", "enum": ["InProgress", "Completed", "Failed", "Stopped"]},
        "input": {"type": "string", "description": "the scored folder (s3 URI)"},
        "files": {"type": "integer"},
        "output": {"type": "string", "description": "where the .out files are (s3 URI)"},
        "content_type": {"type": "string"},
        "accept": {"type": "string"},
        "join": {"type": "boolean"},
        "instance_type": {"type": "string"},
        "batch_json": {"type": "string"},
        "started_at": {"type": "string"},
        "ended_at": {"type": "string"},
        "duration_s": {"type": "number"},
        "failure_reason": {"type": "string"},
        "labels_status": {"type": "string", "description": "batch.json labels: how many .out files got class names"},
        "links": {"type": "object"},
    },
}

BATCHES_RESPONSES: dict[int, dict[str, Any]] = {
    200: {
        "description": "the model's batch scoring jobs, newest first",
        "content": _json({"type": "object", "properties": {"batches": {"type": "array", "items": BATCH_SCHEMA}}}),
    },
    404: _error("no such model"),
    **COMMON_ERRORS,
}

BATCH_RESPONSES: dict[int, dict[str, Any]] = {
    200: {"description": "one batch scoring job", "content": _json(BATCH_SCHEMA)},
    404: _error("no such model or batch"),
    **COMMON_ERRORS,
}
