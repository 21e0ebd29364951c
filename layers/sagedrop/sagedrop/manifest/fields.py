"""Reading ``training.json``: bytes to a JSON object, and typed values out of it with every problem collected."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from sagedrop.errors import ManifestError, Problem
from sagedrop.manifest.schema import MAX_MANIFEST_BYTES


def load_json(body: bytes, source: str = "training.json", size: int | None = None) -> dict[str, Any]:
    """Bytes -> JSON object, with size, encoding and syntax errors said precisely.

    ``size`` is the whole object's size when ``body`` is only its first bytes (a ranged read).
    """
    size = max(len(body), size or 0)
    if size > MAX_MANIFEST_BYTES:
        raise ManifestError(
            Problem("$", f"the manifest is {size:,} bytes", f"keep it under {MAX_MANIFEST_BYTES:,} bytes (64 KiB)"),
            source=source,
        )
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(
            Problem(
                "$", f"the manifest is not UTF-8 (byte {exc.start} is 0x{body[exc.start]:02x})", "save it as UTF-8"
            ),
            source=source,
        ) from None
    if not text.strip():
        raise ManifestError(
            Problem("$", "the manifest is empty", 'write at least {"algorithm": "xgboost"}'), source=source
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(
            Problem("$", f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", "fix the JSON syntax"),
            source=source,
        ) from None
    if not isinstance(data, dict):
        raise ManifestError(
            Problem("$", f"expected a JSON object, got {json_type(data)}", 'write {"algorithm": "..."}'),
            source=source,
        )
    return data


def json_type(value: Any) -> str:
    """How a JSON value is named in error messages ("a string", "a list", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


class Checker:
    """Collects problems while reading typed values out of nested JSON (every problem, not the first)."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem(path, message, hint))

    def unknown_keys(self, data: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> None:
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else "allowed: " + ", ".join(allowed)
                self.add(f"{path}.{key}", f"unknown field {key!r}", hint)

    def string(self, data: Mapping[str, Any], key: str, path: str, default: str | None = None) -> str | None:
        value = data.get(key, default)
        if value is None or (isinstance(value, str) and value):
            return value
        self.add(f"{path}.{key}", f"expected a non-empty string, got {json_type(value)}")
        return default

    def integer(
        self, data: Mapping[str, Any], key: str, path: str, default: int | None, low: int, high: int | None = None
    ) -> int | None:
        value = data.get(key, default)
        if value is None:
            return None
        ok = isinstance(value, int) and not isinstance(value, bool)
        ok = ok or (isinstance(value, float) and value.is_integer())
        bounds = f">= {low:,}" + (f" and <= {high:,}" if high is not None else "")
        if not ok:
            self.add(f"{path}.{key}", f"expected an integer {bounds}, got {json_type(value)} {value!r}")
            return default
        value = int(value)
        if value < low or (high is not None and value > high):
            self.add(f"{path}.{key}", f"expected an integer {bounds}, got {value:,}")
            return default
        return value

    def number(self, data: Mapping[str, Any], key: str, path: str) -> float | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(f"{path}.{key}", f"expected a number, got {json_type(value)} {value!r}")
            return None
        return float(value)

    def boolean(self, data: Mapping[str, Any], key: str, path: str, default: bool = False) -> bool:
        value = data.get(key, default)
        if isinstance(value, bool):
            return value
        self.add(f"{path}.{key}", f"expected true or false, got {json_type(value)} {value!r}")
        return default

    def obj(self, data: Mapping[str, Any], key: str, path: str) -> dict[str, Any] | None:
        value = data.get(key)
        if value is None or isinstance(value, dict):
            return value
        self.add(f"{path}.{key}", f"expected an object, got {json_type(value)}")
        return None


def unknown_fields(data: Mapping[str, Any], allowed: tuple[str, ...], path: str = "$") -> list[Problem]:
    """A problem for each key of ``data`` not in ``allowed`` (with a close match as the hint)."""
    check = Checker()
    check.unknown_keys(data, allowed, path)
    return check.problems
