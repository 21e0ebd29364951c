"""One place for Powertools' Logger, Tracer and Metrics.

Configured by the ``POWERTOOLS_*`` environment of the template's Globals (service name, metrics
namespace, log level, tracing on or off), so handlers only import ``logger``, ``tracer`` and
``metrics``.

Powertools' Tracer imports the X-Ray SDK and builds its recorder (with a UDP socket) even when
tracing is disabled, which costs cold-start time for nothing. So the real Tracer is created only
when tracing is on (``POWERTOOLS_TRACE_DISABLED`` false, the stack's ``EnableTracing``); otherwise
``tracer`` is a stand-in with the same decorators that does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit

from sagedrop.settings import tracing_enabled

logger = Logger(service="sagedrop")
metrics = Metrics(namespace="Sagedrop", service="sagedrop")


class NoTracer:
    """The subset of Powertools' Tracer sagedrop uses, doing nothing (tracing off)."""

    disabled = True

    def capture_lambda_handler(self, lambda_handler: Callable | None = None, **_: Any) -> Any:
        if lambda_handler is None:
            return lambda handler: handler
        return lambda_handler

    def capture_method(self, method: Callable | None = None, **_: Any) -> Any:
        if method is None:
            return lambda fn: fn
        return method

    def put_annotation(self, key: str, value: Any) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        return None


def _make_tracer() -> Any:
    if tracing_enabled():
        from aws_lambda_powertools.tracing import Tracer

        return Tracer(service="sagedrop")
    return NoTracer()


tracer = _make_tracer()

__all__ = ["MetricUnit", "NoTracer", "logger", "metrics", "tracer", "tracing_enabled"]
