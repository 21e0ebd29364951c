"""SageMaker hosting on moto, made to behave like the real service where the deploy flow depends on it.

moto 5 has no UpdateEndpoint, makes endpoints InService and training jobs Completed at once,
silently overwrites a model/config/endpoint created twice, appends tags instead of overwriting
them, and forgets a model's EnableNetworkIsolation. :func:`install` patches those:

* ``UpdateEndpoint``: only an InService (or OutOfService / UpdateRollbackFailed) endpoint can be
  updated, else ``ValidationException: Cannot update in-progress endpoint``; an instance-based endpoint
  cannot be updated to a serverless config (``ValidationException``, the reverse is allowed, as the
  serverless-endpoints page of the developer guide says); the endpoint goes
  ``Updating`` with ``PendingDeploymentSummary`` naming the new config, and keeps serving the old
  one until the test calls :meth:`Hosting.finish_update` (the new config applies, InService) or
  :meth:`Hosting.fail_update` (rolled back: the old config stays, InService, ``FailureReason``).
* ``Create{Model,EndpointConfig,Endpoint}`` on an existing name: ``ValidationException: Cannot
  create already existing ...`` as SageMaker answers.
* ``AddTags`` adds or overwrites (SageMaker's documented behaviour); ``ListTags`` of a resource that
  does not exist answers ``ValidationException`` (moto fails with an internal error).

Helpers force training job states, metrics and ``FailureReason`` through
``moto.sagemaker.models.sagemaker_backends``, force endpoint statuses, and build events shaped like
the AWS documentation's samples from what SageMaker describes (epoch-ms times, ``Tags`` as a map,
no ``ModelArtifacts``/``FinalMetricDataList`` in a training job event).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

from tests.conftest import ACCOUNT, REGION, load_event, load_function

UPDATABLE = ("InService", "OutOfService", "UpdateRollbackFailed")
# The EndpointStatus spelling of "SageMaker Endpoint State Change" events (AWS documentation sample).
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


def backend(account: str = ACCOUNT, region: str = REGION) -> SageMakerModelBackend:
    return sagemaker_backends[account][region]


# ---------------------------------------------------------------------------------------- patches


def _update_endpoint(self: SageMakerResponse) -> ActionResult:
    sm = self.sagemaker_backend
    name = self._get_param("EndpointName")
    config = self._get_param("EndpointConfigName")
    endpoint = sm.endpoints.get(name)
    arn = f"arn:aws:sagemaker:{self.region}:{self.current_account}:endpoint/{name}"
    if endpoint is None:
        raise ValidationError(message=f'Could not find endpoint "{arn}".')
    if endpoint.endpoint_status not in UPDATABLE:
        raise ValidationError(message=f'Cannot update in-progress endpoint "{arn}".')
    if config not in sm.endpoint_configs:
        config_arn = f"arn:aws:sagemaker:{self.region}:{self.current_account}:endpoint-config/{config}"
        raise ValidationError(message=f'Could not find endpoint configuration "{config_arn}".')
    if _serverless(sm, config) and not _serverless(sm, endpoint.endpoint_config_name):
        # "You cannot convert your instance-based, real-time endpoint to a serverless endpoint. If you try to
        # update your real-time endpoint to serverless, you receive a ValidationError message. You can convert
        # a serverless endpoint to real-time" (https://docs.aws.amazon.com/sagemaker/latest/dg/
        # serverless-endpoints.html, "Feature exclusions"). The message's wording is not documented.
        raise ValidationError(message=f'Cannot update an instance-based endpoint "{arn}" to a serverless endpoint.')
    endpoint.endpoint_status = "Updating"
    endpoint.failure_reason = None
    endpoint.pending_deployment_summary = {"EndpointConfigName": config, "StartTime": utcnow()}
    endpoint.last_modified_time = utcnow()
    return ActionResult({"EndpointArn": endpoint.arn})


def _serverless(sm: SageMakerModelBackend, config: str) -> bool:
    found = sm.endpoint_configs.get(config)
    return found is not None and any(variant.get("ServerlessConfig") for variant in found.production_variants)


def _refuse_existing(kind: str, existing: Mapping[str, Any], name: str, arn: str) -> None:
    if name in existing:
        raise ValidationError(message=f'Cannot create already existing {kind} "{arn}".')


def _resource(self: SageMakerModelBackend, arn: str) -> Any:
    """The tagged resource, or ValidationException as SageMaker answers for a missing one (moto crashes)."""
    resource = self._get_resource_from_arn(arn)
    if resource is None:
        raise ValidationError(message=f"Could not find resource {arn}.")
    return resource


def _list_tags(self: SageMakerResponse) -> ActionResult:
    arn = self._get_param("ResourceArn")
    return ActionResult({"Tags": list(_resource(self.sagemaker_backend, arn).tags)})


def _add_tags(self: SageMakerModelBackend, arn: str, tags: list[dict[str, str]]) -> list[dict[str, str]]:
    resource = _resource(self, arn)
    keys = {tag["Key"] for tag in tags}
    resource.tags = [tag for tag in resource.tags if tag["Key"] not in keys] + list(tags)
    return resource.tags


class Hosting:
    """Handles on the patched SageMaker backend for one test."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.update_calls: list[tuple[str, str]] = []
        self.create_calls: list[tuple[str, str]] = []
        self.slow_create = False
        """When True, a new endpoint stays ``Creating`` (as on SageMaker) until :meth:`finish_create`."""
        self.slow_delete = False
        """When True, a deleted endpoint stays ``Deleting`` until :meth:`finish_delete`."""

    @property
    def backend(self) -> SageMakerModelBackend:
        return backend()

    # ---- training jobs ---------------------------------------------------------------------

    def set_job(
        self,
        name: str,
        *,
        status: str | None = None,
        secondary: str | None = None,
        failure_reason: str | None = None,
        metrics: Mapping[str, float] | None = None,
    ) -> None:
        job = self.backend.training_jobs[name]
        if status is not None:
            job.training_job_status = status
            job.secondary_status = secondary or status
        if failure_reason is not None:
            job.failure_reason = failure_reason
        if metrics is not None:
            now = utcnow()
            job.final_metric_data_list = [
                {"MetricName": key, "Value": float(value), "Timestamp": now} for key, value in metrics.items()
            ]

    # ---- endpoints -------------------------------------------------------------------------

    def set_endpoint(self, name: str, status: str, failure_reason: str | None = None) -> None:
        endpoint = self.backend.endpoints[name]
        endpoint.endpoint_status = status
        endpoint.failure_reason = failure_reason
        endpoint.last_modified_time = utcnow()

    def finish_create(self, name: str) -> None:
        endpoint = self.backend.endpoints[name]
        assert endpoint.endpoint_status == "Creating", f"{name} is not being created"
        endpoint.endpoint_status = "InService"
        endpoint.last_modified_time = utcnow()

    def finish_delete(self, name: str) -> None:
        assert self.backend.endpoints[name].endpoint_status == "Deleting", f"{name} is not being deleted"
        del self.backend.endpoints[name]

    def finish_update(self, name: str) -> None:
        """The new fleet is healthy: the pending config is live, the endpoint InService."""
        endpoint = self.backend.endpoints[name]
        pending = getattr(endpoint, "pending_deployment_summary", None)
        assert endpoint.endpoint_status == "Updating" and pending, f"{name} is not updating"
        config = self.backend.endpoint_configs[pending["EndpointConfigName"]]
        endpoint.endpoint_config_name = config.endpoint_config_name
        endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
        endpoint.pending_deployment_summary = None
        endpoint.endpoint_status = "InService"
        endpoint.last_modified_time = utcnow()

    def fail_update(self, name: str, reason: str) -> None:
        """The new fleet never became healthy: SageMaker rolls back to the old config."""
        endpoint = self.backend.endpoints[name]
        assert endpoint.endpoint_status == "Updating", f"{name} is not updating"
        endpoint.pending_deployment_summary = None
        endpoint.endpoint_status = "InService"
        endpoint.failure_reason = reason
        endpoint.last_modified_time = utcnow()

    def live_config(self, name: str) -> str:
        return self.client.describe_endpoint(EndpointName=name)["EndpointConfigName"]

    def configs(self) -> list[str]:
        return sorted(self.backend.endpoint_configs)

    def models(self) -> list[str]:
        return sorted(self.backend._models)

    def tags(self, arn: str) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self.client.list_tags(ResourceArn=arn)["Tags"]}

    # ---- events ----------------------------------------------------------------------------

    def training_event(self, job: str, template: str = "training-job-completed.json") -> dict[str, Any]:
        """The state change event SageMaker sends for ``job`` as it is now."""
        described = self.client.describe_training_job(TrainingJobName=job)
        described.pop("ResponseMetadata", None)
        arn = described["TrainingJobArn"]
        job_tags = self.tags(arn)
        event = copy.deepcopy(load_event("deploy", template))
        detail = {
            key: _epoch_ms_strings(value)
            for key, value in described.items()
            if key not in ("ModelArtifacts", "FinalMetricDataList", "Tags")
        }
        detail["Tags"] = job_tags
        event.update(
            {
                "id": str(uuid.uuid4()),
                "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": REGION,
                "account": ACCOUNT,
                "resources": [arn],
                "detail": detail,
            }
        )
        return event

    def endpoint_event(self, name: str) -> dict[str, Any]:
        """The "SageMaker Endpoint State Change" event for the endpoint as it is now."""
        described = self.client.describe_endpoint(EndpointName=name)
        event = copy.deepcopy(load_event("deploy", "endpoint-in-service.json"))
        detail = {
            "EndpointName": described["EndpointName"],
            "EndpointArn": described["EndpointArn"],
            "EndpointConfigName": described["EndpointConfigName"],
            "ProductionVariants": [
                {
                    "DesiredWeight": float(v.get("DesiredWeight", 1.0)),
                    "DesiredInstanceCount": float(v.get("DesiredInstanceCount", 0)),
                }
                for v in described.get("ProductionVariants", [])
            ],
            "EndpointStatus": EVENT_ENDPOINT_STATUS[described["EndpointStatus"]],
            "CreationTime": float(int(described["CreationTime"].timestamp() * 1000)),
            "LastModifiedTime": float(int(described["LastModifiedTime"].timestamp() * 1000)),
            "Tags": self.tags(described["EndpointArn"]),
        }
        if described.get("FailureReason"):
            detail["FailureReason"] = described["FailureReason"]
        event.update(
            {
                "id": str(uuid.uuid4()),
                "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "resources": [described["EndpointArn"]],
                "detail": detail,
            }
        )
        return event


def _epoch_ms_strings(value: Any) -> Any:
    """Training job events carry times as epoch-millisecond strings."""
    if isinstance(value, datetime):
        return str(int(value.timestamp() * 1000))
    if isinstance(value, dict):
        return {k: _epoch_ms_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_epoch_ms_strings(v) for v in value]
    return value


def install(stack: Any, monkeypatch: pytest.MonkeyPatch) -> Hosting:
    """Patch SageMaker hosting on moto for one test (undone by ``monkeypatch``); the handle to drive it.

    Use it from a fixture: ``@pytest.fixture`` ``def hosting(stack, monkeypatch): return install(stack, monkeypatch)``.
    """
    handle = Hosting(stack.sagemaker)

    def update_endpoint(self: SageMakerResponse) -> ActionResult:
        result = _update_endpoint(self)
        handle.update_calls.append((self._get_param("EndpointName"), self._get_param("EndpointConfigName")))
        return result

    monkeypatch.setattr(SageMakerResponse, "update_endpoint", update_endpoint, raising=False)
    monkeypatch.setattr(SageMakerModelBackend, "add_tags", _add_tags)
    monkeypatch.setattr(SageMakerResponse, "list_tags", _list_tags)

    original_create_model = SageMakerResponse.create_model
    original_create_config = SageMakerResponse.create_endpoint_config
    original_create_endpoint = SageMakerResponse.create_endpoint

    def create_model(self: SageMakerResponse) -> ActionResult:
        name = self._get_param("ModelName")
        arn = f"arn:aws:sagemaker:{self.region}:{self.current_account}:model/{name}"
        _refuse_existing("model", self.sagemaker_backend._models, name, arn)
        result = original_create_model(self)
        flag = self._get_param("EnableNetworkIsolation")
        self.sagemaker_backend._models[name].enable_network_isolation = bool(flag)
        return result

    def create_endpoint_config(self: SageMakerResponse) -> ActionResult:
        name = self._get_param("EndpointConfigName")
        arn = f"arn:aws:sagemaker:{self.region}:{self.current_account}:endpoint-config/{name}"
        _refuse_existing("endpoint configuration", self.sagemaker_backend.endpoint_configs, name, arn)
        return original_create_config(self)

    def create_endpoint(self: SageMakerResponse) -> ActionResult:
        name = self._get_param("EndpointName")
        arn = f"arn:aws:sagemaker:{self.region}:{self.current_account}:endpoint/{name}"
        _refuse_existing("endpoint", self.sagemaker_backend.endpoints, name, arn)
        result = original_create_endpoint(self)
        handle.create_calls.append((name, self._get_param("EndpointConfigName")))
        if handle.slow_create:
            self.sagemaker_backend.endpoints[name].endpoint_status = "Creating"
        return result

    original_delete_endpoint = SageMakerResponse.delete_endpoint

    def delete_endpoint(self: SageMakerResponse) -> Any:
        endpoint = self.sagemaker_backend.endpoints.get(self._get_param("EndpointName"))
        if handle.slow_delete and endpoint is not None:
            endpoint.endpoint_status = "Deleting"
            return ActionResult({})
        return original_delete_endpoint(self)

    monkeypatch.setattr(SageMakerResponse, "delete_endpoint", delete_endpoint)
    monkeypatch.setattr(SageMakerResponse, "create_model", create_model)
    monkeypatch.setattr(SageMakerResponse, "create_endpoint_config", create_endpoint_config)
    monkeypatch.setattr(SageMakerResponse, "create_endpoint", create_endpoint)
    return handle


# ------------------------------------------------------------------------------- driving the flow


def csv_rows(rows: int, features: int, classes: int = 2) -> str:
    """Numeric CSV, label first, no header (what the xgboost data check accepts)."""
    lines = []
    for i in range(rows):
        label = i % classes
        lines.append(",".join([str(label)] + [f"{(i * 7 + j) % 13 / 3:.4f}" for j in range(features)]))
    return "\n".join(lines) + "\n"


def train(
    stack: Any,
    context: Any,
    manifest: Mapping[str, Any],
    *,
    when: str,
    folder: str = "churn",
) -> str:
    """Drop data and ``manifest`` under ``folder`` and run the real train function: the job's name."""
    stack.put(f"{folder}/train/part-0.csv", csv_rows(60, 6))
    stack.put(f"{folder}/validation/part-0.csv", csv_rows(20, 6))
    results = load_function("train").handler(stack.drop_manifest(folder, dict(manifest), when), context)["results"]
    assert [r["status"] for r in results] == ["started"], results
    return results[0]["job"]
