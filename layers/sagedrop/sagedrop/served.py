"""The registry as predict reads it: model summaries and serving-job records, briefly cached.

Also what predict derives from them: the feature count rows must have, and why a model that has no
endpoint has none (the hints of the 409 ``not_deployed`` answers).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sagedrop import algorithms, registry

# --------------------------------------------------------------------------------------------
# The registry, cached
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServedModel:
    """A registry summary and what predict derives from it."""

    summary: Mapping[str, Any]
    job: Mapping[str, Any] | None = None
    """The serving job's record (``JOB#<serving_job>``): its hyperparameters and manifest."""
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.summary["model"])

    @property
    def status(self) -> str | None:
        return self.summary.get("status")

    @property
    def endpoint(self) -> str | None:
        return self.summary.get("endpoint")


class ModelDirectory:
    """Registry summaries with a short in-memory cache (per Lambda environment), thread-safe.

    The cache saves a DynamoDB read per request for hot models; ``ttl_s`` bounds how stale a status
    may be. Job records (hyperparameters) never change once written, so they are kept longer.
    """

    MAX_ENTRIES = 512

    def __init__(self, registry_: registry.Registry, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._registry = registry_
        self._ttl = ttl_s
        self._clock = clock
        self._models: OrderedDict[str, tuple[float, ServedModel]] = OrderedDict()
        self._jobs: OrderedDict[tuple[str, str], Mapping[str, Any] | None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model: str, *, fresh: bool = False) -> ServedModel | None:
        now = self._clock()
        if not fresh:
            with self._lock:
                cached = self._models.get(model)
            if cached and cached[0] > now:
                return cached[1]
        summary = self._registry.get(model, consistent=fresh)
        if not summary:
            return None  # not cached: a model dropped a moment later must not answer 404 from here
        served = self._served(model, summary)
        with self._lock:
            self._models[model] = (now + self._ttl, served)
            self._models.move_to_end(model)
            while len(self._models) > self.MAX_ENTRIES:
                self._models.popitem(last=False)
        return served

    def invalidate(self, model: str) -> None:
        with self._lock:
            self._models.pop(model, None)

    def _served(self, model: str, summary: Mapping[str, Any]) -> ServedModel:
        job_name = summary.get("serving_job")
        job = self._job(model, job_name) if isinstance(job_name, str) and job_name else None
        return ServedModel(summary, job, _typed_hyperparameters(summary.get("algorithm"), job))

    def _job(self, model: str, job: str) -> Mapping[str, Any] | None:
        key = (model, job)
        with self._lock:
            if key in self._jobs:
                return self._jobs[key]
        record = self._registry.get_job(model, job)
        with self._lock:
            self._jobs[key] = record
            while len(self._jobs) > self.MAX_ENTRIES:
                self._jobs.popitem(last=False)
        return record


def _typed_hyperparameters(algorithm_name: Any, job: Mapping[str, Any] | None) -> dict[str, Any]:
    """The job's hyperparameters (SageMaker strings) typed by the algorithm's own rules."""
    wire = (job or {}).get("hyperparameters") or {}
    if not isinstance(wire, Mapping) or not isinstance(algorithm_name, str):
        return {}
    try:
        algorithm = algorithms.get(algorithm_name)
    except KeyError:
        return dict(wire)
    typed, _, problems = algorithm.resolve_hyperparameters(wire)
    return typed if not problems else dict(wire)


def feature_count(served: ServedModel) -> int | None:
    """How many features a row must have: the serving job's declared ``feature_dim`` (the summary's, set by
    deploy), else the count the train function saw in the data (``feature_count`` of the job record, from
    the CSV's columns after the label), or the one deploy.json states for a model brought trained."""
    for value in (served.summary.get("feature_dim"), (served.job or {}).get("feature_count")):
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


NO_ENDPOINT_HINTS = {
    registry.TRAINING: "it is still training; it is deployed when its training job ends",
    registry.TRAINED: "it was trained with deploy: false; set deploy in training.json and upload it again",
    registry.REJECTED: "its training.json (or deploy.json) was rejected; fix it and upload it again",
    registry.GATE_FAILED: "its model did not pass the deploy gate; change the data or the gate and upload "
    "training.json again",
    registry.STOPPED: "its training job was stopped before it finished; upload training.json again",
    registry.FAILED: "fix the cause and upload training.json (or model.tar.gz and deploy.json) again",
}


def no_endpoint_hint(status: Any) -> str:
    """What to do about a model with no endpoint, by registry status."""
    return NO_ENDPOINT_HINTS.get(str(status), "upload training.json (or model.tar.gz and deploy.json) to deploy it")


def reason_text(summary: Mapping[str, Any], limit: int = 600) -> str:
    """``: <last_error>`` on one line (every problem of a rejection, not only its first line), or ''."""
    text = " ".join(line.strip() for line in str(summary.get("last_error") or "").splitlines() if line.strip())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f": {text}" if text else ""
