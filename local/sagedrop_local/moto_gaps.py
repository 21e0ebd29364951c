"""moto's gaps in SageMaker, patched once: the local stack and the tests install the same fixes.

moto 5.2 (the pinned version) differs from SageMaker where sagedrop depends on it. Each fix below
names the gap and what SageMaker does instead:

* ``UpdateEndpoint`` is not implemented in moto. SageMaker updates only an endpoint that is not in
  progress (``ValidationException: Cannot update in-progress endpoint``, the wording sagedrop.hosting
  matches); an instance-based endpoint cannot become serverless (the reverse is allowed): "You cannot
  convert your instance-based, real-time endpoint to a serverless endpoint ... you receive a
  ValidationError" (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html, "Feature
  exclusions"; the message's wording is not documented). The endpoint goes ``Updating`` with a
  ``PendingDeploymentSummary`` naming the new config and keeps serving the old one until the caller
  finishes the update (:func:`finish_update`: the new config is live, or rolled back with a reason).
* ``Create{Model,EndpointConfig,Endpoint}`` and ``CreateTransformJob`` silently overwrite an existing
  name in moto; SageMaker refuses (``ValidationException: Cannot create already existing ...``, the
  wording sagedrop's deploy tests were written against; the transform job name "must be unique within an
  Amazon Web Services Region in an Amazon Web Services account":
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html, TransformJobName;
  the wording of that refusal is not documented).
* ``CreateModel`` forgets ``EnableNetworkIsolation`` in moto; DescribeModel returns it on SageMaker.
* ``AddTags`` appends in moto; SageMaker "Adds or overwrites one or more tags" and "Tag keys must be
  unique per resource" (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AddTags.html). ``ListTags``
  of a missing resource crashes moto with an internal error; SageMaker answers ``ValidationException``.
* ``InvokeEndpoint``: moto decodes every body as UTF-8 (a RecordIO-protobuf or image body fails with a
  500 before the handler runs) and answers from a queue of canned results; :func:`install_invoke` takes
  raw bytes and lets the caller answer (local algorithms, or a test's responders).

Also here, shared by both: the epoch-millisecond shape of times in SageMaker's EventBridge events
(:func:`event_shape`) and the event spelling of endpoint statuses.

This module lives in ``local/`` (tests import it; the Lambda layer never does): moto is a test and
local-stack dependency only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

Setter = Callable[[Any, str, Any], None]
"""How a patch is applied: ``Patch.set`` (the local stack) or ``monkeypatch.setattr`` (a test)."""

UPDATABLE = ("InService", "OutOfService", "UpdateRollbackFailed")
IN_PROGRESS = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")

EVENT_ENDPOINT_STATUS = {
    "InService": "IN_SERVICE",
    "Failed": "FAILED",
    "Creating": "CREATING",
    "Updating": "UPDATING",
    "Deleting": "DELETING",
    "SystemUpdating": "SYSTEM_UPDATING",
    "RollingBack": "ROLLING_BACK",
    "OutOfService": "OUT_OF_SERVICE",
    "UpdateRollbackFailed": "UPDATE_ROLLBACK_FAILED",
}
"""DescribeEndpoint's status -> the "SageMaker Endpoint State Change" event's (AWS documentation sample)."""


class Patch:
    """Set attributes on classes/modules and put them back on ``undo``."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any, bool]] = []

    def set(self, target: Any, name: str, value: Any) -> None:
        had = name in vars(target)
        self._saved.append((target, name, vars(target).get(name), had))
        setattr(target, name, value)

    def undo(self) -> None:
        while self._saved:
            target, name, value, had = self._saved.pop()
            if had:
                setattr(target, name, value)
            else:
                delattr(target, name)


@dataclass
class Hooks:
    """What the local stack or a test does once a call has passed SageMaker's checks."""

    endpoint_created: Callable[[Any, Any], None] | None = None
    """(backend, endpoint) after CreateEndpoint: e.g. hold it ``Creating`` and bring it up later."""
    endpoint_updating: Callable[[Any, Any, str], None] | None = None
    """(backend, endpoint, new config) once UpdateEndpoint has made the endpoint ``Updating``."""
    transform_created: Callable[[Any, Any], None] | None = None
    """(backend, job) after CreateTransformJob."""


# ---- events ----------------------------------------------------------------------------------


def epoch_ms(value: Any) -> Any:
    """A datetime as SageMaker's events carry it: epoch milliseconds as a string (naive means UTC)."""
    if isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=UTC)
        return str(int(when.timestamp() * 1000))
    return value


def event_shape(value: Any) -> Any:
    """Describe* output as events carry it: every time an epoch-millisecond string."""
    if isinstance(value, dict):
        return {k: event_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [event_shape(v) for v in value]
    return epoch_ms(value)


# ---- SageMaker ---------------------------------------------------------------------------------


def _arn(response: Any, kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{response.region}:{response.current_account}:{kind}/{name}"


def _refuse_existing(kind: str, existing: Mapping[str, Any], name: str, arn: str) -> None:
    from moto.sagemaker.exceptions import ValidationError

    if name in existing:
        raise ValidationError(message=f'Cannot create already existing {kind} "{arn}".')


def _serverless(backend: Any, config: str) -> bool:
    found = backend.endpoint_configs.get(config)
    return found is not None and any(variant.get("ServerlessConfig") for variant in found.production_variants)


def check_update(backend: Any, name: str, config: str, arn: str, config_arn: str) -> Any:
    """The endpoint UpdateEndpoint may update, or SageMaker's ValidationException."""
    from moto.sagemaker.exceptions import ValidationError

    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        raise ValidationError(message=f'Could not find endpoint "{arn}".')
    status = endpoint.endpoint_status
    if status in IN_PROGRESS:
        raise ValidationError(message=f'Cannot update in-progress endpoint "{arn}".')
    if status not in UPDATABLE:
        raise ValidationError(message=f'Cannot update endpoint "{arn}" in status {status}.')
    if config not in backend.endpoint_configs:
        raise ValidationError(message=f'Could not find endpoint configuration "{config_arn}".')
    if _serverless(backend, config) and not _serverless(backend, endpoint.endpoint_config_name):
        raise ValidationError(message=f'Cannot update an instance-based endpoint "{arn}" to a serverless endpoint.')
    return endpoint


def start_update(endpoint: Any, config: str) -> None:
    """``Updating``, the new config pending, the old one still live."""
    from moto.core.utils import utcnow

    now = utcnow()  # naive UTC, as moto keeps its own times
    endpoint.endpoint_status = "Updating"
    endpoint.failure_reason = None
    endpoint.pending_deployment_summary = {"EndpointConfigName": config, "StartTime": now}
    endpoint.last_modified_time = now


def finish_update(backend: Any, endpoint: Any, config: str | None, failure: str | None = None) -> None:
    """End an update or a creation: ``config`` goes live, InService; with ``failure`` an update rolls
    back (the old config stays, InService, ``FailureReason``)."""
    from moto.core.utils import utcnow

    if failure is None and config is not None:
        found = backend.endpoint_configs[config]
        endpoint.endpoint_config_name = config
        endpoint.production_variants = endpoint._process_production_variants(found.production_variants)
    endpoint.pending_deployment_summary = None
    endpoint.endpoint_status = "InService"
    endpoint.failure_reason = failure
    endpoint.last_modified_time = utcnow()


def _add_tags(backend: Any, arn: str, tags: list[dict[str, str]]) -> list[dict[str, str]]:
    resource = _tagged(backend, arn)
    keys = {tag["Key"] for tag in tags}
    resource.tags = [tag for tag in resource.tags if tag["Key"] not in keys] + list(tags)
    return resource.tags


def _tagged(backend: Any, arn: str) -> Any:
    from moto.sagemaker.exceptions import ValidationError

    resource = backend._get_resource_from_arn(arn)
    if resource is None:
        raise ValidationError(message=f"Could not find resource {arn}.")
    return resource


def install(set_attr: Setter, hooks: Hooks | None = None) -> None:
    """Patch moto's SageMaker with the fixes in the module docstring (undone by whoever owns ``set_attr``)."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    hooks = hooks or Hooks()
    create_model_ = SageMakerResponse.create_model
    create_config_ = SageMakerResponse.create_endpoint_config
    create_endpoint_ = SageMakerResponse.create_endpoint
    create_transform_ = SageMakerModelBackend.create_transform_job

    def update_endpoint(response: Any) -> Any:
        name, config = response._get_param("EndpointName"), response._get_param("EndpointConfigName")
        backend = response.sagemaker_backend
        arns = _arn(response, "endpoint", name), _arn(response, "endpoint-config", config)
        endpoint = check_update(backend, name, config, *arns)
        start_update(endpoint, config)
        if hooks.endpoint_updating:
            hooks.endpoint_updating(backend, endpoint, config)
        return ActionResult({"EndpointArn": endpoint.arn})

    def create_model(response: Any) -> Any:
        name = response._get_param("ModelName")
        _refuse_existing("model", response.sagemaker_backend._models, name, _arn(response, "model", name))
        result = create_model_(response)
        response.sagemaker_backend._models[name].enable_network_isolation = bool(
            response._get_param("EnableNetworkIsolation")
        )
        return result

    def create_endpoint_config(response: Any) -> Any:
        name = response._get_param("EndpointConfigName")
        arn = _arn(response, "endpoint-config", name)
        _refuse_existing("endpoint configuration", response.sagemaker_backend.endpoint_configs, name, arn)
        return create_config_(response)

    def create_endpoint(response: Any) -> Any:
        name = response._get_param("EndpointName")
        backend = response.sagemaker_backend
        _refuse_existing("endpoint", backend.endpoints, name, _arn(response, "endpoint", name))
        result = create_endpoint_(response)
        if hooks.endpoint_created:
            hooks.endpoint_created(backend, backend.endpoints[name])
        return result

    def create_transform_job(backend: Any, *args: Any, **kwargs: Any) -> Any:
        name = kwargs.get("transform_job_name")
        if name in backend.transform_jobs:
            raise ValidationError(message=f"Job name must be unique: {name}")
        job = create_transform_(backend, *args, **kwargs)
        if hooks.transform_created:
            hooks.transform_created(backend, job)
        return job

    def list_tags(response: Any) -> Any:
        return ActionResult(
            {"Tags": list(_tagged(response.sagemaker_backend, response._get_param("ResourceArn")).tags)}
        )

    set_attr(SageMakerResponse, "update_endpoint", update_endpoint)
    set_attr(SageMakerResponse, "create_model", create_model)
    set_attr(SageMakerResponse, "create_endpoint_config", create_endpoint_config)
    set_attr(SageMakerResponse, "create_endpoint", create_endpoint)
    set_attr(SageMakerResponse, "list_tags", list_tags)
    set_attr(SageMakerModelBackend, "add_tags", _add_tags)
    set_attr(SageMakerModelBackend, "create_transform_job", create_transform_job)


# ---- SageMaker runtime -------------------------------------------------------------------------

Answer = tuple[int, dict[str, str], bytes | str]
"""What a moto response handler returns: status, headers (moto reads the status from "status"), body."""


def ok_answer(body: bytes | str, content_type: str, variant: str = "AllTraffic") -> Answer:
    headers = {"status": "200", "Content-Type": content_type, "x-Amzn-Invoked-Production-Variant": variant}
    return 200, headers, body.encode() if isinstance(body, str) else body


def error_answer(status: int, code: str, message: str, fields: Mapping[str, Any] | None = None) -> Answer:
    """An error as SageMaker's runtime sends it (rest-json: status, x-amzn-ErrorType, a JSON body)."""
    import json

    headers = {"status": str(status), "x-amzn-ErrorType": code, "Content-Type": "application/json"}
    return status, headers, json.dumps({"message": message, **(fields or {})})


def install_invoke(set_attr: Setter, respond: Callable[[str | None, bytes, str, str | None], Answer]) -> None:
    """InvokeEndpoint answered by ``respond(endpoint name, raw body, content type, accept)``."""
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    def invoke_endpoint(response: Any) -> Answer:
        # POST /endpoints/{EndpointName}/invocations (rest-json: the name is in the path)
        parts = response.path.split("?", 1)[0].strip("/").split("/")
        name = unquote(parts[1]) if len(parts) >= 3 and parts[0] == "endpoints" else None
        raw = response.raw_body if isinstance(response.raw_body, bytes) else str(response.raw_body or "").encode()
        headers = {k.lower(): v for k, v in response.headers.items()}
        return respond(name, raw, headers.get("content-type") or "application/octet-stream", headers.get("accept"))

    set_attr(SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint)
    set_attr(SageMakerRuntimeResponse, "use_raw_body", True)
