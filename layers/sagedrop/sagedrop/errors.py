"""Domain errors, mapped to outcomes in one place per handler.

Two families:

* ``UserError``: something the person who dropped the data (or called the API) can fix. It is
  recorded, notified and logged, never retried: retrying cannot fix a bad manifest.
* Everything else (AWS throttling, 5xx, bugs) propagates so that Lambda retries and the
  on-failure destination finally keeps the event.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (a JSON path or S3 location), what, and how to fix it."""

    path: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class SagedropError(Exception):
    """Base class of every error raised on purpose by the domain package."""


class UserError(SagedropError):
    """An input the user must fix; carries every problem found, not just the first."""

    kind = "invalid input"

    def __init__(self, problems: list[Problem] | Problem | str, *, source: str = "") -> None:
        if isinstance(problems, str):
            problems = [Problem("$", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        self.source = source
        super().__init__(self.describe())

    def describe(self) -> str:
        head = f"{self.kind} in {self.source}" if self.source else self.kind
        count = len(self.problems)
        lines = [f"{head}: {count} problem{'s' if count != 1 else ''}"]
        lines.extend(f"  - {problem}" for problem in self.problems)
        return "\n".join(lines)


class ManifestError(UserError):
    """The manifest (training.json / deploy.json) is not valid."""

    kind = "invalid manifest"


class DataError(UserError):
    """The training data does not match what the algorithm and manifest say."""

    kind = "invalid training data"
