"""What every built-in algorithm module declares: the :class:`Algorithm` base class.

An algorithm module subclasses :class:`Algorithm`, fills in its facts (image repository and
accounts, channels, hyperparameters, metrics, instance rules, and the per-algorithm facts other
modules ask for: ``label_column``, ``serving_hint``, channel ``required_files``) and overrides the
hooks it needs. The shared checks live beside this module, one concern each:

* :mod:`~sagedrop.algorithms.params`: hyperparameter value types (``Int``, ``Float``, ``Choice``, ...);
* :mod:`~sagedrop.algorithms.specs`: channels, metrics, model-directory loading, batch formats;
* :mod:`~sagedrop.algorithms.instances`: instance-type syntax and GPU families;
* :mod:`~sagedrop.algorithms.rules`: :class:`TrainingRules`, the manifest checks (mixed in here);
* :mod:`~sagedrop.algorithms.inference`: :class:`InferenceCodec`, the prediction wire format (mixed in).

Everything callers imported from this module before the split is re-exported here. Nothing here
talks to AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagedrop.algorithms.accounts import ecr_domain
from sagedrop.algorithms.inference import (
    CSV,
    INSTANCE_ENDPOINT_MAX_BYTES,
    LIBSVM_TYPES,
    SERVERLESS_ENDPOINT_MAX_BYTES,
    InferenceCodec,
    InferenceOption,
    InvokeRequest,
    PredictionInput,
    ServingContext,
    row_requests,
)
from sagedrop.algorithms.instances import is_gpu_instance, valid_instance_type
from sagedrop.algorithms.params import Bool, Choice, Float, HyperParameter, Int, IntList, ParamType, Text
from sagedrop.algorithms.rules import TrainingRules
from sagedrop.algorithms.specs import BatchFormat, BatchSupport, ChannelSpec, DirectoryLoading, Metric

__all__ = [
    "CSV",
    "INSTANCE_ENDPOINT_MAX_BYTES",
    "LIBSVM_TYPES",
    "SERVERLESS_ENDPOINT_MAX_BYTES",
    "Algorithm",
    "BatchFormat",
    "BatchSupport",
    "Bool",
    "ChannelSpec",
    "Choice",
    "DirectoryLoading",
    "Float",
    "HyperParameter",
    "InferenceCodec",
    "InferenceOption",
    "Int",
    "IntList",
    "InvokeRequest",
    "Metric",
    "ParamType",
    "PredictionInput",
    "ServingContext",
    "Text",
    "TrainingRules",
    "is_gpu_instance",
    "row_requests",
    "valid_instance_type",
]


class Algorithm(TrainingRules, InferenceCodec):
    """Facts and rules about one SageMaker built-in algorithm. Subclasses set the attributes."""

    name: str = ""
    title: str = ""
    repository: str = ""
    accounts: Mapping[str, str] = {}
    extra_repositories: tuple[str, ...] = ()
    """Repositories besides ``repository_for(version)`` that the execution role may pull from."""
    default_version: str = "1"
    versions: tuple[str, ...] = ("1",)
    channels: tuple[ChannelSpec, ...] = ()
    hyperparameters: tuple[HyperParameter, ...] = ()
    metrics: tuple[Metric, ...] = ()
    default_training_instance: str = "ml.m5.xlarge"
    default_hosting_instance: str = "ml.m5.large"
    cpu_hosting_instance: str | None = None
    """The CPU hosting instance used when the manifest names none (None: the stack's default)."""
    serverless_refusal: str = "serverless inference has no GPU"
    """Why the algorithm cannot be served serverless (when ``supports_serverless`` is False)."""
    gpu_only_training: bool = False
    gpu_only_hosting: bool = False
    supports_serverless: bool = True
    supports_distributed: bool = False
    """Training on more than one instance (and ShardedByS3Key input)."""
    supports_network_isolation: bool = True
    input_modes: tuple[str, ...] = ("File", "Pipe")
    serving_files: tuple[str, ...] = ()
    """Names that must be inside model.tar.gz for the algorithm to serve it (empty: not checked)."""
    batch: BatchSupport = BatchSupport(refusal="batch transform is not described for this algorithm")
    """Batch transform input formats (sagedrop.batch builds CreateTransformJob from them)."""

    # ---- facts other modules ask for (they never test an algorithm's name) ----------------

    numeric_csv_label: bool = False
    """Training CSV rows carry a numeric label first, no header: the manifest's ``label_bins`` can bin it."""
    multiclass_hint: str = ""
    """How the hyperparameters train a multiclass classifier (said when ``label_bins`` meets a regressor)."""
    converts_csv_to_recordio: bool = False
    """The manifest's ``convert: recordio-protobuf`` applies: the train function turns the CSV channels
    (label first) into dense RecordIO-protobuf, a type the train channel also accepts (a test checks)."""
    serving_hint: str = ""
    """Why the container needs ``serving_files``, said when model.tar.gz lacks one (empty: a sentence
    made from the title and the patterns)."""

    # ---- images --------------------------------------------------------------------------

    def accounts_for(self, version: str) -> Mapping[str, str]:
        return self.accounts

    def regions(self, version: str | None = None) -> tuple[str, ...]:
        return tuple(sorted(self.accounts_for(version or self.default_version)))

    def repository_for(self, version: str) -> str:
        return self.repository

    def image_repositories(self) -> tuple[str, ...]:
        """Every ECR repository the algorithm's images come from (template.yaml lets the SageMaker
        execution role pull from each: a test compares the two)."""
        return tuple(sorted({*(self.repository_for(version) for version in self.versions), *self.extra_repositories}))

    def image_tag(self, version: str) -> str:
        """The image tag for a version (most are the version itself)."""
        return version

    def image_uri(self, region: str, version: str | None = None) -> str:
        """``<account>.dkr.ecr.<region>.<domain>/<repo>:<tag>``; KeyError for an unknown region."""
        version = version or self.default_version
        if version not in self.versions:
            raise KeyError(f"{self.name} has no version {version!r}; versions: {', '.join(self.versions)}")
        accounts = self.accounts_for(version)
        if region not in accounts:
            raise KeyError(
                f"{self.name} {version} is not available in region {region!r}; "
                f"it is in {len(accounts)} regions: {', '.join(sorted(accounts))}"
            )
        registry = f"{accounts[region]}.dkr.ecr.{region}.{ecr_domain(region)}"
        return f"{registry}/{self.repository_for(version)}:{self.image_tag(version)}"

    def inference_image_uri(self, region: str, version: str | None = None) -> str:
        """The hosting image; for these built-in algorithms the same image serves and trains."""
        return self.image_uri(region, version)

    # ---- lookups -------------------------------------------------------------------------

    def channel(self, name: str) -> ChannelSpec | None:
        return next((c for c in self.channels if c.name == name), None)

    def hyperparameters_for(self, version: str | None = None) -> tuple[HyperParameter, ...]:
        """The hyperparameters an image version declares (None: what any version declares)."""
        return self.hyperparameters

    def metrics_for(self, version: str | None = None) -> tuple[Metric, ...]:
        """The metrics an image version emits (None: what any version emits)."""
        return self.metrics

    def hyperparameter(self, name: str, version: str | None = None) -> HyperParameter | None:
        return next((h for h in self.hyperparameters_for(version) if h.name == name), None)

    def metric(self, name: str, version: str | None = None) -> Metric | None:
        return next((m for m in self.metrics_for(version) if m.name == name), None)

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channels)

    def hosting_instance(self, stack_default: str, stack_gpu_default: str) -> str:
        """The hosting instance type when neither the manifest nor deploy.json names one."""
        if self.gpu_only_hosting:
            return stack_gpu_default
        return self.cpu_hosting_instance or stack_default

    def serving_files_for(self, values: Mapping[str, Any]) -> tuple[str, ...]:
        """What model.tar.gz must hold to be served, given the hyperparameters it was trained with."""
        return self.serving_files

    def directory_loading(self, version: str) -> DirectoryLoading | None:
        """For a container that loads the files of the model directory whatever their names (None: the
        container looks for the names in ``serving_files``)."""
        return None

    def __repr__(self) -> str:
        return f"<Algorithm {self.name}>"
