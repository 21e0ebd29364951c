"""Every environment variable the functions read, parsed here once, validated, with one error type.

template.yaml sets the variables (its Globals and each function's ``Environment``); :data:`VARIABLES`
names, for each one, what in the template sets it, so an error says which variable, what value, what
range and which template parameter to change. Nothing else in ``layers/`` or ``functions/`` reads
``os.environ`` (tests/unit/test_settings.py scans for it), and each handler builds its settings in
module-level ``*settings()`` functions from the classes below, so the test can compare what a
function reads with what the template sets for it.

The variables Lambda itself defines (``AWS_REGION``, ``LAMBDA_TASK_ROOT``, ...) are read here too
(:func:`region`, :func:`tracing_enabled`); :data:`LAMBDA_RESERVED` lists the ones sagedrop reads.

This module imports nothing beyond the standard library: every handler imports it at cold start.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

if TYPE_CHECKING:
    from sagedrop.manifest import Defaults


class SettingsError(RuntimeError):
    """The function's environment is wrong or incomplete: a deployment problem, not a user's."""


# ---- what sets each variable ------------------------------------------------------------------

PARAMETER, RESOURCE, LITERAL, LAMBDA = "parameter", "resource", "literal", "lambda"


@dataclass(frozen=True)
class Variable:
    """One environment variable and what in template.yaml sets it.

    ``source`` is a template parameter (``kind`` PARAMETER), a resource or pseudo parameter whose Ref or
    GetAtt is the value (RESOURCE), the function whose Environment holds a literal (LITERAL), or the
    documentation page of a variable Lambda sets (LAMBDA).
    """

    name: str
    kind: str
    source: str

    @property
    def fix(self) -> str:
        """How to correct the variable, for error messages."""
        if self.kind == PARAMETER:
            return f"set the {self.source} parameter"
        if self.kind == LAMBDA:
            return f"Lambda sets it ({self.source})"
        if self.kind == LITERAL:
            return f"set it in {self.source}'s Environment in template.yaml"
        return f"deploy the function with template.yaml (it sets {self.name} from {self.source})"


LAMBDA_ENV_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime"
"""The Lambda developer guide's list of the reserved ("defined runtime") environment variables."""

_VARIABLES = (
    Variable("SAGEDROP_STACK", RESOURCE, "AWS::StackName"),
    Variable("REGISTRY_TABLE", RESOURCE, "RegistryTable"),
    Variable("NOTIFICATION_TOPIC_ARN", RESOURCE, "NotificationTopic"),
    Variable("SAGEMAKER_ROLE_ARN", RESOURCE, "SageMakerExecutionRole"),
    Variable("ARTIFACT_BUCKET", RESOURCE, "ArtifactBucket"),
    Variable("DEFAULT_TRAINING_INSTANCE_TYPE", PARAMETER, "TrainingInstanceType"),
    Variable("DEFAULT_GPU_TRAINING_INSTANCE_TYPE", PARAMETER, "GpuTrainingInstanceType"),
    Variable("DEFAULT_HOSTING_INSTANCE_TYPE", PARAMETER, "HostingInstanceType"),
    Variable("DEFAULT_GPU_HOSTING_INSTANCE_TYPE", PARAMETER, "GpuHostingInstanceType"),
    Variable("IDLE_MINUTES", PARAMETER, "IdleMinutes"),
    Variable("DRY_RUN", PARAMETER, "CleanupDryRun"),
    Variable("ORPHAN_RETENTION_DAYS", PARAMETER, "OrphanRetentionDays"),
    Variable("AUTH_MODE", PARAMETER, "AuthMode"),
    Variable("ADMIN_GROUP", PARAMETER, "CognitoAdminGroup"),
    Variable("PREDICT_MAX_ROWS", LITERAL, "PredictFunction"),
    Variable("PREDICT_CONCURRENCY", LITERAL, "PredictFunction"),
    Variable("PREDICT_TIMEOUT_S", LITERAL, "PredictFunction"),
    Variable("PREDICT_CACHE_SECONDS", LITERAL, "PredictFunction"),
    Variable("PREDICT_MAX_ATTEMPTS", LITERAL, "PredictFunction"),
    Variable("POWERTOOLS_TRACE_DISABLED", PARAMETER, "EnableTracing"),
    Variable("AWS_REGION", LAMBDA, LAMBDA_ENV_DOC),
    Variable("AWS_DEFAULT_REGION", LAMBDA, LAMBDA_ENV_DOC),
    Variable("LAMBDA_TASK_ROOT", LAMBDA, LAMBDA_ENV_DOC),
    Variable("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", LAMBDA, LAMBDA_ENV_DOC),
)
VARIABLES: dict[str, Variable] = {v.name: v for v in _VARIABLES}
"""Every variable sagedrop's code reads, by name."""

LAMBDA_RESERVED = frozenset(v.name for v in _VARIABLES if v.kind == LAMBDA)
"""The variables Lambda defines that sagedrop reads (the template must not set them; LAMBDA_ENV_DOC)."""

# The template's IdleMinutes parameter bounds (template.yaml: MinValue 5, MaxValue 43200; a test checks them).
MIN_IDLE_MINUTES = 5
MAX_IDLE_MINUTES = 43200
MAX_ORPHAN_RETENTION_DAYS = 36500
AUTH_MODES = ("iam", "cognito", "apikey")  # the AuthMode parameter's AllowedValues

# Powertools' strtobool (aws_lambda_powertools/shared/functions.py) accepts these spellings.
TRUE_WORDS = ("1", "y", "yes", "t", "true", "on")
FALSE_WORDS = ("0", "n", "no", "f", "false", "off")

# ---- the parser -------------------------------------------------------------------------------


# One function's environment when several functions share a process (the local stack runs them all in
# one): the runner sets it around each invocation, so each function reads exactly what template.yaml
# gives it while the process environment is never shrunk under other threads. On Lambda it stays unset.
FUNCTION_ENVIRONMENT: ContextVar[Mapping[str, str] | None] = ContextVar("sagedrop_function_environment", default=None)


def environ() -> Mapping[str, str]:
    """The environment the settings read (tests replace it to record which names a function reads)."""
    function = FUNCTION_ENVIRONMENT.get()
    return os.environ if function is None else function


class Reader:
    """Reads and validates variables from one environment; every error names the variable and its fix."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = environ() if env is None else env

    def _var(self, name: str) -> Variable:
        variable = VARIABLES.get(name)
        if variable is None:  # a programming error: every variable is declared above
            raise KeyError(f"{name} is not declared in sagedrop.settings.VARIABLES")
        return variable

    def raw(self, name: str) -> str:
        return self._env.get(self._var(name).name) or ""

    def required(self, name: str) -> str:
        value = self.raw(name)
        if not value:
            raise SettingsError(f"environment variable {name} is not set; {self._var(name).fix}")
        return value

    def text(self, name: str, default: str = "") -> str:
        return self.raw(name) or default

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.raw(name).strip() or default
        if value not in allowed:
            raise SettingsError(
                f"environment variable {name} must be one of {', '.join(allowed)}, got {value!r}; {self._var(name).fix}"
            )
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.raw(name)
        value = raw.strip().lower()
        if not value:
            return default
        if value in TRUE_WORDS:
            return True
        if value in FALSE_WORDS:
            return False
        raise SettingsError(
            f"environment variable {name} must be 'true' or 'false', got {raw!r}; {self._var(name).fix}"
        )

    def number(
        self, name: str, default: float, low: float, high: float | None = None, kind: Callable[[str], Any] = int
    ) -> Any:
        """An integer (``kind=int``) or a float within ``low`` .. ``high`` (no upper bound when None)."""
        raw = self.raw(name).strip()
        if not raw:
            return kind(default)
        fix = self._var(name).fix
        try:
            value = kind(raw)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise SettingsError(f"environment variable {name} must be {what}, got {raw!r}; {fix}") from None
        if high is not None and not low <= value <= high:
            raise SettingsError(f"environment variable {name} must be between {low} and {high}, got {value}; {fix}")
        if value < low:
            raise SettingsError(f"environment variable {name} must be at least {low}, got {raw}; {fix}")
        return value


# ---- values every function reads ----------------------------------------------------------------


def region(env: Mapping[str, str] | None = None) -> str:
    """The function's region: Lambda sets AWS_REGION (and AWS_DEFAULT_REGION); us-east-1 elsewhere."""
    reader = Reader(env)
    return reader.text("AWS_REGION") or reader.text("AWS_DEFAULT_REGION") or "us-east-1"


LAMBDA_MB_PER_VCPU = 1769
"""Lambda's CPU follows memory: "At 1,769 MB, a function has the equivalent of one vCPU (one vCPU-second
of credits per second)" (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html)."""


def lambda_vcpus(env: Mapping[str, str] | None = None) -> float | None:
    """The vCPUs a Lambda function's memory buys, from AWS_LAMBDA_FUNCTION_MEMORY_SIZE ("The amount of
    memory available to the function in MB", a variable Lambda sets in every function:
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime);
    None outside Lambda (or when the value is not a number)."""
    text = Reader(env).text("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    return int(text) / LAMBDA_MB_PER_VCPU if text.isdigit() and int(text) > 0 else None


def tracing_enabled(env: Mapping[str, str] | None = None) -> bool:
    """X-Ray tracing is on: the EnableTracing parameter, and only inside Lambda (LAMBDA_TASK_ROOT is set)."""
    reader = Reader(env)
    disabled = reader.boolean("POWERTOOLS_TRACE_DISABLED", True)
    return not disabled and bool(reader.text("LAMBDA_TASK_ROOT"))


def idle_minutes(reader: Reader) -> int:
    return reader.number("IDLE_MINUTES", 120, MIN_IDLE_MINUTES, MAX_IDLE_MINUTES)


def _defaults(reader: Reader, training: bool) -> Defaults:
    from sagedrop.manifest import Defaults  # deferred: the predict and cleanup functions never load manifest

    hosting = {
        "hosting_instance_type": reader.text("DEFAULT_HOSTING_INSTANCE_TYPE", Defaults.hosting_instance_type),
        "gpu_hosting_instance_type": reader.text(
            "DEFAULT_GPU_HOSTING_INSTANCE_TYPE", Defaults.gpu_hosting_instance_type
        ),
    }
    if training:
        hosting["training_instance_type"] = reader.text(
            "DEFAULT_TRAINING_INSTANCE_TYPE", Defaults.training_instance_type
        )
        hosting["gpu_training_instance_type"] = reader.text(
            "DEFAULT_GPU_TRAINING_INSTANCE_TYPE", Defaults.gpu_training_instance_type
        )
    return Defaults(idle_minutes=idle_minutes(reader), **hosting)


# ---- one class per function -------------------------------------------------------------------


@dataclass(frozen=True)
class StackSettings:
    """What the train, deploy and cleanup functions share: the stack, its registry and its topic."""

    stack: str
    registry_table: str
    topic_arn: str = ""

    @classmethod
    def read(cls, reader: Reader) -> StackSettings:
        return cls(
            stack=reader.required("SAGEDROP_STACK"),
            registry_table=reader.required("REGISTRY_TABLE"),
            topic_arn=reader.text("NOTIFICATION_TOPIC_ARN"),
        )


@dataclass(frozen=True)
class _SageMakerFunctionSettings:
    """A function that creates SageMaker resources: the role it passes, the artifact bucket, instance defaults."""

    TRAINING: ClassVar[bool] = False  # whether the training instance defaults are read too

    common: StackSettings
    role_arn: str
    artifact_bucket: str
    defaults: Defaults

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        reader = Reader(env)
        return cls(
            common=StackSettings.read(reader),
            role_arn=reader.text("SAGEMAKER_ROLE_ARN"),
            artifact_bucket=reader.text("ARTIFACT_BUCKET"),
            defaults=_defaults(reader, training=cls.TRAINING),
        )


@dataclass(frozen=True)
class TrainFunctionSettings(_SageMakerFunctionSettings):
    """TrainFunction: starts training and batch jobs (role, artifact bucket, every instance default)."""

    TRAINING: ClassVar[bool] = True


@dataclass(frozen=True)
class DeployFunctionSettings(_SageMakerFunctionSettings):
    """DeployFunction: models and endpoints (role, artifact bucket for brought models, hosting defaults)."""


@dataclass(frozen=True)
class CleanupKnobs:
    """The cleanup run's template parameters: IdleMinutes, CleanupDryRun, OrphanRetentionDays."""

    idle_minutes: int = 120
    dry_run: bool = False
    orphan_retention_days: int = 7

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CleanupKnobs:
        return cls.read(Reader(env))

    @classmethod
    def read(cls, reader: Reader) -> CleanupKnobs:
        return cls(
            idle_minutes=idle_minutes(reader),
            dry_run=reader.boolean("DRY_RUN", False),
            orphan_retention_days=reader.number("ORPHAN_RETENTION_DAYS", 7, 0, MAX_ORPHAN_RETENTION_DAYS),
        )


@dataclass(frozen=True)
class CleanupFunctionSettings:
    """CleanupFunction: the stack, its registry and topic, and the run's knobs."""

    common: StackSettings
    knobs: CleanupKnobs

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CleanupFunctionSettings:
        reader = Reader(env)
        return cls(common=StackSettings.read(reader), knobs=CleanupKnobs.read(reader))


DEFAULT_MAX_ROWS = 500
"""Rows per InvokeEndpoint call. The SageMaker examples batch 100 (linear learner) to 500 (XGBoost)
rows per call; 500 keeps the per-call overhead (signing, TLS, the container's request parsing) small
against the model's work: 10,000 rows are 20 calls, three rounds of the default 8 workers."""
DEFAULT_CONCURRENCY = 8
DEFAULT_TIMEOUT_S = 25.0
DEFAULT_CACHE_S = 15.0
DEFAULT_MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class PredictSettings:
    """PredictFunction's settings (its PREDICT_* variables have these defaults)."""

    stack: str
    registry_table: str
    max_rows: int = DEFAULT_MAX_ROWS
    concurrency: int = DEFAULT_CONCURRENCY
    timeout_s: float = DEFAULT_TIMEOUT_S
    cache_s: float = DEFAULT_CACHE_S
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PredictSettings:
        reader = Reader(env)
        return cls(
            stack=reader.required("SAGEDROP_STACK"),
            registry_table=reader.required("REGISTRY_TABLE"),
            max_rows=reader.number("PREDICT_MAX_ROWS", DEFAULT_MAX_ROWS, 1),
            concurrency=reader.number("PREDICT_CONCURRENCY", DEFAULT_CONCURRENCY, 1),
            timeout_s=reader.number("PREDICT_TIMEOUT_S", DEFAULT_TIMEOUT_S, 0.1, kind=float),
            cache_s=reader.number("PREDICT_CACHE_SECONDS", DEFAULT_CACHE_S, 0, kind=float),
            max_attempts=reader.number("PREDICT_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, 1),
        )


@dataclass(frozen=True)
class AuthSettings:
    """PredictFunction's view of the stack's AuthMode (AUTH_MODE, ADMIN_GROUP)."""

    mode: str = "iam"
    admin_group: str = "sagedrop-admins"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AuthSettings:
        reader = Reader(env)
        return cls(
            mode=reader.choice("AUTH_MODE", "iam", AUTH_MODES),
            admin_group=reader.text("ADMIN_GROUP", "sagedrop-admins"),
        )
