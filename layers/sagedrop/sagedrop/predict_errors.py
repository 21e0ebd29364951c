"""The prediction API's domain errors, and what SageMaker's InvokeEndpoint errors mean for a client.

Every error carries its HTTP answer (``http_status``, ``error_code``, and for 429/503 ``retry_after``);
the predict function maps them in one place (``sagedrop.api.error_response``).

InvokeEndpoint's ``ModelError`` says the model's container answered an error status. Its shape
(botocore's sagemaker-runtime service model, https://docs.aws.amazon.com/botocore/latest/reference/
services/sagemaker-runtime/client/exceptions/ModelError.html, and the InvokeEndpoint API reference,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html): HTTP 424
with ``Message``, ``OriginalStatusCode`` (the status the container answered), ``OriginalMessage``
(its body) and ``LogStreamArn``. The status says whose mistake it was:

* 4xx: the container refused *the request*, so the client must change it: answered 400
  (:class:`ModelRefusedInput`) with the container's message, cleaned of Python class names, log
  prefixes and tracebacks (:func:`clean_model_message`). The SageMaker XGBoost container is the
  public example (aws/sagemaker-xgboost-container, branch 1.7-1, commit
  f7a93a21e50e44b4077f0889a7f676cad8c226f3, src/sagemaker_xgboost_container/algorithm_mode/serve.py):
  a body it cannot parse (ragged CSV rows, text that is not CSV) is 415 with
  ``Loading csv data failed with Exception, please ensure data is in csv format:\\n <class
  'ValueError'>\\n ...``, and rows of the wrong width are 400 with ``Unable to evaluate payload
  provided: Feature size of csv inference data 5 is not consistent with feature size of trained
  model 4.``
* Except 406 (the container cannot produce the ``Accept`` sagedrop chose: sagedrop's mistake, 502),
  408 (504) and 429 (429 with ``Retry-After``).
* 5xx, or no status: the model misbehaved on a valid request: 502 ``model_error``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sagedrop.aws_errors import (
    error_code,
    error_message,
    is_access_denied,
    is_not_found,
    is_server_error,
    is_throttled,
    is_validation,
)
from sagedrop.codecs import BadInput
from sagedrop.errors import Problem, SagedropError
from sagedrop.wake import RETRY_AFTER_S

log = logging.getLogger("sagedrop.predict")

READ_TIMEOUT_S = 24
"""Below API Gateway's 29 s integration timeout, so a slow model is answered 504 by us, not by it."""
MODEL_NOT_READY_RETRY_AFTER_S = 10
THROTTLED_RETRY_AFTER_S = 1
UNAVAILABLE_RETRY_AFTER_S = 5
MAX_MODEL_MESSAGE = 500
"""Characters of a container's message kept in an answer (OriginalMessage is at most 2048)."""


class PredictError(SagedropError):
    http_status = 500
    error_code = "internal_error"
    retry_after: int | None = None

    def __init__(self, message: str, *, retry_after: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        if retry_after is not None:
            self.retry_after = retry_after
        if code is not None:
            self.error_code = code


class ModelNotFound(PredictError):
    http_status = 404
    error_code = "model_not_found"


class NotDeployed(PredictError):
    """The model has no endpoint and nothing is on its way (failed, rejected, trained with deploy: false)."""

    http_status = 409
    error_code = "not_deployed"


class NotInService(PredictError):
    """The endpoint is not there yet (waking, deploying, training): retry later."""

    http_status = 503
    error_code = "not_in_service"
    retry_after = RETRY_AFTER_S


class ModelFailed(PredictError):
    """The model's container failed on a valid request (InvokeEndpoint ModelError, status 5xx)."""

    http_status = 502
    error_code = "model_error"


class ModelRefusedInput(BadInput):
    """The model's container refused the request (InvokeEndpoint ModelError, status 4xx): HTTP 400."""

    kind = "the model refused the request"
    error_code = "rejected_by_model"


class EndpointError(PredictError):
    """SageMaker refused or failed the call for a reason that is not the caller's input."""

    http_status = 502
    error_code = "endpoint_error"


class Throttled(PredictError):
    http_status = 429
    error_code = "throttled"
    retry_after = THROTTLED_RETRY_AFTER_S


class Unavailable(PredictError):
    http_status = 503
    error_code = "unavailable"
    retry_after = UNAVAILABLE_RETRY_AFTER_S


class PredictTimeout(PredictError):
    http_status = 504
    error_code = "timeout"


class ModelBusy(PredictError):
    """Stop/start cannot act now: a deploy or wake is in flight, or the endpoint is changing (HTTP 409)."""

    http_status = 409
    error_code = "busy"


class EndpointMissing(PredictError):
    """InvokeEndpoint says the endpoint does not exist (the registry is behind, e.g. just hibernated)."""

    http_status = 503
    error_code = "not_in_service"
    retry_after = RETRY_AFTER_S


def invoke_error(exc: BaseException, endpoint: str) -> BaseException:
    """The domain error for an exception of InvokeEndpoint (the exception itself when unknown)."""
    code = error_code(exc)
    message = error_message(exc)
    if code == "ModelError":
        return model_error(getattr(exc, "response", {}) or {}, message, endpoint)
    if code == "ModelNotReadyException":  # answered with HTTP 429: checked before throttling
        # botocore/data/sagemaker-runtime/2017-05-13/service-2.json: ModelNotReadyException "httpStatusCode": 429
        return NotInService(
            f"endpoint {endpoint} is not ready yet (a serverless endpoint is starting): {message}",
            retry_after=MODEL_NOT_READY_RETRY_AFTER_S,
            code="model_not_ready",
        )
    if is_throttled(exc):
        return Throttled(f"SageMaker throttled the calls to endpoint {endpoint}: slow down and retry ({message})")
    if is_not_found(exc):
        return EndpointMissing(f"endpoint {endpoint} does not exist ({message})")
    if is_validation(exc):
        return EndpointError(f"SageMaker refused the call to endpoint {endpoint}: {message}")
    if is_server_error(exc):
        return Unavailable(f"SageMaker could not serve endpoint {endpoint} ({code or 'HTTP 5xx'}): {message}")
    if is_access_denied(exc):
        return EndpointError(
            f"the predict function may not invoke endpoint {endpoint} (is it tagged with this stack?): {message}"
        )
    name = type(exc).__name__
    if name in ("ReadTimeoutError",):
        return PredictTimeout(
            f"endpoint {endpoint} did not answer within {READ_TIMEOUT_S} s: send fewer instances per request"
        )
    if name in ("ConnectTimeoutError", "EndpointConnectionError", "ConnectionClosedError"):
        return Unavailable(f"could not reach SageMaker for endpoint {endpoint}: {exc}")
    return exc


# --------------------------------------------------------------------------------------------
# ModelError: whose mistake
# --------------------------------------------------------------------------------------------

_PY_CLASS = re.compile(r"<class '[\w.]+'>")
_QUALIFIED_ERROR = re.compile(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Z]\w*(?:Error|Exception)\b)")
_ERROR_PREFIX = re.compile(r"\b[A-Z]\w*(?:Error|Exception): ")
_LOG_PREFIX = re.compile(r"\[\d{2}:\d{2}:\d{2}\] (?:[\w./-]+:\d+: )?")
_TRACEBACK = re.compile(r"Traceback \(most recent call last\):.*?(?=\n\S|\Z)", re.S)
_STACK_LINE = re.compile(r"^\s*(?:File \"[^\"]*\", line \d+.*|Stack trace:.*|\[bt\].*)$", re.M)


def clean_model_message(text: Any) -> str:
    """A container's error text as a client can read it: no Python class names (``<class 'ValueError'>``,
    ``xgboost.core.XGBoostError:``), no log time stamps or source positions, no tracebacks; one line,
    at most :data:`MAX_MODEL_MESSAGE` characters."""
    cleaned = _TRACEBACK.sub("", str(text or ""))
    cleaned = _STACK_LINE.sub("", cleaned)
    cleaned = _PY_CLASS.sub("", cleaned)
    cleaned = _QUALIFIED_ERROR.sub("", cleaned)
    cleaned = _ERROR_PREFIX.sub("", cleaned)
    cleaned = _LOG_PREFIX.sub("", cleaned)
    cleaned = re.sub(r"\s*\n\s*", " ", cleaned)
    cleaned = re.sub(r"\s{2,}", " ", cleaned).strip(" :")
    cleaned = cleaned.replace(": .", ".").replace(":  ", ": ")
    if len(cleaned) > MAX_MODEL_MESSAGE:
        cleaned = cleaned[: MAX_MODEL_MESSAGE - 3].rstrip() + "..."
    return cleaned or "no message"


def model_error(response: dict[str, Any], message: str, endpoint: str) -> PredictError:
    """The answer for an InvokeEndpoint ModelError: 400 when the container refused the request (4xx), 502
    when it failed on it (5xx); see the module docstring for the exceptions and the source."""
    status = response.get("OriginalStatusCode")
    original = response.get("OriginalMessage") or message
    log.warning(
        "model error",
        extra={"endpoint": endpoint, "status": status, "log_stream": response.get("LogStreamArn"), "text": original},
    )
    text = clean_model_message(original)
    code = status if isinstance(status, int) and not isinstance(status, bool) else None
    if code == 406:
        return ModelFailed(
            f"the model behind endpoint {endpoint} cannot answer in the format sagedrop asked for (status 406): {text}"
        )
    if code == 408:
        return PredictTimeout(f"the model behind endpoint {endpoint} timed out (status 408): {text}")
    if code == 429:
        return Throttled(f"the model behind endpoint {endpoint} is overloaded (status 429): slow down and retry")
    if code is not None and 400 <= code < 500:
        return ModelRefusedInput(
            Problem(
                f"status {code}",
                text,
                "change the instances as the message says: the model cannot read them as they are",
            )
        )
    where = f" (status {code})" if code is not None else ""
    return ModelFailed(f"the model behind endpoint {endpoint} failed on the request{where}: {text}")
