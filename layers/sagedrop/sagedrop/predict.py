"""Predictions: a model name and a request in, the algorithm's answers out, through its endpoint.

``PredictionService.predict`` is what ``POST /models/{model}/predictions`` runs:

1. **Look the model up** in the registry (:class:`ModelDirectory`, a short in-memory cache of the
   summary and the serving job's hyperparameters): endpoint, algorithm, labels, feature count.
2. **Encode** the request with the algorithm's own wire format (``Algorithm.encode_request``): rows
   to ``text/csv``, words or sentences to JSON, one call per image. Rows are chunked so that each
   InvokeEndpoint stays within 6 MB (4 MB serverless) and :attr:`PredictSettings.max_rows` rows.
   Malformed input is refused here, before any endpoint is touched or woken.
3. **Find the endpoint**: a ``hibernated`` model is woken (:mod:`sagedrop.wake`, once across
   concurrent requests) and the request answered 503 with ``Retry-After``; ``waking``, deploying
   and training models answer 503 as well; a model that serves nothing and waits for nothing 409.
4. **Invoke** the endpoint, all within one deadline below API Gateway's 29 s: a request that fits in
   one call is made in the handler's thread (cut off at the deadline by :mod:`sagedrop.alarm`), several
   calls on a bounded thread pool; answers are reassembled in the original order and decoded
   (``Algorithm.decode_response``).

``PredictionService.stop`` and ``start`` are ``POST /models/{model}/stop`` and ``/start``: stop hibernates
the model now (``sagedrop.cleanup.hibernate``, the same state idle cleanup leaves), start wakes it
(``sagedrop.wake``) and answers 202 while the endpoint is created; both are idempotent and say so
(200 when the model already is in the asked state, 409 when nothing can be done).

Every failure is a domain exception carrying its HTTP answer (``http_status``, ``error_code`` and
for 429/503 ``retry_after``); the handler maps them in one place.

Timeouts. The sagemaker-runtime client here has its own botocore config (``runtime_config``): connect
2 s, read :data:`READ_TIMEOUT_S` (24 s), standard retry mode with at most
:attr:`PredictSettings.max_attempts` attempts, and a connection pool as large as the thread pool.
``sagedrop.aws.SERVICE_TIMEOUTS`` gives sagemaker-runtime (3, 25) with 4 attempts, whose worst case
(4 x 25 s) exceeds 29 s; so predict does not use it, and the whole request is bounded by
:attr:`PredictSettings.timeout_s` (default 25 s, never beyond the Lambda's remaining time): past
it, the answer is 504 (the one call is interrupted; the chunks still queued are cancelled).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from sagedrop import alarm, algorithms, naming, registry
from sagedrop.algorithms.base import (
    INSTANCE_ENDPOINT_MAX_BYTES,
    SERVERLESS_ENDPOINT_MAX_BYTES,
    Algorithm,
    InvokeRequest,
    PredictionInput,
    ServingContext,
)
from sagedrop.codecs import BadModelResponse
from sagedrop.model_actions import STOP_REASON, ModelAction, ModelActions  # re-exported
from sagedrop.predict_clients import LazyClient, PredictClients, runtime_config  # re-exported for the handler
from sagedrop.predict_errors import (  # re-exported: the API's errors are sagedrop.predict's too
    EndpointError,
    EndpointMissing,
    ModelBusy,
    ModelFailed,
    ModelNotFound,
    ModelRefusedInput,
    NotDeployed,
    NotInService,
    PredictError,
    PredictTimeout,
    Throttled,
    Unavailable,
    invoke_error,
)
from sagedrop.served import ModelDirectory, ServedModel, feature_count, no_endpoint_hint, reason_text
from sagedrop.settings import PredictSettings, SettingsError  # re-exported: the handler imports them from here
from sagedrop.wake import RETRY_AFTER_S, Waker

__all__ = [
    "EndpointError",
    "EndpointMissing",
    "LazyClient",
    "ModelBusy",
    "ModelDirectory",
    "ModelFailed",
    "ModelNotFound",
    "ModelRefusedInput",
    "NotDeployed",
    "NotInService",
    "PredictClients",
    "PredictError",
    "PredictSettings",
    "PredictTimeout",
    "PredictionService",
    "ServedModel",
    "SettingsError",
    "Throttled",
    "Unavailable",
    "invoke_error",
    "runtime_config",
]

log = logging.getLogger("sagedrop.predict")

TRAINING_RETRY_AFTER_S = 300

# --------------------------------------------------------------------------------------------
# The service
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    """A prediction request's answer (``body``) and what it took (for logs and metrics)."""

    body: dict[str, Any]
    calls: int


class PredictionService:
    """The predict function's domain logic, with its collaborators injected."""

    def __init__(
        self,
        settings: PredictSettings,
        *,
        registry_: registry.Registry,
        runtime: Any,
        waker: Waker,
        sagemaker: Any = None,
        autoscaling: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._registry = registry_
        self._runtime = runtime
        self._waker = waker
        self._clock = clock
        self.directory = ModelDirectory(registry_, settings.cache_s, clock)
        # stop/start; the SageMaker control-plane and Application Auto Scaling clients: only ``stop`` uses them
        self.actions = ModelActions(
            self.directory, registry_, waker, sagemaker=sagemaker, autoscaling=autoscaling, not_found=self._not_found
        )

    # ---- GET /models, GET /models/{model} ----------------------------------------------------

    def models(self) -> list[dict[str, Any]]:
        """Every model summary, sorted by name."""
        return sorted(self._registry.models(), key=lambda item: str(item.get("model", "")))

    def model(self, name: str) -> dict[str, Any]:
        self._check_name(name)
        summary = self._registry.get(name)
        if summary is None:
            raise self._not_found(name)
        return summary

    # ---- GET /models/{model}/batches[/{job}] -------------------------------------------------

    def batches(self, name: str) -> list[dict[str, Any]]:
        """The model's batch transform records, newest first (404 for an unknown model)."""
        self.model(name)
        return sorted(self._registry.batches(name), key=lambda item: str(item.get("job", "")), reverse=True)

    def batch(self, name: str, job: str) -> dict[str, Any]:
        self.model(name)
        record = self._registry.get_batch(name, job) if len(job) <= 63 else None  # SageMaker job names: 63 max
        if record is None:
            raise ModelNotFound(f"model {name!r} has no batch {job!r}: GET /models/{name}/batches lists them")
        return record

    # ---- POST /models/{model}/predictions -----------------------------------------------------

    def predict(self, name: str, payload: PredictionInput, *, deadline: float) -> Prediction:
        """Answer one prediction request before ``deadline`` (a ``clock()`` value)."""
        self._check_name(name)
        served = self.directory.get(name)
        if served is None:
            raise self._not_found(name)
        self._require_serving(served)  # a model that serves nothing answers 409/503 before anything else
        algorithm = self._algorithm(served)
        ctx = self._context(served, algorithm, payload)
        requests = algorithm.encode_request(payload, ctx)
        endpoint = self._endpoint(served)
        try:
            answers = self._invoke_all(endpoint, requests, deadline)
        except EndpointMissing:
            # The cached status was stale (hibernated meanwhile?): decide again on a fresh read.
            served = self.directory.get(name, fresh=True)
            if served is None:
                raise self._not_found(name) from None
            self._endpoint(served)
            raise
        predictions: list[dict[str, Any]] = []
        for request, (body, content_type) in zip(requests, answers, strict=True):
            decoded = algorithm.decode_response(body, content_type, request, ctx)
            if len(decoded) != request.count:
                raise BadModelResponse(
                    f"endpoint {endpoint} answered {len(decoded)} predictions for {request.count} instances "
                    f"(instances {request.first} to {request.first + request.count - 1})"
                )
            predictions.extend(decoded)
        body = {"model": name, "endpoint": endpoint, "algorithm": algorithm.name, "predictions": predictions}
        return Prediction(body, len(requests))

    # ---- POST /models/{model}/stop and /start (sagedrop.model_actions) ----------------------

    def stop(self, name: str, *, by: str = "") -> ModelAction:
        """``POST /models/{model}/stop``: :meth:`sagedrop.model_actions.ModelActions.stop`."""
        self._check_name(name)
        return self.actions.stop(name, by=by)

    def start(self, name: str, *, reason: str = "start requested", by: str = "") -> ModelAction:
        """``POST /models/{model}/start``: :meth:`sagedrop.model_actions.ModelActions.start`."""
        self._check_name(name)
        return self.actions.start(name, reason=reason, by=by)

    # ---- steps ----------------------------------------------------------------------------

    @staticmethod
    def _check_name(name: str) -> None:
        if naming.check_model_name(name):
            raise ModelNotFound(
                f"no model named {name!r}: model names are letters, digits and single hyphens "
                f"(at most {naming.MAX_MODEL_NAME} characters); GET /models lists them"
            )

    @staticmethod
    def _not_found(name: str) -> ModelNotFound:
        return ModelNotFound(f"no model named {name!r}: GET /models lists the models")

    @staticmethod
    def _algorithm(served: ServedModel) -> Algorithm:
        try:
            return algorithms.get(str(served.summary.get("algorithm")))
        except KeyError:
            raise PredictError(
                f"the registry names algorithm {served.summary.get('algorithm')!r} for model {served.name}, "
                "which this version of sagedrop does not know"
            ) from None

    def _context(self, served: ServedModel, algorithm: Algorithm, payload: PredictionInput) -> ServingContext:
        summary = served.summary
        labels = summary.get("labels")
        options = algorithm.resolve_options(payload.options, payload.options_path, served.hyperparameters)
        return ServingContext(
            labels=tuple(str(label) for label in labels) if isinstance(labels, list) and labels else None,
            feature_dim=feature_count(served),
            hyperparameters=served.hyperparameters,
            max_body_bytes=SERVERLESS_ENDPOINT_MAX_BYTES if summary.get("serverless") else INSTANCE_ENDPOINT_MAX_BYTES,
            max_rows=self.settings.max_rows,
            options=options,
        )

    def _require_serving(self, served: ServedModel) -> None:
        """Raise the 409/503 of a model with no endpoint to call or wake (see :meth:`_endpoint`); no side effects."""
        status = served.status
        if status in (registry.HIBERNATED, registry.WAKING):
            return
        if served.endpoint and served.summary.get("serving_job") and status != registry.FAILED:
            return
        self._endpoint(served)

    def _endpoint(self, served: ServedModel) -> str:
        """The endpoint to call, or the 503/409 that says why there is none (waking it if hibernated).

        The registry states (``sagedrop.registry``) and what a prediction gets:

        * ``hibernated``: woken, 503 ``waking``; ``waking``: 503 until the endpoint is InService.
        * an endpoint and a serving job: called, whatever else the status says (``in_service``,
          ``deploying`` a newer job, ``training`` a newer job, ``rejected`` a newer drop), except
          ``failed``: the endpoint itself failed, 409 with the reason and how to re-create it.
        * no endpoint: ``deploying`` and ``training`` 503 with ``Retry-After``; ``rejected``,
          ``failed``, ``gate_failed``, ``stopped``, ``trained`` (or none) 409 ``not_deployed`` with the
          recorded reason (``last_error``) and what to do.
        """
        status = served.status
        if status == registry.HIBERNATED:
            served = self.directory.get(served.name, fresh=True) or served
            if served.status == registry.HIBERNATED:
                result = self._waker.wake(served.summary, served.job, reason="prediction request")
                self.directory.invalidate(served.name)
                verb = "is waking up now" if result.created else "is already waking up"
                raise NotInService(
                    f"model {served.name} {self._why_asleep(served)} and {verb}: an endpoint takes a few "
                    f"minutes to start, retry in {RETRY_AFTER_S} s",
                    code="waking",
                )
            status = served.status
        if status == registry.WAKING:
            return self._waking(served)
        endpoint = served.endpoint
        if endpoint and served.summary.get("serving_job") and status != registry.FAILED:
            return str(endpoint)
        self.directory.invalidate(served.name)
        if status in (registry.DEPLOYING, registry.TRAINING):
            job = (
                served.summary.get("pending_job")
                or served.summary.get("training_job")
                or served.summary.get("latest_job")
            )
            what = "being deployed" if status == registry.DEPLOYING else "still training"
            raise NotInService(
                f"model {served.name} has no endpoint yet: it is {what} (job {job})",
                retry_after=RETRY_AFTER_S if status == registry.DEPLOYING else TRAINING_RETRY_AFTER_S,
            )
        if endpoint and served.summary.get("serving_job"):  # failed: the endpoint exists but failed
            raise NotDeployed(
                f"model {served.name}'s endpoint {endpoint} failed{reason_text(served.summary)}; POST "
                f"/models/{served.name}/stop then /start re-creates it from the kept config, or upload a new model"
            )
        raise NotDeployed(
            f"model {served.name} has no endpoint (status {status}){reason_text(served.summary)}; "
            + no_endpoint_hint(status)
        )

    @staticmethod
    def _why_asleep(served: ServedModel) -> str:
        """Why a hibernated model has no endpoint: stopped by request, or idle (cleanup's reason)."""
        reason = str(served.summary.get("hibernated_reason") or "")
        if reason == STOP_REASON.format(model=served.name):
            return f"was stopped by request (POST /models/{served.name}/stop)"
        return "was hibernated after its idle time" + (f" ({reason})" if reason else "")

    def _waking(self, served: ServedModel) -> str:
        endpoint = str(served.endpoint or "")
        state, failure = self._waker.endpoint_status(endpoint) if endpoint else ("Missing", "")
        if state == "InService":
            self._waker.mark_in_service(served.name, endpoint)
            self.directory.invalidate(served.name)
            return endpoint
        if state == "Failed":
            raise EndpointError(
                f"model {served.name} could not wake: endpoint {endpoint} failed ({failure})", code="wake_failed"
            )
        if state == "Missing" and self._waker.claim_expired(served.summary):
            self._waker.take_over(served.summary, served.job)
        self.directory.invalidate(served.name)
        raise NotInService(
            f"model {served.name} is waking up (since {served.summary.get('woken_at')}): retry in {RETRY_AFTER_S} s",
            code="waking",
        )

    def _invoke_all(self, endpoint: str, requests: list[InvokeRequest], deadline: float) -> list[tuple[bytes, str]]:
        """Every call, answers in request order; the first failure (by order) wins; 504 past ``deadline``.

        One call (the usual request: up to :attr:`PredictSettings.max_rows` rows) is made in the handler's
        thread, cut off at the deadline by :func:`sagedrop.alarm.call_within` where it can be (the main
        thread): a thread per request cost about 0.5 ms of CPU (issue 16). Several calls, or one where no
        alarm can be set, go on a bounded pool (:meth:`_invoke_pooled`)."""
        if not requests:
            return []
        budget = deadline - self._clock()
        if budget <= 0:
            raise PredictTimeout("no time left to call the endpoint")
        if len(requests) == 1 and alarm.usable():
            try:
                return [alarm.call_within(budget, self._invoke, endpoint, requests[0])]
            except alarm.DeadlinePassed:
                raise PredictTimeout(_late(endpoint, 0, 1, budget)) from None
        return self._invoke_pooled(endpoint, requests, budget)

    def _invoke_pooled(self, endpoint: str, requests: list[InvokeRequest], budget: float) -> list[tuple[bytes, str]]:
        """The calls on a bounded pool, waited for at most ``budget`` seconds.

        A new pool per request: a pool kept across requests was measured slower (issue 16: on the loaded
        2-core machine, 9.6 ms instead of 2.6 ms wall-clock per 100-row request, no CPU saved), and a
        call still stuck after a timeout never holds up the next request."""
        pool = ThreadPoolExecutor(
            max_workers=min(self.settings.concurrency, len(requests)), thread_name_prefix="invoke"
        )
        try:
            futures = [pool.submit(self._invoke, endpoint, request) for request in requests]
            done, pending = wait(futures, timeout=budget, return_when=FIRST_EXCEPTION)
            failed = [f for f in futures if f in done and f.exception() is not None]
            if failed:
                raise failed[0].exception()  # type: ignore[misc]
            if pending:
                raise PredictTimeout(_late(endpoint, len(done), len(requests), budget))
            return [f.result() for f in futures]
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _invoke(self, endpoint: str, request: InvokeRequest) -> tuple[bytes, str]:
        try:
            response = self._runtime.invoke_endpoint(
                EndpointName=endpoint, Body=request.body, ContentType=request.content_type, Accept=request.accept
            )
            return response["Body"].read(), str(response.get("ContentType") or "")
        except Exception as exc:
            mapped = invoke_error(exc, endpoint)
            if mapped is exc:
                raise
            raise mapped from exc


def _late(endpoint: str, finished: int, calls: int, budget: float) -> str:
    """The 504's message when the deadline passed with ``finished`` of ``calls`` answered."""
    return (
        f"endpoint {endpoint} answered {finished} of {calls} calls within {budget:.0f} s (API Gateway allows "
        "29 s): send fewer instances per request"
    )
