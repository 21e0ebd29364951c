"""Read template.yaml (with CloudFormation's short-form tags) for tests that check the wiring."""

from __future__ import annotations

from functools import cache
from typing import Any

from sagedrop_local.wiring import ROOT, TEMPLATE, read_template

__all__ = ["ROOT", "TEMPLATE", "load_template", "resolve", "resource"]


@cache
def load_template() -> dict[str, Any]:
    return read_template(TEMPLATE)


def resource(name: str) -> dict[str, Any]:
    return load_template()["Resources"][name]


def resolve(value: Any, refs: dict[str, Any]) -> Any:
    """Replace {"Ref": X} by refs[X] where known (enough for event patterns and key schemas)."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in refs:
            return refs[value["Ref"]]
        return {k: resolve(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    return value
