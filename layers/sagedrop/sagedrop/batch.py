"""Batch scoring by drop: ``batch.json`` parsing and the CreateTransformJob request.

Layout: input files in a folder of the data bucket, ``batch.json`` beside them, uploaded last. The model
defaults to the folder's parent folder: ``churn/scores-december/batch.json`` scores with the model
``churn``; a ``batch.json`` with no parent folder must name ``model``. Every field of ``batch.json``
(at most 64 KiB of UTF-8 JSON, as training.json) is optional:

==================  ==========================================================================
field               meaning (default)
==================  ==========================================================================
model               the model to score with (the folder's parent folder)
content_type        the input files' MIME type (from their extension, else the algorithm's first
                    batch format: :attr:`Algorithm.batch`)
split               Line, RecordIO or None (the format's own: Line for CSV/JSON Lines, RecordIO for
                    RecordIO-protobuf, None for images); None sends each file whole
join                true: each output record follows its input record (JoinSource Input)
compression         none or gzip (none)
instance_type       the transform instance (the stack's hosting instance type)
instance_count      1
max_payload_mb      1..100 (6, SageMaker's default)
max_concurrent      parallel requests per instance (unset: SageMaker decides)
output              a folder name for the results under ``s3://<artifacts>/batch/<model>/`` (the job name)
labels              true: also write ``<file>.labels.jsonl``, the API's predictions with class names
                    (:mod:`sagedrop.batch_labels`; false)
description         free text
==================  ==========================================================================

Why a manifest and not ``S3Prefix``: ``batch.json`` sits among the data files, and a ``S3Prefix`` data
source would send it to the container too. The launcher writes a ``ManifestFile`` (the listed data files
of the folder, relative to its prefix) into the artifact bucket under ``batch-manifests/``; SageMaker writes
``<output>/<key relative to the folder>.out`` for each file, as with a prefix
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformS3DataSource.html).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sagedrop import algorithms, naming, tags
from sagedrop.algorithms.base import Algorithm, BatchFormat, valid_instance_type
from sagedrop.errors import ManifestError, Problem
from sagedrop.manifest import json_type, unknown_fields

BATCH_FILE = "batch.json"
TOP_LEVEL = (
    "model",
    "content_type",
    "split",
    "join",
    "compression",
    "instance_type",
    "instance_count",
    "max_payload_mb",
    "max_concurrent",
    "output",
    "labels",
    "description",
)
SPLITS = ("Line", "RecordIO", "None")
"""SplitType values sagedrop offers (botocore 1.43.11 data/sagemaker/2017-07-24/service-2.json, shape
SplitType, also has TFRecord, which no built-in algorithm reads)."""
COMPRESSIONS = {"none": "None", "gzip": "Gzip"}
"""CompressionType None | Gzip (API_TransformInput.html)."""
MAX_PAYLOAD_MB = 100
"""CreateTransformJob: "The value of MaxPayloadInMB cannot be greater than 100 MB ... (MaxConcurrentTransforms *
MaxPayloadInMB) also cannot exceed 100 MB"; 0 (HTTP chunked encoding) is not supported by the built-in
algorithms; the default is 6 MB (botocore 1.43.11 service-2.json, CreateTransformJobRequest.MaxPayloadInMB)."""
DEFAULT_PAYLOAD_MB = 6
BATCH_PREFIX = "batch/"
"""Where transform jobs write (the SageMaker role's only batch write: template.yaml WriteBatchOutputs)."""
MANIFEST_PREFIX = "batch-manifests/"
"""Where the train function writes each job's ManifestFile (the SageMaker role only reads there)."""
EXTENSION_TYPES = {
    ".csv": "text/csv",
    ".jsonl": "application/jsonlines",
    ".jsonlines": "application/jsonlines",
    ".libsvm": "text/libsvm",
    ".pbr": "application/x-recordio-protobuf",
    ".recordio": "application/x-recordio-protobuf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}


@dataclass(frozen=True)
class BatchRequest:
    """A validated batch.json."""

    model: str
    format: BatchFormat | None
    """None until the model's algorithm is known (:func:`resolve_format`)."""
    content_type: str | None
    split: str | None
    join: bool = False
    compression: str = "None"
    instance_type: str | None = None
    instance_count: int = 1
    max_payload_mb: int = DEFAULT_PAYLOAD_MB
    max_concurrent: int | None = None
    output: str | None = None
    labels: bool = False
    description: str | None = None


def default_model(key: str) -> str:
    """The folder's parent folder: ``churn/december/batch.json`` -> ``churn`` ("" at the top)."""
    parts = key.split("/")[:-1]
    return naming.sanitize(parts[-2]) if len(parts) >= 2 else ""


def _integer(data: Mapping[str, Any], key: str, low: int, high: int | None, problems: list[Problem]) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    bounds = f">= {low}" + (f" and <= {high}" if high is not None else "")
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        problems.append(Problem(f"$.{key}", f"expected an integer {bounds}, got {json_type(value)} {value!r}"))
        return None
    return value


def _string(data: Mapping[str, Any], key: str, problems: list[Problem]) -> str | None:
    value = data.get(key)
    if value is None or (isinstance(value, str) and value.strip()):
        return value.strip() if isinstance(value, str) else None
    problems.append(Problem(f"$.{key}", f"expected a non-empty string, got {json_type(value)}"))
    return None


def parse_batch_json(data: Mapping[str, Any], *, default_name: str = "", source: str = BATCH_FILE) -> BatchRequest:
    """Validate what batch.json says on its own (the model's algorithm is checked later by
    :func:`resolve_format`); ManifestError lists every problem found."""
    problems = unknown_fields(data, TOP_LEVEL)
    model = _string(data, "model", problems) or default_name
    if model:
        problems.extend(naming.check_model_name(model, "$.model" if "model" in data else "$ (parent folder name)"))
    elif "model" not in data:
        problems.append(
            Problem(
                "$.model",
                "batch.json has no parent folder to name the model after",
                'put it in <model>/<batch folder>/batch.json or set "model"',
            )
        )
    content_type = _string(data, "content_type", problems)
    split = _string(data, "split", problems)
    if split is not None and split not in SPLITS:
        matches = [s for s in SPLITS if s.lower() == split.lower()]
        hint = f"did you mean {matches[0]!r}?" if matches else "use one of " + ", ".join(SPLITS)
        problems.append(Problem("$.split", f"unknown split {split!r}", hint))
        split = None
    join, labels = (_boolean(data, key, problems) for key in ("join", "labels"))
    if join and labels:
        problems.append(
            Problem("$.labels", "labels output replaces each answer with a prediction object", "remove join or labels")
        )
    compression = _string(data, "compression", problems) or "none"
    if compression.lower() not in COMPRESSIONS:
        problems.append(Problem("$.compression", f"unknown compression {compression!r}", "use none or gzip"))
        compression = "none"
    instance_type = _string(data, "instance_type", problems)
    if instance_type is not None and not valid_instance_type(instance_type):
        problems.append(
            Problem("$.instance_type", f"{instance_type!r} is not a SageMaker instance type", "e.g. ml.m5.xlarge")
        )
    instance_count = _integer(data, "instance_count", 1, None, problems) or 1
    payload = _integer(data, "max_payload_mb", 1, MAX_PAYLOAD_MB, problems) or DEFAULT_PAYLOAD_MB
    concurrent = _integer(data, "max_concurrent", 1, MAX_PAYLOAD_MB, problems)
    if concurrent is not None and concurrent * payload > MAX_PAYLOAD_MB:
        problems.append(
            Problem(
                "$.max_concurrent",
                f"max_concurrent x max_payload_mb = {concurrent} x {payload} MB exceeds {MAX_PAYLOAD_MB} MB",
                f"lower one of them (max_concurrent <= {MAX_PAYLOAD_MB // payload} with {payload} MB)",
            )
        )
    output = _string(data, "output", problems)
    if output is not None:
        problems.extend(_output_problems(output))
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        problems.append(Problem("$.description", f"expected a string, got {json_type(description)}"))
    if problems:
        raise ManifestError(problems, source=source)
    return BatchRequest(
        model=model,
        format=None,
        content_type=content_type,
        split=split,
        join=join,
        compression=COMPRESSIONS[compression.lower()],
        instance_type=instance_type,
        instance_count=instance_count,
        max_payload_mb=payload,
        max_concurrent=concurrent,
        output=output.strip("/") if output else None,
        labels=labels,
        description=description,
    )


def _boolean(data: Mapping[str, Any], key: str, problems: list[Problem]) -> bool:
    value = data.get(key, False)
    if isinstance(value, bool):
        return value
    problems.append(Problem(f"$.{key}", f"expected true or false, got {json_type(value)} {value!r}"))
    return False


def _output_problems(output: str) -> list[Problem]:
    if output.lower().startswith(("s3://", "https://")):
        return [
            Problem(
                "$.output",
                "results go to the stack's artifact bucket (the only place SageMaker may write)",
                'give a folder name, e.g. "december-scores"; it becomes s3://<artifacts>/batch/<model>/<name>/',
            )
        ]
    parts = output.strip("/").split("/")
    if not output.strip("/") or any(p in ("", ".", "..") for p in parts) or len(output) > 200:
        return [Problem("$.output", f"{output!r} is not a folder name", 'use e.g. "december-scores"')]
    return []


def extension_type(keys: Sequence[str]) -> str | None:
    """The content type every key's extension names, or None when they disagree or say nothing."""
    found = {EXTENSION_TYPES.get("." + key.rsplit(".", 1)[-1].lower()) for key in keys if "." in key}
    found |= {None} if any("." not in key.rsplit("/", 1)[-1] for key in keys) else set()
    return found.pop() if len(found) == 1 else None


def resolve_format(
    request: BatchRequest, algorithm: Algorithm, data_keys: Sequence[str], *, source: str = BATCH_FILE
) -> BatchRequest:
    """Check the request against what the algorithm's container does in batch; the format chosen."""
    support = algorithm.batch
    if not support.formats:
        raise ManifestError(
            Problem("$.model", f"{algorithm.title} cannot score in batch: {support.refusal}"), source=source
        )
    offered = ", ".join(f.content_type for f in support.formats)
    problems: list[Problem] = []
    content_type = request.content_type or extension_type(data_keys) or support.formats[0].content_type
    chosen = support.format_for(content_type)
    if chosen is None:
        where = "$.content_type" if request.content_type else "$ (the data files' extensions)"
        problems.append(
            Problem(
                where,
                f"{algorithm.title} does not read {content_type} in a batch transform job",
                f'set "content_type" to one of {offered} ({support.source})',
            )
        )
        raise ManifestError(problems, source=source)
    split = request.split or chosen.split
    if split not in (chosen.split, "None"):
        problems.append(
            Problem(
                "$.split",
                f"{content_type} records are split with {chosen.split}, not {split}",
                f'use "{chosen.split}", or "None" to send each file whole',
            )
        )
    if request.join and not chosen.joinable:
        problems.append(
            Problem(
                "$.join",
                f"{algorithm.title} answers {chosen.accept} for {content_type} input, so the input cannot be joined "
                "to the answers record by record",
                "remove join"
                + (
                    f", or use one of {', '.join(f.content_type for f in support.formats if f.joinable)}"
                    if any(f.joinable for f in support.formats)
                    else ""
                ),
            )
        )
    if request.join and split == "None":
        problems.append(Problem("$.join", "join pairs records, so the input must be split", "remove split or join"))
    if problems:
        raise ManifestError(problems, source=source)
    return BatchRequest(**{**request.__dict__, "format": chosen, "content_type": content_type, "split": split})


def output_uri(artifact_bucket: str, model: str, folder: str) -> str:
    return f"s3://{artifact_bucket}/{BATCH_PREFIX}{model}/{folder}/"


def manifest_body(bucket: str, prefix: str, keys: Sequence[str]) -> list[Any]:
    """A ManifestFile: the common prefix, then each key relative to it (API_TransformS3DataSource.html)."""
    return [{"prefix": f"s3://{bucket}/{prefix}"}, *(key[len(prefix) :] for key in keys)]


def transform_request(
    request: BatchRequest,
    *,
    job: str,
    sagemaker_model: str,
    manifest_uri: str,
    output: str,
    instance_type: str,
    stack: str,
    source: naming.DroppedObject,
) -> dict[str, Any]:
    """CreateTransformJob's arguments (botocore 1.43.11 data/sagemaker/2017-07-24/service-2.json,
    CreateTransformJobRequest, TransformInput, TransformOutput, DataProcessing)."""
    assert request.format is not None and request.split is not None
    payload: dict[str, Any] = {
        "TransformJobName": job,
        "ModelName": sagemaker_model,
        "MaxPayloadInMB": request.max_payload_mb,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": manifest_uri}},
            "ContentType": request.content_type,
            "SplitType": request.split,
            "CompressionType": request.compression,
        },
        "TransformOutput": {
            "S3OutputPath": output,
            "Accept": request.format.accept,
            # Line: a newline after every answer record, so .out lines pair with input lines (API_TransformOutput)
            "AssembleWith": "Line" if request.split != "None" else "None",
        },
        "TransformResources": {"InstanceType": instance_type, "InstanceCount": request.instance_count},
        "Tags": tags.to_list(tags.base_tags(stack, request.model, source.uri, source.version)),
    }
    if request.split != "None":
        # MultiRecord: as many records per request as MaxPayloadInMB allows (CreateTransformJobRequest.BatchStrategy)
        payload["BatchStrategy"] = "MultiRecord"
    if request.max_concurrent is not None:
        payload["MaxConcurrentTransforms"] = request.max_concurrent
    if request.join:
        payload["DataProcessing"] = {"InputFilter": "$", "JoinSource": "Input", "OutputFilter": "$"}
    return payload


def algorithm_of(name: str | None) -> Algorithm | None:
    try:
        return algorithms.get(name) if name else None
    except algorithms.UnknownAlgorithm:
        return None
