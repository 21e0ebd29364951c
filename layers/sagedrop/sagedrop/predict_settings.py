"""The predict function's settings (template.yaml environment) and its AWS clients.

The sagemaker-runtime client has its own botocore config (:func:`runtime_config`): connect 2 s, read
``READ_TIMEOUT_S`` (24 s), standard retries with at most ``PREDICT_MAX_ATTEMPTS`` attempts, and a
connection pool as large as the thread pool (see ``sagedrop.predict`` for why).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sagedrop.aws import Clients
from sagedrop.predict_errors import READ_TIMEOUT_S

RUNTIME = "sagemaker-runtime"
CONNECT_TIMEOUT_S = 2
DEFAULT_MAX_ROWS = 500
"""Rows per InvokeEndpoint call. The SageMaker examples batch 100 (linear learner) to 500 (XGBoost)
rows per call; 500 keeps the per-call overhead (signing, TLS, the container's request parsing) small
against the model's work: 10,000 rows are 20 calls, three rounds of the default 8 workers."""
DEFAULT_CONCURRENCY = 8
DEFAULT_TIMEOUT_S = 25.0
DEFAULT_CACHE_S = 15.0
DEFAULT_MAX_ATTEMPTS = 3

# --------------------------------------------------------------------------------------------
# Settings and clients
# --------------------------------------------------------------------------------------------


class SettingsError(RuntimeError):
    """The function's environment is wrong: a deployment problem, not a caller's."""


def _env_number(name: str, default: float, minimum: float, kind: type = int) -> Any:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return kind(default)
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(
            f"environment variable {name} must be a{'n integer' if kind is int else ' number'}"
        ) from None
    if value < minimum:
        raise SettingsError(f"environment variable {name} must be at least {minimum}, got {raw}")
    return value


@dataclass(frozen=True)
class PredictSettings:
    """The predict function's settings (template.yaml environment; the PREDICT_* ones are optional)."""

    stack: str
    registry_table: str
    max_rows: int = DEFAULT_MAX_ROWS
    concurrency: int = DEFAULT_CONCURRENCY
    timeout_s: float = DEFAULT_TIMEOUT_S
    cache_s: float = DEFAULT_CACHE_S
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    @classmethod
    def from_env(cls) -> PredictSettings:
        stack, table = os.environ.get("SAGEDROP_STACK", ""), os.environ.get("REGISTRY_TABLE", "")
        if not stack or not table:
            raise SettingsError("SAGEDROP_STACK and REGISTRY_TABLE must be set; deploy the function with template.yaml")
        return cls(
            stack=stack,
            registry_table=table,
            max_rows=_env_number("PREDICT_MAX_ROWS", DEFAULT_MAX_ROWS, 1),
            concurrency=_env_number("PREDICT_CONCURRENCY", DEFAULT_CONCURRENCY, 1),
            timeout_s=_env_number("PREDICT_TIMEOUT_S", DEFAULT_TIMEOUT_S, 0.1, float),
            cache_s=_env_number("PREDICT_CACHE_SECONDS", DEFAULT_CACHE_S, 0, float),
            max_attempts=_env_number("PREDICT_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, 1),
        )


def runtime_config(settings: PredictSettings) -> Any:
    """botocore config of the sagemaker-runtime client (see the module docstring)."""
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "max_attempts": settings.max_attempts},
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        max_pool_connections=max(10, settings.concurrency),
        tcp_keepalive=True,
        user_agent_extra="sagedrop",
    )


class PredictClients(Clients):
    """:class:`~sagedrop.aws.Clients` whose sagemaker-runtime client uses :func:`runtime_config`."""

    def __init__(self, settings: Callable[[], PredictSettings] = PredictSettings.from_env, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._settings = settings

    def get(self, service: str) -> Any:
        if service == RUNTIME and service not in self._clients:
            import boto3  # deferred: the import is the largest part of a cold start

            self._clients[service] = boto3.client(
                service, region_name=self.region, config=runtime_config(self._settings())
            )
        return super().get(service)


class LazyClient:
    """A client created on first use (the SageMaker control-plane client is needed only to wake)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._factory()
        return getattr(self._client, name)
