"""The records an algorithm module fills in besides its hyperparameters: channels, metrics, how its
container loads a model directory, and what it takes in a batch transform job."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChannelSpec:
    name: str
    required: bool = False
    content_types: Mapping[str, str] = field(default_factory=dict)
    """File extension (lower case, with the dot) -> content type."""
    default_content_type: str | None = None
    allowed_content_types: tuple[str, ...] = ()
    description: str = ""
    required_files: tuple[str, ...] = ()
    """File names the channel must hold (e.g. seq2seq's vocabularies), checked before a job starts."""
    files_hint: str = ""
    """How to provide ``required_files``, said when one is missing."""
    holds_records: bool = True
    """The channel holds training records, which the data check samples (False: vocabularies, a model)."""

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
