"""The algorithm registry: one line per algorithm, each module imported on first use.

Adding a sixth algorithm means adding one module (subclass of ``Algorithm`` exposing
``ALGORITHM``) and one line in ``_MODULES``.
"""

from __future__ import annotations

import difflib
import importlib
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sagedrop.algorithms.base import Algorithm

_MODULES = {
    "linear-learner": "sagedrop.algorithms.linear_learner",
    "xgboost": "sagedrop.algorithms.xgboost",
    "blazingtext": "sagedrop.algorithms.blazingtext",
    "image-classification": "sagedrop.algorithms.image_classification",
    "seq2seq": "sagedrop.algorithms.seq2seq",
}

NAMES: tuple[str, ...] = tuple(_MODULES)


class UnknownAlgorithm(KeyError):
    def __init__(self, name: object) -> None:
        close = difflib.get_close_matches(str(name), NAMES, n=1) if isinstance(name, str) else []
        hint = f"; did you mean {close[0]!r}?" if close else ""
        self.message = f"unknown algorithm {name!r}: use one of {', '.join(NAMES)}{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


@cache
def get(name: str) -> Algorithm:
    """The algorithm called ``name`` (as written in manifests); UnknownAlgorithm otherwise."""
    if name not in _MODULES:
        raise UnknownAlgorithm(name)
    return importlib.import_module(_MODULES[name]).ALGORITHM


def all_algorithms() -> list[Algorithm]:
    return [get(name) for name in NAMES]
