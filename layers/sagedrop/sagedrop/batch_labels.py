"""``labels`` output of a batch: the container's ``.out`` files turned into the API's prediction objects.

The built-in containers answer class indices (XGBoost's scores, Linear Learner's ``predicted_label``,
Image Classification's probabilities) and have no option to name the classes, so the deploy function does
it once the job completed: each ``<file>.out`` is streamed line by line, decoded in chunks by the
algorithm's own ``decode_response`` (the code the prediction API uses, so a line becomes exactly what
``POST /predictions`` would answer for that row, with ``label``), and written as
``<file>.labels.jsonl`` beside it: one JSON object per input record, in order. Memory stays bounded by a
chunk; the file goes through the function's temporary storage.

Time: the function stops starting new files when its deadline nears; the record's ``labels_status`` then
says how many files were labelled, and the others keep only their ``.out`` (score smaller folders, or map
``predicted_label`` to the model's ``labels`` yourself).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sagedrop.algorithms.base import Algorithm, InvokeRequest, ServingContext

LABELS_SUFFIX = ".labels.jsonl"
CHUNK = 1000
JSONLINES = "application/jsonlines"


def _decode(algorithm: Algorithm, chunk: list[bytes], accept: str, ctx: ServingContext) -> list[dict[str, Any]]:
    if accept.startswith(JSONLINES):  # the API's JSON form: {"predictions": [one object per line]}
        body, content_type = (
            json.dumps({"predictions": [json.loads(line) for line in chunk]}).encode(),
            "application/json",
        )
    else:
        body, content_type = b"\n".join(chunk), accept
    return algorithm.decode_response(body, content_type, InvokeRequest(b"", content_type, accept, len(chunk), 0), ctx)


def labelled(
    lines: Iterable[bytes], algorithm: Algorithm, accept: str, ctx: ServingContext, *, whole: bool
) -> Iterator[dict[str, Any]]:
    """Prediction objects with ``label`` for the lines of one ``.out`` file (``whole``: one answer per file)."""
    if whole:
        yield from _decode(algorithm, [b"\n".join(lines)], accept, ctx)
        return
    chunk: list[bytes] = []
    for line in lines:
        if line.strip():
            chunk.append(line)
        if len(chunk) == CHUNK:
            yield from _decode(algorithm, chunk, accept, ctx)
            chunk = []
    if chunk:
        yield from _decode(algorithm, chunk, accept, ctx)


@dataclass(frozen=True)
class LabelResult:
    done: int
    total: int

    def status(self) -> str:
        if self.done == self.total:
            return f"labelled: {self.done} file(s) written as <file>{LABELS_SUFFIX} beside the .out files"
        return (
            f"partial: {self.done} of {self.total} file(s) labelled before the function's time ran out; the others "
            "have only their .out files (score smaller folders to get labels for all)"
        )


def label_outputs(
    s3: Any, record: Mapping[str, Any], algorithm: Algorithm, hyperparameters: Mapping[str, Any], deadline: float
) -> LabelResult:
    """Write ``<file>.labels.jsonl`` for each ``.out`` under the record's output until ``deadline`` (monotonic)."""
    bucket, _, prefix = str(record["output"])[len("s3://") :].partition("/")
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(obj["Key"] for obj in page.get("Contents", []) if obj["Key"].endswith(".out"))
    ctx = ServingContext(labels=tuple(str(x) for x in record.get("labels") or ()), hyperparameters=hyperparameters)
    accept = str(record.get("accept") or "")
    done = 0
    for key in keys:
        if time.monotonic() >= deadline:
            break
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        with tempfile.TemporaryFile() as out:
            for prediction in labelled(body.iter_lines(), algorithm, accept, ctx, whole=not record.get("split_lines")):
                out.write(json.dumps(prediction).encode() + b"\n")
            out.seek(0)
            s3.upload_fileobj(out, bucket, key[: -len(".out")] + LABELS_SUFFIX)
        done += 1
    return LabelResult(done, len(keys))
