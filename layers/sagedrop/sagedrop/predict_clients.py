"""The predict function's AWS clients (its settings are :class:`sagedrop.settings.PredictSettings`).

The sagemaker-runtime client has its own botocore config (:func:`runtime_config`): connect 2 s, read
``READ_TIMEOUT_S`` (24 s), standard retries with at most ``PREDICT_MAX_ATTEMPTS`` attempts, and a
connection pool as large as the thread pool (see ``sagedrop.predict`` for why).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sagedrop.aws import Clients
from sagedrop.predict_errors import READ_TIMEOUT_S
from sagedrop.settings import PredictSettings

RUNTIME = "sagemaker-runtime"
CONNECT_TIMEOUT_S = 2


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
