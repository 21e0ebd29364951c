"""What every built-in algorithm module declares, and the checks shared by all of them.

An algorithm module subclasses :class:`Algorithm`, fills in its facts (image repository and
accounts, channels, hyperparameters, metrics, instance rules) and overrides the hooks it needs
(``check_hyperparameters`` for combinations, ``check_channels`` for channel rules that depend on
hyperparameters). Nothing here talks to AWS.

Inference (the prediction API's wire format) is part of the same module: ``request_content_types``
and ``inference_options`` say what a prediction request may carry, ``encode_request`` turns it into
the InvokeEndpoint calls the algorithm's container takes (:class:`InvokeRequest`, chunked to fit
one call each), and ``decode_response`` turns each answer into the uniform prediction dicts.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sagedrop import codecs
from sagedrop.algorithms.accounts import ecr_domain
from sagedrop.errors import Problem

# --------------------------------------------------------------------------------------------
# Hyperparameter types. Each turns a JSON value into (python value, SageMaker string) or raises
# ValueError with a sentence saying what was expected.
# --------------------------------------------------------------------------------------------


class ParamType:
    """Base of the hyperparameter value types."""

    expected = "a value"

    def convert(self, value: Any) -> tuple[Any, str]:  # pragma: no cover - overridden
        raise NotImplementedError


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() == "auto"


def _number(value: Any) -> float:
    """A JSON number or a numeric string; booleans are not numbers here."""
    if isinstance(value, bool):
        raise ValueError("got a boolean")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(f"got {value!r}") from None
    else:
        raise ValueError(f"got {type(value).__name__} {value!r}")
    if not math.isfinite(number):
        raise ValueError(f"got {value!r}")
    return number


def _range_text(minimum: float | None, maximum: float | None, min_open: bool, max_open: bool) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if min_open else '>='} {minimum:g}")
    if maximum is not None:
        parts.append(f"{'<' if max_open else '<='} {maximum:g}")
    return " and ".join(parts)


def _check_range(number: float, minimum, maximum, min_open: bool, max_open: bool) -> bool:
    if minimum is not None and (number < minimum or (min_open and number == minimum)):
        return False
    return not (maximum is not None and (number > maximum or (max_open and number == maximum)))


@dataclass(frozen=True)
class Int(ParamType):
    minimum: int | None = None
    maximum: int | None = None
    auto: bool = False

    @property
    def expected(self) -> str:  # type: ignore[override]
        text = "an integer"
        bounds = _range_text(self.minimum, self.maximum, False, False)
        text = f"{text} {bounds}" if bounds else text
        return f'{text} or "auto"' if self.auto else text

    def convert(self, value: Any) -> tuple[Any, str]:
        if self.auto and _is_auto(value):
            return "auto", "auto"
        number = _number(value)
        if not number.is_integer():
            raise ValueError(f"got {value!r}, which is not a whole number")
        integer = int(number)
        if not _check_range(integer, self.minimum, self.maximum, False, False):
            raise ValueError(f"got {integer}")
        return integer, str(integer)


@dataclass(frozen=True)
class Float(ParamType):
    minimum: float | None = None
    maximum: float | None = None
    min_open: bool = False
    max_open: bool = False
    auto: bool = False

    @property
    def expected(self) -> str:  # type: ignore[override]
        text = "a number"
        bounds = _range_text(self.minimum, self.maximum, self.min_open, self.max_open)
        text = f"{text} {bounds}" if bounds else text
        return f'{text} or "auto"' if self.auto else text

    def convert(self, value: Any) -> tuple[Any, str]:
        if self.auto and _is_auto(value):
            return "auto", "auto"
        number = _number(value)
        if not _check_range(number, self.minimum, self.maximum, self.min_open, self.max_open):
            raise ValueError(f"got {number:g}")
        text = str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
        return number, text


@dataclass(frozen=True)
class Bool(ParamType):
    """A boolean, spelled on the wire as the algorithm's documentation spells it.

    ``style``: ``"lower"`` sends ``true``/``false``, ``"title"`` sends ``True``/``False`` (what the
    SageMaker SDK sends for Python booleans; BlazingText's page spells it so), ``"numeric"`` sends
    ``1``/``0``.
    """

    style: str = "lower"
    auto: bool = False

    @property
    def expected(self) -> str:  # type: ignore[override]
        text = "true or false" + (" (or 1/0)" if self.style == "numeric" else "")
        return f'{text} or "auto"' if self.auto else text

    def convert(self, value: Any) -> tuple[Any, str]:
        if self.auto and _is_auto(value):
            return "auto", "auto"
        if isinstance(value, bool):
            flag = value
        elif isinstance(value, int) and value in (0, 1):
            flag = bool(value)
        elif isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            flag = value.strip().lower() in ("true", "1")
        else:
            raise ValueError(f"got {value!r}")
        if self.style == "numeric":
            return flag, "1" if flag else "0"
        if self.style == "title":
            return flag, "True" if flag else "False"
        return flag, "true" if flag else "false"


@dataclass(frozen=True)
class Choice(ParamType):
    options: tuple[str, ...] = ()

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(self.options)

    def convert(self, value: Any) -> tuple[Any, str]:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError(f"got {value!r}")
        text = str(value).strip()
        if text in self.options:
            return text, text
        close = difflib.get_close_matches(text, self.options, n=1)
        raise ValueError(f"got {value!r}" + (f"; did you mean {close[0]!r}?" if close else ""))


@dataclass(frozen=True)
class Text(ParamType):
    """A free string, optionally constrained by a regular expression described in words."""

    pattern: str | None = None
    description: str = "a string"

    @property
    def expected(self) -> str:  # type: ignore[override]
        return self.description

    def convert(self, value: Any) -> tuple[Any, str]:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"got {value!r}")
        text = str(value)
        if self.pattern is not None and not re.fullmatch(self.pattern, text):
            raise ValueError(f"got {value!r}")
        return text, text


@dataclass(frozen=True)
class IntList(ParamType):
    """Comma-separated integers such as ``image_shape`` ``3,224,224``; a JSON list is accepted too."""

    length: int | None = None
    minimum: int | None = None
    description: str = ""

    @property
    def expected(self) -> str:  # type: ignore[override]
        if self.description:
            return self.description
        count = f"{self.length} " if self.length else ""
        bound = f" each >= {self.minimum}" if self.minimum is not None else ""
        return f"{count}comma-separated integers{bound}"

    def convert(self, value: Any) -> tuple[Any, str]:
        if isinstance(value, list):
            items = value
        elif isinstance(value, str):
            items = [part.strip() for part in value.split(",")]
        elif isinstance(value, int) and not isinstance(value, bool):
            items = [value]
        else:
            raise ValueError(f"got {value!r}")
        numbers = []
        for item in items:
            number = _number(item)
            if not number.is_integer() or (self.minimum is not None and number < self.minimum):
                raise ValueError(f"got {value!r}")
            numbers.append(int(number))
        if not numbers or (self.length is not None and len(numbers) != self.length):
            raise ValueError(f"got {value!r}")
        return tuple(numbers), ",".join(str(n) for n in numbers)


@dataclass(frozen=True)
class HyperParameter:
    name: str
    type: ParamType
    required: bool = False
    default: Any = None
    """For a required hyperparameter: the safe value sagedrop sends when the manifest omits it."""


@dataclass(frozen=True)
class ChannelSpec:
    name: str
    required: bool = False
    content_types: Mapping[str, str] = field(default_factory=dict)
    """File extension (lower case, with the dot) -> content type."""
    default_content_type: str | None = None
    allowed_content_types: tuple[str, ...] = ()
    description: str = ""

    def content_type_for(self, key: str) -> str | None:
        name = key.rsplit("/", 1)[-1].lower()
        for extension in sorted(self.content_types, key=len, reverse=True):
            if name.endswith(extension):
                return self.content_types[extension]
        return self.default_content_type


@dataclass(frozen=True)
class Metric:
    name: str
    better: str  # "max" or "min"


# --------------------------------------------------------------------------------------------
# Instance types
# --------------------------------------------------------------------------------------------

_INSTANCE_RE = re.compile(r"ml\.[a-z][a-z0-9-]*\.(?:\d*xlarge|large|medium|small|metal(?:-\d+xl)?)")

# NVIDIA GPU families in SageMaker (training and hosting). Inferentia/Trainium (inf*, trn*)
# are accelerators but cannot run the CUDA builds of the built-in algorithms.
_GPU_FAMILIES = ("p2", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6", "g4dn", "g5", "g6", "g6e", "gr6")


def valid_instance_type(instance_type: str) -> bool:
    return bool(_INSTANCE_RE.fullmatch(instance_type))


def is_gpu_instance(instance_type: str) -> bool:
    family = instance_type.split(".")[1] if instance_type.count(".") >= 2 else ""
    if family in _GPU_FAMILIES:
        return True
    # Newer NVIDIA families follow the same naming (p<N>, g<N>); g4ad is AMD, not CUDA.
    return family.startswith(("p", "g")) and family[1:2].isdigit() and family != "g4ad"


# --------------------------------------------------------------------------------------------
# Inference: what the prediction API hands an algorithm, and what the algorithm hands back
# --------------------------------------------------------------------------------------------

INSTANCE_ENDPOINT_MAX_BYTES = 6 * codecs.MB
"""InvokeEndpoint's request body limit (botocore's BodyBlob max: 6,291,456 bytes)."""
SERVERLESS_ENDPOINT_MAX_BYTES = 4_000_000
"""Serverless endpoints take at most 4 MB per request ("4 MB" in the docs: the decimal reading is
the safe one)."""


@dataclass(frozen=True)
class PredictionInput:
    """One prediction request as the API received it: JSON instances, or a raw body."""

    instances: Sequence[Any] | None = None
    """The ``instances`` list of a JSON request (None for a raw body)."""
    body: bytes | None = None
    """A raw body (``text/csv``, an image, ...), already base64-decoded."""
    content_type: str = "application/json"
    """The body's media type, lower case, without parameters."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Inference options: the JSON ``configuration`` object, or the query string for a raw body."""
    options_path: str = "$.configuration"
    """Where the options came from, for error messages."""


@dataclass(frozen=True)
class ServingContext:
    """What the predict function knows about the model behind an endpoint."""

    labels: tuple[str, ...] | None = None
    """Class names from the manifest: ``labels[i]`` names class index ``i``."""
    feature_dim: int | None = None
    """Features per row, when the hyperparameters say (checked before anything is sent)."""
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    """The serving job's hyperparameters, typed (e.g. XGBoost's ``objective``)."""
    max_body_bytes: int = INSTANCE_ENDPOINT_MAX_BYTES
    max_rows: int = 500
    options: Mapping[str, Any] = field(default_factory=dict)
    """This request's inference options, checked and typed by :meth:`Algorithm.resolve_options`."""


@dataclass(frozen=True)
class InvokeRequest:
    """One InvokeEndpoint call: what to send, and how many predictions its answer must hold."""

    body: bytes
    content_type: str
    accept: str
    count: int
    first: int = 0
    """Index of the first instance the call covers (the answer's predictions start there)."""


@dataclass(frozen=True)
class InferenceOption:
    """A per-request inference option (e.g. BlazingText's ``k``)."""

    name: str
    type: ParamType
    description: str = ""


CSV = "text/csv"
LIBSVM_TYPES = ("text/libsvm", "text/x-libsvm")


def row_requests(
    payload: PredictionInput, ctx: ServingContext, *, accept: str, allow_missing: bool = False
) -> list[InvokeRequest]:
    """Rows of numbers (JSON instances, a ``text/csv`` or a libsvm body) as chunked CSV/libsvm calls.

    The tabular algorithms share this: each row is one line, a chunk holds at most ``ctx.max_rows``
    lines and ``ctx.max_body_bytes`` bytes, and ``ctx.feature_dim`` is checked when known.
    """
    if payload.body is None:
        instances = payload.instances
        if not isinstance(instances, list) or not instances:
            raise codecs.BadInput(
                Problem("$.instances", "expected a non-empty list of rows", 'send {"instances": [[1.5, 0, 3.2], ...]}')
            )
        lines = codecs.rows_to_csv(instances, feature_dim=ctx.feature_dim, allow_missing=allow_missing)
        content_type, name_of = CSV, (lambda i: f"$.instances[{i}]")
    elif payload.content_type == CSV:
        lines = codecs.csv_body_rows(payload.body, feature_dim=ctx.feature_dim, allow_missing=allow_missing)
        content_type, name_of = CSV, (lambda i: f"data row {i + 1} of the text/csv body")
    else:
        lines = codecs.libsvm_body_rows(payload.body, feature_dim=ctx.feature_dim)
        content_type, name_of = payload.content_type, (lambda i: f"data row {i + 1} of the libsvm body")
    chunks = codecs.chunk_sizes(
        list(map(len, lines)), max_bytes=ctx.max_body_bytes, max_rows=ctx.max_rows, name_of=name_of
    )
    return [InvokeRequest(codecs.join_lines(lines, c), content_type, accept, c.count, c.start) for c in chunks]


# --------------------------------------------------------------------------------------------
# Algorithm
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DirectoryLoading:
    """How a container that loads model files whatever their names reads the model directory (the
    top level of model.tar.gz, which SageMaker extracts into /opt/ml/model): every regular file at the
    top level is a model (sub-folders are not read)."""

    skips_dotfiles: bool
    """Files whose name starts with "." are ignored (else they are loaded like the others)."""
    loads_every_file: bool
    """Every file is loaded (an ensemble); False: only the first one the directory lists, in no set order."""
    source: str
    """Where the rule comes from (repository path + commit)."""


@dataclass(frozen=True)
class BatchFormat:
    """One input format a batch transform job can feed the algorithm's container."""

    content_type: str
    split: str
    """SplitType: ``Line`` (one record per line), ``RecordIO`` (RecordIO-framed records) or ``None`` (one
    request per file)."""
    accept: str
    """The Accept sent with each request: the answer format written to the ``.out`` files."""
    joinable: bool = False
    """JoinSource ``Input`` works: the answer has the input's format, one answer record per input record
    (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html)."""


@dataclass(frozen=True)
class BatchSupport:
    """What the algorithm's container does in a batch transform job; the first format is the default."""

    formats: tuple[BatchFormat, ...] = ()
    source: str = ""
    """The documentation page the formats come from."""
    refusal: str = ""
    """Why batch scoring is refused (no formats), in the user's words."""

    def format_for(self, content_type: str) -> BatchFormat | None:
        return next((f for f in self.formats if f.content_type == content_type), None)


class Algorithm:
    """Facts and rules about one SageMaker built-in algorithm. Subclasses set the attributes."""

    name: str = ""
    title: str = ""
    repository: str = ""
    accounts: Mapping[str, str] = {}
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

    # ---- images --------------------------------------------------------------------------

    def accounts_for(self, version: str) -> Mapping[str, str]:
        return self.accounts

    def regions(self, version: str | None = None) -> tuple[str, ...]:
        return tuple(sorted(self.accounts_for(version or self.default_version)))

    def repository_for(self, version: str) -> str:
        return self.repository

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

    # ---- validation ----------------------------------------------------------------------

    def resolve_hyperparameters(
        self, given: Mapping[str, Any], path: str = "$.hyperparameters", version: str | None = None
    ) -> tuple[dict[str, Any], dict[str, str], list[Problem]]:
        """Check names, types and ranges against ``version``'s declarations; apply safe defaults for
        required ones. ``version`` None checks against every version's (to read a recorded job).

        Returns the typed values, the strings SageMaker receives, and every problem found.
        """
        typed: dict[str, Any] = {}
        wire: dict[str, str] = {}
        problems: list[Problem] = []
        declared = self.hyperparameters_for(version)
        for key, value in given.items():
            spec = self.hyperparameter(key, version)
            if spec is None:
                problems.append(self.unknown_hyperparameter(key, f"{path}.{key}", version))
                continue
            try:
                typed[key], wire[key] = spec.type.convert(value)
            except ValueError as exc:
                hint = self.refused_value_hint(key, value, version)
                problems.append(Problem(f"{path}.{key}", f"expected {spec.type.expected}, {exc}", hint))
        for spec in declared:
            if spec.required and spec.name not in given:
                if spec.default is None:
                    problems.append(
                        Problem(
                            f"{path}.{spec.name}",
                            f"{self.name} requires {spec.name!r}",
                            f"add it: {spec.type.expected}",
                        )
                    )
                else:
                    typed[spec.name], wire[spec.name] = spec.type.convert(spec.default)
        if not problems:
            problems.extend(self.check_hyperparameters(typed, path))
        return typed, wire, problems

    def unknown_hyperparameter(self, key: str, path: str, version: str | None) -> Problem:
        """The problem for a name the version does not declare (a close match as the hint)."""
        known = [h.name for h in self.hyperparameters_for(version)]
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.7)
        guide = f"see the {self.title} hyperparameters page of the SageMaker developer guide"
        hint = f"did you mean {close[0]!r}?" if close else guide
        return Problem(path, f"{self.name} has no hyperparameter {key!r}", hint)

    def refused_value_hint(self, key: str, value: Any, version: str | None) -> str:
        """Extra words for a refused value (e.g. which image version takes it). Override."""
        return ""

    def hyperparameter_warnings(self, values: Mapping[str, Any], path: str) -> list[Problem]:
        """Settings the documentation says the algorithm ignores: worth a warning, not a refusal."""
        return []

    def check_hyperparameters(self, values: dict[str, Any], path: str) -> list[Problem]:
        """Rules across hyperparameters (e.g. multiclass needs num_classes). Override."""
        return []

    def check_channels(self, channels: Mapping[str, str | None], values: Mapping[str, Any], path: str) -> list[Problem]:
        """Channel rules given the chosen channels (name -> content type) and hyperparameters.

        The default: every required channel present, every channel known, content types allowed.
        """
        problems = []
        for spec in self.channels:
            if spec.required and spec.name not in channels:
                problems.append(
                    Problem(
                        f"{path}.{spec.name}",
                        f"{self.name} needs a {spec.name!r} channel",
                        f"put the data under the {spec.name}/ folder next to the manifest",
                    )
                )
        for name, content_type in channels.items():
            spec = self.channel(name)
            if spec is None:
                problems.append(
                    Problem(
                        f"{path}.{name}",
                        f"{self.name} has no channel {name!r}",
                        f"its channels are {', '.join(self.channel_names)}",
                    )
                )
            elif content_type and spec.allowed_content_types and content_type not in spec.allowed_content_types:
                problems.append(
                    Problem(
                        f"{path}.{name}.content_type",
                        f"{content_type!r} is not a content type the {name!r} channel accepts",
                        f"use one of {', '.join(spec.allowed_content_types)}",
                    )
                )
        return problems

    def check_channel_modes(
        self, channels: Mapping[str, tuple[str | None, str, str]], values: Mapping[str, Any], path: str
    ) -> list[Problem]:
        """Rules on each channel's (content type, input mode, distribution) together. Override.

        The content type is None when it is not known yet (decided later from the file names).
        """
        return []

    def check_label(self, label: float, values: Mapping[str, Any]) -> str | None:
        """Why one label value (first CSV column / libsvm label) is wrong, or None. Override."""
        return None

    def check_text_lines(self, lines: list[str], values: Mapping[str, Any]) -> str | None:
        """Why the first lines of a text channel are wrong for this algorithm, or None. Override."""
        return None

    def hosting_instance(self, stack_default: str, stack_gpu_default: str) -> str:
        """The hosting instance type when neither the manifest nor deploy.json names one."""
        if self.gpu_only_hosting:
            return stack_gpu_default
        return self.cpu_hosting_instance or stack_default

    def expected_feature_count(self, values: Mapping[str, Any]) -> int | None:
        """How many feature columns (besides the label) the data must have, when known."""
        return None

    def reported_metrics(self, values: Mapping[str, Any]) -> tuple[str, ...] | None:
        """The metric names a job with these hyperparameters reports, when that is known (None: unknown).

        Lets the manifest check refuse a gate on a metric the job will never report before
        anyone pays for training.
        """
        return None

    def class_count(self, values: Mapping[str, Any]) -> int | None:
        """How many classes the model predicts, when the hyperparameters say (for ``labels``)."""
        return None

    def check_training_instance(self, instance_type: str, values: Mapping[str, Any], path: str) -> list[Problem]:
        """Instance rules that depend on hyperparameters (e.g. a CPU-only mode). Override."""
        return []

    def serving_files_for(self, values: Mapping[str, Any]) -> tuple[str, ...]:
        """What model.tar.gz must hold to be served, given the hyperparameters it was trained with."""
        return self.serving_files

    def directory_loading(self, version: str) -> DirectoryLoading | None:
        """For a container that loads the files of the model directory whatever their names (None: the
        container looks for the names in ``serving_files``)."""
        return None

    def check_instance_count(self, count: int, values: Mapping[str, Any], path: str) -> list[Problem]:
        """More than one training instance only where the algorithm trains distributed."""
        if count > 1 and not self.supports_distributed:
            return [Problem(path, f"{self.name} trains on one instance only, got {count}", "set instance_count to 1")]
        return []

    def instance_problems(self, instance_type: str, purpose: str, path: str) -> list[Problem]:
        """Syntax and GPU rules for a training or hosting instance type."""
        if not valid_instance_type(instance_type):
            return [Problem(path, f"{instance_type!r} is not a SageMaker instance type", "use e.g. ml.m5.xlarge")]
        gpu_only = self.gpu_only_training if purpose == "training" else self.gpu_only_hosting
        if gpu_only and not is_gpu_instance(instance_type):
            example = self.default_training_instance if purpose == "training" else self.default_hosting_instance
            return [
                Problem(
                    path,
                    f"{self.name} {purpose} needs a GPU instance, {instance_type} has none",
                    f"use a GPU instance such as {example}",
                )
            ]
        return []

    # ---- inference ------------------------------------------------------------------------

    request_content_types: tuple[str, ...] = ()
    """Raw request body types the API takes for this algorithm, besides JSON ``{"instances": [...]}``."""
    inference_options: tuple[InferenceOption, ...] = ()

    def encode_request(self, payload: PredictionInput, ctx: ServingContext) -> list[InvokeRequest]:
        """The InvokeEndpoint calls for one prediction request, in instance order. Override.

        Raises :class:`~sagedrop.codecs.BadInput` (naming the field, row or byte),
        :class:`~sagedrop.codecs.UnsupportedMediaType` or :class:`~sagedrop.codecs.PayloadTooLarge`.
        """
        raise codecs.UnsupportedMediaType(f"{self.name} models cannot be called through the prediction API")

    def decode_response(
        self, body: bytes, content_type: str, request: InvokeRequest, ctx: ServingContext
    ) -> list[dict[str, Any]]:
        """The predictions in one endpoint answer (``request.count`` of them). Override.

        Raises :class:`~sagedrop.codecs.BadModelResponse` for anything that is not the format.
        """
        raise codecs.BadModelResponse(f"{self.name} answers cannot be decoded")

    def resolve_options(self, given: Mapping[str, Any], path: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Check and type a request's inference options; unknown names and bad values are 400s."""
        problems = codecs.ProblemList()
        typed: dict[str, Any] = {}
        known = {option.name: option for option in self.inference_options}
        for name, value in given.items():
            option = known.get(name)
            if option is None:
                if known:
                    close = difflib.get_close_matches(name, list(known), n=1)
                    hint = f"did you mean {close[0]!r}?" if close else "options: " + ", ".join(known)
                else:
                    hint = f"{self.name} takes no options: remove it"
                problems.add(f"{path}.{name}", f"{self.name} has no inference option {name!r}", hint)
                continue
            try:
                typed[name], _ = option.type.convert(value)
            except ValueError as exc:
                problems.add(f"{path}.{name}", f"expected {option.type.expected}, {exc}", option.description)
        problems.raise_if_any()
        problem = self.check_options(typed, path, values)
        if problem:
            raise codecs.BadInput(problem)
        return typed

    def check_options(self, options: Mapping[str, Any], path: str, values: Mapping[str, Any]) -> Problem | None:
        """Option rules that depend on the model's hyperparameters (e.g. ``k`` is for classifiers)."""
        return None

    def check_media_type(self, payload: PredictionInput) -> None:
        """A raw body must be one of ``request_content_types``."""
        if payload.body is not None and payload.content_type not in self.request_content_types:
            accepted = ['application/json ({"instances": [...]})', *self.request_content_types]
            raise codecs.UnsupportedMediaType(
                f"{self.name} models do not take {payload.content_type or 'a body without Content-Type'}: "
                f"send {' or '.join(accepted)}"
            )

    def instances_of(self, payload: PredictionInput) -> Sequence[Any]:
        """The JSON instances, which must be a non-empty list."""
        instances = payload.instances
        if not isinstance(instances, list) or not instances:
            raise codecs.BadInput(
                Problem("$.instances", "expected a non-empty list of instances", 'send {"instances": [...]}')
            )
        return instances

    @staticmethod
    def label_for(index: int | None, ctx: ServingContext) -> str | None:
        """The class name of a class index, when the manifest gave labels."""
        if index is None or not ctx.labels or not 0 <= index < len(ctx.labels):
            return None
        return ctx.labels[index]

    def named(self, prediction: dict[str, Any], ctx: ServingContext) -> dict[str, Any]:
        """Add ``label`` (the class name) to a prediction whose ``predicted_label`` is a class index."""
        index = prediction.get("predicted_label")
        name = self.label_for(index if isinstance(index, int) and not isinstance(index, bool) else None, ctx)
        if name is not None:
            prediction["label"] = name
        return prediction

    def __repr__(self) -> str:
        return f"<Algorithm {self.name}>"
