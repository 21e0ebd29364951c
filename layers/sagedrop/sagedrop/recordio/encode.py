"""Sparse and seq2seq RecordIO-protobuf writers, and one record with any keys. Sources: ``sagedrop.recordio``."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain, islice
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only; numpy is imported lazily at run time
    import numpy as np

from sagedrop.recordio._wire import (
    _as_wire,
    _cat,
    _check_int32,
    _const,
    _field,
    _frame_parts,
    _hdr,
    _label_parts,
    _packed_values,
    _ragged,
    _resolve_dtype,
    _tensor_map_field,
    _varints,
)
from sagedrop.recordio.framing import (
    _KEY_VALUES,
    _RAGGED_CHUNK_ROWS,
    _TAG_ENTRY_KEY,
    _TAG_ENTRY_VALUE,
    _TAG_FEATURES,
    _TAG_KEYS,
    _TAG_LABEL,
    _TAG_SHAPE,
    _TAG_VALUES,
    _VALUE_FIELD_BYTES,
    _VALUE_TAGS,
    DEFAULT_CHUNK_ROWS,
    SEQ2SEQ_KEY_ORDER,
    BytesValue,
    Tensor,
    WriteStats,
    _varint_bytes,
)

# --------------------------------------------------------------------------------------------
# Sparse writer
# --------------------------------------------------------------------------------------------


def _csr_parts(matrix: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """(data, indices, indptr, shape) from a tuple or any CSR-like object (scipy not needed)."""
    import numpy as np

    if isinstance(matrix, tuple) and len(matrix) == 4:
        data, indices, indptr, shape = matrix
    else:
        if hasattr(matrix, "tocsr"):
            matrix = matrix.tocsr()  # duck-typed scipy sparse: CSR as the SDK does [SDK]
        try:
            data, indices, indptr, shape = matrix.data, matrix.indices, matrix.indptr, matrix.shape
        except AttributeError as exc:
            raise TypeError("sparse input must be (data, indices, indptr, shape) or CSR-like") from exc
    data = np.asarray(data)
    indices = np.asarray(indices)
    indptr = np.asarray(indptr, dtype=np.int64)
    rows, columns = (int(s) for s in shape)
    if data.ndim != 1 or indices.shape != data.shape:
        shapes = f"{data.shape} and {indices.shape}"
        raise ValueError(f"CSR data and indices must be vectors of one length, not {shapes}")
    if indptr.shape != (rows + 1,) or (rows + 1 and (indptr[0] != 0 or indptr[-1] != data.size)):
        raise ValueError(f"CSR indptr must have {rows + 1} entries from 0 to {data.size}")
    if rows and np.any(np.diff(indptr) < 0):
        raise ValueError("CSR indptr must not decrease")
    if indices.size and (indices.min() < 0 or indices.max() >= columns):
        raise ValueError(f"CSR column indices must lie in [0, {columns})")
    return data, indices, indptr, (rows, columns)


def _sparse_chunk(
    data: np.ndarray,
    indices: np.ndarray,
    indptr: np.ndarray,
    columns: int,
    y: np.ndarray | None,
    kind: str,
    label_kind: str | None,
) -> np.ndarray:
    """One chunk of sparse rows: values, keys (uint64) and shape [n_cols] per row [SDK, PROTO]."""
    import numpy as np

    rows = indptr.size - 1
    nnz = np.diff(indptr)
    present = nnz > 0  # empty packed fields are not written [PB]
    values, _ = _packed_values(kind, _as_wire(data, kind), nnz)
    keys_flat, key_counts = _varints(indices.astype(np.uint64))
    bounds = np.concatenate(([0], np.cumsum(key_counts)))
    key_bytes = bounds[indptr[1:]] - bounds[indptr[:-1]]
    tensor = _cat(
        _field(_TAG_VALUES, values, present),
        _field(_TAG_KEYS, _ragged(keys_flat, key_bytes), present),
        _const(rows, _hdr(_TAG_SHAPE, len(_varint_bytes(columns))) + _varint_bytes(columns)),
    )
    payload = _tensor_map_field(_TAG_FEATURES, _KEY_VALUES, kind, tensor)
    if y is not None and label_kind is not None:
        payload = _cat(payload, _label_parts(_as_wire(y, label_kind), label_kind))
    return _frame_parts(payload)


def _sparse_blocks(matrix: Any, labels: Any, chunk_rows: int) -> tuple[int, Iterator[np.ndarray]]:
    import numpy as np

    data, indices, indptr, (rows, columns) = _csr_parts(matrix)
    kind = _resolve_dtype(data.dtype, "sparse values")
    if kind == "int32":
        _check_int32(data, "sparse values")
    y = None
    label_kind = None
    if labels is not None:
        y = np.asarray(labels)
        if y.ndim != 1 or y.shape[0] != rows:
            raise ValueError(f"labels must be a vector of {rows} values (one per row), got shape {y.shape}")
        label_kind = _resolve_dtype(y.dtype, "labels")
        if label_kind == "int32":
            _check_int32(y, "labels")
    step = max(1, min(chunk_rows, _RAGGED_CHUNK_ROWS))

    def blocks() -> Iterator[np.ndarray]:
        for start in range(0, rows, step):
            stop = min(rows, start + step)
            lo, hi = int(indptr[start]), int(indptr[stop])
            yield _sparse_chunk(
                data[lo:hi],
                indices[lo:hi],
                indptr[start : stop + 1] - lo,
                columns,
                None if y is None else y[start:stop],
                kind,
                label_kind,
            )

    return rows, blocks()


def encode_sparse(matrix: Any, labels: Any = None) -> bytes:
    """Encode CSR rows as sparse RecordIO-protobuf, the bytes of the SDK's
    ``write_spmatrix_to_sparse_tensor`` [SDK, REF]. ``matrix`` is ``(data, indices, indptr, shape)``
    or any object with those attributes (a scipy matrix is converted with ``tocsr()``)."""
    _, blocks = _sparse_blocks(matrix, labels, DEFAULT_CHUNK_ROWS)
    return b"".join(block.tobytes() for block in blocks)


def write_sparse(
    dst: IO[bytes], matrix: Any, labels: Any = None, *, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> WriteStats:
    """Write CSR rows as sparse RecordIO-protobuf to a binary file in bounded chunks [SDK]."""
    rows, blocks = _sparse_blocks(matrix, labels, chunk_rows)
    written = chunks = 0
    for block in blocks:
        dst.write(block)
        written += block.size
        chunks += 1
    return WriteStats(records=rows, bytes_written=written, chunks=chunks)


# --------------------------------------------------------------------------------------------
# seq2seq writer
# --------------------------------------------------------------------------------------------


def _int_sequences(seqs: Sequence[Sequence[int]], what: str) -> tuple[np.ndarray, np.ndarray]:
    """(flat int64 tokens, lengths) for a list of int sequences, checked to the int32 range."""
    import numpy as np

    lengths = np.fromiter(map(len, seqs), np.int64, len(seqs))
    flat = np.fromiter(chain.from_iterable(seqs), np.int64, int(lengths.sum()))
    _check_int32(flat, what)
    return flat, lengths


def _seq2seq_chunk(sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]) -> np.ndarray:
    """Records with ``features["target"]`` then ``features["source"]`` as Int32 tensors [REF, PROTO]."""
    columns = {
        "source": _int_sequences(sources, "source tokens"),
        "target": _int_sequences(targets, "target tokens"),
    }
    fields = []
    for key in SEQ2SEQ_KEY_ORDER:
        flat, lengths = columns[key]
        body, nbytes = _packed_values("int32", flat, lengths)
        tensor = _field(_TAG_VALUES, body, nbytes > 0)  # an empty sequence leaves an empty tensor
        fields.append(_tensor_map_field(_TAG_FEATURES, key.encode(), "int32", tensor))
    return _frame_parts(_cat(*fields))


def _pairs(sources: Iterable[Sequence[int]], targets: Iterable[Sequence[int]]) -> Iterator[tuple[Any, Any]]:
    try:
        yield from zip(sources, targets, strict=True)
    except ValueError as exc:
        raise ValueError("sources and targets must hold the same number of sequences") from exc


def encode_seq2seq(sources: Iterable[Sequence[int]], targets: Iterable[Sequence[int]]) -> bytes:
    """Encode token-id sequence pairs as seq2seq RecordIO-protobuf (one record per pair) [REF]."""
    out = io.BytesIO()
    write_seq2seq(out, sources, targets)
    return out.getvalue()


def write_seq2seq(
    dst: IO[bytes],
    sources: Iterable[Sequence[int]],
    targets: Iterable[Sequence[int]],
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> WriteStats:
    """Stream token-id sequence pairs (any iterables) as seq2seq records in bounded chunks [REF]."""
    step = max(1, min(chunk_rows, _RAGGED_CHUNK_ROWS))
    pairs = _pairs(sources, targets)
    records = written = chunks = 0
    while True:
        batch = list(islice(pairs, step))
        if not batch:
            break
        block = _seq2seq_chunk([s for s, _ in batch], [t for _, t in batch])
        dst.write(block)
        records += len(batch)
        written += block.size
        chunks += 1
    return WriteStats(records=records, bytes_written=written, chunks=chunks)


# --------------------------------------------------------------------------------------------
# One record, any keys
# --------------------------------------------------------------------------------------------


def _encode_tensor_value(value: Tensor | BytesValue | Any) -> bytes:
    """A ``Value`` message for one tensor (or array-like, typed by its dtype) [PROTO, PB]."""
    import numpy as np

    if isinstance(value, BytesValue):
        body = b"".join(_hdr(0x0A, len(v)) + bytes(v) for v in value.values)
        if value.content_type is not None:
            ct = value.content_type.encode()
            body += _hdr(0x12, len(ct)) + ct
        return _hdr(_VALUE_FIELD_BYTES << 3 | 2, len(body)) + body
    if isinstance(value, Tensor):
        kind, values, keys, shape = value.dtype, np.asarray(value.values).ravel(), value.keys, value.shape
    else:
        values = np.asarray(value)
        kind, keys, shape = _resolve_dtype(values.dtype, "tensor values"), None, None
        values = values.ravel()
    if kind not in _VALUE_TAGS:
        raise ValueError(f"unknown tensor dtype {kind!r}")
    if kind == "int32":
        _check_int32(values, "tensor values")
        flat, _ = _varints(_as_wire(values, kind))
        packed = flat.tobytes()
    else:
        packed = _as_wire(values, kind).tobytes()
    body = _hdr(_TAG_VALUES, len(packed)) + packed if packed else b""
    for tag, run in ((_TAG_KEYS, keys), (_TAG_SHAPE, shape)):
        if run is not None and len(run):
            flat, _ = _varints(np.asarray(run, dtype=np.uint64))
            body += _hdr(tag, flat.size) + flat.tobytes()
    return _hdr(_VALUE_TAGS[kind], len(body)) + body


def encode_record(
    features: Mapping[str, Any],
    label: Mapping[str, Any] | None = None,
    *,
    uid: str | None = None,
    metadata: str | None = None,
    configuration: str | None = None,
) -> bytes:
    """Encode one ``Record`` payload (not framed; see ``frame``) with any map keys [PROTO, PB].

    Map values are ``Tensor``, ``BytesValue`` or array-likes typed by dtype. Entries are written
    in the mapping's order. For many rows use the vectorized writers instead.
    """
    out = bytearray()
    for map_tag, mapping in ((_TAG_FEATURES, features), (_TAG_LABEL, label or {})):
        for key, value in mapping.items():
            k = key.encode()
            v = _encode_tensor_value(value)
            entry = _hdr(_TAG_ENTRY_KEY, len(k)) + k + _hdr(_TAG_ENTRY_VALUE, len(v)) + v
            out += _hdr(map_tag, len(entry)) + entry
    for number, text in ((3, uid), (4, metadata), (5, configuration)):
        if text is not None:
            raw = text.encode()
            out += _hdr(number << 3 | 2, len(raw)) + raw
    return bytes(out)
