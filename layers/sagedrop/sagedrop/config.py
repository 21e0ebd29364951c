"""Settings from the function's environment (set by template.yaml), read once and validated."""

from __future__ import annotations

import os
from dataclasses import dataclass

from sagedrop.manifest import Defaults


class ConfigError(RuntimeError):
    """The function's environment is incomplete: a deployment problem, not a user's."""


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(f"environment variable {name} is not set; deploy the function with template.yaml")
    return value


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise ConfigError(f"environment variable {name} must be an integer, got {value!r}") from None


@dataclass(frozen=True)
class Settings:
    stack: str
    region: str
    registry_table: str
    topic_arn: str
    role_arn: str
    artifact_bucket: str
    defaults: Defaults

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            stack=_required("SAGEDROP_STACK"),
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            registry_table=_required("REGISTRY_TABLE"),
            topic_arn=os.environ.get("NOTIFICATION_TOPIC_ARN", ""),
            role_arn=os.environ.get("SAGEMAKER_ROLE_ARN", ""),
            artifact_bucket=os.environ.get("ARTIFACT_BUCKET", ""),
            defaults=Defaults(
                training_instance_type=os.environ.get("DEFAULT_TRAINING_INSTANCE_TYPE")
                or Defaults.training_instance_type,
                gpu_training_instance_type=os.environ.get("DEFAULT_GPU_TRAINING_INSTANCE_TYPE")
                or Defaults.gpu_training_instance_type,
                hosting_instance_type=os.environ.get("DEFAULT_HOSTING_INSTANCE_TYPE") or Defaults.hosting_instance_type,
                gpu_hosting_instance_type=os.environ.get("DEFAULT_GPU_HOSTING_INSTANCE_TYPE")
                or Defaults.gpu_hosting_instance_type,
                idle_minutes=_int("IDLE_MINUTES", Defaults.idle_minutes),
            ),
        )
