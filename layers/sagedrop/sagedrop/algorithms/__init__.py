"""The algorithm registry: one line per algorithm, each module imported on first use.

Adding a sixth algorithm means adding one module (subclass of ``Algorithm`` exposing
``ALGORITHM``) and one line in ``_MODULES`` (docs/adding-an-algorithm.md). Other modules ask the
algorithm for its facts or iterate this registry (:func:`all_algorithms`, :func:`having`); they never
test an algorithm's name.
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


def module_name(name: str) -> str:
    """The module that defines the algorithm ``name`` (``sagedrop.algorithms.<module>``)."""
    if name not in _MODULES:
        raise UnknownAlgorithm(name)
    return _MODULES[name]


def having(fact: str) -> list[Algorithm]:
    """The algorithms whose attribute ``fact`` is true (e.g. ``numeric_csv_label``), in registry order."""
    return [algorithm for algorithm in all_algorithms() if getattr(algorithm, fact)]


def listed(fact: str) -> str:
    """The names of the algorithms :func:`having` ``fact``, as words: ``a``, ``a and b``, ``a, b and c``."""
    names = [algorithm.name for algorithm in having(fact)]
    return " and ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} and {names[-1]}"
