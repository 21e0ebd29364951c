"""The cleanup function's knobs, built from the central settings module (``sagedrop/settings.py``).

The environment is parsed and checked there (one parser, one error type); this module keeps the
cleanup-shaped view of it that the rest of the package uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from sagedrop.settings import MAX_IDLE_MINUTES, MIN_IDLE_MINUTES, CleanupKnobs

__all__ = ["MAX_IDLE_MINUTES", "MIN_IDLE_MINUTES", "CleanupSettings"]


@dataclass(frozen=True)
class CleanupSettings:
    """The cleanup function's knobs (template parameters, through its environment)."""

    stack: str
    idle_minutes: int = 120
    dry_run: bool = False
    orphan_retention_days: int = 7

    @classmethod
    def from_env(cls, stack: str) -> CleanupSettings:
        knobs = CleanupKnobs.from_env()
        return cls(stack, knobs.idle_minutes, knobs.dry_run, knobs.orphan_retention_days)
