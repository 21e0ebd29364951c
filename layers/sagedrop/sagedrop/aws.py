"""AWS clients: created lazily, once per process, injectable.

Handlers build one :class:`Clients` at module level; nothing is created until first use, so a
cold start pays only for the clients a request needs. Tests pass their own (moto or Stubber)
through ``Clients(overrides={...})`` or replace attributes.

Retries use botocore's ``standard`` mode (or ``adaptive``, client-side rate limiting, for the
callers that fan out); throttling and 5xx answers that survive the retries propagate.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config

from sagedrop import settings
from sagedrop.aws_errors import error_code, error_message, is_empty_range, is_not_found

__all__ = [
    "DEFAULT_TIMEOUTS",
    "SERVICE_TIMEOUTS",
    "Clients",
    "client_config",
    "error_code",
    "error_message",
    "read_head",
]

SERVICE_TIMEOUTS = {
    # sagemaker-runtime: keep the read timeout below API Gateway's 29 s so the API can answer 504.
    "sagemaker-runtime": (2, 24),
}
DEFAULT_TIMEOUTS = (3, 20)


def client_config(service: str, mode: str = "standard", max_attempts: int = 4) -> Config:
    connect, read = SERVICE_TIMEOUTS.get(service, DEFAULT_TIMEOUTS)
    return Config(
        retries={"mode": mode, "max_attempts": max_attempts},
        connect_timeout=connect,
        read_timeout=read,
        user_agent_extra="sagedrop",
        tcp_keepalive=True,
    )


class Clients:
    """Lazily created boto3 clients keyed by service name."""

    def __init__(
        self,
        region: str | None = None,
        overrides: dict[str, Any] | None = None,
        modes: dict[str, str] | None = None,
    ) -> None:
        self._region = region
        self._clients: dict[str, Any] = dict(overrides or {})
        self._modes = modes or {}

    @property
    def region(self) -> str:
        return self._region or settings.region()

    def get(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            import boto3  # deferred: the import is the largest part of a cold start

            client = boto3.client(
                service,
                region_name=self.region,
                config=client_config(service, self._modes.get(service, "standard")),
            )
            self._clients[service] = client
        return client

    def set(self, service: str, client: Any) -> None:
        self._clients[service] = client

    def reset(self) -> None:
        self._clients.clear()

    # Named accessors for readability at call sites.
    @property
    def s3(self) -> Any:
        return self.get("s3")

    @property
    def sagemaker(self) -> Any:
        return self.get("sagemaker")

    @property
    def runtime(self) -> Any:
        return self.get("sagemaker-runtime")

    @property
    def dynamodb(self) -> Any:
        return self.get("dynamodb")

    @property
    def sns(self) -> Any:
        return self.get("sns")

    @property
    def cloudwatch(self) -> Any:
        return self.get("cloudwatch")

    @property
    def autoscaling(self) -> Any:
        return self.get("application-autoscaling")

    @property
    def tagging(self) -> Any:
        return self.get("resourcegroupstaggingapi")


def read_head(s3: Any, bucket: str, key: str, version: str | None, limit: int) -> tuple[bytes, int] | None:
    """The first ``limit`` + 1 bytes of an object and its total size; None when the object (version) is gone.

    One ranged GetObject, so a huge upload costs no memory. A zero-byte object answers a ranged GET with
    416 ``InvalidRange`` (RFC 9110 section 14.1.1: a range of a zero-length representation is
    unsatisfiable; S3 error codes: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html,
    "InvalidRange ... 416"), which is an empty file, not an error to retry.
    """
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "Range": f"bytes=0-{limit}"}
    if version:
        kwargs["VersionId"] = version
    try:
        response = s3.get_object(**kwargs)
    except Exception as exc:
        if is_not_found(exc):
            return None
        if is_empty_range(exc):
            return b"", 0
        raise
    body = response["Body"].read()
    total = response.get("ContentRange", "").rpartition("/")[2]
    return body, int(total) if total.isdigit() else len(body)
