"""The manifest's schema: its limits, allowed keys and the typed settings that parsing produces."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sagedrop.algorithms.base import Algorithm
from sagedrop.errors import Problem

MAX_MANIFEST_BYTES = 64 * 1024
MAX_RUNTIME_LIMIT_S = 28 * 24 * 3600  # SageMaker's MaxRuntimeInSeconds upper bound (28 days)
DEFAULT_MAX_RUNTIME_S = 24 * 3600
DEFAULT_VOLUME_GB = 30
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
SERVERLESS_MAX_CONCURRENCY = 200
DISTRIBUTIONS = ("FullyReplicated", "ShardedByS3Key")
CONVERSIONS = ("recordio-protobuf",)

TOP_LEVEL = (
    "algorithm",
    "name",
    "version",
    "hyperparameters",
    "channels",
    "content_type",
    "training",
    "deploy",
    "labels",
    "convert",
    "label_bins",
    "description",
)
TRAINING_KEYS = ("instance_type", "instance_count", "volume_gb", "max_runtime_s", "spot", "max_wait_s", "input_mode")
DEPLOY_KEYS = (
    "endpoint_name",
    "instance_type",
    "instance_count",
    "serverless",
    "gate",
    "must_beat_current",
    "idle_minutes",
    "keep_alive",
)
CHANNEL_KEYS = ("s3_uri", "folder", "content_type", "distribution", "input_mode", "compression")


@dataclass(frozen=True)
class Defaults:
    """Stack-wide defaults (template parameters), used where the manifest is silent."""

    training_instance_type: str = "ml.m5.xlarge"
    gpu_training_instance_type: str = "ml.g5.xlarge"
    hosting_instance_type: str = "ml.m5.large"
    gpu_hosting_instance_type: str = "ml.g5.xlarge"
    idle_minutes: int = 120


@dataclass(frozen=True)
class ChannelRequest:
    """A channel as the manifest asks for it; ``s3_uri``/``folder`` None means the sibling folder."""

    name: str
    s3_uri: str | None = None
    folder: str | None = None
    content_type: str | None = None
    distribution: str | None = None
    input_mode: str | None = None
    compression: str | None = None


@dataclass(frozen=True)
class TrainingSettings:
    instance_type: str
    instance_count: int = 1
    volume_gb: int = DEFAULT_VOLUME_GB
    max_runtime_s: int = DEFAULT_MAX_RUNTIME_S
    spot: bool = False
    max_wait_s: int | None = None
    input_mode: str = "File"


@dataclass(frozen=True)
class Gate:
    metric: str
    minimum: float | None = None
    maximum: float | None = None
    better: str = "max"
    """Which direction is better for the metric ("max" or "min"): used by must_beat_current."""

    def verdict(self, value: float) -> str | None:
        """Why ``value`` fails the gate, or None when it passes."""
        if self.minimum is not None and value < self.minimum:
            return f"{self.metric} = {value:g} is below the minimum {self.minimum:g}"
        if self.maximum is not None and value > self.maximum:
            return f"{self.metric} = {value:g} is above the maximum {self.maximum:g}"
        return None

    def beats(self, value: float, current: float) -> bool:
        return value > current if self.better == "max" else value < current


@dataclass(frozen=True)
class Serverless:
    memory_mb: int = 2048
    max_concurrency: int = 5


@dataclass(frozen=True)
class DeploySettings:
    endpoint_name: str | None = None
    instance_type: str | None = None
    instance_count: int = 1
    serverless: Serverless | None = None
    gate: Gate | None = None
    must_beat_current: bool = False
    idle_minutes: int = 120
    keep_alive: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form, stored with each job so deploy needs no second manifest read."""
        return {
            "endpoint_name": self.endpoint_name,
            "instance_type": self.instance_type,
            "instance_count": self.instance_count,
            "serverless": None
            if self.serverless is None
            else {"memory_mb": self.serverless.memory_mb, "max_concurrency": self.serverless.max_concurrency},
            "gate": None
            if self.gate is None
            else {
                "metric": self.gate.metric,
                "min": self.gate.minimum,
                "max": self.gate.maximum,
                "better": self.gate.better,
            },
            "must_beat_current": self.must_beat_current,
            "idle_minutes": self.idle_minutes,
            "keep_alive": self.keep_alive,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeploySettings:
        serverless = data.get("serverless")
        gate = data.get("gate")
        return cls(
            endpoint_name=data.get("endpoint_name"),
            instance_type=data.get("instance_type"),
            instance_count=int(data.get("instance_count") or 1),
            serverless=None
            if not serverless
            else Serverless(int(serverless["memory_mb"]), int(serverless["max_concurrency"])),
            gate=None
            if not gate
            else Gate(
                gate["metric"],
                None if gate.get("min") is None else float(gate["min"]),
                None if gate.get("max") is None else float(gate["max"]),
                gate.get("better", "max"),
            ),
            must_beat_current=bool(data.get("must_beat_current")),
            idle_minutes=int(data.get("idle_minutes") or 120),
            keep_alive=bool(data.get("keep_alive")),
        )


@dataclass(frozen=True)
class Manifest:
    algorithm: Algorithm
    name: str
    version: str
    hyperparameters: dict[str, Any]
    """Typed values after validation (defaults applied)."""
    wire_hyperparameters: dict[str, str]
    """What SageMaker receives: every value a string."""
    channels: dict[str, ChannelRequest] | None
    """None: discover the sibling folders the algorithm knows."""
    content_type: str | None
    training: TrainingSettings
    deploy: DeploySettings | None
    labels: tuple[str, ...] | None
    convert: str | None = None
    label_bins: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    warnings: tuple[Problem, ...] = ()
    """Settings the documentation says the algorithm ignores: recorded and notified, not refused."""
