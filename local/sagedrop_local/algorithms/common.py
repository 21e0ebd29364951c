"""What the local algorithms share: errors, channel files, tabular readers, hyperparameter parsing, metrics.

Nothing here knows an algorithm; each algorithm module decides which messages it raises. Messages
follow SageMaker's FailureReason shape (``ClientError: ...`` for the user's mistakes,
``AlgorithmError: ...`` for failures inside the algorithm) and are cut to the 1,024 characters
SageMaker keeps.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FAILURE_REASON_LIMIT = 1024
"""DescribeTrainingJob.FailureReason holds at most 1,024 characters (botocore model)."""

RECORDIO_PROTOBUF = "application/x-recordio-protobuf"
Log = Callable[[str], None]


class AlgorithmError(Exception):
    """A training failure; ``str(exc)`` is the job's FailureReason (``ClientError: ...`` / ``AlgorithmError: ...``)."""

    def __init__(self, message: str) -> None:
        message = message if len(message) <= FAILURE_REASON_LIMIT else message[: FAILURE_REASON_LIMIT - 3] + "..."
        super().__init__(message)
        self.message = message


class InvokeError(Exception):
    """An inference request the algorithm's server refuses: ``status_code`` is the container's HTTP status.

    InvokeEndpoint turns it into a ``ModelError`` whose ``OriginalStatusCode`` is this status and
    whose ``OriginalMessage`` is ``str(exc)``.
    """

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def client_error(message: str) -> AlgorithmError:
    return AlgorithmError(f"ClientError: {message}")


@dataclass(frozen=True)
class Serving:
    """What a container knows at serving time besides the files of model.tar.gz.

    ``image_tag`` is the tag of the Model's container image (``1.7-1``): a container's wire format
    can differ between versions. ``environment`` is the container's ``Environment`` map from
    CreateModel (e.g. ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``).
    """

    image_tag: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)


@dataclass
class TrainResult:
    """What a finished training job reports: its final metrics, named as SageMaker names them."""

    metrics: list[tuple[str, float]] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Channels and content types
# --------------------------------------------------------------------------------------------


def channel_files(directory: Path) -> list[Path]:
    """Every file under a channel directory (File mode copies every object under the S3 prefix).

    Sorted by relative path so training is reproducible; hidden files (``.keep``, editors' swap
    files) and empty files are skipped.
    """
    if not directory.is_dir():
        return []
    files = [
        path
        for path in directory.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    ]
    return sorted((p for p in files if p.stat().st_size > 0), key=lambda p: p.relative_to(directory).as_posix())


def base_content_type(content_type: str | None) -> str | None:
    """``"Text/CSV; label_size=1"`` -> ``"text/csv"``; None and blanks stay None."""
    if content_type is None:
        return None
    base = content_type.split(";", 1)[0].strip().lower()
    return base or None


def content_type_parameters(content_type: str | None) -> dict[str, str]:
    """The ``key=value`` parameters after the media type (``label_size=1``)."""
    params: dict[str, str] = {}
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip():
            params[key.strip().lower()] = value.strip()
    return params


def relative_name(path: Path, channel: str, root: Path) -> str:
    """``train/part-0.csv``: how messages name a file (channel name + path inside the channel)."""
    try:
        return f"{channel}/{path.relative_to(root).as_posix()}"
    except ValueError:
        return f"{channel}/{path.name}"


# --------------------------------------------------------------------------------------------
# Tabular data
# --------------------------------------------------------------------------------------------


class DataError(ValueError):
    """Unreadable data; the message names the file and line (1-based)."""


def sniff_delimiter(first_line: str) -> str:
    """The CSV delimiter of a data line (the XGBoost container sniffs it too); ``,`` when unsure."""
    if "," in first_line:
        return ","
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",;\t| ").delimiter
    except csv.Error:
        return ","


def parse_csv_rows(text: str, where: str, delimiter: str | None = None) -> list[list[float]]:
    """Numeric CSV lines (no header) as float rows; an empty field is a missing value (NaN)."""
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    sep = delimiter or sniff_delimiter(first)
    rows: list[list[float]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        row: list[float] = []
        for column, field_ in enumerate(line.split(sep), start=1):
            value = field_.strip().strip('"')
            if value == "":
                row.append(math.nan)
                continue
            try:
                row.append(float(value))
            except ValueError:
                hint = " (a header row? SageMaker CSV data has no header)" if number == 1 else ""
                raise DataError(
                    f"{where}, line {number}, column {column}: {value[:40]!r} is not a number{hint}"
                ) from None
        rows.append(row)
    return rows


def rows_to_matrix(rows: list[list[float]], where: str) -> np.ndarray:
    """Rows of equal length as a float64 matrix; a ragged row is an error naming its line."""
    if not rows:
        return np.empty((0, 0))
    width = len(rows[0])
    for index, row in enumerate(rows):
        if len(row) != width:
            raise DataError(f"{where}: data row {index + 1} has {len(row)} columns, the first row has {width}")
    return np.asarray(rows, dtype=np.float64)


def read_csv_files(files: Iterable[Path], name: Callable[[Path], str]) -> np.ndarray:
    """All CSV files of a channel stacked into one float64 matrix (every file has the same columns)."""
    blocks: list[np.ndarray] = []
    for path in files:
        where = name(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{where} is not UTF-8 text; is it RecordIO-protobuf or compressed?") from None
        matrix = rows_to_matrix(parse_csv_rows(text, where), where)
        if matrix.size == 0:
            continue
        if blocks and matrix.shape[1] != blocks[0].shape[1]:
            raise DataError(
                f"{where} has {matrix.shape[1]} columns, other files of the channel have {blocks[0].shape[1]}"
            )
        blocks.append(matrix)
    if not blocks:
        return np.empty((0, 0))
    return np.vstack(blocks)


def read_recordio_files(files: Iterable[Path], name: Callable[[Path], str]) -> tuple[Any, np.ndarray | None]:
    """RecordIO-protobuf files as (scipy CSR features, labels or None); dense records read as CSR too."""
    from scipy.sparse import csr_matrix, vstack

    from sagedrop.recordio import RecordIOError, read_sparse

    matrices = []
    labels: list[np.ndarray] = []
    columns = 0
    for path in files:
        try:
            rows = read_sparse(path)
        except RecordIOError as exc:
            raise DataError(f"{name(path)}: not valid RecordIO-protobuf: {exc}") from None
        if rows.shape[0] == 0:
            continue
        columns = max(columns, rows.shape[1])
        matrices.append((rows.data, rows.indices, rows.indptr, rows.shape))
        if rows.labels is None:
            raise DataError(f'{name(path)}: records carry no label (the Record\'s label map has no "values")')
        labels.append(np.asarray(rows.labels, dtype=np.float64).reshape(-1))
    if not matrices:
        return csr_matrix((0, 0)), None
    parts = [csr_matrix((d, i, p), shape=(s[0], columns)) for d, i, p, s in matrices]
    return vstack(parts, format="csr").astype(np.float64), np.concatenate(labels)


# --------------------------------------------------------------------------------------------
# Hyperparameters (they arrive as strings)
# --------------------------------------------------------------------------------------------


def is_auto(value: str | None) -> bool:
    return value is not None and value.strip().lower() == "auto"


def parse_bool(value: str) -> bool:
    """``true``/``false`` in any case, or ``1``/``0``; ValueError otherwise."""
    text = value.strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(f"{value!r} is not a boolean")


def parse_int(value: str) -> int:
    """An integer written as ``5``, ``5.0`` or ``5e0``; ValueError for ``5.5`` or words."""
    number = float(value.strip())
    if not math.isfinite(number) or not number.is_integer():
        raise ValueError(f"{value!r} is not an integer")
    return int(number)


def parse_float(value: str) -> float:
    number = float(value.strip())
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def confusion(labels: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """``matrix[true, predicted]`` counts for integer labels 0..classes-1."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels.astype(np.int64), predicted.astype(np.int64)), 1)
    return matrix


def binary_scores(labels: np.ndarray, predicted: np.ndarray, beta: float = 1.0) -> dict[str, float]:
    """Accuracy, precision, recall and F-beta of the positive class (1); 0 where undefined (sklearn's rule)."""
    labels = labels.astype(np.int64)
    predicted = predicted.astype(np.int64)
    tp = float(np.sum((labels == 1) & (predicted == 1)))
    fp = float(np.sum((labels == 0) & (predicted == 1)))
    fn = float(np.sum((labels == 1) & (predicted == 0)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    b2 = beta * beta
    f_beta = (1 + b2) * precision * recall / (b2 * precision + recall) if precision + recall else 0.0
    accuracy = float(np.mean(labels == predicted)) if labels.size else 0.0
    return {"accuracy": accuracy, "precision": precision, "recall": recall, "f_beta": f_beta}


def macro_scores(labels: np.ndarray, predicted: np.ndarray, classes: int, beta: float = 1.0) -> dict[str, float]:
    """Macro-averaged precision, recall and F-beta over ``classes`` classes (undefined terms count 0)."""
    matrix = confusion(labels, predicted, classes).astype(np.float64)
    tp = np.diag(matrix)
    predicted_count = matrix.sum(axis=0)
    true_count = matrix.sum(axis=1)
    precision = np.divide(tp, predicted_count, out=np.zeros_like(tp), where=predicted_count > 0)
    recall = np.divide(tp, true_count, out=np.zeros_like(tp), where=true_count > 0)
    b2 = beta * beta
    denominator = b2 * precision + recall
    f_beta = np.divide((1 + b2) * precision * recall, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return {
        "accuracy": float(tp.sum() / matrix.sum()) if matrix.sum() else 0.0,
        "precision": float(precision.mean()),
        "recall": float(recall.mean()),
        "f_beta": float(f_beta.mean()),
    }


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the rank statistic (ties share their average rank); 0.5 if one class only."""
    labels = labels.astype(np.int64)
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        return 0.5
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size, dtype=np.float64)
    sorted_scores = scores[order]
    start = 0
    while start < scores.size:
        end = start
        while end + 1 < scores.size and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------


def load_json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvokeError(400, f"Unable to parse the {what} request body as JSON: {exc}") from None


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


def require_mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvokeError(400, f"{what} must be a JSON object, got {type(value).__name__}")
    return value
