"""The manifest (``training.json``): parsing and validation that reports every problem at once.

Each problem names its JSON path, what was expected and how to fix it. Only ``algorithm`` is
required where the algorithm's required hyperparameters have safe defaults; everything else
has a default (docs/manifest.md; docs/architecture.md, Contracts: Manifest).

One module per part, re-exported here (callers import from ``sagedrop.manifest``):

- ``schema``: the limits, the allowed keys and the typed settings (``Manifest``, ``DeploySettings``, ...);
- ``fields``: bytes to a JSON object (``load_json``) and the ``Checker`` that reads typed values;
- ``sections``: ``labels``, ``channels`` and ``training``; ``deploy_settings``: the ``deploy`` section;
- ``checks``: the checks across sections; ``parsing``: ``parse`` itself, and the sections on their own
  that deploy.json reuses.
"""

from sagedrop.manifest.checks import channel_modes
from sagedrop.manifest.fields import json_type, load_json, unknown_fields
from sagedrop.manifest.parsing import deploy_section, labels_section, parse, parse_bytes
from sagedrop.manifest.schema import (
    CHANNEL_KEYS,
    CONVERSIONS,
    DEFAULT_MAX_RUNTIME_S,
    DEFAULT_VOLUME_GB,
    DEPLOY_KEYS,
    DISTRIBUTIONS,
    MAX_MANIFEST_BYTES,
    MAX_RUNTIME_LIMIT_S,
    SERVERLESS_MAX_CONCURRENCY,
    SERVERLESS_MEMORY_MB,
    TOP_LEVEL,
    TRAINING_KEYS,
    ChannelRequest,
    Defaults,
    DeploySettings,
    Gate,
    Manifest,
    Serverless,
    TrainingSettings,
)

__all__ = [
    "CHANNEL_KEYS",
    "CONVERSIONS",
    "DEFAULT_MAX_RUNTIME_S",
    "DEFAULT_VOLUME_GB",
    "DEPLOY_KEYS",
    "DISTRIBUTIONS",
    "MAX_MANIFEST_BYTES",
    "MAX_RUNTIME_LIMIT_S",
    "SERVERLESS_MAX_CONCURRENCY",
    "SERVERLESS_MEMORY_MB",
    "TOP_LEVEL",
    "TRAINING_KEYS",
    "ChannelRequest",
    "Defaults",
    "DeploySettings",
    "Gate",
    "Manifest",
    "Serverless",
    "TrainingSettings",
    "channel_modes",
    "deploy_section",
    "json_type",
    "labels_section",
    "load_json",
    "parse",
    "parse_bytes",
    "unknown_fields",
]
