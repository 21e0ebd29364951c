"""The local stack's algorithms: real training and real wire formats, without SageMaker.

One interface for every algorithm, looked up by the name manifests use:

* ``train(algorithm, hyperparameters, channels, content_types, model_dir, log)`` trains on the
  files of each channel directory (File mode: every file under it) with the hyperparameters as
  the strings SageMaker passes, writes into ``model_dir`` what the real container puts in
  ``model.tar.gz`` and returns the final metrics under SageMaker's metric names. Every failure
  is an :class:`AlgorithmError` whose text is the job's FailureReason.
* ``load(algorithm, model_dir, serving)`` gives a :class:`Predictor` for an extracted ``model.tar.gz``
  (``serving``: the Model's image tag and container environment, for the modules that use them);
  ``invoke(body, content_type, accept)`` answers in the algorithm's real wire format or raises
  :class:`InvokeError` (the container's HTTP status and message, for InvokeEndpoint's ModelError).
* ``supported(algorithm)``: every algorithm of the layer's registry trains locally, in the module of this
  package named like its layer module (``sagedrop.algorithms.seq2seq`` -> ``sagedrop_local.algorithms.seq2seq``),
  unless :data:`NOT_TRAINED_LOCALLY` says why not (a test fails when a module is missing);
  ``unsupported_message(algorithm)`` is the FailureReason for any other name.

Local only: the Lambda layer (``sagedrop``) never imports this package.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Protocol

from sagedrop.algorithms import NAMES, module_name
from sagedrop_local.algorithms.common import AlgorithmError, InvokeError, Serving, TrainResult

__all__ = [
    "ALGORITHMS",
    "NOT_TRAINED_LOCALLY",
    "AlgorithmError",
    "InvokeError",
    "Predictor",
    "Serving",
    "TrainResult",
    "load",
    "supported",
    "train",
    "unsupported_message",
]

NOT_TRAINED_LOCALLY: Mapping[str, str] = {}
"""Algorithms of the layer's registry without a local module, each with the reason (none today)."""

ALGORITHMS: Mapping[str, str] = {
    name: f"{__name__}.{module_name(name).rsplit('.', 1)[1]}" for name in NAMES if name not in NOT_TRAINED_LOCALLY
}
"""Algorithm name (as in manifests) -> module with ``train(...)`` and ``load(model_dir)``."""


class Predictor(Protocol):
    def invoke(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        """The algorithm's answer and its content type, in the real wire format."""
        ...


def supported(algorithm: str) -> bool:
    return algorithm in ALGORITHMS


def unsupported_message(algorithm: str) -> str:
    if algorithm in NOT_TRAINED_LOCALLY:
        return f"ClientError: the local stack does not train {algorithm}: {NOT_TRAINED_LOCALLY[algorithm]}"
    return f"ClientError: unknown algorithm {algorithm!r}: the local stack trains {', '.join(ALGORITHMS)}"


def _module(algorithm: str) -> ModuleType:
    if not supported(algorithm):
        raise AlgorithmError(unsupported_message(algorithm))
    return importlib.import_module(ALGORITHMS[algorithm])


def train(
    algorithm: str,
    hyperparameters: dict[str, str],
    channels: dict[str, Path],
    content_types: dict[str, str | None],
    model_dir: Path,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train ``algorithm`` and write its model files into ``model_dir``; AlgorithmError on any failure."""
    module = _module(algorithm)
    try:
        return module.train(
            {str(k): str(v) for k, v in hyperparameters.items()},
            {name: Path(path) for name, path in channels.items()},
            dict(content_types),
            Path(model_dir),
            log,
        )
    except AlgorithmError:
        raise
    except MemoryError:
        raise AlgorithmError("ClientError: the training data does not fit in memory on this machine") from None
    except Exception as exc:  # an unexpected failure inside the algorithm: SageMaker's AlgorithmError
        raise AlgorithmError(f"AlgorithmError: {type(exc).__name__}: {exc}") from exc


def load(algorithm: str, model_dir: Path, serving: Serving | None = None) -> Predictor:
    """A predictor for the files of an extracted model.tar.gz (RuntimeError if they are not this algorithm's).

    ``serving`` (image tag, container environment) goes to the modules whose ``load`` takes it.
    """
    if not supported(algorithm):
        raise RuntimeError(unsupported_message(algorithm))
    module = importlib.import_module(ALGORITHMS[algorithm])
    if serving is not None and "serving" in inspect.signature(module.load).parameters:
        return module.load(Path(model_dir), serving=serving)
    return module.load(Path(model_dir))
