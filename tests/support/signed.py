"""HTTP calls to the local stack's API as a local principal: SigV4-signed like the CLI signs (botocore)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from botocore.credentials import Credentials

from sagedrop_client.api import sign


def call(
    stack: Any,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str | None = None,
    *,
    principal: str | None = "admin",
    headers: dict[str, str] | None = None,
    region: str | None = None,
    secret: str | None = None,
) -> tuple[int, Any]:
    """(status, JSON answer) of one request; ``principal`` None sends it unsigned."""
    url = stack.api_url + path
    sent = {"Accept": "application/json", **(headers or {})}
    if content_type:
        sent["Content-Type"] = content_type
    if principal is not None:
        keys = stack.credentials(principal)
        credentials = Credentials(keys["access_key"], secret or keys["secret_key"])
        sent = sign(method, url, sent, body, credentials, region or stack.wiring.region)
    request = urllib.request.Request(url, data=body, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
