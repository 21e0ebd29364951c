"""`sagedrop score PATH --model NAME` and `sagedrop batches NAME`: batch scoring from the laptop.

``score`` checks the batch.json it is about to write with the batch trigger's own code
(:func:`sagedrop.batch.parse_batch_json` and :func:`sagedrop.batch.resolve_format` against the model's
algorithm from the registry), uploads the file or the folder's files to
``<model>/<batch name>/`` in the data bucket, then ``batch.json`` last (its arrival starts the job),
and with ``--watch`` follows the registry's batch record to its end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sagedrop import algorithms, batch
from sagedrop.errors import ManifestError, Problem


@dataclass(frozen=True)
class ScorePlan:
    model: str
    bucket: str
    folder: str
    files: list[tuple[Path, str]]
    batch_json: dict[str, Any]

    @property
    def batch_key(self) -> str:
        return f"{self.folder}{batch.BATCH_FILE}"

    @property
    def batch_uri(self) -> str:
        return f"s3://{self.bucket}/{self.batch_key}"


def local_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ManifestError(Problem(str(path), "no such file or folder"))
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
        and p.name != batch.BATCH_FILE
    )
    if not files:
        raise ManifestError(Problem(str(path), "the folder holds no files to score"))
    return files


def plan(
    path: Path, model: str, bucket: str, registry: Any, settings: dict[str, Any], name: str | None = None
) -> ScorePlan:
    """What to upload where; ManifestError when the batch.json or the model would be refused."""
    files = local_files(path)
    root = path if path.is_dir() else path.parent
    folder = f"{model}/{name or 'batch-' + datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}/"
    data = {"model": model, **{k: v for k, v in settings.items() if v is not None}}
    request = batch.parse_batch_json(data, source="batch.json")
    summary = registry.get(model, consistent=True)
    if summary is None:
        raise ManifestError(Problem("--model", f"there is no model {model!r}", "`sagedrop status` lists the models"))
    if not summary.get("sagemaker_model"):
        raise ManifestError(
            Problem("--model", f"{model!r} has no deployed model yet (status {summary.get('status')})", "wait for it")
        )
    algorithm = algorithms.get(str(summary.get("algorithm")))
    keys = [f"{folder}{p.relative_to(root).as_posix()}" for p in files]
    batch.resolve_format(request, algorithm, keys, source="batch.json")
    return ScorePlan(model, bucket, folder, list(zip(files, keys, strict=True)), data)


def upload(score: ScorePlan, s3: Any, say: Callable[[str], None]) -> None:
    for path, key in score.files:
        s3.upload_file(str(path), score.bucket, key)
        say(f"uploaded {path} -> s3://{score.bucket}/{key}")
    s3.put_object(Bucket=score.bucket, Key=score.batch_key, Body=json.dumps(score.batch_json, indent=2).encode())
    say(f"dropped {score.batch_uri}")


def follow(score: ScorePlan, registry: Any, timeout: float, poll: float = 2.0) -> dict[str, Any]:
    """The batch record of this drop once it ended; a rejection is raised as the trigger worded it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mine = [b for b in registry.batches(score.model) if b.get("batch_json") == score.batch_uri]
        if mine and mine[-1].get("status") != "InProgress":
            return mine[-1]
        summary = registry.get(score.model, consistent=True) or {}
        if not mine and summary.get("last_batch_json") == score.batch_uri:
            raise ManifestError(Problem(score.batch_uri, str(summary.get("last_batch_error"))))
        time.sleep(poll)
    raise TimeoutError(
        f"the batch of {score.batch_uri} has not ended after {timeout:.0f} s: sagedrop batches {score.model}"
    )
