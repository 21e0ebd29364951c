"""SageMaker runtime on moto for the predict function's tests: canned and computed endpoint answers.

Two ways to answer InvokeEndpoint, both behind the real botocore client (serialization, response
parsing, error parsing and retries all run):

* :func:`queue_answers` uses moto as it is: answers are queued in moto's sagemaker-runtime backend
  and handed out in order. moto caches an answer by the request (its body and headers), not by
  endpoint: a request with a body seen before gets the answer it got then, and does not take one
  from the queue. Tests that send the same body twice (e.g. with and without labels) rely on that.
* :class:`Endpoints` replaces moto's InvokeEndpoint handler with responders that compute the answer
  from the request (10,000 rows in order), take binary bodies (moto's own handler decodes every body
  as UTF-8, so images fail there), fail the way SageMaker fails (ModelError 424, throttling,
  ModelNotReady 429, a missing endpoint) or take longer than the caller's deadline.

Also: a real (tiny) JPEG and PNG, and helpers that put a served model in the registry and its kept
endpoint config in moto's SageMaker.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from sagedrop_local import moto_gaps

ACCOUNT = "123456789012"


# ---- images ------------------------------------------------------------------------------------


def tiny_png(width: int = 4, height: int = 4, shade: int = 0) -> bytes:
    """A valid RGB PNG (zlib-compressed scanlines, CRCs and all)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    def pixel(x: int, y: int) -> bytes:
        return bytes(((x * 40 + shade) % 256, (y * 40) % 256, ((x + y) * 20) % 256))

    rows = b"".join(b"\x00" + b"".join(pixel(x, y) for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def tiny_jpeg() -> bytes:
    """A valid 8x8 mid-grey baseline JPEG: one block whose DC difference and AC coefficients are 0.

    Both Huffman tables hold a single one-bit code (DC category 0; AC end-of-block), so the scan
    data is the two bits ``00`` padded with ones.
    """

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload

    quant = segment(0xDB, b"\x00" + bytes([1] * 64))
    frame = segment(0xC0, struct.pack(">BHHB", 8, 8, 8, 1) + bytes([1, 0x11, 0]))
    dc = segment(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x00")
    ac = segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")
    scan = segment(0xDA, bytes([1, 1, 0x00, 0, 63, 0]))
    return b"\xff\xd8" + quant + frame + dc + ac + scan + b"\x3f" + b"\xff\xd9"


# ---- moto's own queue --------------------------------------------------------------------------


def queue_answers(*answers: tuple[str | bytes, str], region: str = "us-east-1") -> None:
    """Queue (body, content type) answers in moto's sagemaker-runtime backend, in order."""
    from moto.sagemakerruntime.models import sagemakerruntime_backends

    backend = sagemakerruntime_backends[ACCOUNT][region]
    for body, content_type in answers:
        text = body.decode() if isinstance(body, bytes) else body
        backend.results_queue.append((text, content_type, "AllTraffic", ""))


# ---- computed answers --------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    body: bytes | str
    content_type: str = "application/json"


@dataclass(frozen=True)
class Fault:
    """An error answer as SageMaker sends it (rest-json: status, x-amzn-ErrorType, JSON body)."""

    status: int
    code: str
    message: str
    fields: Mapping[str, Any] = field(default_factory=dict)


def model_error(original_status: int, original_message: str) -> Fault:
    """What InvokeEndpoint answers when the container returns an error status."""
    return Fault(
        424,
        "ModelError",
        f'Received client error ({original_status}) from primary with message "{original_message}". '
        "See https://us-east-1.console.aws.amazon.com/cloudwatch/home for more information.",
        {
            "OriginalStatusCode": original_status,
            "OriginalMessage": original_message,
            "LogStreamArn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/x",
        },
    )


THROTTLED = Fault(400, "ThrottlingException", "Rate exceeded")
NOT_READY = Fault(429, "ModelNotReadyException", "Model is not ready yet. Try again later.")


def endpoint_not_found(endpoint: str) -> Fault:
    return Fault(400, "ValidationError", f"Endpoint {endpoint} of account {ACCOUNT} not found.")


@dataclass(frozen=True)
class Call:
    endpoint: str
    body: bytes
    content_type: str
    accept: str


Responder = Callable[[Call], Answer | Fault]


class Endpoints:
    """Per-endpoint responders in place of moto's InvokeEndpoint handler (install with a monkeypatch)."""

    def __init__(self) -> None:
        self.responders: dict[str, Responder] = {}
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._gate = threading.Event()
        self._gate.set()
        self._in_flight = 0
        self._idle = threading.Condition(self._lock)

    def answer(self, endpoint: str, responder: Responder) -> None:
        self.responders[endpoint] = responder

    def hold(self) -> None:
        """Calls wait until :meth:`release` (for deadline tests)."""
        self._gate.clear()

    def release(self, timeout: float = 5.0) -> None:
        """Let held calls finish and wait until none is in flight."""
        self._gate.set()
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> Endpoints:
        """InvokeEndpoint answered by the responders, raw bodies and all (sagedrop_local.moto_gaps)."""

        def respond(name: str | None, body: bytes, content_type: str | None, accept: str | None) -> Any:
            return self._respond(Call(name or "", body, content_type or "", accept or ""))

        moto_gaps.install_invoke(lambda t, n, v: monkeypatch.setattr(t, n, v, raising=False), respond)
        return self

    def _respond(self, call: Call) -> moto_gaps.Answer:
        with self._lock:
            self.calls.append(call)
            self._in_flight += 1
        try:
            self._gate.wait(timeout=10)
            responder = self.responders.get(call.endpoint)
            result = responder(call) if responder else endpoint_not_found(call.endpoint)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()
        if isinstance(result, Fault):
            return moto_gaps.error_answer(result.status, result.code, result.message, result.fields)
        return moto_gaps.ok_answer(result.body, result.content_type)


def sequence(*answers: Answer | Fault) -> Responder:
    """A responder answering in turn (the last answer repeats)."""
    state = {"i": 0}
    lock = threading.Lock()

    def respond(call: Call) -> Answer | Fault:
        with lock:
            index = min(state["i"], len(answers) - 1)
            state["i"] += 1
        return answers[index]

    return respond


# ---- the registry and SageMaker side of a served model --------------------------------------------


def serve_model(
    stack: Any,
    name: str,
    algorithm: str,
    *,
    hyperparameters: Mapping[str, str] | None = None,
    labels: Sequence[str] | None = None,
    feature_dim: int | None = None,
    status: str = "in_service",
    serverless: bool = False,
    endpoint: str | None = None,
    job: str | None = None,
    create_endpoint: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Register a deployed model (summary + serving job record) and create its hosting in moto.

    The fields are those deploy writes (registry docstring). ``create_endpoint=False`` leaves the
    model and endpoint config without an endpoint, as a hibernated model is.
    """
    from sagedrop.registry import Registry

    job = job or f"{name}-20261126-101530-abc123"
    endpoint = endpoint or name
    registry = Registry(stack.table, stack.clients["dynamodb"])
    manifest = f"s3://{stack.data_bucket}/{name}/training.json"
    registry.put_job(
        name,
        job,
        {
            "status": "deployed",
            "algorithm": algorithm,
            "version": "1",
            "manifest": manifest,
            "manifest_version": "v1",
            "labels": list(labels) if labels else None,
            "hyperparameters": dict(hyperparameters or {}),
        },
    )
    summary = {
        "status": status,
        "algorithm": algorithm,
        "version": "1",
        "manifest": manifest,
        "latest_job": job,
        "serving_job": job,
        "sagemaker_model": job,
        "endpoint_config": job,
        "endpoint": endpoint,
        "variant": "AllTraffic",
        "serverless": serverless,
        "labels": list(labels) if labels else None,
        "feature_dim": feature_dim,
        "metrics": {"validation:accuracy": 0.9},
        "idle_minutes": 120,
        "keep_alive": False,
        "deployed_at": "2026-11-26T10:30:00.000Z",
        "stack": stack.name,
        **(extra or {}),
    }
    registry.update(name, summary)
    sm = stack.sagemaker
    sm.create_model(
        ModelName=job,
        ExecutionRoleArn=stack.role_arn,
        PrimaryContainer={"Image": f"683313688378.dkr.ecr.us-east-1.amazonaws.com/{algorithm}:1"},
    )
    variant: dict[str, Any] = {"VariantName": "AllTraffic", "ModelName": job}
    if serverless:
        variant["ServerlessConfig"] = {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    else:
        variant.update({"InitialInstanceCount": 1, "InstanceType": "ml.m5.large"})
    sm.create_endpoint_config(
        EndpointConfigName=job,
        ProductionVariants=[variant],
        Tags=[{"Key": "sagedrop:stack", "Value": stack.name}],
    )
    if create_endpoint:
        sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=job)
    return summary
