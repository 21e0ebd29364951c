"""Where the CLI talks to: a deployed stack (found from its CloudFormation outputs) or the local stack.

The local stack (``sagedrop local up`` / ``make up``) writes its coordinates to
``.sagedrop/local.json`` in the working directory; a deployed stack is named with ``--stack``
(or ``SAGEDROP_STACK``) and its bucket, API URL, AuthMode, key and registry table are read from the stack.

``Target.api`` builds the API client for the stack's AuthMode: with ``iam`` it signs with the caller's
AWS credentials (the default profile chain, or ``AWS_PROFILE``; locally, the local ``admin`` principal,
or ``predictor`` with ``SAGEDROP_LOCAL_PRINCIPAL=predictor``); with ``cognito`` it sends the ID token
given with ``--id-token`` or ``SAGEDROP_ID_TOKEN``; with ``apikey`` (or metering) it sends the key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagedrop_client import state as local_files
from sagedrop_client.api import Api


class TargetError(RuntimeError):
    """The CLI cannot tell or reach where to send things; the message says what to do next."""


@dataclass
class Target:
    name: str
    region: str
    bucket: str
    table: str
    api_url: str
    api_key_id: str = ""
    endpoint_url: str | None = None
    auth_mode: str = "iam"
    api_key_required: bool = False
    credentials: Any = None
    id_token: str | None = None
    _api_key: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    def api(self) -> Api:
        """The API client for this stack's AuthMode (see the module docstring)."""
        key = self.api_key if self.auth_mode == "apikey" or self.api_key_required else None
        if self.auth_mode == "iam":
            if self.credentials is None:
                raise TargetError(
                    "no AWS credentials to sign the request with: configure a profile (aws configure, or "
                    "AWS_PROFILE) whose user or role has the stack's PredictorPolicyArn or AdminPolicyArn attached"
                )
            return Api(self.api_url, api_key=key, credentials=self.credentials, region=self.region)
        if self.auth_mode == "cognito":
            token = self.id_token or os.environ.get("SAGEDROP_ID_TOKEN")
            if not token:
                raise TargetError(
                    "this stack uses Cognito sign-in: pass --id-token (or set SAGEDROP_ID_TOKEN) to your ID token, "
                    "e.g. from: aws cognito-idp initiate-auth --auth-flow USER_PASSWORD_AUTH "
                    "--client-id <CognitoClientId> --auth-parameters USERNAME=<you>,PASSWORD=<password> "
                    "--query AuthenticationResult.IdToken"
                )
            return Api(self.api_url, api_key=key, id_token=token)
        return Api(self.api_url, api_key=self.api_key)

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            kwargs: dict[str, Any] = {"region_name": self.region}
            if self.endpoint_url:
                kwargs.update(
                    endpoint_url=self.endpoint_url,
                    aws_access_key_id="local",
                    aws_secret_access_key="local",  # noqa: S106 - the local stack accepts any credentials
                )
            self._clients[service] = boto3.client(service, **kwargs)
        return self._clients[service]

    @property
    def api_key(self) -> str:
        if self._api_key is None:
            if not self.api_key_id:
                raise TargetError("the stack has no ApiKeyId output; redeploy it with the current template.yaml")
            try:
                response = self.client("apigateway").get_api_key(apiKey=self.api_key_id, includeValue=True)
            except Exception as exc:
                raise TargetError(
                    f"cannot read the API key {self.api_key_id}: {exc}. Your credentials need apigateway:GET on "
                    "the key, or pass the key with --api-key"
                ) from exc
            self._api_key = response["value"]
        return self._api_key

    @api_key.setter
    def api_key(self, value: str) -> None:
        self._api_key = value

    # ---- construction -------------------------------------------------------------------

    @classmethod
    def from_stack(cls, stack: str, region: str | None = None) -> Target:
        import boto3

        session = boto3.session.Session(region_name=region)
        if session.region_name is None:
            raise TargetError("no AWS region: pass --region or set AWS_REGION")
        try:
            described = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
        except Exception as exc:
            raise TargetError(
                f"cannot read stack {stack!r} in {session.region_name}: {exc}. Check the name and region "
                "(sam deploy prints both), and your AWS credentials"
            ) from exc
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        missing = [k for k in ("DataBucketName", "ApiUrl", "RegistryTableName") if k not in outputs]
        if missing:
            raise TargetError(f"stack {stack!r} has no output {', '.join(missing)}: is it a sagedrop stack?")
        return cls(
            name=stack,
            region=session.region_name,
            bucket=outputs["DataBucketName"],
            table=outputs["RegistryTableName"],
            api_url=outputs["ApiUrl"].rstrip("/"),
            api_key_id=outputs.get("ApiKeyId", ""),
            # A stack from before AuthMode answered to its API key only.
            auth_mode=outputs.get("AuthMode", "apikey"),
            api_key_required=outputs.get("ApiKeyRequired") == "true",
            credentials=session.get_credentials(),
        )

    @classmethod
    def from_local(cls, state: Path | None = None) -> Target:
        state = state or local_files.local_state()
        if state is None or not state.is_file():
            raise TargetError(
                f"no local stack is running (no .sagedrop/local.json here or in {local_files.USER_STATE.parent}): "
                "start one with "
                "`sagedrop local up` (or `make up`) in another terminal, or name a deployed stack with --stack"
            )
        data = local_files.read_local_state(state)
        principal = os.environ.get("SAGEDROP_LOCAL_PRINCIPAL", "admin")
        principals = data.get("principals") or {}
        credentials = None
        if principal in principals:
            from botocore.credentials import Credentials

            credentials = Credentials(principals[principal]["access_key"], principals[principal]["secret_key"])
        elif principals:
            raise TargetError(
                f"SAGEDROP_LOCAL_PRINCIPAL={principal!r} is not a local principal; use one of {', '.join(principals)}"
            )
        return cls(
            name=data["stack"],
            region=data["region"],
            bucket=data["bucket"],
            table=data["table"],
            api_url=data["api_url"],
            api_key_id=data.get("api_key_id", ""),
            endpoint_url=data["endpoint_url"],
            auth_mode=data.get("auth_mode", "apikey"),
            api_key_required=bool(data.get("api_key_required")),
            credentials=credentials,
            _api_key=data["api_key"],
        )

    @classmethod
    def resolve(
        cls,
        stack: str | None,
        region: str | None,
        local: bool,
        api_key: str | None = None,
        id_token: str | None = None,
    ) -> Target:
        stack = stack or os.environ.get("SAGEDROP_STACK")
        if local or (not stack and local_files.LOCAL_STATE.is_file()):
            target = cls.from_local()
        elif stack:
            target = cls.from_stack(stack, region)
        else:
            raise TargetError(
                "which sagedrop? Pass --stack NAME (a deployed stack; or set SAGEDROP_STACK), or --local with "
                "`sagedrop local up` running"
            )
        if api_key:
            target.api_key = api_key
        if id_token:
            target.id_token = id_token
        return target
