"""What the deploy flow shares: the stack's context, the outcome of an event, the job record's statuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sagedrop import registry
from sagedrop.errors import SagedropError
from sagedrop.manifest import Defaults

TRAINING_JOB_STATE_CHANGE = "SageMaker Training Job State Change"
ENDPOINT_STATE_CHANGE = "SageMaker Endpoint State Change"

# Statuses of a job record (JOB#<job>); the summary uses the registry's constants.
JOB_TRAINING = registry.TRAINING
JOB_COMPLETED = "completed"
JOB_FAILED = registry.FAILED
JOB_STOPPED = registry.STOPPED
JOB_TRAINED = registry.TRAINED
JOB_GATE_FAILED = registry.GATE_FAILED
JOB_PENDING = "pending"  # passed, waiting for the endpoint to be InService
JOB_DEPLOYING = "deploying"  # its config was sent to CreateEndpoint/UpdateEndpoint
JOB_DEPLOYED = "deployed"  # it went in service
JOB_SUPERSEDED = "superseded"  # passed, but a newer job was already pending or serving
JOB_DEPLOY_FAILED = "deploy_failed"
JOB_DONE = (JOB_FAILED, JOB_STOPPED, JOB_TRAINED, JOB_GATE_FAILED, JOB_DEPLOYED, JOB_SUPERSEDED, JOB_DEPLOY_FAILED)

SOURCE_PRETRAINED = "pretrained"
"""``source`` of a job record written for a model brought trained (deploy.json, :mod:`sagedrop.pretrained`):
no training job exists; the record carries the model data URL."""

# DescribeEndpoint EndpointStatus values
BUSY = ("Creating", "Updating", "SystemUpdating", "RollingBack")
UPDATABLE = ("InService", "OutOfService", "UpdateRollbackFailed")

MAX_FOLLOW = 4
"""How many rollouts one event may chain (pending after in service, recreate after failure)."""


def time_text(value: Any) -> Any:
    """A DescribeTrainingJob time (a datetime) as ISO 8601 text for the registry."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def absent_or(placeholder: str, op: str) -> str:
    """A condition that holds when the attribute is missing or NULL, or compares with ``:job``."""
    return f"(attribute_not_exists({placeholder}) OR attribute_type({placeholder}, :null) OR {placeholder} {op} :job)"


class EndpointBusy(SagedropError):
    """The endpoint is still being deleted: raised so that Lambda retries the event later."""


@dataclass(frozen=True)
class DeployContext:
    """What the stack gives the deploy function (environment variables of the template)."""

    stack: str
    region: str
    role_arn: str
    defaults: Defaults = field(default_factory=Defaults)
    delete_wait_s: float = 75.0
    """How long to wait for a Failed/Deleting endpoint to disappear before re-creating it."""
    poll_s: float = 5.0


@dataclass(frozen=True)
class Outcome:
    """What one event did: ``ignored``, ``foreign``, ``failed``, ``stopped``, ``trained``,
    ``gate_failed``, ``pending``, ``deploying``, ``in_service``, ``superseded``, ``duplicate`` or
    ``deploy_failed``."""

    status: str
    model: str = ""
    job: str | None = None
    endpoint: str | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "model": self.model,
            "job": self.job,
            "endpoint": self.endpoint,
            "message": self.message,
        }
