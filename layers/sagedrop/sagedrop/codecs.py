"""Generic wire helpers for predictions: rows to ``text/csv``, chunking, response parsing, base64 images.

Nothing here knows an algorithm: the algorithm modules (``sagedrop.algorithms.*``) compose these
helpers into their own request and response formats. Nothing here talks to AWS.

Errors raised here carry the HTTP status the API answers with (``http_status``, ``error_code``):

* :class:`BadInput` (400): the request is malformed; every problem names the JSON path, line or byte.
* :class:`UnsupportedMediaType` (415): a body type the model's algorithm does not take.
* :class:`PayloadTooLarge` (413): a row, image or body over a limit; the message names the limit.
* :class:`BadModelResponse` (502): the endpoint answered something that is not the algorithm's format.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sagedrop.errors import Problem, SagedropError, UserError

MB = 1024 * 1024
MAX_PROBLEMS = 20
"""At most this many problems are reported for one request (the count of the rest is given)."""


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class BadInput(UserError):
    """A malformed prediction request (HTTP 400)."""

    kind = "invalid prediction request"
    http_status = 400
    error_code = "invalid_request"

    def __init__(self, problems: list[Problem] | Problem | str, *, total: int | None = None) -> None:
        self._total = total
        super().__init__(problems)

    @property
    def total(self) -> int:
        """How many problems were found (only the first :data:`MAX_PROBLEMS` are kept)."""
        return self._total if self._total is not None else len(self.problems)

    def describe(self) -> str:
        shown = "; ".join(str(p) for p in self.problems)
        more = self.total - len(self.problems)
        suffix = f"; and {more} more problem{'s' if more != 1 else ''}" if more > 0 else ""
        return f"{self.kind}: {shown}{suffix}"


class UnsupportedMediaType(SagedropError):
    """A request body type the model's algorithm does not take (HTTP 415)."""

    http_status = 415
    error_code = "unsupported_media_type"


class PayloadTooLarge(SagedropError):
    """A body, row or image over a limit (HTTP 413); the message names the limit."""

    http_status = 413
    error_code = "payload_too_large"


class BadModelResponse(SagedropError):
    """The endpoint answered, but not in the algorithm's documented format (HTTP 502)."""

    http_status = 502
    error_code = "bad_model_response"


class ProblemList:
    """Collects problems up to :data:`MAX_PROBLEMS` and raises them together as :class:`BadInput`."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.total = 0

    def add(self, path: str, message: str, hint: str = "") -> None:
        self.total += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(path, message, hint))

    def __bool__(self) -> bool:
        return self.total > 0

    def raise_if_any(self) -> None:
        if self.total:
            raise BadInput(self.problems, total=self.total)


def size_text(size: int) -> str:
    """``6,291,456 bytes (6 MB)``: exact, with the unit people know the limits by."""
    if size >= MB and size % MB == 0:
        return f"{size:,} bytes ({size // MB} MB)"
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size:,} bytes ({size // 1_000_000} MB)"
    return f"{size:,} bytes"


def describe_value(value: Any, limit: int = 40) -> str:
    """A short description of a JSON value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= limit else value[:limit] + "..."
        return f"the string {text!r}"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "an object"
    return repr(value)


# --------------------------------------------------------------------------------------------
# Request bodies: JSON
# --------------------------------------------------------------------------------------------


def parse_json_body(body: bytes | str, where: str = "the body") -> Any:
    """JSON from a request body; a syntax error names the line, column and byte, a bad byte its offset."""
    text = decode_text(body, where) if isinstance(body, bytes) else body
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(
            Problem(
                where,
                f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno} (byte {exc.pos})",
                'send {"instances": [...]} with Content-Type: application/json',
            )
        ) from None


def decode_text(body: bytes, where: str = "the body") -> str:
    """UTF-8 text (a leading byte-order mark is dropped); an invalid byte is named by its offset."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(
            Problem(where, f"byte {exc.start} (0x{body[exc.start]:02x}) is not valid UTF-8", "send UTF-8 text")
        ) from None
    return text.removeprefix("\ufeff")


# --------------------------------------------------------------------------------------------
# Rows of numbers <-> text/csv
# --------------------------------------------------------------------------------------------

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_MISSING = r"|nan|NaN|NAN|"  # the last alternative is an empty field
_ROW = re.compile(rf"\s*{_NUMBER}\s*(?:,\s*{_NUMBER}\s*)*")
_ROW_WITH_MISSING = re.compile(rf"\s*(?:{_NUMBER}{_MISSING})\s*(?:,\s*(?:{_NUMBER}{_MISSING})\s*)*")
_FIELD = re.compile(rf"\s*{_NUMBER}\s*")
_FIELD_WITH_MISSING = re.compile(rf"\s*(?:{_NUMBER}{_MISSING})\s*")


def number_text(value: Any) -> str | None:
    """A JSON number as CSV text (shortest round-trip form); None when it is not a finite number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    return None


def _feature_hint(count: int, feature_dim: int) -> str:
    if count == feature_dim + 1:
        return "predictions take the features only: drop the label column"
    return f"send exactly {feature_dim} features per row"


def _width_problem(count: int, feature_dim: int | None, first: int | None) -> tuple[str, str] | None:
    """(message, hint) when a row of ``count`` values does not fit: the model's feature count when known,
    else the request's first row (a model reads every row with the same features: the SageMaker XGBoost
    container answers rows of different lengths with 415, see sagedrop.predict_errors)."""
    if feature_dim is not None:
        if count != feature_dim:
            return f"has {count} values, the model takes {feature_dim} features", _feature_hint(count, feature_dim)
        return None
    if first is not None and count != first:
        return (
            f"has {count} values, the first row has {first}",
            "every row needs the same number of features, in the same order",
        )
    return None


def rows_to_csv(
    instances: Sequence[Any],
    *,
    feature_dim: int | None = None,
    allow_missing: bool = False,
    where: str = "$.instances",
) -> list[bytes]:
    """JSON rows (lists of numbers, or ``{"features": [...]}``) as CSV lines, every problem named.

    ``allow_missing``: ``null`` becomes an empty field, which algorithms such as XGBoost read as a
    missing value.
    """
    fast = _plain_rows_csv(instances, feature_dim)
    if fast is not None:
        return fast
    problems = ProblemList()
    lines: list[bytes] = []
    first: int | None = None
    for index, row in enumerate(instances):
        path = f"{where}[{index}]"
        if isinstance(row, dict) and "features" in row:
            row, path = row["features"], f"{path}.features"
        if not isinstance(row, list):
            problems.add(path, f"expected a list of numbers, got {describe_value(row)}", "e.g. [1.5, 0, 3.2]")
            continue
        if not row:
            problems.add(path, "is an empty row", "send the feature values of one example")
            continue
        width = _width_problem(len(row), feature_dim, first)
        first = len(row) if first is None else first
        if width:
            problems.add(path, *width)
            continue
        fields = []
        for position, value in enumerate(row):
            text = number_text(value)
            if text is None:
                if allow_missing and value is None:
                    text = ""
                else:
                    expected = "a number (or null for a missing value)" if allow_missing else "a finite number"
                    problems.add(f"{path}[{position}]", f"expected {expected}, got {describe_value(value)}")
                    continue
            fields.append(text)
        lines.append(",".join(fields).encode())
    problems.raise_if_any()
    return lines


_NUMERIC_BYTES = b"0123456789.e+-,\n"


def _plain_rows_csv(instances: Sequence[Any], feature_dim: int | None) -> list[bytes] | None:
    """:func:`rows_to_csv`'s lines without a per-value loop, for the usual request: every row a non-empty
    list of ints and floats, all of the same width (``feature_dim`` when known). None for anything else
    (missing values, feature objects, a problem to name), which the per-value loop handles.

    ``repr`` of the rows writes each number as ``repr`` does (the shortest round-trip form), separated by
    ``", "``, rows by ``"], ["``. Only numbers are written with nothing but digits, ``.``, ``e``, ``+`` and
    ``-``: ``True``, ``None``, ``inf``, ``nan``, strings, objects and nested lists (a ``[`` is left) are
    not. A whole float below 1e16 is the only number ``repr`` ends with ``.0``, which :func:`number_text`
    drops (larger ones are ``1e+16``); ``-0.0``, which it writes ``0``, goes the per-value way.
    """
    if not isinstance(instances, list) or not instances or set(map(type, instances)) != {list}:
        return None
    widths = set(map(len, instances))
    width = widths.pop()
    if widths or not width or (feature_dim is not None and width != feature_dim):
        return None
    data = repr(instances)[2:-2].replace("], [", "\n").replace(", ", ",").encode()
    if data.translate(None, _NUMERIC_BYTES) or b"-0.0" in data:
        return None
    data = data.replace(b".0,", b",").replace(b".0\n", b"\n")
    return data.removesuffix(b".0").split(b"\n")


def csv_body_rows(
    body: bytes,
    *,
    feature_dim: int | None = None,
    allow_missing: bool = False,
    where: str = "text/csv body",
) -> list[bytes]:
    """The data lines of a raw ``text/csv`` body (numbers only, no header), each checked.

    Empty lines are skipped. A problem names the line, the byte offset where the line starts and the
    field. Returns the lines without their line endings.
    """
    text = decode_text(body, where)
    row_re = _ROW_WITH_MISSING if allow_missing else _ROW
    field_re = _FIELD_WITH_MISSING if allow_missing else _FIELD
    problems = ProblemList()
    lines: list[bytes] = []
    first: int | None = None
    offset = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        start, offset = offset, offset + len(raw.encode()) + 1
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        where_line = f"{where} line {number} (byte {start})"
        if not row_re.fullmatch(line):
            fields = line.split(",")
            bad = next((i for i, f in enumerate(fields) if not field_re.fullmatch(f)), 0)
            if number == 1 and not any(field_re.fullmatch(f) for f in fields):
                problems.add(where_line, "is not numeric: it looks like a header", "send data rows only, no header")
            else:
                problems.add(
                    f"{where_line}, field {bad + 1}",
                    f"{fields[bad][:40]!r} is not a number",
                    "fields are numbers separated by commas"
                    + (" (empty or nan for a missing value)" if allow_missing else ""),
                )
            continue
        count = line.count(",") + 1
        width = _width_problem(count, feature_dim, first)
        first = count if first is None else first
        if width:
            problems.add(where_line, *width)
            continue
        lines.append(line.encode())
    if not lines and not problems:
        problems.add(where, "has no data rows", "send one row of comma-separated features per line")
    problems.raise_if_any()
    return lines


_LIBSVM_TOKEN = re.compile(rf"\d+:{_NUMBER}")
_LIBSVM_LABEL = re.compile(_NUMBER)


def libsvm_body_rows(body: bytes, where: str = "text/libsvm body", *, feature_dim: int | None = None) -> list[bytes]:
    """The data lines of a raw ``text/libsvm`` body: ``[label] index:value ...`` per line.

    Indices are 0-based column positions: the SageMaker XGBoost container builds the request's matrix
    with ``csr_matrix((data, (row, col)))`` from the indices as written, so index ``i`` is column ``i``
    and a model of ``n`` features takes indices 0 to n-1 (aws/sagemaker-xgboost-container, branch 1.7-1,
    commit f7a93a21e50e44b4077f0889a7f676cad8c226f3, algorithm_mode/serve_utils.py,
    ``_get_sparse_matrix_from_libsvm``). With ``feature_dim`` known, a larger index is refused.
    """
    text = decode_text(body, where)
    problems = ProblemList()
    lines: list[bytes] = []
    offset = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        start, offset = offset, offset + len(raw.encode()) + 1
        line = raw.strip()
        if not line:
            continue
        tokens = line.split()
        for position, token in enumerate(tokens):
            if _LIBSVM_TOKEN.fullmatch(token):
                index = int(token.split(":", 1)[0])
                if feature_dim is None or index < feature_dim:
                    continue
                problems.add(
                    f"{where} line {number} (byte {start}), token {position + 1}",
                    f"index {index} is out of range: the model takes {feature_dim} features, indices 0 to "
                    f"{feature_dim - 1}",
                    "libsvm indices count from 0 (the first feature is 0:value)",
                )
                break
            if position == 0 and _LIBSVM_LABEL.fullmatch(token):
                continue
            problems.add(
                f"{where} line {number} (byte {start}), token {position + 1}",
                f"{token[:40]!r} is not index:value",
                "libsvm rows look like '1:0.5 7:2.0' (a leading label is optional)",
            )
            break
        else:
            lines.append(line.encode())
    if not lines and not problems:
        problems.add(where, "has no data rows", "send one row per line")
    problems.raise_if_any()
    return lines


def text_lines(body: bytes, where: str = "text/plain body") -> list[str]:
    """The non-empty lines of a ``text/plain`` body (one instance per line)."""
    lines = [line.strip() for line in decode_text(body, where).splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise BadInput(Problem(where, "has no lines", "send one instance per line"))
    return lines


# --------------------------------------------------------------------------------------------
# Chunking
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """Instances ``start`` (inclusive) to ``end`` (exclusive) of a request."""

    start: int
    end: int

    @property
    def count(self) -> int:
        return self.end - self.start


def chunk_sizes(
    sizes: Sequence[int],
    *,
    max_bytes: int,
    max_rows: int,
    separator: int = 1,
    overhead: int = 0,
    name_of: Callable[[int], str] = lambda index: f"row {index + 1}",
    limit_name: str = "one InvokeEndpoint request",
) -> list[Chunk]:
    """Split items of the given encoded sizes into consecutive chunks that fit one request each.

    A chunk's size is ``overhead + sum(sizes) + separator * (count - 1)``; it holds at most
    ``max_rows`` items. An item that cannot fit even alone raises :class:`PayloadTooLarge`, named
    by ``name_of(index)``.
    """
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    count = len(sizes)
    if 0 < count <= max_rows and overhead + sum(sizes) + separator * (count - 1) <= max_bytes:
        return [Chunk(0, count)]  # all in one request (the loop below finds the same, item by item)
    chunks: list[Chunk] = []
    start, used = 0, overhead
    for index, size in enumerate(sizes):
        if overhead + size > max_bytes:
            raise PayloadTooLarge(
                f"{name_of(index)} is {size_text(overhead + size)} encoded, over the {size_text(max_bytes)} "
                f"limit of {limit_name}: send less data per instance"
            )
        extra = size + (separator if index > start else 0)
        if index > start and (used + extra > max_bytes or index - start >= max_rows):
            chunks.append(Chunk(start, index))
            start, used = index, overhead + size
        else:
            used += extra
    if start < len(sizes):
        chunks.append(Chunk(start, len(sizes)))
    return chunks


def join_lines(lines: Sequence[bytes], chunk: Chunk) -> bytes:
    """The CSV (or libsvm, or text) body of one chunk: its lines joined by newlines."""
    return b"\n".join(lines[chunk.start : chunk.end])


def json_dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as sent to endpoints."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


def parse_json_response(body: bytes, what: str) -> Any:
    """JSON from an endpoint's answer; anything else is a :class:`BadModelResponse`."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadModelResponse(f"{what} answered something that is not JSON ({exc}): {preview(body)}") from None


def preview(body: bytes, limit: int = 120) -> str:
    text = body[:limit].decode("utf-8", errors="replace")
    return repr(text + ("..." if len(body) > limit else ""))


_GROUP = re.compile(r"\[([^\[\]]*)\]")


def parse_csv_values(body: bytes, what: str) -> list[float | list[float]]:
    """Numbers from a CSV answer: ``0.1,0.9`` or one per line; ``[0.1, 0.9],[0.3, 0.7]`` gives lists.

    The last form is what the XGBoost container writes for ``multi:softprob`` (a list per row).
    """
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise BadModelResponse(f"{what} answered bytes that are not text: {preview(body)}") from None
    if not text:
        return []
    try:
        if "[" in text:
            groups = _GROUP.findall(text)
            if not groups:
                raise ValueError("unbalanced brackets")
            return [[float(v) for v in re.split(r"[,\s]+", group.strip()) if v] for group in groups]
        return list(map(float, text.replace(",", " ").split()))  # the fields between commas and white space
    except ValueError:
        raise BadModelResponse(f"{what} answered CSV that is not numbers: {preview(body)}") from None


def as_int(value: Any) -> int | None:
    """A class index from a JSON/CSV number (``2.0`` -> 2); None when it is not a whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def top_indices(values: Sequence[float], k: int) -> list[int]:
    """Indices of the k largest values, largest first (ties: lower index first)."""
    return sorted(range(len(values)), key=lambda i: (-values[i], i))[:k]


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------

JPEG = "image/jpeg"
PNG = "image/png"
_DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+)?(;[\w=.+-]+)*;base64,", re.ASCII)


def image_type(data: bytes) -> str | None:
    """``image/jpeg`` or ``image/png`` from the file's magic bytes; None for anything else."""
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return PNG
    return None


def decode_base64(text: Any, where: str) -> bytes:
    """Bytes from a base64 string (standard or URL-safe alphabet, or a ``data:...;base64,`` URL)."""
    if not isinstance(text, str) or not text:
        raise BadInput(Problem(where, f"expected a base64 string, got {describe_value(text)}"))
    match = _DATA_URL.match(text)
    payload = text[match.end() :] if match else text
    payload = "".join(payload.split())
    alphabet = "-_" if ("-" in payload or "_" in payload) else "+/"
    bad = re.search(rf"[^A-Za-z0-9{re.escape(alphabet)}=]", payload)
    if bad:
        raise BadInput(
            Problem(
                where,
                f"character {bad.group()!r} at position {bad.start()} is not base64",
                "encode the image as base64",
            )
        )
    payload += "=" * (-len(payload) % 4)
    try:
        return base64.b64decode(payload, altchars=alphabet.encode(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadInput(Problem(where, f"is not valid base64: {exc}", "encode the image as base64")) from None


def check_image(data: bytes, content_type: str, where: str) -> str:
    """The image's real type (JPEG or PNG); the declared type must match what the bytes are."""
    if not data:
        raise BadInput(Problem(where, "is empty", "send the bytes of a JPEG or PNG image"))
    actual = image_type(data)
    if actual is None:
        raise BadInput(
            Problem(
                where,
                f"is not a JPEG or PNG image (it starts with bytes {data[:8].hex(' ')})",
                "send the image file's bytes unchanged",
            )
        )
    if content_type in (JPEG, PNG) and actual != content_type:
        raise BadInput(
            Problem(where, f"is declared {content_type} but the bytes are {actual}", f"send Content-Type: {actual}")
        )
    return actual
