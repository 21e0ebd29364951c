"""Tags on every job, model, endpoint config and endpoint sagedrop creates.

``sagedrop:stack`` marks ownership: deploy and cleanup touch only resources carrying this
stack's value. ``sagedrop:model`` and ``sagedrop:manifest`` say where a resource came from.
Per-model cleanup knobs travel as tags too, so cleanup needs no extra lookups.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

STACK = "sagedrop:stack"
MODEL = "sagedrop:model"
MANIFEST = "sagedrop:manifest"
MANIFEST_VERSION = "sagedrop:manifest-version"
ALGORITHM = "sagedrop:algorithm"
IDLE_MINUTES = "sagedrop:idle-minutes"
KEEP_ALIVE = "sagedrop:keep-alive"
SERVERLESS = "sagedrop:serverless"

# SageMaker tag values: up to 256 characters of letters, digits, spaces and _ . : / = + - @
_TAG_VALUE_MAX = 256
_NOT_ALLOWED = re.compile(r"[^\w\s.:/=+\-@]", re.UNICODE)


def tag_value(text: str) -> str:
    """A string made safe for a SageMaker tag value (other characters become ``_``)."""
    return _NOT_ALLOWED.sub("_", text)[:_TAG_VALUE_MAX]


def to_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """SageMaker's ``[{"Key", "Value"}]`` form, values sanitized, order stable."""
    return [{"Key": key, "Value": tag_value(str(value))} for key, value in tags.items()]


def to_map(tags: Iterable[Mapping[str, str]] | Mapping[str, str] | None) -> dict[str, str]:
    """Either form (the API's list, or the event's map) as a dict."""
    if not tags:
        return {}
    if isinstance(tags, Mapping):
        return dict(tags)
    return {tag["Key"]: tag["Value"] for tag in tags}


def owned_by(tags: Iterable[Mapping[str, str]] | Mapping[str, str] | None, stack: str) -> bool:
    return to_map(tags).get(STACK) == stack


def base_tags(stack: str, model: str, manifest_uri: str, manifest_version: str | None = None) -> dict[str, str]:
    tags = {STACK: stack, MODEL: model, MANIFEST: manifest_uri}
    if manifest_version:
        tags[MANIFEST_VERSION] = manifest_version
    return tags
