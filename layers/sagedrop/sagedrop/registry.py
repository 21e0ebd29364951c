"""The model registry: a DynamoDB table with the state of every model.

Key schema: partition key ``model`` (the model name), sort key ``record``:

* ``MODEL``: the model's summary, what ``GET /models`` and the CLI show (status, algorithm,
  current and latest job, endpoint, metrics, labels, last error, timestamps).
* ``JOB#<job name>``: one item per training job with what deploy needs later (the manifest's
  deploy section, labels, algorithm and version), so deploy never re-reads a manifest that may
  have changed since. Also ``feature_count``: the feature columns the train function saw after the
  label in the train channel's first CSV rows (or the width of its first RecordIO-protobuf record), or
  deploy.json's ``feature_count``; predict refuses rows of another width.

* ``BATCH#<job name>``: one item per batch transform job (sagedrop.batch_jobs): status (InProgress,
  Completed, Failed, Stopped), batch_json, input, files, output, content_type, accept, join,
  sagemaker_model, algorithm, instance_type, started_at, ended_at, duration_s, failure_reason. A refused
  batch.json sets ``last_batch_error``/``last_batch_error_at``/``last_batch_json`` on the summary.

Writes that race use condition expressions; a late event never overwrites a newer job.

Summary fields (the contract between the functions; every field is optional):

==================  =========================================================================
field               meaning
==================  =========================================================================
status              one of the status constants below
algorithm, version  the algorithm name and image version of the newest job
manifest            s3 URI of the newest manifest
latest_job          the newest job started for the model (names sort by time)
training_job        the job currently training (set by train)
labels, feature_dim what predict needs to encode/decode (from the job that serves)
stack               the stack that owns the model
last_error(_at)     the newest user-facing error (rejection, failed job, gate, deploy failure); cleared
                    with hibernated_at/_reason when the model is in service again, unless it is about a
                    job newer than the serving one (:meth:`Registry.clear_recovered`)
serving_job         the job whose model is behind the endpoint
sagemaker_model     the SageMaker model name in service (named after the job)
endpoint_config     the endpoint config in service (named after the job)
endpoint            the endpoint name (the model name unless deploy.endpoint_name)
variant             the production variant name (naming.VARIANT_NAME)
serverless          true for a serverless endpoint config
metrics             {metric name: value} of the serving job (FinalMetricDataList by name)
pending_job         the newest passed job that should end up in service (set while the endpoint is
                    busy; cleared once it or a newer one serves)
deploying_job       the job whose config was last sent to CreateEndpoint/UpdateEndpoint (deploy)
last_error_job      the job the newest error is about
idle_minutes        per-model idle window; keep_alive: never hibernate
deployed_at         when the serving model was put in service
hibernated_at       when cleanup (or stop) deleted the endpoint; hibernated_reason: why
woken_at            when a request (or start) re-created the endpoint; woken_reason: why (prediction
                    request, start requested, the previous wake left no endpoint)
created_at          first write; updated_at: every write
==================  =========================================================================
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

SUMMARY = "MODEL"
JOB_PREFIX = "JOB#"
BATCH_PREFIX = "BATCH#"
"""One item per batch transform job (sagedrop.batch_jobs): status, input, output, times, failure reason."""

# Status values (docs/architecture.md, Registry)
TRAINING = "training"
REJECTED = "rejected"  # the manifest or data was refused before any job started
FAILED = "failed"
STOPPED = "stopped"
GATE_FAILED = "gate_failed"
DEPLOYING = "deploying"
IN_SERVICE = "in_service"
HIBERNATED = "hibernated"
WAKING = "waking"
TRAINED = "trained"  # completed, deploy: false
SERVING_STATES = (IN_SERVICE, DEPLOYING, HIBERNATED, WAKING)
KEPT_WHILE_TRAINING = (DEPLOYING, HIBERNATED, WAKING)
"""States a new training job does not overwrite: a rollout in flight (deploy checks ``deploying``), an
endpoint that is gone (``hibernated``: only this status lets a prediction or start wake it) or coming
back (``waking``). ``in_service`` does become ``training``: the endpoint keeps serving meanwhile."""
RECOVERED_FIELDS = ("hibernated_at", "hibernated_reason")
ERROR_FIELDS = ("last_error", "last_error_at", "last_error_job")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ---- a small DynamoDB attribute-value codec (avoids importing boto3's resource layer) -----------


def to_attr(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, float):
        if not math.isfinite(value):
            return {"S": repr(value)}
        return {"N": repr(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_attr(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_attr(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__} in the registry")


def from_attr(attr: Mapping[str, Any]) -> Any:
    ((kind, value),) = attr.items()
    if kind == "NULL":
        return None
    if kind in ("S", "BOOL"):
        return value
    if kind == "N":
        number = float(value)
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    if kind == "M":
        return {k: from_attr(v) for k, v in value.items()}
    if kind == "L":
        return [from_attr(v) for v in value]
    if kind == "SS":
        return set(value)
    raise TypeError(f"unexpected DynamoDB type {kind}")


def to_item(data: Mapping[str, Any]) -> dict[str, Any]:
    return {key: to_attr(value) for key, value in data.items()}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: from_attr(value) for key, value in item.items()}


class Registry:
    """Reads and conditional writes on the registry table, through an injected DynamoDB client."""

    def __init__(self, table: str, dynamodb: Any) -> None:
        self.table = table
        self._db = dynamodb

    # ---- reads ----------------------------------------------------------------------------

    def get(self, model: str, *, consistent: bool = False) -> dict[str, Any] | None:
        response = self._db.get_item(TableName=self.table, Key=self._key(model, SUMMARY), ConsistentRead=consistent)
        item = response.get("Item")
        return from_item(item) if item else None

    def get_job(self, model: str, job: str) -> dict[str, Any] | None:
        response = self._db.get_item(TableName=self.table, Key=self._key(model, JOB_PREFIX + job), ConsistentRead=True)
        item = response.get("Item")
        return from_item(item) if item else None

    def models(self) -> Iterator[dict[str, Any]]:
        """Every model summary (a paginated scan filtered on the summary records)."""
        paginator = self._db.get_paginator("scan")
        pages = paginator.paginate(
            TableName=self.table,
            FilterExpression="#r = :summary",
            ExpressionAttributeNames={"#r": "record"},
            ExpressionAttributeValues={":summary": {"S": SUMMARY}},
        )
        for page in pages:
            for item in page.get("Items", []):
                yield from_item(item)

    def jobs(self, model: str) -> list[dict[str, Any]]:
        """The model's job records, oldest first (job names sort by their timestamp)."""
        return self._records(model, JOB_PREFIX)

    def batches(self, model: str) -> list[dict[str, Any]]:
        """The model's batch records, oldest first (job names sort by their timestamp)."""
        return self._records(model, BATCH_PREFIX)

    def get_batch(self, model: str, job: str) -> dict[str, Any] | None:
        response = self._db.get_item(
            TableName=self.table, Key=self._key(model, BATCH_PREFIX + job), ConsistentRead=True
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def put_batch(self, model: str, job: str, fields: Mapping[str, Any]) -> bool:
        """Create the batch record once; False when it already exists (a redelivered event)."""
        return self._put_once(model, BATCH_PREFIX + job, job, fields)

    def _records(self, model: str, prefix: str) -> list[dict[str, Any]]:
        paginator = self._db.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="#m = :m AND begins_with(#r, :p)",
            ExpressionAttributeNames={"#m": "model", "#r": "record"},
            ExpressionAttributeValues={":m": {"S": model}, ":p": {"S": prefix}},
        )
        return [from_item(item) for page in pages for item in page.get("Items", [])]

    # ---- writes ---------------------------------------------------------------------------

    def put_job(self, model: str, job: str, fields: Mapping[str, Any]) -> bool:
        """Create the job record once; False when it already exists (a redelivered event)."""
        return self._put_once(model, JOB_PREFIX + job, job, fields)

    def _put_once(self, model: str, record: str, job: str, fields: Mapping[str, Any]) -> bool:
        item = {"model": model, "record": record, "job": job, "created_at": now_iso(), **fields}
        try:
            self._db.put_item(
                TableName=self.table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(#r)",
                ExpressionAttributeNames={"#r": "record"},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def update(
        self,
        model: str,
        fields: Mapping[str, Any],
        *,
        record: str = SUMMARY,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        remove: tuple[str, ...] = (),
    ) -> bool:
        """Set ``fields`` (and ``updated_at``); False when ``condition`` does not hold.

        A summary write that sets ``status: in_service`` (deploy, a woken endpoint, a rollback) also
        clears what described the outage (:meth:`clear_recovered`).
        """
        fields = {**fields, "updated_at": now_iso()}
        attr_names = {f"#f{i}": key for i, key in enumerate(fields)}
        attr_values = {f":v{i}": to_attr(value) for i, value in enumerate(fields.values())}
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        expression += ", #created = if_not_exists(#created, :now)"
        attr_names["#created"] = "created_at"
        attr_values[":now"] = to_attr(fields["updated_at"])
        if remove:
            attr_names.update({f"#x{i}": key for i, key in enumerate(remove)})
            expression += " REMOVE " + ", ".join(f"#x{i}" for i in range(len(remove)))
        if names:
            attr_names.update(names)
        if values:
            attr_values.update({key: to_attr(value) for key, value in values.items()})
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Key": self._key(model, record),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": attr_names,
            "ExpressionAttributeValues": attr_values,
        }
        if condition:
            kwargs["ConditionExpression"] = condition
        try:
            self._db.update_item(**kwargs)
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        if record == SUMMARY and fields.get("status") == IN_SERVICE:
            self.clear_recovered(model, keep=tuple(fields))
        return True

    def clear_recovered(self, model: str, *, keep: tuple[str, ...] = ()) -> None:
        """The model serves again: drop ``hibernated_at``/``hibernated_reason``, and the last error when it
        was about the job now serving or an older one (``last_error_job`` absent or <= ``serving_job``);
        an error about a newer job (a retrain that failed while this one serves) stays visible. Fields
        in ``keep`` were just written and stay."""
        names = {"#s": "status"}
        values = {":in": to_attr(IN_SERVICE)}
        stale = [f for f in RECOVERED_FIELDS if f not in keep]
        errors = [f for f in ERROR_FIELDS if f not in keep]
        for group, condition in (
            (stale, "#s = :in"),
            (errors, "#s = :in AND (attribute_not_exists(#lej) OR #lej <= #sj)"),
        ):
            if not group:
                continue
            extra = {"#lej": "last_error_job", "#sj": "serving_job"} if group is errors else {}
            attr_names = {**names, **extra, **{f"#x{i}": key for i, key in enumerate(group)}}
            try:
                self._db.update_item(
                    TableName=self.table,
                    Key=self._key(model, SUMMARY),
                    UpdateExpression="REMOVE " + ", ".join(f"#x{i}" for i in range(len(group))),
                    ConditionExpression=condition,
                    ExpressionAttributeNames=attr_names,
                    ExpressionAttributeValues=values,
                )
            except self._db.exceptions.ConditionalCheckFailedException:
                continue

    def record_training(self, model: str, job: str, summary: Mapping[str, Any]) -> bool:
        """The model now trains ``job``, unless a newer job was already recorded (False then).

        The status becomes ``training`` except in :data:`KEPT_WHILE_TRAINING`, which keep theirs (the
        ``training_job`` field says a job runs)."""
        fields = {**summary, "latest_job": job, "last_error": None}
        newest = "(attribute_not_exists(#latest) OR #latest <= :job)"
        kept = {f":k{i}": state for i, state in enumerate(KEPT_WHILE_TRAINING)}
        if self.update(
            model,
            {**fields, "status": TRAINING},
            condition=f"{newest} AND (attribute_not_exists(#s) OR NOT #s IN ({', '.join(kept)}))",
            names={"#latest": "latest_job", "#s": "status"},
            values={":job": job, **kept},
        ):
            return True
        return self.update(
            model,
            fields,
            condition=f"{newest} AND #s IN ({', '.join(kept)})",
            names={"#latest": "latest_job", "#s": "status"},
            values={":job": job, **kept},
        )

    def record_rejection(self, model: str, message: str, details: Mapping[str, Any]) -> None:
        """A refused manifest: the error is kept; a model that serves or trains keeps its status (the
        refused drop started nothing, so what was running still runs)."""
        fields = {"last_error": message, "last_error_at": now_iso(), "last_rejection": dict(details)}
        kept = (IN_SERVICE, DEPLOYING, HIBERNATED, WAKING, TRAINING)
        serving = self.update(
            model,
            fields,
            condition="#s IN (" + ", ".join(f":k{i}" for i in range(len(kept))) + ")",
            names={"#s": "status"},
            values={f":k{i}": state for i, state in enumerate(kept)},
        )
        if not serving:
            self.update(model, {**fields, "status": REJECTED})

    @staticmethod
    def _key(model: str, record: str) -> dict[str, Any]:
        return {"model": {"S": model}, "record": {"S": record}}
