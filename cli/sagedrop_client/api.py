"""A small client of sagedrop's REST API (the CLI's `predict`, `status` of a model, `stop`, `start`): HTTPS
when deployed, HTTP on the local stack.

How it proves who calls depends on the stack's AuthMode:

- ``iam`` (default): every request is signed with AWS Signature Version 4 for the ``execute-api``
  service in the stack's region, with the caller's own AWS credentials (botocore's ``SigV4Auth``, the
  signer the AWS SDK uses; the credentials come from the profile and region the CLI already uses);
- ``cognito``: the user's Cognito ID token in the ``Authorization`` header;
- ``apikey`` (or metering on top of the others): the usage plan key in ``x-api-key``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

USER_AGENT = "sagedrop-cli"
SERVICE = "execute-api"  # the SigV4 service name of API Gateway's invoke endpoint (Credential scope)


class ApiError(RuntimeError):
    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        super().__init__(f"HTTP {status} {code}: {message}")


def sign(
    method: str, url: str, headers: dict[str, str], body: bytes | None, credentials: Any, region: str
) -> dict[str, str]:
    """``headers`` plus SigV4's ``X-Amz-Date``, ``Authorization`` (and ``X-Amz-Security-Token`` for temporary
    credentials), computed by botocore over the method, URL, headers and body that will be sent."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    frozen = credentials.get_frozen_credentials() if hasattr(credentials, "get_frozen_credentials") else credentials
    request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
    SigV4Auth(frozen, SERVICE, region).add_auth(request)
    return dict(request.headers.items())


@dataclass
class Api:
    base_url: str
    api_key: str | None = None
    timeout: float = 35.0
    credentials: Any = None
    """botocore credentials: requests are SigV4-signed (AuthMode=iam)."""
    region: str = ""
    id_token: str | None = None
    """A Cognito ID token, sent as the Authorization header (AuthMode=cognito)."""

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None) -> Any:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        if self.id_token:
            headers["Authorization"] = self.id_token
        if content_type:
            headers["Content-Type"] = content_type
        if not self.base_url.startswith(("https://", "http://")):
            raise ApiError(0, "bad_url", f"the API URL must be http(s)://..., got {self.base_url!r}")
        url = self.base_url.rstrip("/") + path
        if self.credentials is not None:
            headers = sign(method, url, headers, body, self.credentials, self.region)
        request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 - checked above
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - the user's API URL
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                document = json.loads(raw)
                # sagedrop's {"error": {...}}, or API Gateway's default {"message": ...}
                error = document.get("error") or {"message": document.get("message")}
            except (ValueError, AttributeError):
                error = {}
            code = error.get("code") or "http_error"
            message = error.get("message") or raw.decode(errors="replace")[:300] or exc.reason
            retry = exc.headers.get("Retry-After")
            raise ApiError(exc.code, code, message, float(retry) if retry and retry.isdigit() else None) from None
        except urllib.error.URLError as exc:
            raise ApiError(0, "unreachable", f"cannot reach {self.base_url}: {exc.reason}") from None
        return json.loads(payload) if payload else None

    def request_waiting(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = None,
        *,
        patience: float = 900.0,
        on_wait: Callable[[ApiError, float], None] | None = None,
    ) -> Any:
        """Like ``request``, but waits while the model wakes (503 + Retry-After) or the API throttles (429)."""
        deadline = time.monotonic() + patience
        while True:
            try:
                return self.request(method, path, body, content_type)
            except ApiError as exc:
                if exc.status not in (429, 503) or time.monotonic() > deadline:
                    raise
                wait = min(exc.retry_after or (5.0 if exc.status == 503 else 1.0), 60.0)
                if on_wait is not None:
                    on_wait(exc, wait)
                time.sleep(wait)
