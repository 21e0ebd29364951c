"""The cleanup function's environment: every variable it reads, parsed and checked in this one module.

Moved verbatim from the former ``sagedrop/cleanup.py`` ("settings and trigger") so that it can be pointed
at the central settings module as a whole.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sagedrop.config import ConfigError

MIN_IDLE_MINUTES = 5  # the template's IdleMinutes bounds (and the manifest's deploy.idle_minutes)
MAX_IDLE_MINUTES = 43200


def parse_bool(text: str, where: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise ConfigError(f"{where} must be 'true' or 'false', got {text!r}; set the CleanupDryRun parameter")


def _env_int(name: str, default: int, low: int, high: int, parameter: str) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be an integer, got {raw!r}; set {parameter}") from None
    if not low <= value <= high:
        raise ConfigError(f"environment variable {name} must be between {low} and {high}, got {value}; set {parameter}")
    return value


@dataclass(frozen=True)
class CleanupSettings:
    """The cleanup function's knobs (template parameters, through its environment)."""

    stack: str
    idle_minutes: int = 120
    dry_run: bool = False
    orphan_retention_days: int = 7

    @classmethod
    def from_env(cls, stack: str) -> CleanupSettings:
        return cls(
            stack=stack,
            idle_minutes=_env_int("IDLE_MINUTES", 120, MIN_IDLE_MINUTES, MAX_IDLE_MINUTES, "the IdleMinutes parameter"),
            dry_run=parse_bool(os.environ.get("DRY_RUN", "false"), "environment variable DRY_RUN"),
            orphan_retention_days=_env_int("ORPHAN_RETENTION_DAYS", 7, 0, 36500, "the OrphanRetentionDays parameter"),
        )
