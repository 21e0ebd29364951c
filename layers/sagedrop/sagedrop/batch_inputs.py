"""Input data checks of a batch before its transform job starts.

A transform job that meets a bad file fails after its instances started (minutes and money later) with
the container's terse error, so the launcher looks at the data first, the way the train function looks at
training data (:mod:`sagedrop.datacheck`): cheaply, in bounded memory, with every problem named by its S3
location, what is wrong and how to fix it.

* every listed data file must hold bytes (a zero-byte file is refused; folder markers, keys ending in
  ``/``, are not data files);
* the head of each of the first :data:`MAX_CHECKED_FILES` files (:data:`SAMPLE_BYTES` each, gunzipped when
  ``compression`` is gzip, one ranged GET each) must match the content type:

  - ``text/csv`` and libsvm: the rows go through the algorithm's own ``encode_request``, the code that
    checks a prediction request's rows (numbers only, no header, the model's feature count: the one its
    training data showed, ``feature_dim``, or deploy.json's ``feature_count``);
  - JSON Lines: every complete line parses as JSON;
  - RecordIO-protobuf: the RecordIO framing holds (magic ``0xced7230a``, length word, padding) as far as
    the head reaches, and the first record has the model's feature count;
  - images: the bytes are a JPEG or PNG.

Only whole lines of the head are checked (a cut last line is not a problem); files after the first
:data:`MAX_CHECKED_FILES` are checked for size only, so a large folder costs the same as a small one.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sagedrop import codecs, recordio
from sagedrop.algorithms.base import LIBSVM_TYPES, Algorithm, PredictionInput, ServingContext
from sagedrop.aws import read_head
from sagedrop.datacheck import SAMPLE_BYTES, recordio_feature_count
from sagedrop.errors import DataError, Problem, UserError

MAX_CHECKED_FILES = 16
"""Data files whose head is read (one ranged GET of :data:`SAMPLE_BYTES` each)."""
MAX_REPORTED = 20
"""Problems listed in one rejection (the count of the others is said)."""
RECORDIO_TYPE = "application/x-recordio-protobuf"
IMAGE_TYPES = ("image/jpeg", "image/png", "application/x-image")
JSON_LINES = "application/jsonlines"


class BatchDataError(DataError):
    """The data files of a batch do not match what batch.json and the model say."""

    kind = "invalid batch input data"


@dataclass(frozen=True)
class DataFile:
    key: str
    size: int


@dataclass(frozen=True)
class InputSpec:
    """What the data files must be: the batch's content type and compression, the model's features."""

    content_type: str
    compression: str = "None"
    feature_count: int | None = None
    hyperparameters: dict[str, Any] | None = None


def check_inputs(
    s3: Any, bucket: str, files: Sequence[DataFile], spec: InputSpec, algorithm: Algorithm
) -> list[Problem]:
    """Every problem found in the data files (empty: nothing found)."""
    problems = [
        Problem(f"s3://{bucket}/{f.key}", "is empty (0 bytes)", "upload its data, or remove it from the folder")
        for f in files
        if f.size == 0
    ]
    for data_file in [f for f in files if f.size > 0][:MAX_CHECKED_FILES]:
        where = f"s3://{bucket}/{data_file.key}"
        found = read_head(s3, bucket, data_file.key, None, SAMPLE_BYTES)
        if found is None:
            problems.append(Problem(where, "no longer exists", "upload it again, then batch.json"))
            continue
        head, truncated = found[0][:SAMPLE_BYTES], found[1] > SAMPLE_BYTES
        if spec.compression == "Gzip":
            head, truncated, error = _gunzip_head(head, truncated)
            if error:
                problems.append(Problem(where, error, 'upload gzip files, or set "compression": "none"'))
                continue
        problems.extend(check_head(head, truncated, where, spec, algorithm))
    if len(problems) > MAX_REPORTED:
        more = len(problems) - MAX_REPORTED + 1
        problems = [*problems[: MAX_REPORTED - 1], Problem("$", f"and {more} more problem(s) like these")]
    return problems


def _gunzip_head(head: bytes, truncated: bool) -> tuple[bytes, bool, str | None]:
    """The first :data:`SAMPLE_BYTES` of the decompressed data (bounded output), truncated, error."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip header and trailer (zlib manual)
    try:
        data = inflater.decompress(head, SAMPLE_BYTES)
    except zlib.error as exc:
        return b"", False, f"is not gzip data ({exc})"
    more = bool(inflater.unconsumed_tail) or truncated or not inflater.eof
    return data, more, None


def check_head(head: bytes, truncated: bool, where: str, spec: InputSpec, algorithm: Algorithm) -> list[Problem]:
    """Problems in the first bytes of one data file (``truncated``: the file goes on)."""
    content_type = spec.content_type
    if content_type == RECORDIO_TYPE:
        return _recordio_problems(head, truncated, where, spec.feature_count)
    if content_type in IMAGE_TYPES:
        if codecs.image_type(head) is None:
            return [
                Problem(
                    where,
                    f"is not a JPEG or PNG image (it starts with bytes {head[:8].hex(' ')})",
                    "score .jpg or .png files, or set content_type",
                )
            ]
        return []
    lines = _whole_lines(head, truncated)
    if lines is None:
        return [
            Problem(
                where,
                f"has no complete line in its first {SAMPLE_BYTES // 1024} KiB",
                "put one record per line (a newline after each)",
            )
        ]
    if content_type == JSON_LINES:
        return list(_json_lines_problems(lines, where))
    if content_type == "text/csv" or content_type in LIBSVM_TYPES:
        return _row_problems(lines, where, spec, algorithm)
    return []


def _whole_lines(head: bytes, truncated: bool) -> bytes | None:
    """The head without the line the read cut (None when not even one line is whole)."""
    if not truncated:
        return head
    end = head.rfind(b"\n")
    return head[: end + 1] if end >= 0 else None


def _row_problems(lines: bytes, where: str, spec: InputSpec, algorithm: Algorithm) -> list[Problem]:
    """The rows checked by the algorithm's own request encoder (what the prediction API checks)."""
    if spec.content_type not in algorithm.request_content_types:
        return []
    ctx = ServingContext(
        feature_dim=spec.feature_count,
        hyperparameters=spec.hyperparameters or {},
        max_body_bytes=len(lines) + 1,
        max_rows=max(1, lines.count(b"\n") + 1),
    )
    try:
        algorithm.encode_request(PredictionInput(body=lines, content_type=spec.content_type), ctx)
    except UserError as exc:
        return [Problem(_in_file(where, p.path), p.message, _batch_hint(p.hint)) for p in exc.problems]
    return []


def _in_file(where: str, path: str) -> str:
    """The request encoder's place ("text/csv body line 2 (byte 12), field 3") said of the file."""
    return f"{where} {_BODY.sub('', path)}".rstrip()


_BODY = re.compile(r"^(?:data row \d+ of the )?\S+/\S+ body ?")


def _batch_hint(hint: str) -> str:
    """The prediction API's hints, said of a file (a batch sends the rows as they are)."""
    return hint.replace("predictions take", "batch rows hold").replace("send ", "write ")


def _json_lines_problems(lines: bytes, where: str) -> Iterator[Problem]:
    reported = 0
    for number, line in enumerate(lines.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            json.loads(line)
        except ValueError as exc:
            yield Problem(
                f"{where} line {number}",
                f"is not JSON ({exc}): {codecs.preview(line, 60)}",
                "write one JSON object per line (JSON Lines)",
            )
            reported += 1
            if reported == 5:
                return


def _recordio_problems(head: bytes, truncated: bool, where: str, feature_count: int | None) -> list[Problem]:
    hint = "write it with the RecordIO writer (sagedrop prepare recordio), or set content_type"
    try:
        for _ in recordio.iter_frames(head):
            pass
    except recordio.RecordIOError as exc:
        # the ranged read may cut the last record: only a frame that starts inside the head is judged
        if not (truncated and "truncated" in str(exc)):
            return [Problem(where, f"is not RecordIO: {exc}", hint)]
    width = recordio_feature_count(head)
    if feature_count is not None and width is not None and width != feature_count:
        return [
            Problem(
                where,
                f"its records have {width} features, the model takes {feature_count}",
                "write records with the model's features only (no label needed)",
            )
        ]
    return []
