"""What an AWS error means for sagedrop: decided here, once, for every module of the package.

Every domain module asks this module, never an error code itself:

* :func:`is_not_found` – the resource (or object version) does not exist: a fact, not a failure.
* :func:`already_exists` / :func:`in_progress` – SageMaker's answers to a create or an update that
  raced with an earlier (or concurrent) one: both are ``ValidationException`` and only the message
  tells them apart.
* :func:`is_throttled`, :func:`is_server_error`, :func:`is_retryable` – worth another attempt later:
  the async functions let these propagate so that Lambda retries the event, the API answers 503/429.
* :func:`is_access_denied` – the stack's role may not do this (a deployment problem: never retried
  into success).
* :func:`describe_or_none`, :func:`exists`, :func:`resource_tags` – the describe-or-None and tag
  helpers every flow uses.

Sources of the codes:

* Throttling codes: botocore's standard retry mode, ``botocore/retries/standard.py``
  (``ThrottledRetryableChecker._THROTTLED_ERROR_CODES``) and ``botocore/data/_retry.json``
  (``definitions``: ``throttling``, ``throttling_exception``, ``throttled_exception``,
  ``request_throttled_exception``, ``too_many_requests`` = HTTP 429, ``throughput_exceeded``), botocore
  1.43.127, the version pinned in requirements-dev.txt (the lists read the same in 1.43.11);
  https://github.com/boto/botocore.
* Transient codes and statuses: the same ``standard.py`` (``TransientRetryableChecker``:
  ``RequestTimeout``, ``RequestTimeoutException``, ``PriorRequestNotComplete``; HTTP 500, 502, 503,
  504; ``ConnectionError`` and ``HTTPClientError`` exceptions) and ``_retry.json``
  (``general_socket_errors``, ``general_server_error``, ``bad_gateway``, ``service_unavailable``,
  ``gateway_timeout``).
* Errors common to every AWS API (``AccessDeniedException`` 400, ``InternalFailure`` 500,
  ``ServiceUnavailable`` 503, ``ThrottlingException`` 400, ``ValidationError`` 400): the "Common Errors"
  page every AWS API reference carries ("errors common to the API actions of all AWS services"), e.g.
  https://docs.aws.amazon.com/frauddetector/latest/api/CommonErrors.html.
* ``ModelNotReadyException`` of InvokeEndpoint is HTTP 429 (``botocore/data/sagemaker-runtime/2017-05-13/
  service-2.json``) but not throttling: :mod:`sagedrop.predict_errors` tests it first.
* SageMaker's own: ``ResourceNotFound`` ("Resource being access is not found", 400), ``ResourceInUse``,
  ``ResourceLimitExceeded`` (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeTrainingJob.html,
  API_CreateTrainingJob.html, "Errors"). In practice Describe* of a missing endpoint, endpoint config
  or model answers ``ValidationException`` "Could not find endpoint ..." (the text moto 5.2.5 also
  raises, ``moto/sagemaker/models.py``; to verify on a real account), which is why a
  ValidationException counts as not-found only with such a message ("could not find", "not found",
  "does not exist").
* S3: ``NoSuchKey``, ``NoSuchVersion`` and HeadObject's bare ``404``
  (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
* Application Auto Scaling: ``ObjectNotFoundException``
  (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_DeregisterScalableTarget.html).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError

from sagedrop import tags
from sagedrop.errors import Problem

THROTTLING_CODES = frozenset(
    {
        # botocore/retries/standard.py ThrottledRetryableChecker._THROTTLED_ERROR_CODES
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
THROTTLING_STATUS = 429  # _retry.json "too_many_requests"

TRANSIENT_CODES = frozenset(
    {
        # botocore/retries/standard.py TransientRetryableChecker._TRANSIENT_ERROR_CODES
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        # server-side codes whose answers carry a 5xx status (CommonErrors: InternalFailure 500,
        # ServiceUnavailable 503); listed so an error without its status still counts.
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServiceException",
        "InternalDependencyException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        # DynamoDB/Application Auto Scaling: a concurrent change of the same item; retry later.
        "ConcurrentUpdateException",
    }
)
SERVER_ERROR_STATUS = 500  # 500, 502, 503, 504 (standard.py _TRANSIENT_STATUS_CODES) and any other 5xx

NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFound",  # SageMaker
        "ResourceNotFoundException",
        "NoSuchKey",  # S3
        "NoSuchVersion",
        "NotFound",  # S3 HeadObject (no body: the status text)
        "404",
        "ObjectNotFoundException",  # Application Auto Scaling
    }
)
VALIDATION_CODES = frozenset({"ValidationException", "ValidationError"})
ACCESS_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "NotAuthorized"})
_NOT_FOUND_TEXT = ("could not find", "not found", "does not exist")


# ---- reading an error ---------------------------------------------------------------------------


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def error_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Message", "")) or str(exc)


def http_status(exc: BaseException) -> int:
    """The HTTP status of the AWS answer (0 when there was none, e.g. a connection error)."""
    response = getattr(exc, "response", None) or {}
    try:
        return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    except (TypeError, ValueError):
        return 0


def describe(exc: BaseException) -> str:
    """``Code: message`` (or the exception's type and text) for logs, records and notifications."""
    return f"{error_code(exc) or type(exc).__name__}: {error_message(exc)}"


# ---- classes of errors --------------------------------------------------------------------------


def is_throttled(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLING_CODES or http_status(exc) == THROTTLING_STATUS


def is_server_error(exc: BaseException) -> bool:
    """AWS failed (5xx) or timed out on its side."""
    return http_status(exc) >= SERVER_ERROR_STATUS or error_code(exc) in TRANSIENT_CODES


def is_connection_error(exc: BaseException) -> bool:
    """No AWS answer at all: connection, timeout or other client-side failure of botocore."""
    return isinstance(exc, BotoCoreError)


def is_retryable(exc: BaseException) -> bool:
    """Worth trying again later (the async functions let it propagate so that Lambda retries)."""
    return is_connection_error(exc) or is_throttled(exc) or is_server_error(exc)


def is_validation(exc: BaseException) -> bool:
    """The service refused the request's content (``ValidationException`` / ``ValidationError``)."""
    return error_code(exc) in VALIDATION_CODES


def is_not_found(exc: BaseException) -> bool:
    """The resource does not exist: a not-found code, or SageMaker's ValidationException "Could not find ..."."""
    code = error_code(exc)
    if code in NOT_FOUND_CODES:
        return True
    return code in VALIDATION_CODES and any(text in error_message(exc).lower() for text in _NOT_FOUND_TEXT)


def already_exists(exc: BaseException) -> bool:
    """SageMaker's ValidationException for a Create* of a name that exists ("Cannot create already existing ...")."""
    return is_validation(exc) and "already exist" in error_message(exc).lower()


def name_in_use(exc: BaseException) -> bool:
    """SageMaker's ``ResourceInUse`` for a Create*Job of a name that exists (a redelivered event)
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTrainingJob.html, "Errors")."""
    return error_code(exc) == "ResourceInUse"


def is_empty_range(exc: BaseException) -> bool:
    """S3's 416 ``InvalidRange``: a ranged GET of a zero-byte object (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html)."""
    return error_code(exc) == "InvalidRange"


def in_progress(exc: BaseException) -> bool:
    """SageMaker's ValidationException for a change of a resource that is being changed ("... in-progress ...")."""
    message = error_message(exc).lower()
    return is_validation(exc) and ("in-progress" in message or "in progress" in message)


def is_access_denied(exc: BaseException) -> bool:
    return error_code(exc) in ACCESS_DENIED_CODES


def is_quota(exc: BaseException) -> bool:
    """SageMaker's ``ResourceLimitExceeded``: an account quota is used up."""
    return error_code(exc) == "ResourceLimitExceeded"


def is_refusal(exc: BaseException) -> bool:
    """AWS answered and refused the request for a reason no retry fixes: invalid settings, a quota, a resource
    the request names that does not exist, or a permission the function's role lacks. Recorded and notified,
    never raised for a retry (callers test the races, :func:`already_exists` and :func:`in_progress`, first)."""
    return is_validation(exc) or is_quota(exc) or is_not_found(exc) or is_access_denied(exc)


def access_hint(action: str) -> str:
    """How to fix an AccessDenied answer to ``action`` (the stack's own permissions, not the user's data)."""
    return (
        f"the function's IAM role may not call {action}: deploy the stack again from template.yaml (it grants "
        "the call on resources tagged with this stack), and check permission boundaries and SCPs"
    )


def refusal_problem(exc: BaseException, action: str, hint: str) -> Problem | None:
    """The user-facing problem when AWS refused ``action`` itself (:func:`is_refusal`), else None (retry).

    An AccessDenied answer gets :func:`access_hint`; any other refusal the caller's ``hint``.
    """
    if not is_refusal(exc):
        return None
    return Problem(action, describe(exc), access_hint(action) if is_access_denied(exc) else hint)


# ---- describe-or-None and tags ------------------------------------------------------------------


def describe_or_none(call: Callable[..., Any], **kwargs: Any) -> Any:
    """``call(**kwargs)``, or None when the resource does not exist; every other error propagates."""
    try:
        return call(**kwargs)
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise


def exists(call: Callable[..., Any], **kwargs: Any) -> bool:
    """Whether the Describe* ``call(**kwargs)`` finds its resource."""
    return describe_or_none(call, **kwargs) is not None


def resource_tags(sagemaker: Any, arn: str) -> dict[str, str] | None:
    """The SageMaker resource's tags (ListTags, every page); None when the resource does not exist."""
    found: dict[str, str] = {}
    kwargs: dict[str, Any] = {"ResourceArn": arn}
    try:
        while True:
            page = sagemaker.list_tags(**kwargs)
            found.update(tags.to_map(page.get("Tags")))
            token = page.get("NextToken")
            if not token:
                return found
            kwargs["NextToken"] = token
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise
