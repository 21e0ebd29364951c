"""Who may call the local REST API: template.yaml's per-method ``security``, enforced as API Gateway does.

``LocalAuth.from_wiring`` reads the ``PredictionApi`` OpenAPI body after the template's conditions are
resolved for this deployment (``AuthMode``, ``MeterWithApiKeys``), so each method asks for what it asks
for on AWS: ``sigv4`` (IAM), ``cognito`` (a user pool token) and/or ``api_key`` (the usage plan key).
A method without ``security`` is open, as it would be on AWS (a unit test keeps every method covered).

- ``iam``: one local principal per ``AWS::IAM::ManagedPolicy`` the template creates (PredictorPolicy ->
  ``predictor``, AdminPolicy -> ``admin``), each with generated keys and that policy, evaluated with the
  local API id, stage, region and account; ``sigv4.SigV4Verifier`` checks signatures.
- ``cognito``: moto's cognito-idp holds the pool, the app client, the admin group and two users
  (``predictor``, ``admin`` in the group); it issues real RS256 ID tokens with ``cognito:groups``
  (moto/cognitoidp/models.py ``create_id_token``), verified here against moto's published key
  (moto's ``cognitoidp/resources/jwks-public.json``, the one its ``/.well-known/jwks.json`` serves).
  Refusals: 401 "Unauthorized" (no or bad token; amazon-archives/amazon-cognito-identity-js#165) and
  401 "The incoming token has expired" (aws-amplify/amplify-js#6060).
- ``apikey``: the ``x-api-key`` header; 403 "Forbidden" otherwise (API Gateway's default message).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sagedrop_local.sigv4 import AuthFailure, Principal, SigV4Verifier, denied_message, invoke_arn
from sagedrop_local.wiring import Wiring

API = "PredictionApi"
LOCAL_DOMAIN = "sagedrop.local"


@dataclass
class LocalUserPool:
    """A Cognito user pool in moto with the two local users; verifies the ID tokens it issues."""

    client: Any
    region: str
    admin_group: str
    pool_id: str = ""
    client_id: str = ""
    passwords: dict[str, str] = field(default_factory=dict)

    def create(self, name: str) -> LocalUserPool:
        self.pool_id = self.client.create_user_pool(PoolName=name, UsernameAttributes=["email"])["UserPool"]["Id"]
        self.client_id = self.client.create_user_pool_client(
            UserPoolId=self.pool_id, ClientName="sagedrop", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"]
        )["UserPoolClient"]["ClientId"]
        self.client.create_group(UserPoolId=self.pool_id, GroupName=self.admin_group)
        for user in ("predictor", "admin"):
            username, password = self.username(user), "Sd-" + secrets.token_urlsafe(12) + "9a"
            self.client.admin_create_user(UserPoolId=self.pool_id, Username=username, MessageAction="SUPPRESS")
            self.client.admin_set_user_password(
                UserPoolId=self.pool_id, Username=username, Password=password, Permanent=True
            )
            self.passwords[user] = password
        self.client.admin_add_user_to_group(
            UserPoolId=self.pool_id, Username=self.username("admin"), GroupName=self.admin_group
        )
        return self

    @staticmethod
    def username(user: str) -> str:
        return f"{user}@{LOCAL_DOMAIN}"

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    def id_token(self, user: str) -> str:
        """A fresh ID token for ``predictor`` or ``admin`` (what the app client's sign-in returns)."""
        result = self.client.admin_initiate_auth(
            UserPoolId=self.pool_id,
            ClientId=self.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": self.username(user), "PASSWORD": self.passwords[user]},
        )
        return str(result["AuthenticationResult"]["IdToken"])

    def claims(self, token: str, now: Callable[[], float] = time.time) -> dict[str, Any]:
        from joserfc import jwt
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet
        from moto.utilities.utils import load_resource

        if not token:
            raise AuthFailure("UNAUTHORIZED", "Unauthorized")
        try:
            keys = KeySet.import_key_set(load_resource("cognitoidp/resources/jwks-public.json"))
            claims = dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)
        except (JoseError, ValueError, TypeError, KeyError):
            raise AuthFailure("UNAUTHORIZED", "Unauthorized") from None
        if claims.get("iss") != self.issuer or claims.get("token_use") != "id":
            raise AuthFailure("UNAUTHORIZED", "Unauthorized")
        if float(claims.get("exp", 0)) < now():
            raise AuthFailure("UNAUTHORIZED", "The incoming token has expired")
        return claims


@dataclass
class LocalAuth:
    mode: str
    region: str
    account: str
    api_id: str
    stage: str
    api_key: str
    api_key_id: str
    security: dict[tuple[str, str], frozenset[str]]
    principals: dict[str, Principal] = field(default_factory=dict)
    user_pool: LocalUserPool | None = None

    @classmethod
    def from_wiring(
        cls, wiring: Wiring, *, api_key: str, api_key_id: str, cognito: Callable[[], Any] | None = None
    ) -> LocalAuth:
        api = wiring.resources.get(API, {})
        body = wiring.evaluate(api.get("Properties", {}).get("DefinitionBody", {})) or {}
        security: dict[tuple[str, str], frozenset[str]] = {}
        for path, verbs in (body.get("paths") or {}).items():
            for verb, spec in (verbs or {}).items():
                schemes = (spec or {}).get("security") or []
                security[(verb.upper(), path)] = frozenset(schemes[0]) if schemes else frozenset()
        auth = cls(
            mode=str(wiring.parameters.get("AuthMode", "apikey")),
            region=wiring.region,
            account=wiring.account,
            api_id=str(wiring.evaluate({"Ref": API})) if api else "local",
            stage=wiring.stage,
            api_key=api_key,
            api_key_id=api_key_id,
            security=security,
        )
        for logical_id, resource in wiring.resources_of_type("AWS::IAM::ManagedPolicy").items():
            condition = resource.get("Condition")
            if condition and not wiring.evaluate({"Condition": condition}):
                continue
            name = logical_id.removesuffix("Policy").lower()
            document = wiring.evaluate(resource["Properties"]["PolicyDocument"])
            auth.principals[name] = Principal.create(name, wiring.account, document)
        if any("cognito" in schemes for schemes in security.values()):
            if wiring.parameters.get("CognitoUserPoolArn"):
                raise ValueError("the local stack creates its own user pool: leave CognitoUserPoolArn empty locally")
            if cognito is None:
                raise ValueError("AuthMode=cognito needs the emulated cognito-idp")
            group = str(wiring.parameters.get("CognitoAdminGroup", "sagedrop-admins"))
            auth.user_pool = LocalUserPool(cognito(), wiring.region, group).create(f"{wiring.stack}-users")
        return auth

    @property
    def verifier(self) -> SigV4Verifier:
        return SigV4Verifier(self.region, self.principals.values())

    def authorize(
        self, method: str, route_path: str, path: str, url: str, headers: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        """The request context's caller (``identity`` fields, ``authorizer.claims``), or AuthFailure."""
        schemes = self.security.get((method, route_path), frozenset())
        context: dict[str, Any] = {"identity": {}}
        lower = {k.lower(): v for k, v in headers.items()}
        if "sigv4" in schemes:
            principal = self.verifier.verify(method, url, headers, body)
            resource = invoke_arn(self.region, self.account, self.api_id, self.stage, method, path)
            if not principal.allows("execute-api:Invoke", resource):
                raise AuthFailure("ACCESS_DENIED", denied_message(principal, resource))
            context["identity"] = {
                "accessKey": principal.access_key,
                "accountId": self.account,
                "caller": principal.name,
                "user": principal.name,
                "userArn": principal.arn,
            }
        if "cognito" in schemes and self.user_pool is not None:
            claims = self.user_pool.claims(lower.get("authorization", ""))
            context["authorizer"] = {
                "claims": {k: ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in claims.items()}
            }
        if "api_key" in schemes:
            if lower.get("x-api-key") != self.api_key:
                raise AuthFailure("INVALID_API_KEY", "Forbidden")
            context["identity"].update({"apiKey": self.api_key, "apiKeyId": self.api_key_id})
        return context

    def describe(self) -> dict[str, Any]:
        """What the local stack prints and writes to .sagedrop/local.json for clients."""
        info: dict[str, Any] = {
            "auth_mode": self.mode,
            "api_key": self.api_key,
            "api_key_id": self.api_key_id,
            "api_key_required": any("api_key" in schemes for schemes in self.security.values()),
        }
        if self.principals:
            info["principals"] = {
                name: {"arn": p.arn, "access_key": p.access_key, "secret_key": p.secret_key}
                for name, p in self.principals.items()
            }
        if self.user_pool is not None:
            info["cognito"] = {
                "user_pool_id": self.user_pool.pool_id,
                "client_id": self.user_pool.client_id,
                "admin_group": self.user_pool.admin_group,
                "users": {
                    user: {"username": self.user_pool.username(user), "password": self.user_pool.passwords[user]}
                    for user in ("predictor", "admin")
                },
            }
        return info
