"""One place for Powertools' Logger, Tracer and Metrics.

Configured by the ``POWERTOOLS_*`` environment of the template's Globals (service name, metrics
namespace, log level, tracing on or off), so handlers only import ``logger``, ``tracer`` and
``metrics``. Log records skip the thread and process look-ups no line uses (see below).

Powertools' Tracer imports the X-Ray SDK and builds its recorder (with a UDP socket) even when
tracing is disabled, which costs cold-start time for nothing. So the real Tracer is created only
when tracing is on (``POWERTOOLS_TRACE_DISABLED`` false, the stack's ``EnableTracing``); otherwise
``tracer`` is a stand-in with the same decorators that does nothing.

Metrics with ``POWERTOOLS_METRICS_DISABLED`` (the local stack's setting): Powertools' ``flush_metrics``
then prints nothing but also leaves the metric set filled, and ``add_metric`` prints the EMF JSON
unconditionally once a metric holds 100 values (Powertools 3.37.0,
aws_lambda_powertools/metrics/provider/cloudwatch_emf/cloudwatch.py: ``add_metric`` and
``flush_metrics``; the 100-value flush came with aws-powertools/powertools-lambda-python pull request
#1046). In a process that runs a handler many times, values piled up across invocations and two raw EMF
lines reached the demo's output. :class:`_EmfProvider` empties the set at each flush when metrics are
disabled, as each invocation's flush does when they are on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from sagedrop.settings import tracing_enabled


class _EmfProvider(AmazonCloudWatchEMFProvider):
    """Powertools' EMF provider whose flush also empties the metric set when metrics are disabled."""

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)
        if is_metrics_disabled():
            self.clear_metrics()


def _make_metrics() -> Metrics:
    made = Metrics(namespace="Sagedrop", service="sagedrop")
    made.provider = _EmfProvider(
        namespace="Sagedrop",
        service="sagedrop",
        metric_set=made.metric_set,
        dimension_set=made.dimension_set,
        metadata_set=made.metadata_set,
        default_dimensions=made.default_dimensions,
    )
    return made


# Every log record looks up its thread, process id and multiprocessing process name; Powertools' JSON lines
# use none of them (its default keys are level, location and timestamp, then the service, the Lambda
# context and the appended keys: aws_lambda_powertools/logging/formatter.py, _build_default_keys), nor does
# the Lambda runtime's own JSON format (awslambdaric/lambda_runtime_log_utils.py lists them as reserved,
# aws/aws-lambda-python-runtime-interface-client commit 46e4c6a11064b8adc8e0dce34a647a04e37ae79c). The
# logging HOWTO's "Optimization" section switches them off this way
# (https://docs.python.org/3/howto/logging.html#optimization): a third of a log line's cost (issue 16).
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False

logger = Logger(service="sagedrop")
metrics = _make_metrics()


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
