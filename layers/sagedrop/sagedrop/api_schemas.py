"""The prediction API's OpenAPI schemas and responses: plain JSON Schema dicts, documentation only.

The predict function's router (functions/predict/app.py) attaches them to its routes, and
scripts/openapi.py renders the document (docs/openapi.json) from the router. They are plain dicts so
that nothing imports pydantic at run time. :mod:`sagedrop.api` re-exports every name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagedrop.algorithms import NAMES

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
