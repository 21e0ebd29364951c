"""From a dropped ``batch.json`` to a SageMaker batch transform job, and from its end to a record.

``BatchLauncher.handle`` is what the train function runs for an S3 record of a key ending in ``batch.json``
(the template's ``BatchDropped`` notification): read that version of ``batch.json``, validate it
(:mod:`sagedrop.batch`), find the SageMaker model of the named model (the one in service, or the one a
hibernated or stopped model keeps: no endpoint is woken), list the data files beside ``batch.json``,
write the ManifestFile and start CreateTransformJob once. The job is named like a training job from the
event (``<model>-<yyyymmdd-HHMMSS>-<6 hex>``), so a redelivered event finds its job and starts nothing.

``BatchRecorder.on_transform_job`` is what the deploy function runs for a ``SageMaker Transform Job State
Change`` event of this stack: the registry's ``BATCH#<job>`` record gets the outcome (status, duration,
failure reason in the user's words) and SNS says where the results are.

A user's mistake is recorded, notified and returned, never raised; AWS errors that may pass propagate
so Lambda retries.
"""

from __future__ import annotations

import difflib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sagedrop import batch, naming, registry, served, tags
from sagedrop.algorithms.base import Algorithm
from sagedrop.aws import read_head
from sagedrop.aws_errors import error_message, exists, name_in_use, refusal_problem
from sagedrop.batch_inputs import BatchDataError, DataFile, InputSpec, check_inputs
from sagedrop.errors import ManifestError, Problem, UserError
from sagedrop.manifest import MAX_MANIFEST_BYTES, load_json
from sagedrop.notify import Notifier

log = logging.getLogger("sagedrop.batch")

TRANSFORM_JOB_STATE_CHANGE = "SageMaker Transform Job State Change"
ENDED = ("Completed", "Failed", "Stopped")
"""TransformJobStatus values that end a job (API_TransformJobSummary.html: InProgress | Completed | Failed |
Stopping | Stopped)."""
MAX_FILES = 10_000
"""Data files one batch.json scores (the ManifestFile lists them; more: split the folder)."""


@dataclass(frozen=True)
class BatchContext:
    stack: str
    artifact_bucket: str
    default_instance_type: str = "ml.m5.large"


@dataclass(frozen=True)
class BatchOutcome:
    status: str  # started | duplicate | rejected | ignored | recorded
    model: str = ""
    job: str | None = None
    message: str = ""
    output: str | None = None
    problems: tuple[Problem, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        data = {"status": self.status, "model": self.model, "job": self.job, "message": self.message}
        if self.output:
            data["output"] = self.output
        if self.problems:
            data["problems"] = [str(p) for p in self.problems]
        return data


@dataclass(frozen=True)
class ServingModel:
    sagemaker_model: str
    algorithm: Algorithm
    status: str
    labels: tuple[str, ...] = ()
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    """The serving job's hyperparameters as SageMaker got them (strings)."""
    feature_count: int | None = None
    """Features per row the model takes, where known (:func:`sagedrop.served.feature_count`)."""


class BatchLauncher:
    def __init__(
        self, ctx: BatchContext, *, s3: Any, sagemaker: Any, registry_: registry.Registry, notifier: Notifier
    ) -> None:
        self.ctx = ctx
        self._s3 = s3
        self._sagemaker = sagemaker
        self._registry = registry_
        self._notifier = notifier

    def handle(self, drop: naming.DroppedObject) -> BatchOutcome:
        if drop.key.rsplit("/", 1)[-1] != batch.BATCH_FILE:
            return BatchOutcome("ignored", message=f"{drop.key} is not named {batch.BATCH_FILE}")
        folder = naming.model_folder(drop.key)
        model = batch.default_model(drop.key) or "-"
        try:
            found = read_head(self._s3, drop.bucket, drop.key, drop.version, MAX_MANIFEST_BYTES)
            if found is None:
                return BatchOutcome("ignored", model, message=f"{drop.uri} no longer exists")
            data = load_json(found[0], source=drop.uri, size=found[1])
            if isinstance(data.get("model"), str) and data["model"]:
                model = data["model"]
            request = batch.parse_batch_json(data, default_name=batch.default_model(drop.key), source=drop.uri)
            model = request.model
            job = naming.job_name(model, drop.time, drop.digest)
            if self._job_exists(job):
                log.info("transform job already exists: redelivered event", extra={"job": job})
                return BatchOutcome("duplicate", model, job, "the job for this batch.json version already exists")
            serving = self._serving_model(model, drop.uri)
            files = self._data_files(drop.bucket, folder, drop.uri)
            keys = [f.key for f in files]
            request = batch.resolve_format(request, serving.algorithm, keys, source=drop.uri)
            if request.labels and not serving.labels:
                raise ManifestError(
                    Problem(
                        "$.labels",
                        f"{model!r} has no class names to write",
                        'set "labels" in its training.json (or deploy.json), or remove labels here',
                    ),
                    source=drop.uri,
                )
            self._check_data(request, serving, drop, files)
        except UserError as exc:
            return self._reject(model, drop, exc)
        return self._start(request, serving, job, drop, folder, keys)

    # ---- checks ---------------------------------------------------------------------------

    def _serving_model(self, model: str, source: str) -> ServingModel:
        summary = self._registry.get(model, consistent=True)
        if summary is None:
            names = [str(item.get("model")) for item in self._registry.models()]
            close = difflib.get_close_matches(model, names, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else "train or deploy it first (sagedrop status lists models)"
            raise ManifestError(Problem("$.model", f"there is no model {model!r} in this stack", hint), source=source)
        name = summary.get("sagemaker_model")
        status = str(summary.get("status", ""))
        if not name:
            raise ManifestError(
                Problem(
                    "$.model",
                    f"{model!r} has no deployed model to score with (status: {status or 'unknown'})",
                    "wait until it is in service (or hibernated), then upload batch.json again",
                ),
                source=source,
            )
        job = (
            self._registry.get_job(model, str(summary.get("serving_job") or "")) if summary.get("serving_job") else None
        )
        algorithm = batch.algorithm_of((job or {}).get("algorithm") or summary.get("algorithm"))
        if algorithm is None:
            raise ManifestError(Problem("$.model", f"{model!r} records no known algorithm"), source=source)
        if not exists(self._sagemaker.describe_model, ModelName=name):
            raise ManifestError(
                Problem(
                    "$.model", f"the SageMaker model {name} of {model!r} no longer exists", "deploy the model again"
                ),
                source=source,
            )
        labels = (job or {}).get("labels") or summary.get("labels") or ()
        return ServingModel(
            name,
            algorithm,
            status,
            tuple(str(x) for x in labels),
            dict((job or {}).get("hyperparameters") or {}),
            served.feature_count(served.ServedModel(summary, job)),
        )

    def _data_files(self, bucket: str, folder: str, source: str) -> list[DataFile]:
        """The data files beside batch.json (folder markers, dotfiles and batch.json itself left out)."""
        paginator = self._s3.get_paginator("list_objects_v2")
        files: list[DataFile] = []
        for page in paginator.paginate(Bucket=bucket, Prefix=folder):
            for obj in page.get("Contents", []):
                name = obj["Key"][len(folder) :]
                if name == batch.BATCH_FILE or name.endswith("/") or name.rsplit("/", 1)[-1].startswith("."):
                    continue
                files.append(DataFile(obj["Key"], int(obj["Size"])))
                if len(files) > MAX_FILES:
                    raise ManifestError(
                        Problem(
                            "$", f"the folder holds more than {MAX_FILES:,} data files", "split it in several batches"
                        ),
                        source=source,
                    )
        if not files:
            raise ManifestError(
                Problem(
                    "$",
                    f"no data files beside batch.json in s3://{bucket}/{folder}",
                    "upload the files to score into the same folder first, then batch.json",
                ),
                source=source,
            )
        return files

    def _check_data(
        self, request: batch.BatchRequest, serving: ServingModel, drop: naming.DroppedObject, files: list[DataFile]
    ) -> None:
        """DataError naming every problem of the data files (:mod:`sagedrop.batch_inputs`)."""
        assert request.content_type is not None
        typed, _, problems = serving.algorithm.resolve_hyperparameters(serving.hyperparameters)
        spec = InputSpec(
            request.content_type, request.compression, serving.feature_count, typed if not problems else {}
        )
        found = check_inputs(self._s3, drop.bucket, files, spec, serving.algorithm)
        if found:
            raise BatchDataError(found, source=drop.uri)

    def _job_exists(self, job: str) -> bool:
        return exists(self._sagemaker.describe_transform_job, TransformJobName=job)

    # ---- start ----------------------------------------------------------------------------

    def _start(
        self,
        request: batch.BatchRequest,
        serving: ServingModel,
        job: str,
        drop: naming.DroppedObject,
        folder: str,
        keys: list[str],
    ) -> BatchOutcome:
        manifest_key = f"{batch.MANIFEST_PREFIX}{request.model}/{job}.manifest"
        body = json.dumps(batch.manifest_body(drop.bucket, folder, keys)).encode()
        self._s3.put_object(Bucket=self.ctx.artifact_bucket, Key=manifest_key, Body=body)
        output = batch.output_uri(self.ctx.artifact_bucket, request.model, request.output or job)
        payload = batch.transform_request(
            request,
            job=job,
            sagemaker_model=serving.sagemaker_model,
            manifest_uri=f"s3://{self.ctx.artifact_bucket}/{manifest_key}",
            output=output,
            instance_type=request.instance_type or self.ctx.default_instance_type,
            stack=self.ctx.stack,
            source=drop,
        )
        try:
            self._sagemaker.create_transform_job(**payload)
        except Exception as exc:
            if name_in_use(exc):
                return BatchOutcome("duplicate", request.model, job, error_message(exc))
            problem = refusal_problem(
                exc,
                "CreateTransformJob",
                "check instance_type, instance_count and the account's batch transform quotas",
            )
            if problem is None:
                raise
            return self._reject(request.model, drop, UserError(problem, source=drop.uri))
        self._registry.put_batch(
            request.model,
            job,
            {
                "status": "InProgress",
                "batch_json": drop.uri,
                "batch_json_version": drop.version,
                "input": f"s3://{drop.bucket}/{folder}",
                "files": len(keys),
                "output": output,
                "content_type": request.content_type,
                "accept": request.format.accept if request.format else None,
                "join": request.join,
                "split_lines": request.split != "None",
                "labels_output": request.labels,
                "labels": list(serving.labels) if request.labels else None,
                "hyperparameters": serving.hyperparameters,
                "sagemaker_model": serving.sagemaker_model,
                "algorithm": serving.algorithm.name,
                "instance_type": payload["TransformResources"]["InstanceType"],
                "started_at": registry.now_iso(),
            },
        )
        log.info("transform job started", extra={"job": job, "model": request.model, "files": len(keys)})
        return BatchOutcome("started", request.model, job, f"scoring {len(keys)} file(s)", output=output)

    def _reject(self, model: str, drop: naming.DroppedObject, exc: UserError) -> BatchOutcome:
        message = exc.describe()
        problems = [{"path": p.path, "message": p.message, "hint": p.hint} for p in exc.problems]
        log.warning("batch.json rejected", extra={"model": model, "batch": drop.uri, "problems": problems})
        if model and model != "-" and self._registry.get(model) is not None:
            # only an existing model's summary records it: a misspelt model name creates no registry entry
            self._registry.update(
                model,
                {"last_batch_error": message, "last_batch_error_at": registry.now_iso(), "last_batch_json": drop.uri},
            )
        self._notifier.publish(
            f"{model}: batch.json rejected, nothing started",
            f"sagedrop did not start batch scoring for {drop.uri}.\n\n{message}\n\n"
            "Fix batch.json (or the data files named above) and upload batch.json again.",
            event="batch_rejected",
            model=model,
            details={"batch": drop.uri, "version": drop.version, "problems": problems},
        )
        return BatchOutcome("rejected", model, message=message, problems=tuple(exc.problems))


# ------------------------------------------------------------------------------------------------
# The outcome
# ------------------------------------------------------------------------------------------------

_REASONS = (
    (
        ("413", "payload", "maxpayloadinmb", "too large"),
        "a request was larger than the container accepts: raise max_payload_mb (at most 100) or use smaller files",
    ),
    (
        ("415", "content type", "content-type", "unsupported media"),
        "the model's container does not read this content type: set content_type in batch.json",
    ),
    (
        ("400", "bad request", "clienterror", "unable to parse", "could not convert"),
        "the container refused some records: check that each row has the model's features only (no label column, "
        "no header) in the format content_type says",
    ),
    (("quota", "resourcelimitexceeded"), "the account's batch transform quota is reached: ask for more or wait"),
)


def user_reason(reason: str) -> str:
    """A FailureReason said as what to do; SageMaker's own words follow."""
    lowered = reason.lower()
    for needles, advice in _REASONS:
        if any(n in lowered for n in needles):
            return f"{advice} (SageMaker: {reason})"
    return reason or "SageMaker gave no reason"


def _rows_text(fields: dict[str, Any]) -> str:
    rows = fields.get("rows")
    return f"{rows:,} row(s) of " if isinstance(rows, int) else ""


def _time(value: Any) -> datetime | None:
    """Event times are epoch-milliseconds strings or ISO text; Describe gives datetimes."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            return None
    return None


class BatchRecorder:
    def __init__(
        self, stack: str, *, sagemaker: Any, registry_: registry.Registry, notifier: Notifier, s3: Any = None
    ) -> None:
        self.stack = stack
        self._s3 = s3
        self._sagemaker = sagemaker
        self._registry = registry_
        self._notifier = notifier

    def on_transform_job(self, detail: dict[str, Any], deadline: float | None = None) -> BatchOutcome:
        """Record the end of a job; ``deadline`` (monotonic) bounds the labels output."""
        job = str(detail.get("TransformJobName", ""))
        status = str(detail.get("TransformJobStatus", ""))
        tag_map = tags.to_map(detail.get("Tags"))
        if not tags.owned_by(tag_map, self.stack):
            return BatchOutcome("ignored", job=job, message="the transform job is not this stack's")
        if status not in ENDED:
            return BatchOutcome("ignored", job=job, message=f"status {status} is not an end")
        model = tag_map.get(tags.MODEL) or naming.model_of_job(job)
        described = self._sagemaker.describe_transform_job(TransformJobName=job)
        started = _time(described.get("TransformStartTime") or detail.get("TransformStartTime"))
        ended = _time(described.get("TransformEndTime") or detail.get("TransformEndTime"))
        output = described.get("TransformOutput", {}).get("S3OutputPath")
        fields: dict[str, Any] = {"status": status, "output": output, "ended_at": registry.now_iso()}
        if started and ended:
            fields["duration_s"] = round((ended - started).total_seconds(), 1)
        if status == "Failed":
            fields["failure_reason"] = user_reason(str(described.get("FailureReason", "")))
        if status == "Completed":
            fields.update(self._read_back(model, job, output, deadline))
        else:
            fields.update(rows=None, rows_note=f"not counted: the job {status.lower()} before scoring every file")
        recorded = self._registry.update(
            model,
            fields,
            record=registry.BATCH_PREFIX + job,
            condition="attribute_not_exists(#s) OR #s = :running",
            names={"#s": "status"},
            values={":running": "InProgress"},
        )
        if not recorded:
            return BatchOutcome("duplicate", model, job, f"the outcome of {job} is already recorded")
        self._notify(model, job, status, fields)
        return BatchOutcome("recorded", model, job, status, output=output)

    def _read_back(self, model: str, job: str, output: str | None, deadline: float | None) -> dict[str, Any]:
        """``rows`` (and the labels output when asked) from the ``.out`` files of a completed job."""
        record = self._registry.get_batch(model, job) or {}
        algorithm = batch.algorithm_of(record.get("algorithm"))
        if algorithm is None or not output or record.get("status") != "InProgress":
            return {}
        from sagedrop import batch_labels

        typed, _, problems = algorithm.resolve_hyperparameters(record.get("hyperparameters") or {})
        until = deadline if deadline is not None else time.monotonic() + 60
        record, hyperparameters = {**record, "output": output}, typed if not problems else {}
        if not record.get("labels_output"):
            return batch_labels.count_rows(self._s3, record, algorithm, hyperparameters, until).fields()
        result = batch_labels.label_outputs(self._s3, record, algorithm, hyperparameters, until)
        rows = batch_labels.RowCount(
            result.rows if result.done == result.total else None,
            "not counted: the function's time ran out before every file was labelled",
        )
        return {"labels_status": result.status(), **rows.fields()}

    def _notify(self, model: str, job: str, status: str, fields: dict[str, Any]) -> None:
        duration = f" in {fields['duration_s']:.0f} s" if "duration_s" in fields else ""
        if status == "Completed":
            subject = f"{model}: batch scoring done"
            text = (
                f"Batch {job} scored {_rows_text(fields)}its files{duration}.\n\n"
                f"The predictions are in {fields['output']} (one .out file per input file)."
            )
            if fields.get("labels_status"):
                text += f"\nClass names: {fields['labels_status']}."
        elif status == "Failed":
            subject = f"{model}: batch scoring failed"
            text = (
                f"Batch {job} failed{duration}: {fields['failure_reason']}\n\n"
                f"Files scored before the failure are in {fields['output']}."
            )
        else:
            subject = f"{model}: batch scoring stopped"
            text = f"Batch {job} was stopped{duration}; files finished before are in {fields['output']}."
        self._notifier.publish(
            subject, text, event=f"batch_{status.lower()}", model=model, details={"job": job, **fields}
        )
