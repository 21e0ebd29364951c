"""Batch transform jobs on the local stack, run with the local algorithms.

What SageMaker does (botocore 1.43.11 data/sagemaker/2017-07-24/service-2.json: TransformInput,
TransformOutput, CreateTransformJobRequest, DataProcessing) and this module reproduces:

* the input is every object of an ``S3Prefix``, or the keys a ``ManifestFile`` lists after its
  ``{"prefix": ...}`` (API_TransformS3DataSource.html); ``Gzip`` input is decompressed;
* ``SplitType`` ``Line`` splits each file on newlines; ``MultiRecord`` packs as many records as fit in
  ``MaxPayloadInMB`` into one request (``SingleRecord``: one each); a record over the limit fails the job;
  ``None`` sends each file whole;
* the model answers each request (``load(model_dir).invoke(body, content_type, accept)``); with
  ``AssembleWith`` ``Line`` each answer record ends with a newline, so ``.out`` line *i* answers input
  record *i*. Answers are cut into records by their format: JSON Lines by line, CSV by line or, for
  a container that answers one comma-joined line (XGBoost's older serve.py), by comma when the count
  matches, JSON by its list;
* ``JoinSource`` ``Input`` puts each input record before its answer: CSV rows joined by a comma, JSON
  objects get the answer under ``SageMakerOutput``
  (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html);
* each input ``<prefix><path>`` becomes ``<S3OutputPath>/<path>.out``; a file that fails writes nothing
  and fails the job with the container's status and message;
* the job's start and end are sent as ``SageMaker Transform Job State Change`` events.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

MB = 1024 * 1024


class TransformFailed(Exception):
    pass


def input_keys(s3: Any, data_source: dict[str, Any]) -> tuple[str, str, list[str]]:
    """(bucket, prefix, keys) of a transform job's input."""
    source = data_source["S3DataSource"]
    uri = source["S3Uri"]
    bucket, _, key = uri[len("s3://") :].partition("/")
    if source.get("S3DataType") == "ManifestFile":
        listed = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        prefix_uri = listed[0]["prefix"]
        data_bucket, _, prefix = prefix_uri[len("s3://") :].partition("/")
        return data_bucket, prefix, [prefix + relative for relative in listed[1:]]
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        keys.extend(obj["Key"] for obj in page.get("Contents", []) if not obj["Key"].endswith("/"))
    return bucket, key.rsplit("/", 1)[0] + "/" if "/" in key else "", keys


def mini_batches(records: list[bytes], max_bytes: int, multi: bool) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    size = 0
    for number, record in enumerate(records, 1):
        if max_bytes and len(record) > max_bytes:
            raise TransformFailed(
                f"ClientError: record {number} is {len(record):,} bytes, over MaxPayloadInMB ({max_bytes // MB} MB)"
            )
        if batch and (not multi or size + len(record) + 1 > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += len(record) + 1
    if batch:
        yield batch


def answer_records(answer: bytes, accept: str, count: int) -> list[bytes]:
    """An answer cut into ``count`` records by its format."""
    text = answer.decode("utf-8").strip()
    if accept.startswith("application/json") and not accept.startswith("application/jsonlines"):
        data = json.loads(text)
        items = data.get("predictions") if isinstance(data, dict) else data
        if count == 1:
            return [json.dumps(data).encode()]
        if isinstance(items, list) and len(items) == count:
            return [json.dumps(item).encode() for item in items]
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) == count:
        return [line.encode() for line in lines]
    if accept.startswith("text/csv") and len(lines) == 1 and len(lines[0].split(",")) == count:
        return [value.encode() for value in lines[0].split(",")]
    raise TransformFailed(f"the model answered {len(lines)} record(s) for {count} input record(s)")


def join(record: bytes, answer: bytes, content_type: str) -> bytes:
    if content_type.startswith("text/csv"):
        return record.rstrip(b"\r") + b"," + answer
    data = json.loads(record)
    if not isinstance(data, dict):
        data = {"SageMakerInput": data}
    data["SageMakerOutput"] = json.loads(answer)
    return json.dumps(data).encode()


def transform_file(body: bytes, job: Any, predictor: Any) -> bytes:
    """The ``.out`` file of one input file."""
    inp, out = job.transform_input, job.transform_output
    content_type = inp.get("ContentType") or "application/octet-stream"
    accept = out.get("Accept") or content_type
    if inp.get("CompressionType") == "Gzip":
        body = gzip.decompress(body)
    joined = (job.data_processing or {}).get("JoinSource") == "Input"
    if inp.get("SplitType", "None") == "None":
        answer, answer_type = predictor.invoke(body, content_type, accept)
        return answer if not joined else join(body, answer, content_type)
    if inp.get("SplitType") != "Line":
        raise TransformFailed(f"ClientError: SplitType {inp.get('SplitType')} is not emulated locally")
    records = [line for line in body.split(b"\n") if line.strip()]
    max_bytes = int(job.max_payload_in_mb or 6) * MB
    multi = (job.batch_strategy or "MultiRecord") == "MultiRecord"
    lines: list[bytes] = []
    for batch in mini_batches(records, max_bytes, multi):
        answer, answer_type = predictor.invoke(b"\n".join(batch) + b"\n", content_type, accept)
        answers = answer_records(answer, answer_type or accept, len(batch))
        lines.extend(join(r, a, content_type) if joined else a for r, a in zip(batch, answers, strict=True))
    separator = b"\n" if out.get("AssembleWith") == "Line" else b""
    return separator.join(lines) + separator


def run_transform(
    job: Any,
    *,
    s3: Any,
    load_predictor: Callable[[str], Any],
    emit: Callable[[Any], None],
    log: Callable[[str], None],
) -> None:
    """Run ``job`` (moto's FakeTransformJob) to its end; its state changes are emitted."""
    from sagedrop_local.algorithms import InvokeError

    name = job.transform_job_name
    try:
        predictor = load_predictor(job.model_name)
        bucket, prefix, keys = input_keys(s3, job.transform_input["DataSource"])
        output = job.transform_output["S3OutputPath"].rstrip("/")
        out_bucket, _, out_prefix = output[len("s3://") :].partition("/")
        for key in keys:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            try:
                result = transform_file(body, job, predictor)
            except InvokeError as exc:
                raise TransformFailed(f"ClientError: {exc.status_code} {exc.message} (s3://{bucket}/{key})") from None
            except TransformFailed as exc:
                raise TransformFailed(f"{exc} (s3://{bucket}/{key})") from None
            relative = key[len(prefix) :]
            s3.put_object(Bucket=out_bucket, Key=f"{out_prefix}/{relative}.out".lstrip("/"), Body=result)
            log(f"batch    {name}: {key} -> {output}/{relative}.out")
    except Exception as exc:
        reason = str(exc) if isinstance(exc, TransformFailed) else f"AlgorithmError: {type(exc).__name__}: {exc}"
        job.transform_job_status, job.failure_reason = "Failed", reason[:1024]
        job.transform_end_time = job.last_modified_time = datetime.now(UTC)
        log(f"sagemaker transform {name}: Failed: {reason}")
        emit(job)
        return
    job.transform_job_status = "Completed"
    job.transform_end_time = job.last_modified_time = datetime.now(UTC)
    log(f"sagemaker transform {name}: Completed ({len(keys)} file(s))")
    emit(job)
