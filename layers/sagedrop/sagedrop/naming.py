"""Names of everything sagedrop creates, and how S3 keys map to models.

Contract (docs/architecture.md, Names): training job ``<model>-<yyyymmdd-HHMMSS>-<6 hex>``, at most 63
characters of ``[a-zA-Z0-9-]``. The time is the S3 event's time and the hex a hash of bucket,
key and version (or ETag), so a redelivered event maps to the same name and SageMaker itself
refuses the duplicate. Model and endpoint config are named after the job; the endpoint after the
model, stable across retrains.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from sagedrop.errors import Problem

MAX_NAME = 63  # SageMaker: training job, model, endpoint config and endpoint names
MAX_MODEL_NAME = MAX_NAME - len("-yyyymmdd-HHMMSS-abcdef")  # 40
_VALID = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")
_INVALID_RUN = re.compile(r"[^a-zA-Z0-9]+")
MANIFEST_FILE = "training.json"


@dataclass(frozen=True)
class DroppedObject:
    """The S3 object an event names (a training.json or a deploy.json): where, which version, when."""

    bucket: str
    key: str
    version: str | None
    etag: str | None
    time: datetime

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def digest(self) -> str:
        """6 hex digits of bucket, key and version (or ETag): stable across redeliveries."""
        return event_hash(self.bucket, self.key, self.version or self.etag)


def dropped_objects(event: Any) -> Iterator[DroppedObject]:
    """The objects of an S3 notification event (Powertools ``S3Event``), keys URL-decoded."""
    for record in event.records:
        s3_object = record.s3.get_object
        yield DroppedObject(
            bucket=record.s3.bucket.name,
            key=decode_key(s3_object.key),
            version=s3_object.version_id,
            etag=s3_object.etag or None,
            time=parse_event_time(record.event_time),
        )


def decode_key(raw_key: str) -> str:
    """S3 event keys are URL-encoded with ``+`` for spaces."""
    return unquote_plus(raw_key)


def model_folder(key: str) -> str:
    """The folder that holds the manifest: ``data/my model/training.json`` -> ``data/my model/``."""
    return key.rsplit("/", 1)[0] + "/" if "/" in key else ""


def sanitize(text: str, limit: int = MAX_MODEL_NAME) -> str:
    """A valid SageMaker name part: runs of other characters become one hyphen."""
    cleaned = _INVALID_RUN.sub("-", text).strip("-")
    return cleaned[:limit].rstrip("-")


def model_name_from_key(key: str) -> str:
    """Default model name: the folder holding the manifest, made a valid name (may be empty)."""
    folder = model_folder(key).rstrip("/")
    return sanitize(folder.rsplit("/", 1)[-1]) if folder else ""


def check_model_name(name: str, path: str = "$.name") -> list[Problem]:
    if not isinstance(name, str) or not name:
        return [Problem(path, "the model name is empty", 'name the folder or set "name" in the manifest')]
    problems = []
    if len(name) > MAX_MODEL_NAME:
        problems.append(
            Problem(path, f"{name!r} is {len(name)} characters long", f"use at most {MAX_MODEL_NAME} characters")
        )
    if not _VALID.fullmatch(name):
        problems.append(
            Problem(path, f"{name!r} is not a valid name", "use letters, digits and single hyphens, e.g. 'churn-model'")
        )
    return problems


def event_hash(bucket: str, key: str, version: str | None) -> str:
    """6 hex digits identifying one object version; stable across redeliveries of its event."""
    digest = hashlib.sha256(f"{bucket}\n{key}\n{version or ''}".encode()).hexdigest()
    return digest[:6]


def parse_event_time(value: str | datetime | None) -> datetime:
    """S3 event times look like ``2026-11-26T10:15:30.123Z``; fall back to now if absent."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if not value:
        return datetime.now(UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def job_name(model: str, when: datetime, digest: str) -> str:
    name = f"{model[:MAX_MODEL_NAME].rstrip('-')}-{when.strftime('%Y%m%d-%H%M%S')}-{digest}"
    assert len(name) <= MAX_NAME and _VALID.fullmatch(name), name
    return name


def model_of_job(job: str) -> str:
    """Inverse of :func:`job_name` for the model part."""
    parts = job.rsplit("-", 3)
    return parts[0] if len(parts) == 4 else job


def sagemaker_model_name(job: str) -> str:
    return job


def endpoint_config_name(job: str) -> str:
    return job


def endpoint_name(model: str, override: str | None = None) -> str:
    return override or model


VARIANT_NAME = "AllTraffic"
"""The single production variant sagedrop gives every endpoint config (cleanup relies on it)."""
