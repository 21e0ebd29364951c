"""Predict: the prediction API (API Gateway REST proxy; every route authorized by the stack's AuthMode).

Thin router: Powertools' APIGatewayRestResolver parses the proxy event, each route makes one domain
call (``sagedrop.predict.PredictionService``), every log line of a request names its caller
(``sagedrop.caller``: the IAM principal, Cognito user or API key id from the request context; a
prediction logs one line, see ``log_caller``) and every domain error is mapped to
``{"error": {"code", "message"}}`` in one exception handler (status, and ``Retry-After`` for 429/503,
come from the error itself).

Routes: ``POST /models/{model}/predictions``, ``GET /models``, ``GET /models/{model}``, and
``POST /models/{model}/stop`` / ``/start`` (``PredictionService.stop``: ``sagedrop.cleanup.hibernate``;
``PredictionService.start``: the wake path of ``sagedrop.wake``).

Cold start: only Powertools' router and logger, botocore's Config and the domain package are
imported here; boto3 and the clients are created on first use (``PredictClients``), and the
SageMaker control-plane and Application Auto Scaling clients only when a model is woken or stopped.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from sagedrop import api, caller
from sagedrop.errors import SagedropError
from sagedrop.observability import MetricUnit, logger, metrics, tracer
from sagedrop.predict import LazyClient, PredictClients, PredictionService, PredictSettings
from sagedrop.registry import Registry
from sagedrop.settings import AuthSettings
from sagedrop.wake import Waker

app = APIGatewayRestResolver()
clients = PredictClients()
DEADLINE_MARGIN_S = 1.0
"""Time kept to answer after the last endpoint call, out of the Lambda's remaining time."""


@cache
def auth_settings() -> AuthSettings:
    return AuthSettings.from_env()


def settings() -> PredictSettings:
    """The function's environment (sagedrop.settings), read where the service is built."""
    return PredictSettings.from_env()


def current_caller() -> caller.Caller:
    return caller.from_request_context(app.current_event.raw_event.get("requestContext"))


PREDICTIONS = "/models/{model}/predictions"
"""The prediction route's API Gateway resource (the proxy event's ``resource``; POST is its only method)."""


def log_caller(app_: APIGatewayRestResolver, next_middleware: Any) -> Response:
    """The caller on every log line of the invocation, and a "request" line with the method and path.

    A prediction logs one line, its outcome ("predicted", or "request refused" with the status), which
    carries the method and path too: formatting a second line was a tenth of the request's own work
    (issue 16)."""
    event = app_.current_event
    request = {"method": event.http_method, "path": event.path}
    if event.resource == PREDICTIONS and event.http_method == "POST":
        logger.append_keys(**current_caller().log_fields(), **request)
    else:
        logger.append_keys(**current_caller().log_fields())
        logger.info("request", extra=request)
    return next_middleware(app_)


app.use(middlewares=[log_caller])


def _admin_caller(route: str) -> caller.Caller:
    who = current_caller()
    settings = auth_settings()
    caller.require_admin(who, auth_mode=settings.mode, admin_group=settings.admin_group, route=route)
    return who


@cache
def service() -> PredictionService:
    config = settings()
    registry_ = Registry(config.registry_table, clients.dynamodb)
    sagemaker = LazyClient(lambda: clients.sagemaker)
    waker = Waker(stack=config.stack, registry_=registry_, sagemaker=sagemaker)
    return PredictionService(
        config,
        registry_=registry_,
        runtime=clients.runtime,
        waker=waker,
        sagemaker=sagemaker,
        autoscaling=LazyClient(lambda: clients.autoscaling),
    )


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type="application/json", body=api.json_body(data), headers=headers)


def _deadline(settings: PredictSettings) -> float:
    remaining = app.lambda_context.get_remaining_time_in_millis() / 1000 - DEADLINE_MARGIN_S
    return time.monotonic() + max(0.0, min(settings.timeout_s, remaining))


# ---- routes ------------------------------------------------------------------------------------


@app.post(
    "/models/<model>/predictions",
    summary="Predict with a model",
    description=(
        "Encodes the instances in the algorithm's wire format, calls the model's endpoint (chunked, "
        "concurrently) and answers one prediction per instance, in order. A hibernated model is woken "
        "and answered 503 with Retry-After."
    ),
    responses=api.PREDICT_RESPONSES,
    tags=["predictions"],
    operation_id="predict",
    openapi_extensions={"requestBody": api.PREDICTION_REQUEST},
)
def predict(model: str):  # no return annotation: it would become a response schema
    event = app.current_event
    payload = api.prediction_input(
        event.body,
        is_base64=bool(event.is_base64_encoded),
        content_type=event.headers.get("content-type"),
        query=event.query_string_parameters,
    )
    svc = service()
    result = svc.predict(model, payload, deadline=_deadline(svc.settings))
    metrics.add_metric(name="Predictions", unit=MetricUnit.Count, value=len(result.body["predictions"]))
    metrics.add_metric(name="InvokeCalls", unit=MetricUnit.Count, value=result.calls)
    logger.info(
        "predicted",
        extra={"model": model, "predictions": len(result.body["predictions"]), "calls": result.calls},
    )
    return _json(200, result.body)


@app.get(
    "/models",
    summary="List the models",
    description="Every model in the registry with its status (no internal resource names).",
    responses=api.LIST_RESPONSES,
    tags=["models"],
    operation_id="listModels",
)
def list_models():
    metrics.add_metric(name="ModelQueries", unit=MetricUnit.Count, value=1)
    return _json(200, {"models": [api.public_model(item) for item in service().models()]})


@app.get(
    "/models/<model>",
    summary="Show a model",
    description="The model's registry status: in service, hibernated, waking, training, failed, ...",
    responses=api.GET_RESPONSES,
    tags=["models"],
    operation_id="getModel",
)
def get_model(model: str):
    metrics.add_metric(name="ModelQueries", unit=MetricUnit.Count, value=1)
    return _json(200, api.public_model(service().model(model)))


@app.get(
    "/models/<model>/batches",
    summary="List a model's batch scoring jobs",
    description="The batch transform jobs a batch.json drop started for the model, newest first: status, input, "
    "where the results are, duration and failure reason.",
    responses=api.BATCHES_RESPONSES,
    tags=["batches"],
    operation_id="listBatches",
)
def list_batches(model: str):
    metrics.add_metric(name="BatchQueries", unit=MetricUnit.Count, value=1)
    return _json(200, {"batches": [api.public_batch(model, item) for item in service().batches(model)]})


@app.get(
    "/models/<model>/batches/<job>",
    summary="Show a batch scoring job",
    description="One batch transform job of the model: status, input, output location, duration, failure reason.",
    responses=api.BATCH_RESPONSES,
    tags=["batches"],
    operation_id="getBatch",
)
def get_batch(model: str, job: str):
    metrics.add_metric(name="BatchQueries", unit=MetricUnit.Count, value=1)
    return _json(200, api.public_batch(model, service().batch(model, job)))


@app.post(
    "/models/<model>/stop",
    summary="Stop a model (hibernate it now)",
    description=(
        "Deletes the model's endpoint now, as idle cleanup does, and keeps its endpoint config and model: the "
        "status becomes hibernated and nothing bills. POST /models/{model}/start or the next prediction wakes "
        "it. Idempotent: an already stopped model answers 200 saying so."
    ),
    responses=api.STOP_RESPONSES,
    tags=["models"],
    operation_id="stopModel",
)
def stop_model(model: str):
    who = _admin_caller(f"POST /models/{model}/stop")
    outcome = service().stop(model, by=who.label)
    metrics.add_metric(name="ModelStops", unit=MetricUnit.Count, value=1)
    logger.info("stop", extra={"model": model, "status": outcome.http_status, "answer": outcome.body["message"]})
    return _json(outcome.http_status, outcome.body)


@app.post(
    "/models/<model>/start",
    summary="Start a stopped model",
    description=(
        "Re-creates a hibernated model's endpoint from its kept endpoint config and answers 202; the registry "
        "follows (waking, then in_service after a few minutes). Idempotent: a running model answers 200, one "
        "already waking 202."
    ),
    responses=api.START_RESPONSES,
    tags=["models"],
    operation_id="startModel",
)
def start_model(model: str):
    who = _admin_caller(f"POST /models/{model}/start")
    outcome = service().start(model, by=who.label)
    metrics.add_metric(name="ModelStarts", unit=MetricUnit.Count, value=1)
    logger.info("start", extra={"model": model, "status": outcome.http_status, "answer": outcome.body["message"]})
    return _json(outcome.http_status, outcome.body)


# ---- errors: one place ---------------------------------------------------------------------------


@app.exception_handler(SagedropError)
def domain_error(exc: SagedropError) -> Response:
    status, body, headers = api.error_response(exc)
    log = logger.warning if status < 500 or status in (502, 503, 504) else logger.error
    log("request refused", extra={"status": status, "code": body["error"]["code"], "reason": str(exc)[:500]})
    metrics.add_metric(name=f"Refused_{body['error']['code']}", unit=MetricUnit.Count, value=1)
    return _json(status, body, headers)


@app.not_found
def no_route(exc: NotFoundError) -> Response:
    """Only the local stack gets here: on AWS, API Gateway answers a route the API does not define with its
    MISSING_AUTHENTICATION_TOKEN gateway response (403) before any function runs
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html)."""
    event = app.current_event
    metrics.add_metric(name="Refused_not_found", unit=MetricUnit.Count, value=1)
    return _json(
        404,
        {"error": {"code": "not_found", "message": f"no route {event.http_method} {event.path}"}},
    )


@app.exception_handler(Exception)
def unexpected(exc: Exception) -> Response:
    logger.exception("unexpected error")
    metrics.add_metric(name="Refused_internal_error", unit=MetricUnit.Count, value=1)
    request_id = getattr(app.lambda_context, "aws_request_id", "")
    return _json(
        500,
        {"error": {"code": "internal_error", "message": f"internal error; request id {request_id}"}},
    )


# ---- entry point ---------------------------------------------------------------------------------


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
