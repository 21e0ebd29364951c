"""sagedrop.aws_errors: one vocabulary for AWS's answers (codes and statuses as its docstring cites them)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from sagedrop import aws_errors as e


def error(code: str, message: str = "boom", status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "X"
    )


@pytest.mark.parametrize(
    ("exc", "throttled", "server", "retryable"),
    [
        (error("ThrottlingException"), True, False, True),
        (error("TooManyRequestsException"), True, False, True),
        (error("ProvisionedThroughputExceededException"), True, False, True),
        (error("Anything", status=429), True, False, True),  # _retry.json "too_many_requests"
        (error("InternalFailure", status=500), False, True, True),
        (error("ServiceUnavailable", status=503), False, True, True),
        (error("ServiceUnavailable", status=0), False, True, True),  # the code alone, without its status
        (error("Anything", status=502), False, True, True),
        (error("RequestTimeout"), False, True, True),
        (error("ValidationException"), False, False, False),
        (error("AccessDeniedException"), False, False, False),
        (error("ResourceNotFound"), False, False, False),
        (EndpointConnectionError(endpoint_url="https://sagemaker"), False, False, True),
        (ReadTimeoutError(endpoint_url="https://sagemaker"), False, False, True),
        (ValueError("not AWS"), False, False, False),
    ],
)
def test_throttled_server_error_and_retryable(exc, throttled, server, retryable):
    assert (e.is_throttled(exc), e.is_server_error(exc), e.is_retryable(exc)) == (throttled, server, retryable)


@pytest.mark.parametrize(
    ("exc", "not_found"),
    [
        (error("ValidationException", 'Could not find endpoint "churn".'), True),
        (error("ValidationException", "Requested resource not found."), True),
        (error("ValidationException", "Trial 'x' does not exist."), True),
        (error("ResourceNotFound", "Resource being access is not found."), True),
        (error("NoSuchKey"), True),
        (error("NoSuchVersion"), True),
        (error("404", "Not Found", 404), True),
        (error("ObjectNotFoundException"), True),
        (error("ValidationException", "Cannot update in-progress endpoint"), False),
        (error("ValidationException", "Cannot create already existing endpoint"), False),
        (error("AccessDeniedException", "not authorized"), False),
        (error("ThrottlingException"), False),
    ],
)
def test_not_found(exc, not_found):
    assert e.is_not_found(exc) is not_found


def test_races_and_refusals():
    exists = error("ValidationException", 'Cannot create already existing endpoint "arn:aws:sagemaker:x".')
    busy = error("ValidationException", 'Cannot update in-progress endpoint "arn:aws:sagemaker:x".')
    assert (e.already_exists(exists), e.in_progress(exists)) == (True, False)
    assert (e.already_exists(busy), e.in_progress(busy)) == (False, True)
    assert e.name_in_use(error("ResourceInUse"))
    for refused in (error("ValidationException"), error("ResourceLimitExceeded"), error("AccessDeniedException")):
        assert e.is_refusal(refused) and not e.is_retryable(refused)
    assert e.is_refusal(error("ResourceNotFound"))
    assert not e.is_refusal(error("ThrottlingException"))
    assert e.describe(error("AccessDeniedException", "no")) == "AccessDeniedException: no"
    assert e.describe(ValueError("plain")) == "ValueError: plain"
    assert "CreateEndpoint" in e.access_hint("CreateEndpoint")


class Tags:
    """A SageMaker client's ListTags: two pages, or a missing resource."""

    def __init__(self, missing: bool = False) -> None:
        self.missing = missing
        self.calls: list[dict[str, Any]] = []

    def list_tags(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.missing:
            raise error("ValidationException", "Could not find resource with name arn:aws:sagemaker:x")
        if "NextToken" not in kwargs:
            return {"Tags": [{"Key": "a", "Value": "1"}], "NextToken": "t"}
        return {"Tags": [{"Key": "b", "Value": "2"}]}


def test_describe_or_none_exists_and_tags():
    def describe(**kwargs: Any) -> dict[str, Any]:
        if kwargs["Name"] == "gone":
            raise error("ValidationException", 'Could not find model "gone".')
        if kwargs["Name"] == "slow":
            raise error("ThrottlingException")
        return {"Name": kwargs["Name"]}

    assert e.describe_or_none(describe, Name="here") == {"Name": "here"}
    assert e.describe_or_none(describe, Name="gone") is None
    assert (e.exists(describe, Name="here"), e.exists(describe, Name="gone")) == (True, False)
    with pytest.raises(ClientError, match="ThrottlingException"):
        e.describe_or_none(describe, Name="slow")
    pages = Tags()
    assert e.resource_tags(pages, "arn") == {"a": "1", "b": "2"}
    assert pages.calls == [{"ResourceArn": "arn"}, {"ResourceArn": "arn", "NextToken": "t"}]
    assert e.resource_tags(Tags(missing=True), "arn") is None
