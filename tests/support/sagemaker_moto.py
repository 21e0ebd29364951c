"""SageMaker hosting on moto for the deploy flow's tests, on top of the shared fixes.

moto's gaps (no UpdateEndpoint, names created twice, tags appended, EnableNetworkIsolation forgotten,
ListTags of a missing resource) are fixed once in :mod:`sagedrop_local.moto_gaps`, which the local
stack installs too; :func:`install` installs them for one test and adds the test's handles: an update
stays ``Updating`` until the test calls :meth:`Hosting.finish_update` or :meth:`Hosting.fail_update`;
``slow_create``/``slow_delete`` hold an endpoint ``Creating``/``Deleting`` as SageMaker does.

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
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

from sagedrop_local import moto_gaps
from sagedrop_local.moto_gaps import EVENT_ENDPOINT_STATUS, event_shape
from tests.conftest import ACCOUNT, REGION, load_event, load_function


def backend(account: str = ACCOUNT, region: str = REGION) -> SageMakerModelBackend:
    return sagemaker_backends[account][region]


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
        moto_gaps.finish_update(self.backend, endpoint, pending["EndpointConfigName"])

    def fail_update(self, name: str, reason: str) -> None:
        """The new fleet never became healthy: SageMaker rolls back to the old config."""
        endpoint = self.backend.endpoints[name]
        assert endpoint.endpoint_status == "Updating", f"{name} is not updating"
        moto_gaps.finish_update(self.backend, endpoint, None, failure=reason)

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
            key: event_shape(value)
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


def install(stack: Any, monkeypatch: pytest.MonkeyPatch) -> Hosting:
    """Patch SageMaker hosting on moto for one test (undone by ``monkeypatch``); the handle to drive it.

    Use it from a fixture: ``@pytest.fixture`` ``def hosting(stack, monkeypatch): return install(stack, monkeypatch)``.
    """
    handle = Hosting(stack.sagemaker)

    def created(backend: Any, endpoint: Any) -> None:
        handle.create_calls.append((endpoint.endpoint_name, endpoint.endpoint_config_name))
        if handle.slow_create:
            endpoint.endpoint_status = "Creating"

    def updating(backend: Any, endpoint: Any, config: str) -> None:
        handle.update_calls.append((endpoint.endpoint_name, config))

    def set_attr(target: Any, name: str, value: Any) -> None:
        monkeypatch.setattr(target, name, value, raising=False)

    moto_gaps.install(set_attr, moto_gaps.Hooks(endpoint_created=created, endpoint_updating=updating))
    original_delete_endpoint = SageMakerResponse.delete_endpoint

    def delete_endpoint(self: SageMakerResponse) -> Any:
        endpoint = self.sagemaker_backend.endpoints.get(self._get_param("EndpointName"))
        if handle.slow_delete and endpoint is not None:
            endpoint.endpoint_status = "Deleting"
            return ActionResult({})
        return original_delete_endpoint(self)

    monkeypatch.setattr(SageMakerResponse, "delete_endpoint", delete_endpoint)
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
