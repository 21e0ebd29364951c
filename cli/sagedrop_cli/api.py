"""A small client of sagedrop's HTTPS API (the CLI's `predict`, `status` of a model, `stop`, `start`)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

USER_AGENT = "sagedrop-cli"


class ApiError(RuntimeError):
    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        super().__init__(f"HTTP {status} {code}: {message}")


@dataclass
class Api:
    base_url: str
    api_key: str
    timeout: float = 35.0

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None) -> Any:
        headers = {"x-api-key": self.api_key, "User-Agent": USER_AGENT, "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        if not self.base_url.startswith(("https://", "http://")):
            raise ApiError(0, "bad_url", f"the API URL must be http(s)://..., got {self.base_url!r}")
        url = self.base_url.rstrip("/") + path
        request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 - checked above
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - the user's API URL
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                error = json.loads(raw).get("error", {})
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
