"""The container's ``.out`` files read back: ``labels`` output (the API's prediction objects) and the row count.

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

Rows: the batch record's ``rows`` is the number of predictions in the ``.out`` files of a completed job,
decoded as above (:func:`count_rows`, or counted while the labels are written): what was scored, not an
estimate from the input. It is ``null`` with a ``rows_note`` when it cannot be known honestly: the job
did not complete, the files took longer than the function's time to read, a file sent whole answered more
than :data:`MAX_WHOLE_OUT_BYTES`, or the answers are not in the model's format.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sagedrop.algorithms.base import Algorithm, InvokeRequest, ServingContext
from sagedrop.errors import SagedropError

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
    rows: int = 0
    """Predictions written over the files done."""

    def status(self) -> str:
        if self.done == self.total:
            return f"labelled: {self.done} file(s) written as <file>{LABELS_SUFFIX} beside the .out files"
        return (
            f"partial: {self.done} of {self.total} file(s) labelled before the function's time ran out; the others "
            "have only their .out files (score smaller folders to get labels for all)"
        )


@dataclass(frozen=True)
class RowCount:
    """Records the job scored (None, with ``note`` saying why, when they were not counted)."""

    rows: int | None
    note: str = ""

    def fields(self) -> dict[str, Any]:
        return {"rows": self.rows} if self.rows is not None else {"rows": None, "rows_note": self.note}


def _out_files(s3: Any, output: str) -> tuple[str, list[tuple[str, int]]]:
    bucket, _, prefix = output[len("s3://") :].partition("/")
    found: list[tuple[str, int]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found.extend((obj["Key"], int(obj["Size"])) for obj in page.get("Contents", []) if obj["Key"].endswith(".out"))
    return bucket, found


def _context(record: Mapping[str, Any], hyperparameters: Mapping[str, Any]) -> ServingContext:
    return ServingContext(labels=tuple(str(x) for x in record.get("labels") or ()), hyperparameters=hyperparameters)


def label_outputs(
    s3: Any, record: Mapping[str, Any], algorithm: Algorithm, hyperparameters: Mapping[str, Any], deadline: float
) -> LabelResult:
    """Write ``<file>.labels.jsonl`` for each ``.out`` under the record's output until ``deadline`` (monotonic)."""
    bucket, files = _out_files(s3, str(record["output"]))
    ctx = _context(record, hyperparameters)
    accept = str(record.get("accept") or "")
    done = rows = 0
    for key, _ in files:
        if time.monotonic() >= deadline:
            break
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        with tempfile.TemporaryFile() as out:
            for prediction in labelled(body.iter_lines(), algorithm, accept, ctx, whole=not record.get("split_lines")):
                out.write(json.dumps(prediction).encode() + b"\n")
                rows += 1
            out.seek(0)
            s3.upload_fileobj(out, bucket, key[: -len(".out")] + LABELS_SUFFIX)
        done += 1
    return LabelResult(done, len(files), rows)


MAX_WHOLE_OUT_BYTES = 64 * 1024 * 1024
"""A ``.out`` file of a file sent whole (split None) is decoded in one piece; larger ones are not counted."""


def count_rows(
    s3: Any, record: Mapping[str, Any], algorithm: Algorithm, hyperparameters: Mapping[str, Any], deadline: float
) -> RowCount:
    """The records answered in the ``.out`` files, streamed until ``deadline``: JSON Lines answers are one
    record per non-blank line (the format's definition); other answers are decoded by the algorithm's
    ``decode_response`` (the prediction API's code, so a count is of predictions whatever the container's
    layout: one value per line, or comma-joined values), in chunks of :data:`CHUNK` lines."""
    bucket, files = _out_files(s3, str(record["output"]))
    whole = not record.get("split_lines")
    too_big = [key for key, size in files if whole and size > MAX_WHOLE_OUT_BYTES]
    if too_big:
        return RowCount(None, f"not counted: {too_big[0]} is over {MAX_WHOLE_OUT_BYTES >> 20} MB (a file sent whole)")
    ctx = _context(record, hyperparameters)
    accept = str(record.get("accept") or "")
    rows = 0
    try:
        for number, (key, _) in enumerate(files):
            lines = s3.get_object(Bucket=bucket, Key=key)["Body"].iter_lines()
            if accept.startswith(JSONLINES) and not whole:
                answers: Iterable[Any] = (line for line in lines if line.strip())  # one record per line, by format
            else:
                answers = labelled(lines, algorithm, accept, ctx, whole=whole)
            for _ in answers:
                rows += 1
                if rows % CHUNK == 0 and time.monotonic() >= deadline:
                    return RowCount(
                        None,
                        f"not counted: reading the {len(files)} .out file(s) took longer than the function's time "
                        f"(stopped in file {number + 1}, after {rows:,} rows)",
                    )
    except (SagedropError, ValueError) as exc:
        return RowCount(None, f"not counted: the .out files do not read as {accept} answers ({exc})")
    return RowCount(rows)
