"""Who called the API: the identity API Gateway put in the proxy event's request context, and the admin check.

The authorizer chosen by the stack's ``AuthMode`` has already let the request through; this module only
reads who it was, for the logs and for the registry (who stopped or started a model), and checks the one
thing API Gateway cannot check in ``cognito`` mode: that the admin routes' caller is in the admin group.

- ``iam``: ``requestContext.identity`` carries ``userArn``, ``accountId``, ``caller``, ``accessKey``
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html,
  ``$context.identity.*``). Which routes a principal may call is decided by its IAM policy (the stack's
  PredictorPolicyArn / AdminPolicyArn outputs), before the function runs.
- ``cognito``: a user pool authorizer passes the token's claims under ``requestContext.authorizer.claims``
  (https://repost.aws/knowledge-center/cognito-user-pool-group reads ``['authorizer']['claims']``), each
  value a string; ``cognito:groups`` lists the user's groups. How a list is flattened into that string is
  not documented on a page found here, so :func:`groups_of` accepts a list, ``"a,b"``, ``"a b"`` and ``"[a b]"``.
- ``apikey``: only ``identity.apiKeyId`` names the caller (a key is not an identity; see docs/security.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sagedrop.errors import SagedropError


class Forbidden(SagedropError):
    """The caller is authenticated but may not call this route (403)."""

    http_status = 403
    error_code = "forbidden"


@dataclass(frozen=True)
class Caller:
    kind: str  # "iam" | "cognito" | "apikey" | "unknown"
    id: str
    name: str = ""
    groups: tuple[str, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        """One string for logs and the registry: ``iam:<arn>``, ``cognito:<user> (<sub>)``, ``apikey:<id>``."""
        if self.kind == "cognito" and self.name and self.name != self.id:
            return f"cognito:{self.name} ({self.id})"
        return f"{self.kind}:{self.id}"

    def log_fields(self) -> dict[str, Any]:
        return {
            "caller": self.label,
            "caller_kind": self.kind,
            **({"groups": list(self.groups)} if self.groups else {}),
        }


def groups_of(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value if str(v))
    return tuple(part for part in re.split(r"[\s,]+", str(value).strip().strip("[]")) if part)


def from_request_context(context: Mapping[str, Any] | None) -> Caller:
    context = context or {}
    claims = (context.get("authorizer") or {}).get("claims") or {}
    if claims:
        sub = str(claims.get("sub") or "")
        name = str(claims.get("email") or claims.get("cognito:username") or claims.get("username") or sub)
        return Caller("cognito", sub or name, name, groups_of(claims.get("cognito:groups")))
    identity = context.get("identity") or {}
    if identity.get("userArn"):
        return Caller("iam", str(identity["userArn"]), str(identity.get("caller") or ""))
    if identity.get("apiKeyId"):
        return Caller("apikey", str(identity["apiKeyId"]))
    return Caller("unknown", str(identity.get("sourceIp") or "-"))


def require_admin(caller: Caller, *, auth_mode: str, admin_group: str, route: str) -> None:
    """In ``cognito`` mode, admin routes need ``admin_group`` in the token's ``cognito:groups``.

    In ``iam`` mode API Gateway already refused principals without the admin policy; in ``apikey`` mode
    there is nothing to check (docs/security.md says so)."""
    if auth_mode != "cognito":
        return
    if admin_group not in caller.groups:
        member = f"in groups {', '.join(caller.groups)}" if caller.groups else "in no group"
        raise Forbidden(
            f"{route} needs membership of the Cognito group {admin_group!r}; {caller.label} is {member}. An "
            f"administrator adds you with: aws cognito-idp admin-add-user-to-group --user-pool-id <pool> "
            f"--username <you> --group-name {admin_group} (then sign in again for a new token)"
        )
