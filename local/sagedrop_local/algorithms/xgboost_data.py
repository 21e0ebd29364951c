"""XGBoost's training data as the container reads it: the channels' content types, CSV (label first,
``csv_weights``), LibSVM and RecordIO-protobuf, and the DMatrix of each channel.

Source: github.com/aws/sagemaker-xgboost-container, ``data_utils.py`` (content types, no content type
means libsvm) and ``algorithm_mode/train.py`` (both channels read with train's content type).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sagedrop_local.algorithms.common import (
    RECORDIO_PROTOBUF,
    DataError,
    Log,
    base_content_type,
    channel_files,
    client_error,
    read_csv_files,
    read_recordio_files,
    relative_name,
)

_CSV = ("text/csv", "csv")
_LIBSVM = ("text/libsvm", "text/x-libsvm", "libsvm")
_RECORDIO = (RECORDIO_PROTOBUF, "recordio-protobuf")
_PARQUET = ("application/x-parquet", "parquet")
_ACCEPTED_TYPES = "csv, libsvm, parquet, recordio-protobuf, text/csv, text/libsvm, text/x-libsvm, " + (
    "application/x-parquet, application/x-recordio-protobuf"
)


def _data_kind(content_type: str | None, channel: str) -> str:
    base = base_content_type(content_type)
    if base is None or base in _LIBSVM:  # data_utils.get_content_type: no content type means libsvm
        return "libsvm"
    if base in _CSV:
        return "csv"
    if base in _RECORDIO:
        return "recordio"
    if base in _PARQUET:
        raise client_error(
            f"channel {channel!r}: Parquet is not available in the local stack (it needs pyarrow); "
            "use text/csv or application/x-recordio-protobuf locally, or run the job on SageMaker"
        )
    raise client_error(f"{content_type} is not an accepted ContentType: {_ACCEPTED_TYPES}.")


def parse_libsvm(text: str, where: str, with_label: bool = True) -> tuple[Any, np.ndarray | None]:
    """LibSVM lines (``label idx:value ...``; ``qid:`` ignored) as (scipy CSR, labels or None)."""
    from scipy.sparse import csr_matrix

    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    labels: list[float] = []
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split("#", 1)[0].split()
        if not tokens:
            continue
        start = 0
        if with_label:
            try:
                labels.append(float(tokens[0].split(":", 1)[0]))
            except ValueError:
                raise DataError(f"{where}, line {number}: label {tokens[0]!r} is not a number") from None
            start = 1
        for token in tokens[start:]:
            key, colon, value = token.partition(":")
            if not colon:
                if with_label:
                    raise DataError(f"{where}, line {number}: {token!r} is not index:value")
                continue  # an inference row may start with a label-like token: ignored
            if key == "qid":
                continue
            try:
                indices.append(int(key))
                data.append(float(value))
            except ValueError:
                raise DataError(f"{where}, line {number}: {token!r} is not index:value") from None
        indptr.append(len(data))
    columns = max(indices) + 1 if indices else 0
    shape = (len(indptr) - 1, columns)
    matrix = csr_matrix((np.asarray(data), np.asarray(indices, dtype=np.int64), np.asarray(indptr)), shape=shape)
    return matrix, (np.asarray(labels) if with_label else None)


@dataclass
class _ChannelData:
    features: Any  # numpy array or scipy CSR
    labels: np.ndarray
    weights: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return int(self.features.shape[0])

    @property
    def columns(self) -> int:
        return int(self.features.shape[1])


def _load_channel(channel: str, root: Path, kind: str, csv_weights: int) -> _ChannelData | None:
    files = channel_files(root)
    if not files:
        return None

    def name(path: Path) -> str:
        return relative_name(path, channel, root)

    try:
        if kind == "csv":
            matrix = read_csv_files(files, name)
            if matrix.size == 0:
                return None
            first_feature = 2 if csv_weights == 1 else 1
            if matrix.shape[1] <= first_feature:
                raise DataError(
                    f"channel {channel!r} has {matrix.shape[1]} column(s): CSV needs the label first, "
                    + ("the instance weight second (csv_weights=1), " if csv_weights == 1 else "")
                    + "then at least one feature"
                )
            labels = matrix[:, 0]
            if np.isnan(labels).any():
                row = int(np.argmax(np.isnan(labels))) + 1
                raise DataError(f"channel {channel!r}, data row {row}: the label (first column) is empty")
            weights = matrix[:, 1] if csv_weights == 1 else None
            return _ChannelData(matrix[:, first_feature:], labels, weights)
        if kind == "libsvm":
            blocks = []
            for path in files:
                text = path.read_text(encoding="utf-8")
                blocks.append(parse_libsvm(text, name(path)))
            return _stack_sparse(blocks)
        matrix, labels = read_recordio_files(files, name)
        if matrix.shape[0] == 0 or labels is None:
            return None
        return _ChannelData(matrix, labels)
    except UnicodeDecodeError:
        raise client_error(f"channel {channel!r}: the data is not UTF-8 text; is the content type right?") from None
    except DataError as exc:
        raise client_error(f"Loading {kind} data failed: {exc}") from None


def _stack_sparse(blocks: list[tuple[Any, np.ndarray | None]]) -> _ChannelData | None:
    from scipy.sparse import vstack

    blocks = [(m, y) for m, y in blocks if m.shape[0]]
    if not blocks:
        return None
    columns = max(m.shape[1] for m, _ in blocks)
    for matrix, _labels in blocks:
        matrix.resize((matrix.shape[0], columns))
    features = vstack([m for m, _ in blocks], format="csr")
    labels = np.concatenate([y for _, y in blocks if y is not None])
    return _ChannelData(features, labels)


def _dmatrix(data: _ChannelData, columns: int) -> Any:
    import xgboost as xgb

    features = data.features
    if features.shape[1] < columns:  # sparse data whose highest feature index is lower: pad
        if hasattr(features, "resize"):
            features = features.copy()
            features.resize((features.shape[0], columns))
        else:
            features = np.hstack([features, np.full((features.shape[0], columns - features.shape[1]), np.nan)])
    return xgb.DMatrix(features, label=data.labels, weight=data.weights, missing=np.nan)


def load_matrices(
    config: Mapping[str, Any], channels: Mapping[str, Path], content_types: Mapping[str, str | None], log: Log
) -> tuple[Any, Any]:
    """The train and (when given) validation DMatrix, as wide as each other, read as the container reads them."""
    for name in channels:
        if name not in ("train", "validation"):
            raise client_error(f"Extraneous channel found: {name} (the XGBoost algorithm reads train and validation)")
    if "train" not in channels:
        raise client_error("Missing required channel: train")
    kind = _data_kind(content_types.get("train"), "train")  # train.py reads both channels with train's type
    csv_weights = int(config.get("csv_weights", 0))
    train_data = _load_channel("train", channels["train"], kind, csv_weights)
    if train_data is None:
        raise client_error(f"No data in training channel path {channels['train']}")
    val_data = None
    if "validation" in channels:
        val_data = _load_channel("validation", channels["validation"], kind, 0)
        if val_data is None:
            raise client_error(f"No data in validation channel path {channels['validation']}")
    columns = max(train_data.columns, val_data.columns if val_data else 0) if kind != "csv" else train_data.columns
    if val_data is not None and kind == "csv" and val_data.columns != train_data.columns:
        raise client_error(
            f"feature_names mismatch: the train channel has {train_data.columns} features, "
            f"the validation channel has {val_data.columns}"
        )
    dtrain = _dmatrix(train_data, columns)
    dval = _dmatrix(val_data, columns) if val_data is not None else None
    log(f"Train matrix has {train_data.rows} rows and {train_data.columns} columns")
    if val_data is not None:
        log(f"Validation matrix has {val_data.rows} rows")
    return dtrain, dval
