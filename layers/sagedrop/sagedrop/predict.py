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
4. **Invoke** every chunk on a bounded thread pool, all within one deadline below API Gateway's
   29 s; answers are reassembled in the original order and decoded (``Algorithm.decode_response``).

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
it, the answer is 504 and the chunks still queued are cancelled.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from sagedrop import algorithms, naming, registry
from sagedrop.algorithms.base import (
    INSTANCE_ENDPOINT_MAX_BYTES,
    SERVERLESS_ENDPOINT_MAX_BYTES,
    Algorithm,
    InvokeRequest,
    PredictionInput,
    ServingContext,
)
from sagedrop.aws import Clients, error_code, error_message
from sagedrop.codecs import BadModelResponse
from sagedrop.errors import SagedropError
from sagedrop.wake import RETRY_AFTER_S, Waker, WakeResult

log = logging.getLogger("sagedrop.predict")

RUNTIME = "sagemaker-runtime"
CONNECT_TIMEOUT_S = 2
READ_TIMEOUT_S = 24
"""Below API Gateway's 29 s integration timeout, so a slow model is answered 504 by us, not by it."""
DEFAULT_MAX_ROWS = 500
"""Rows per InvokeEndpoint call. The SageMaker examples batch 100 (linear learner) to 500 (XGBoost)
rows per call; 500 keeps the per-call overhead (signing, TLS, the container's request parsing) small
against the model's work: 10,000 rows are 20 calls, three rounds of the default 8 workers."""
DEFAULT_CONCURRENCY = 8
DEFAULT_TIMEOUT_S = 25.0
DEFAULT_CACHE_S = 15.0
DEFAULT_MAX_ATTEMPTS = 3
TRAINING_RETRY_AFTER_S = 300
MODEL_NOT_READY_RETRY_AFTER_S = 10
THROTTLED_RETRY_AFTER_S = 1
UNAVAILABLE_RETRY_AFTER_S = 5


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


# --------------------------------------------------------------------------------------------
# Errors (each carries its HTTP answer)
# --------------------------------------------------------------------------------------------


class PredictError(SagedropError):
    http_status = 500
    error_code = "internal_error"
    retry_after: int | None = None

    def __init__(self, message: str, *, retry_after: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        if retry_after is not None:
            self.retry_after = retry_after
        if code is not None:
            self.error_code = code


class ModelNotFound(PredictError):
    http_status = 404
    error_code = "model_not_found"


class NotDeployed(PredictError):
    """The model has no endpoint and nothing is on its way (failed, rejected, trained with deploy: false)."""

    http_status = 409
    error_code = "not_deployed"


class NotInService(PredictError):
    """The endpoint is not there yet (waking, deploying, training): retry later."""

    http_status = 503
    error_code = "not_in_service"
    retry_after = RETRY_AFTER_S


class ModelFailed(PredictError):
    """The model's container answered an error (InvokeEndpoint ModelError)."""

    http_status = 502
    error_code = "model_error"


class EndpointError(PredictError):
    """SageMaker refused or failed the call for a reason that is not the caller's input."""

    http_status = 502
    error_code = "endpoint_error"


class Throttled(PredictError):
    http_status = 429
    error_code = "throttled"
    retry_after = THROTTLED_RETRY_AFTER_S


class Unavailable(PredictError):
    http_status = 503
    error_code = "unavailable"
    retry_after = UNAVAILABLE_RETRY_AFTER_S


class PredictTimeout(PredictError):
    http_status = 504
    error_code = "timeout"


class ModelBusy(PredictError):
    """Stop/start cannot act now: a deploy or wake is in flight, or the endpoint is changing (HTTP 409)."""

    http_status = 409
    error_code = "busy"


class EndpointMissing(PredictError):
    """InvokeEndpoint says the endpoint does not exist (the registry is behind, e.g. just hibernated)."""

    http_status = 503
    error_code = "not_in_service"
    retry_after = RETRY_AFTER_S


_THROTTLING = ("ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded")


def invoke_error(exc: BaseException, endpoint: str) -> BaseException:
    """The domain error for an exception of InvokeEndpoint (the exception itself when unknown)."""
    code = error_code(exc)
    message = error_message(exc)
    if code == "ModelError":
        response = getattr(exc, "response", {}) or {}
        status = response.get("OriginalStatusCode")
        original = response.get("OriginalMessage") or message
        log_stream = response.get("LogStreamArn")
        log.warning("model error", extra={"endpoint": endpoint, "status": status, "log_stream": log_stream})
        where = f" (status {status})" if status else ""
        return ModelFailed(f"the model behind endpoint {endpoint} answered an error{where}: {original}")
    if code in _THROTTLING:
        return Throttled(f"SageMaker throttled the calls to endpoint {endpoint}: slow down and retry ({message})")
    if code == "ModelNotReadyException":
        return NotInService(
            f"endpoint {endpoint} is not ready yet (a serverless endpoint is starting): {message}",
            retry_after=MODEL_NOT_READY_RETRY_AFTER_S,
            code="model_not_ready",
        )
    if code in ("ValidationError", "ValidationException"):
        lowered = message.lower()
        if "not found" in lowered or "could not find" in lowered:
            return EndpointMissing(f"endpoint {endpoint} does not exist ({message})")
        return EndpointError(f"SageMaker refused the call to endpoint {endpoint}: {message}")
    if code in ("ServiceUnavailable", "InternalFailure", "InternalDependencyException", "ServiceUnavailableException"):
        return Unavailable(f"SageMaker could not serve endpoint {endpoint} ({code}): {message}")
    if code == "AccessDeniedException":
        return EndpointError(
            f"the predict function may not invoke endpoint {endpoint} (is it tagged with this stack?): {message}"
        )
    name = type(exc).__name__
    if name in ("ReadTimeoutError",):
        return PredictTimeout(
            f"endpoint {endpoint} did not answer within {READ_TIMEOUT_S} s: send fewer instances per request"
        )
    if name in ("ConnectTimeoutError", "EndpointConnectionError", "ConnectionClosedError"):
        return Unavailable(f"could not reach SageMaker for endpoint {endpoint}: {exc}")
    return exc


# --------------------------------------------------------------------------------------------
# The registry, cached
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServedModel:
    """A registry summary and what predict derives from it."""

    summary: Mapping[str, Any]
    job: Mapping[str, Any] | None = None
    """The serving job's record (``JOB#<serving_job>``): its hyperparameters and manifest."""
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.summary["model"])

    @property
    def status(self) -> str | None:
        return self.summary.get("status")

    @property
    def endpoint(self) -> str | None:
        return self.summary.get("endpoint")


class ModelDirectory:
    """Registry summaries with a short in-memory cache (per Lambda environment), thread-safe.

    The cache saves a DynamoDB read per request for hot models; ``ttl_s`` bounds how stale a status
    may be. Job records (hyperparameters) never change once written, so they are kept longer.
    """

    MAX_ENTRIES = 512

    def __init__(self, registry_: registry.Registry, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._registry = registry_
        self._ttl = ttl_s
        self._clock = clock
        self._models: OrderedDict[str, tuple[float, ServedModel]] = OrderedDict()
        self._jobs: OrderedDict[tuple[str, str], Mapping[str, Any] | None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model: str, *, fresh: bool = False) -> ServedModel | None:
        now = self._clock()
        if not fresh:
            with self._lock:
                cached = self._models.get(model)
            if cached and cached[0] > now:
                return cached[1]
        summary = self._registry.get(model, consistent=fresh)
        if not summary:
            return None  # not cached: a model dropped a moment later must not answer 404 from here
        served = self._served(model, summary)
        with self._lock:
            self._models[model] = (now + self._ttl, served)
            self._models.move_to_end(model)
            while len(self._models) > self.MAX_ENTRIES:
                self._models.popitem(last=False)
        return served

    def invalidate(self, model: str) -> None:
        with self._lock:
            self._models.pop(model, None)

    def _served(self, model: str, summary: Mapping[str, Any]) -> ServedModel:
        job_name = summary.get("serving_job")
        job = self._job(model, job_name) if isinstance(job_name, str) and job_name else None
        return ServedModel(summary, job, _typed_hyperparameters(summary.get("algorithm"), job))

    def _job(self, model: str, job: str) -> Mapping[str, Any] | None:
        key = (model, job)
        with self._lock:
            if key in self._jobs:
                return self._jobs[key]
        record = self._registry.get_job(model, job)
        with self._lock:
            self._jobs[key] = record
            while len(self._jobs) > self.MAX_ENTRIES:
                self._jobs.popitem(last=False)
        return record


def _typed_hyperparameters(algorithm_name: Any, job: Mapping[str, Any] | None) -> dict[str, Any]:
    """The job's hyperparameters (SageMaker strings) typed by the algorithm's own rules."""
    wire = (job or {}).get("hyperparameters") or {}
    if not isinstance(wire, Mapping) or not isinstance(algorithm_name, str):
        return {}
    try:
        algorithm = algorithms.get(algorithm_name)
    except KeyError:
        return dict(wire)
    typed, _, problems = algorithm.resolve_hyperparameters(wire)
    return typed if not problems else dict(wire)


# --------------------------------------------------------------------------------------------
# The service
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelAction:
    """What ``POST /models/{model}/stop`` or ``/start`` did: the HTTP status and the answer's body."""

    http_status: int
    body: dict[str, Any]


STOP_REASON = "stopped by request (POST /models/{model}/stop)"
ENDPOINT_CHANGING = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")


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
        self._sagemaker = sagemaker
        """The SageMaker control-plane and Application Auto Scaling clients: only ``stop`` uses them."""
        self._autoscaling = autoscaling
        self._clock = clock
        self.directory = ModelDirectory(registry_, settings.cache_s, clock)

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

    # ---- POST /models/{model}/predictions -----------------------------------------------------

    def predict(self, name: str, payload: PredictionInput, *, deadline: float) -> Prediction:
        """Answer one prediction request before ``deadline`` (a ``clock()`` value)."""
        self._check_name(name)
        served = self.directory.get(name)
        if served is None:
            raise self._not_found(name)
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

    # ---- POST /models/{model}/stop and /start ------------------------------------------------

    def stop(self, name: str, *, by: str = "") -> ModelAction:
        """Hibernate a model now, as idle cleanup does (:func:`sagedrop.cleanup.hibernate`): the endpoint is
        deleted, its config and model are kept. Idempotent: an already stopped model answers 200 saying so;
        a model without an endpoint answers 409 (not_deployed), one whose endpoint is changing 409 (busy).
        ``by`` (the caller, :mod:`sagedrop.caller`) is recorded as ``stopped_by``."""
        self._check_name(name)
        served = self.directory.get(name, fresh=True)
        if served is None:
            raise self._not_found(name)
        self.directory.invalidate(name)
        summary, status = served.summary, served.status
        endpoint = served.endpoint
        if status == registry.HIBERNATED:
            since = summary.get("hibernated_at")
            return self._answer(
                200,
                summary,
                f"model {name} is already stopped"
                + (f" (since {since})" if since else "")
                + f"; POST /models/{name}/start or a prediction wakes it",
            )
        if not endpoint or not summary.get("serving_job"):
            raise NotDeployed(f"model {name} has no endpoint to stop (status {status}): nothing was deployed yet")
        if status in (registry.DEPLOYING, registry.WAKING):
            what = "a new model is being deployed to it" if status == registry.DEPLOYING else "it is waking up"
            raise ModelBusy(
                f"model {name} cannot be stopped now: {what} (endpoint {endpoint}); retry when GET /models/{name} "
                "says in_service"
            )
        state, _ = self._waker.endpoint_status(str(endpoint))
        if state in ENDPOINT_CHANGING and state != "Deleting":
            raise ModelBusy(
                f"model {name} cannot be stopped now: endpoint {endpoint} is {state}; retry when it is InService"
            )
        from sagedrop import cleanup  # deferred: only stop needs it

        if self._sagemaker is None or self._autoscaling is None:
            raise PredictError("stop needs the SageMaker and Application Auto Scaling clients")
        try:
            done = cleanup.hibernate(
                str(endpoint),
                model=name,
                variants=[str(summary.get("variant") or naming.VARIANT_NAME)],
                reason=STOP_REASON.format(model=name),
                sagemaker=self._sagemaker,
                autoscaling=self._autoscaling,
                registry_=self._registry,
            )
        except cleanup.HibernateRefused as exc:
            raise ModelBusy(f"model {name} cannot be stopped now: {exc}; retry in a minute") from exc
        self._record_caller(name, "stopped", by)
        after = self._registry.get(name, consistent=True) or summary
        gone = "was already gone" if done.already_deleted else "was deleted"
        return self._answer(
            200,
            after,
            f"model {name} is stopped: endpoint {endpoint} {gone}, its endpoint config and model are kept; "
            f"POST /models/{name}/start or a prediction wakes it",
        )

    def start(self, name: str, *, reason: str = "start requested", by: str = "") -> ModelAction:
        """Wake a stopped (hibernated) model now (:mod:`sagedrop.wake`): 202 while the endpoint is created,
        and the registry follows (waking, then in_service). Idempotent: a model already in service answers
        200, one already waking 202; a model that was never deployed 409 (not_deployed). ``by`` (the caller) is
        recorded as ``started_by`` when this call wakes the model."""
        self._check_name(name)
        served = self.directory.get(name, fresh=True)
        if served is None:
            raise self._not_found(name)
        self.directory.invalidate(name)
        summary, status, endpoint = served.summary, served.status, served.endpoint
        if status == registry.HIBERNATED:
            return self._woken(name, self._waker.wake(summary, served.job, reason=reason), by)
        if status == registry.WAKING:
            state, failure = self._waker.endpoint_status(str(endpoint or ""))
            if state == "InService":
                self._waker.mark_in_service(name, str(endpoint))
                return self._answer(200, {**summary, "status": registry.IN_SERVICE}, f"model {name} is running")
            if state == "Failed":
                raise EndpointError(
                    f"model {name} could not wake: endpoint {endpoint} failed ({failure})", code="wake_failed"
                )
            if state == "Missing" and self._waker.claim_expired(summary):
                return self._woken(name, self._waker.take_over(summary, served.job))
            return self._answer(
                202, summary, f"model {name} is already waking up (since {summary.get('woken_at')}): {self._soon(name)}"
            )
        if not endpoint or not summary.get("serving_job"):
            if status == registry.DEPLOYING:
                job = summary.get("pending_job") or summary.get("deploying_job") or summary.get("latest_job")
                return self._answer(
                    202, summary, f"model {name} is being deployed for the first time ({job}): {self._soon(name)}"
                )
            hint = {
                registry.TRAINING: "it is still training; it is deployed when its training job ends",
                registry.TRAINED: "it was trained with deploy: false; set deploy in training.json and upload it again",
            }.get(str(status), "upload training.json (or model.tar.gz and deploy.json) to deploy it")
            raise NotDeployed(
                f"model {name} was never deployed, so there is nothing to start (status {status}): {hint}"
            )
        state, failure = self._waker.endpoint_status(str(endpoint))
        if state == "Missing":
            # The registry says an endpoint serves, but it is gone (deleted by hand?): wake it from its config.
            self._registry.update(
                name,
                {"status": registry.HIBERNATED, "hibernated_reason": "the endpoint was gone when start was requested"},
                condition="#s = :seen AND #ep = :ep",
                names={"#s": "status", "#ep": "endpoint"},
                values={":seen": status, ":ep": endpoint},
            )
            fresh = self.directory.get(name, fresh=True)
            self.directory.invalidate(name)
            if fresh is not None and fresh.status == registry.HIBERNATED:
                return self._woken(name, self._waker.wake(fresh.summary, fresh.job, reason=reason), by)
            raise ModelBusy(f"model {name} changed while starting it (status {fresh and fresh.status}); retry")
        if state == "Failed":
            raise ModelBusy(
                f"model {name} cannot be started: endpoint {endpoint} failed ({failure}); POST /models/{name}/stop "
                f"then /start re-creates it from the kept config, or upload a new model"
            )
        if state == "Deleting":
            raise ModelBusy(
                f"model {name} cannot be started now: endpoint {endpoint} is being deleted; retry in a minute"
            )
        if state == "Creating":
            return self._answer(
                202, summary, f"model {name}'s endpoint {endpoint} is being created: {self._soon(name)}"
            )
        return self._answer(200, summary, f"model {name} is already running (endpoint {endpoint} is {state})")

    def _record_caller(self, name: str, action: str, by: str) -> None:
        if by:
            self._registry.update(name, {f"{action}_by": by, f"{action}_by_at": registry.now_iso()})

    def _woken(self, name: str, result: WakeResult, by: str = "") -> ModelAction:
        if result.created:
            self._record_caller(name, "started", by)
        verb = "is waking up now" if result.created else "is already waking up"
        summary = self._registry.get(name, consistent=True) or {"model": name, "status": result.current_status}
        return self._answer(
            202, summary, f"model {name} {verb}: endpoint {result.endpoint} is being created; {self._soon(name)}"
        )

    @staticmethod
    def _soon(name: str) -> str:
        return f"an endpoint takes a few minutes to start; GET /models/{name} says in_service when it serves"

    @staticmethod
    def _answer(status: int, summary: Mapping[str, Any], message: str) -> ModelAction:
        body = {"model": summary.get("model"), "status": summary.get("status"), "endpoint": summary.get("endpoint")}
        for key in ("hibernated_at", "woken_at"):
            if summary.get(key):
                body[key] = summary[key]
        body["message"] = message
        return ModelAction(status, body)

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
        feature_dim = summary.get("feature_dim")
        options = algorithm.resolve_options(payload.options, payload.options_path, served.hyperparameters)
        return ServingContext(
            labels=tuple(str(label) for label in labels) if isinstance(labels, list) and labels else None,
            feature_dim=feature_dim if isinstance(feature_dim, int) and not isinstance(feature_dim, bool) else None,
            hyperparameters=served.hyperparameters,
            max_body_bytes=SERVERLESS_ENDPOINT_MAX_BYTES if summary.get("serverless") else INSTANCE_ENDPOINT_MAX_BYTES,
            max_rows=self.settings.max_rows,
            options=options,
        )

    def _endpoint(self, served: ServedModel) -> str:
        """The endpoint to call, or the 503/409 that says why there is none (waking it if hibernated)."""
        status = served.status
        if status == registry.HIBERNATED:
            served = self.directory.get(served.name, fresh=True) or served
            if served.status == registry.HIBERNATED:
                result = self._waker.wake(served.summary, served.job, reason="prediction request")
                self.directory.invalidate(served.name)
                verb = "is waking up now" if result.created else "is already waking up"
                raise NotInService(
                    f"model {served.name} was hibernated after its idle time and {verb}: an endpoint takes a few "
                    f"minutes to start, retry in {RETRY_AFTER_S} s",
                    code="waking",
                )
            status = served.status
        if status == registry.WAKING:
            return self._waking(served)
        endpoint = served.endpoint
        if endpoint and served.summary.get("serving_job"):
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
        reason = served.summary.get("last_error")
        hint = {
            registry.TRAINED: "it was trained with deploy: false; set deploy in training.json and upload it again",
            registry.REJECTED: "its training.json was rejected; fix it and upload it again",
        }.get(str(status), "fix the cause and upload training.json again")
        raise NotDeployed(
            f"model {served.name} has no endpoint (status {status})"
            + (f": {str(reason).splitlines()[0]}" if reason else "")
            + f"; {hint}"
        )

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
        """Every call on a bounded pool, answers in request order; the first failure (by order) wins."""
        if not requests:
            return []
        budget = deadline - self._clock()
        if budget <= 0:
            raise PredictTimeout("no time left to call the endpoint")
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
                finished = len(done)
                raise PredictTimeout(
                    f"endpoint {endpoint} answered {finished} of {len(requests)} calls within "
                    f"{budget:.0f} s (API Gateway allows 29 s): send fewer instances per request"
                )
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
