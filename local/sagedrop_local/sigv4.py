"""IAM authorization, locally: SigV4 signatures checked like API Gateway, then the caller's IAM policy.

``SigV4Verifier.verify`` parses the ``Authorization`` header, finds the caller's secret by access key id,
recomputes the signature with botocore's own signer (``botocore.auth.SigV4Auth``: canonical request,
string to sign, signing key) over the headers the caller signed, and compares. ``Principal.allows``
evaluates the caller's identity policy on the method's ``execute-api:Invoke`` resource ARN
(``arn:aws:execute-api:region:account-id:api-id/stage/METHOD/resource-path``; Control access for
invoking an API, https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-invoke-api.html).

Refusals carry the messages API Gateway answers (a 403 each); sources:
- unsigned: "Missing Authentication Token"; unknown access key: "The security token included in the
  request is invalid."; wrong secret: "The request signature we calculated does not match the signature
  you provided. ..."; no policy: "User: <arn> is not authorized to perform: execute-api:Invoke on
  resource: <arn> because no identity-based policy allows the execute-api:Invoke action"
  (https://repost.aws/knowledge-center/api-gateway-iam-sigv4-mismatch);
- "Signature expired: <date> is now earlier than <date> (<now> - 5 min.)": API Gateway's answer quoted in
  aws-amplify/aws-sdk-android#253; "Signature not yet current", "Date in Credential scope does not
  match ...": https://docs.aws.amazon.com/IAM/latest/UserGuide/signature-v4-troubleshooting.html;
- "Credential should be scoped to a valid region, not '<r>'. " and "Credential should be scoped to correct
  service: 'execute-api'. " (both, concatenated, as API Gateway answered in Kong/insomnia#830).
The mismatch answer also lists the canonical request and string to sign the service computed (same IAM
troubleshooting page); its exact layout here is sagedrop's.
"""

from __future__ import annotations

import fnmatch
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

SERVICE = "execute-api"
CLOCK_SKEW = timedelta(minutes=5)  # "Signature expired: ... (<now> - 5 min.)"
ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE = "%Y%m%dT%H%M%SZ"

MISSING_TOKEN = "Missing Authentication Token"  # noqa: S105 - an error message, not a secret
INVALID_TOKEN = "The security token included in the request is invalid."  # noqa: S105 - a message
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)


class AuthFailure(Exception):
    """A refused request: the gateway response type (which template answers it) and API Gateway's message."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Principal:
    """A local IAM user: its keys and its identity policy (a template ManagedPolicy, evaluated)."""

    name: str
    arn: str
    access_key: str
    secret_key: str
    policy: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, name: str, account: str, policy: dict[str, Any]) -> Principal:
        return cls(
            name=name,
            arn=f"arn:aws:iam::{account}:user/sagedrop-local-{name}",
            access_key="AKIA" + secrets.token_hex(8).upper(),
            secret_key=secrets.token_urlsafe(30),
            policy=policy,
        )

    def allows(self, action: str, resource: str) -> bool:
        """IAM's evaluation for one identity policy: an explicit Deny wins, else an Allow, else denied."""
        allowed = False
        for statement in _as_list(self.policy.get("Statement")):
            if not (
                _matches(statement.get("Action"), action, case=False) and _matches(statement.get("Resource"), resource)
            ):
                continue
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
        return allowed


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _matches(patterns: Any, value: str, case: bool = True) -> bool:
    """IAM wildcards: ``*`` any run of characters (slashes too), ``?`` one character."""
    for pattern in _as_list(patterns):
        text, wanted = (pattern, value) if case else (pattern.lower(), value.lower())
        if re.fullmatch(fnmatch.translate(text), wanted):
            return True
    return False


def invoke_arn(region: str, account: str, api_id: str, stage: str, method: str, path: str) -> str:
    """``arn:aws:execute-api:region:account-id:api-id/stage/METHOD/resource-path`` (the request's own path)."""
    return f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{method.upper()}/{path.lstrip('/')}"


_AUTH_PARAM = re.compile(r"(\w+)=([^,\s]+)")


@dataclass
class SigV4Verifier:
    region: str
    principals: Iterable[Principal]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    service: str = SERVICE

    def __post_init__(self) -> None:
        self.by_key = {p.access_key: p for p in self.principals}

    def verify(self, method: str, url: str, headers: dict[str, str], body: bytes) -> Principal:
        """The principal whose signature this request carries, or AuthFailure with API Gateway's message."""
        lower = {k.lower(): v for k, v in headers.items()}
        authorization = lower.get("authorization", "")
        if not authorization:
            raise AuthFailure("MISSING_AUTHENTICATION_TOKEN", MISSING_TOKEN)
        scheme, _, rest = authorization.partition(" ")
        params = dict(_AUTH_PARAM.findall(rest))
        problems = [
            f"Authorization header requires '{name}' parameter."
            for name in ("Credential", "Signature", "SignedHeaders")
            if name not in params
        ]
        if "x-amz-date" not in lower:
            problems.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        if scheme != ALGORITHM or problems:
            # API Gateway's wording for a malformed header; the exact text is to be verified on a real account.
            raise AuthFailure("INCOMPLETE_SIGNATURE", " ".join(problems) + f" Authorization={authorization}")
        access_key, _, scope = params["Credential"].partition("/")
        principal = self.by_key.get(access_key)
        if principal is None:
            raise AuthFailure("UNRECOGNIZED_CLIENT", INVALID_TOKEN)
        amz_date = lower["x-amz-date"]
        self._check_scope(scope, amz_date)
        self._check_time(amz_date)
        expected, canonical, string_to_sign = self.signature(
            principal, method, url, lower, params["SignedHeaders"].split(";"), body, amz_date
        )
        if not hmac.compare_digest(expected, params["Signature"]):
            raise AuthFailure(
                "INVALID_SIGNATURE",
                f"{MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
                f"The String-to-Sign should have been\n'{string_to_sign}'\n",
            )
        return principal

    def _check_scope(self, scope: str, amz_date: str) -> None:
        parts = scope.split("/")
        if len(parts) != 4 or parts[3] != "aws4_request":
            raise AuthFailure(
                "INCOMPLETE_SIGNATURE", f"Credential scope {scope!r} is not date/region/service/aws4_request"
            )
        date, region, service, _ = parts
        message = ""
        if region != self.region:
            message += f"Credential should be scoped to a valid region, not '{region}'. "
        if service != self.service:
            message += f"Credential should be scoped to correct service: '{self.service}'. "
        if message:
            raise AuthFailure("INVALID_SIGNATURE", message)
        if date != amz_date[:8]:
            raise AuthFailure(
                "INVALID_SIGNATURE",
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{date}' != '{amz_date[:8]}', from '{amz_date}'.",
            )

    def _check_time(self, amz_date: str) -> None:
        try:
            signed = datetime.strptime(amz_date, AMZ_DATE).replace(tzinfo=UTC)
        except ValueError:
            raise AuthFailure(
                "INVALID_SIGNATURE", f"X-Amz-Date {amz_date!r} is not in the form YYYYMMDDTHHMMSSZ"
            ) from None
        now = self.clock().astimezone(UTC).replace(microsecond=0)
        if signed < now - CLOCK_SKEW:
            raise AuthFailure(
                "INVALID_SIGNATURE",
                f"Signature expired: {amz_date} is now earlier than {(now - CLOCK_SKEW).strftime(AMZ_DATE)} "
                f"({now.strftime(AMZ_DATE)} - 5 min.)",
            )
        if signed > now + CLOCK_SKEW:
            raise AuthFailure(
                "INVALID_SIGNATURE",
                f"Signature not yet current: {amz_date} is still later than {(now + CLOCK_SKEW).strftime(AMZ_DATE)} "
                f"({now.strftime(AMZ_DATE)} + 5 min.)",
            )

    def signature(
        self,
        principal: Principal,
        method: str,
        url: str,
        headers: dict[str, str],
        signed: list[str],
        body: bytes,
        amz_date: str,
    ) -> tuple[str, str, str]:
        """botocore's SigV4 over the signed headers only: (signature, canonical request, string to sign)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        request = AWSRequest(method=method, url=url, data=body, headers={h: headers.get(h, "") for h in signed})
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(principal.access_key, principal.secret_key), self.service, self.region)
        canonical = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical)
        return signer.signature(string_to_sign, request), canonical, string_to_sign


def denied_message(principal: Principal, resource: str) -> str:
    return (
        f"User: {principal.arn} is not authorized to perform: execute-api:Invoke on resource: {resource} "
        "because no identity-based policy allows the execute-api:Invoke action"
    )
