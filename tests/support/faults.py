"""Fault injection: a real botocore client answers one operation with a real AWS error.

A ``before-call`` hook on the client's event system returns an HTTP response and its parsed error body
instead of sending the request, so botocore itself raises the error exactly as it does for an AWS answer
(``BaseClient._make_api_call``: a ``before-call`` handler's response short-circuits the request; a status
of 300 or more raises ``self.exceptions.from_code(code)``, the modeled class when the service defines it,
e.g. ``ResourceLimitExceeded``, else ``ClientError``) -- botocore 1.43, ``botocore/client.py``. A
connection fault raises botocore's own ``EndpointConnectionError`` from the hook. Every other operation of
the client still goes to moto.

The error classes and their codes and statuses (the matrix of tests/integration/test_fault_injection.py):

* throttling: ``ThrottlingException``, HTTP 400 (errors common to all AWS APIs,
  https://docs.aws.amazon.com/frauddetector/latest/api/CommonErrors.html: "ThrottlingException ... HTTP
  Status Code: 400"; botocore ``retries/standard.py`` lists it among the throttling codes).
* server error: ``InternalFailure``, HTTP 500, and ``ServiceUnavailable``, HTTP 503 (same page).
* connection: ``botocore.exceptions.EndpointConnectionError`` (no answer; ``retries/standard.py``
  retries ``ConnectionError`` exceptions).
* access denied: ``AccessDeniedException``, HTTP 400 (same page).
* validation: ``ValidationException``, HTTP 400 (SageMaker's JSON protocol name of the common
  ``ValidationError``; the code botocore raises for SageMaker's refusals).
* not found: SageMaker's ``ResourceNotFound``, HTTP 400
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeTrainingJob.html, "Errors"), or
  ``ValidationException`` "Could not find ..." where SageMaker answers that (Describe*/CreateEndpoint of a
  missing endpoint or config; the text moto 5.2.5 raises too, ``moto/sagemaker/models.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError


@dataclass(frozen=True)
class Fault:
    """One kind of AWS failure: its class in the matrix, and the error code, HTTP status and message AWS sends."""

    kind: str
    code: str = ""
    status: int = 0
    message: str = ""

    @property
    def connection(self) -> bool:
        return not self.code

    def __str__(self) -> str:  # the pytest id
        return self.kind


THROTTLING = Fault("throttling", "ThrottlingException", 400, "Rate exceeded")
SERVER_ERROR = Fault("server_error", "InternalFailure", 500, "We encountered an internal error. Please try again.")
UNAVAILABLE = Fault("unavailable", "ServiceUnavailable", 503, "Service Unavailable")
CONNECTION = Fault("connection")
ACCESS_DENIED = Fault(
    "access_denied",
    "AccessDeniedException",
    400,
    "User: arn:aws:sts::123456789012:assumed-role/sagedrop-test-fn-role/fn is not authorized to perform this action",
)
VALIDATION = Fault("validation", "ValidationException", 400, "1 validation error detected: Value at 'x' failed")
NOT_FOUND = Fault("not_found", "ResourceNotFound", 400, "Resource being access is not found.")
COULD_NOT_FIND = Fault("not_found", "ValidationException", 400, 'Could not find endpoint configuration "x".')

RETRYABLE = (THROTTLING, SERVER_ERROR, UNAVAILABLE, CONNECTION)


class Injected:
    """A fault installed on one operation of one client; ``calls`` counts the refused calls."""

    def __init__(self, client: Any, operation: str, fault: Fault) -> None:
        self.client = client
        self.operation = operation
        self.fault = fault
        self.calls = 0
        service = client.meta.service_model.service_id.hyphenize()
        self._event = f"before-call.{service}.{operation}"
        client.meta.events.register(self._event, self._answer)

    def _answer(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        self.calls += 1
        if self.fault.connection:
            raise EndpointConnectionError(endpoint_url=self.client.meta.endpoint_url)
        parsed = {
            "Error": {"Code": self.fault.code, "Message": self.fault.message},
            "ResponseMetadata": {"HTTPStatusCode": self.fault.status, "HTTPHeaders": {}},
        }
        return AWSResponse(self.client.meta.endpoint_url, self.fault.status, {}, None), parsed

    def remove(self) -> None:
        """The fault passes (AWS recovers): later calls reach moto again."""
        self.client.meta.events.unregister(self._event, self._answer)


def inject(client: Any, operation: str, fault: Fault) -> Injected:
    """Make ``client``'s ``operation`` (e.g. ``CreateEndpoint``) fail with ``fault`` until ``.remove()``."""
    return Injected(client, operation, fault)
