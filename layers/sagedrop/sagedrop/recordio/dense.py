"""Dense RecordIO-protobuf writer and CSV -> RecordIO. Sources: ``sagedrop.recordio``."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import IO, TYPE_CHECKING, Any, TextIO

from sagedrop.csvblocks import CsvFormatError

if TYPE_CHECKING:  # pragma: no cover - typing only; numpy is imported lazily at run time
    import numpy as np

from sagedrop.recordio._wire import (
    _as_wire,
    _cat,
    _check_int32,
    _field,
    _frame_parts,
    _label_parts,
    _packed_values,
    _resolve_dtype,
    _scalar_map_prefix,
    _tensor_map_field,
)
from sagedrop.recordio.framing import (
    _CHUNK_BYTES,
    _ITEMSIZE,
    _KEY_VALUES,
    _RAGGED_CHUNK_ROWS,
    _TAG_FEATURES,
    _TAG_LABEL,
    _TAG_VALUES,
    DEFAULT_CHUNK_ROWS,
    MAGIC_BYTES,
    MAX_RECORD_BYTES,
    CsvConversionStats,
    WriteStats,
)

# --------------------------------------------------------------------------------------------
# Dense writer
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # hashed by identity: layouts are cached (``_dense_layout``)
class _DenseLayout:
    """Byte template of one fixed-width dense record (float features, float or no label)."""

    template: np.ndarray  # uint8, whole framed record with zeros where data goes
    feature_offset: int
    feature_bytes: int
    label_offset: int
    label_bytes: int

    @property
    def size(self) -> int:
        return int(self.template.size)

    def rows_per_chunk(self, chunk_rows: int, chunk_bytes: int = _CHUNK_BYTES) -> int:
        """Rows per encoded chunk: at most ``chunk_rows`` and about ``chunk_bytes`` of output."""
        return max(1, min(chunk_rows, chunk_bytes // self.size))

    def template_block(self, rows: int) -> np.ndarray:
        """At least ``rows`` copies of the template, back to back: one memory copy stamps a whole
        chunk. Read-only; the block of a whole chunk is built once per layout and chunk size."""
        return _template_block(self, max(rows, self.rows_per_chunk(DEFAULT_CHUNK_ROWS)))


@lru_cache(maxsize=16)
def _template_block(layout: _DenseLayout, rows: int) -> np.ndarray:
    import numpy as np

    block = np.tile(layout.template, rows)
    block.flags.writeable = False
    return block


@lru_cache(maxsize=64)
def _dense_layout(columns: int, kind: str, label_kind: str | None) -> _DenseLayout | None:
    """The fixed layout when every record has the same bytes outside the data, else None.

    Float features of equal width and a float (or no) label give identical headers, lengths
    and padding for every row [PROTO, PB, SDK]; integer values are varints of varying width.
    """
    import numpy as np

    if kind == "int32" or label_kind == "int32":
        return None
    feature_bytes = columns * _ITEMSIZE[kind]
    features = _scalar_map_prefix(_TAG_FEATURES, _KEY_VALUES, kind, feature_bytes)
    label = b""
    label_bytes = 0
    if label_kind is not None:
        label_bytes = _ITEMSIZE[label_kind]
        label = _scalar_map_prefix(_TAG_LABEL, _KEY_VALUES, label_kind, label_bytes)
    payload = len(features) + feature_bytes + len(label) + label_bytes
    if payload > MAX_RECORD_BYTES:
        raise ValueError(f"a record of {columns} columns exceeds the {MAX_RECORD_BYTES}-byte RecordIO limit")
    head = MAGIC_BYTES + struct.pack("<I", payload)
    template = head + features + b"\0" * feature_bytes + label + b"\0" * label_bytes + b"\0" * (-payload & 3)
    feature_offset = len(head) + len(features)
    return _DenseLayout(
        template=np.frombuffer(template, np.uint8).copy(),
        feature_offset=feature_offset,
        feature_bytes=feature_bytes,
        label_offset=feature_offset + feature_bytes + len(label),
        label_bytes=label_bytes,
    )


def _fill_dense(out: np.ndarray, layout: _DenseLayout, block: np.ndarray, x: np.ndarray, y: np.ndarray | None) -> None:
    """Encode rows into the flat uint8 ``out`` (rows x record size bytes), in three copies.

    ``block`` holds at least as many template records as there are rows: one contiguous copy
    stamps every header, protobuf prefix and padding byte, then the feature bytes go in as one
    2-D copy (a row of values per record) and the labels as one strided column. Each output
    byte is written at most twice, with no per-record Python work.
    """
    out[:] = block[: x.shape[0] * layout.size]
    _fill_values(out, layout, x, y)


def _fill_values(out: np.ndarray, layout: _DenseLayout, x: np.ndarray, y: np.ndarray | None) -> None:
    """Copy the rows' features and labels into records whose other bytes are already in ``out``."""
    import numpy as np

    rows = x.shape[0]
    size, fo, fb = layout.size, layout.feature_offset, layout.feature_bytes
    out.reshape(rows, size)[:, fo : fo + fb] = x.view(np.uint8).reshape(rows, fb)
    if y is not None:
        lb = layout.label_bytes
        column = np.ndarray((rows,), dtype=f"<u{lb}", buffer=out, offset=layout.label_offset, strides=(size,))
        column[:] = y.view(f"<u{lb}")


def _check_dense(features: Any, labels: Any) -> tuple[np.ndarray, np.ndarray | None, str, str | None]:
    import numpy as np

    x = np.asarray(features)
    if x.ndim != 2:
        raise ValueError(f"features must be a 2-D array (rows x columns), got shape {x.shape}")
    if x.shape[1] < 1:
        raise ValueError("features need at least one column")
    kind = _resolve_dtype(x.dtype, "features")
    if kind == "int32":
        _check_int32(x, "features")
    y = None
    label_kind = None
    if labels is not None:
        y = np.asarray(labels)
        if y.ndim != 1 or y.shape[0] != x.shape[0]:
            raise ValueError(f"labels must be a vector of {x.shape[0]} values (one per row), not {y.shape}")
        label_kind = _resolve_dtype(y.dtype, "labels")
        if label_kind == "int32":
            _check_int32(y, "labels")
    return x, y, kind, label_kind


def _dense_ragged_chunk(x: np.ndarray, y: np.ndarray | None, kind: str, label_kind: str | None) -> np.ndarray:
    """General (variable-length) dense encoding, used when integers make lengths vary."""
    import numpy as np

    rows, columns = x.shape
    xw = _as_wire(x, kind)
    body, _ = _packed_values(kind, xw.ravel(), np.full(rows, columns, np.int64))
    payload = _tensor_map_field(_TAG_FEATURES, _KEY_VALUES, kind, _field(_TAG_VALUES, body))
    if y is not None and label_kind is not None:
        payload = _cat(payload, _label_parts(_as_wire(y, label_kind), label_kind))
    return _frame_parts(payload)


def _dense_blocks(
    x: np.ndarray,
    y: np.ndarray | None,
    kind: str,
    label_kind: str | None,
    chunk_rows: int,
    buffers: int = 1,
    chunk_bytes: int = _CHUNK_BYTES,
) -> Iterator[np.ndarray]:
    """Encoded chunks (flat uint8); the fixed layout takes turns between ``buffers`` buffers of about
    ``chunk_bytes`` (a chunk is overwritten ``buffers`` chunks later)."""

    rows = x.shape[0]
    layout = _dense_layout(x.shape[1], kind, label_kind)
    if layout is None:
        step = max(1, min(chunk_rows, _RAGGED_CHUNK_ROWS))
        for start in range(0, rows, step):
            stop = min(rows, start + step)
            yield _dense_ragged_chunk(x[start:stop], None if y is None else y[start:stop], kind, label_kind)
        return
    step = layout.rows_per_chunk(chunk_rows, chunk_bytes)
    # one buffer for every chunk, sized to the largest: the bytes around the values (headers,
    # protobuf prefixes, padding) are the same in every record, so they are stamped in once
    stamped = layout.template_block(min(step, rows))[: min(step, rows) * layout.size]
    turns = [stamped.copy() for _ in range(buffers)]
    for number, start in enumerate(range(0, rows, step)):
        stop = min(rows, start + step)
        out = turns[number % buffers][: (stop - start) * layout.size]
        yc = None if y is None or label_kind is None else _as_wire(y[start:stop], label_kind)
        _fill_values(out, layout, _as_wire(x[start:stop], kind), yc)
        yield out


def _encode_dense_into(
    out: np.ndarray,
    layout: _DenseLayout,
    x: np.ndarray,
    y: np.ndarray | None,
    kinds: tuple[str, str | None],
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> None:
    """Encode every row straight into ``out`` (flat uint8 of rows x record size), chunk by chunk."""
    kind, label_kind = kinds
    rows = x.shape[0]
    step = layout.rows_per_chunk(chunk_rows)
    block = layout.template_block(min(step, rows))
    size = layout.size
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        yc = None if y is None or label_kind is None else _as_wire(y[start:stop], label_kind)
        _fill_dense(out[start * size : stop * size], layout, block, _as_wire(x[start:stop], kind), yc)


def encode_dense_array(
    features: Any,
    labels: Any = None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> np.ndarray:
    """Encode a 2-D array (and optional labels) as RecordIO-protobuf into one uint8 numpy array.

    The same bytes as the SDK's ``write_numpy_to_dense_tensor`` [SDK, REF], without a copy into
    ``bytes``: pass it to ``file.write``, ``memoryview`` or ``hashlib`` as is. One record per row:
    ``features["values"]`` holds the row and ``label["values"]`` the row's label. The tensor type
    follows the dtype: float32, float64, or Int32 for integer arrays (values must fit int32).
    """
    import numpy as np

    x, y, kind, label_kind = _check_dense(features, labels)
    layout = _dense_layout(x.shape[1], kind, label_kind)
    if layout is None:
        blocks = list(_dense_blocks(x, y, kind, label_kind, chunk_rows))
        return np.concatenate(blocks) if blocks else np.empty(0, np.uint8)
    out = np.empty(x.shape[0] * layout.size, np.uint8)
    _encode_dense_into(out, layout, x, y, (kind, label_kind), chunk_rows)
    return out


def encode_dense(features: Any, labels: Any = None) -> bytes:
    """Encode a 2-D array (and optional labels) as RecordIO-protobuf ``bytes`` [SDK].

    See ``encode_dense_array`` for the layout. The fixed float layout is encoded in place into
    the storage of the ``bytes`` object that is returned (a ``BytesIO`` buffer sized once and
    handed over by ``getvalue()`` without a copy), so no second copy of the output is made.
    """
    import numpy as np

    x, y, kind, label_kind = _check_dense(features, labels)
    layout = _dense_layout(x.shape[1], kind, label_kind)
    out = io.BytesIO()
    if layout is None:
        write_dense(out, x, y)
        return out.getvalue()
    total = x.shape[0] * layout.size
    if total:
        out.seek(total - 1)
        out.write(b"\0")  # sizes the buffer once (zero-filled)
        view = out.getbuffer()
        try:
            _encode_dense_into(np.frombuffer(view, np.uint8), layout, x, y, (kind, label_kind))
        finally:
            view.release()  # getvalue() hands over the buffer only when nothing else holds it
    return out.getvalue()


def write_dense(
    dst: IO[bytes], features: Any, labels: Any = None, *, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> WriteStats:
    """Write a 2-D array (and optional labels) to a binary file in bounded chunks [SDK].

    To an operating-system file, a large output is written behind: a second thread writes each chunk
    while the next is encoded into the other of two buffers (the write releases the GIL, as numpy's
    copies do), so encoding and the kernel's copy into the page cache overlap."""
    x, y, kind, label_kind = _check_dense(features, labels)
    layout = _dense_layout(x.shape[1], kind, label_kind)
    behind = layout is not None and x.shape[0] * layout.size >= _WRITE_BEHIND_BYTES and _is_os_file(dst)
    if not behind:
        written, chunks = _write_all(dst, _dense_blocks(x, y, kind, label_kind, chunk_rows))
    else:
        blocks = _dense_blocks(x, y, kind, label_kind, chunk_rows, buffers=2, chunk_bytes=_BEHIND_CHUNK_BYTES)
        written, chunks = _write_behind(dst, blocks)
    return WriteStats(records=x.shape[0], bytes_written=written, chunks=chunks)


_WRITE_BEHIND_BYTES = 4 << 20
"""Outputs from this size on are written behind (``write_dense``): a thread costs about 0.1 ms to start."""
_BEHIND_CHUNK_BYTES = 1 << 20
"""Chunks written behind are larger: each hand-over to the writing thread costs tens of microseconds
(benchmarks/recordio_bench.py, 300,000 x 11 rows to a file here: 256 KiB chunks written behind were
slower than in one thread, 1 MiB chunks about 1.3x faster)."""


def _write_all(dst: IO[bytes], blocks: Iterable[np.ndarray]) -> tuple[int, int]:
    written = chunks = 0
    for block in blocks:
        dst.write(block)
        written += block.size
        chunks += 1
    return written, chunks


def _write_behind(dst: IO[bytes], blocks: Iterable[np.ndarray]) -> tuple[int, int]:
    """Write each block in a second thread while the next is made; at most one write runs, in order.

    ``blocks`` must take turns between two buffers: block i is made after write i - 2 has ended."""
    from concurrent.futures import Future, ThreadPoolExecutor

    written = chunks = 0
    with ThreadPoolExecutor(1, thread_name_prefix="recordio-write") as writer:
        pending: Future[Any] | None = None
        for block in blocks:  # made while the previous write runs
            if pending is not None:
                pending.result()
            pending = writer.submit(dst.write, block)
            written += block.size
            chunks += 1
        if pending is not None:
            pending.result()
    return written, chunks


def _is_os_file(dst: Any) -> bool:
    """Whether ``dst`` writes to an operating-system file (its writes release the GIL)."""
    try:
        dst.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return False
    return True


def write_dense_chunks(
    dst: IO[bytes], chunks: Iterable[tuple[Any, Any]], *, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> WriteStats:
    """Stream ``(features, labels_or_None)`` row chunks to ``dst``; every chunk must have the same
    column count, and labels must be given for all chunks or none. Memory stays bounded by the
    largest input chunk plus one encoded chunk."""
    records = written = count = 0
    columns: int | None = None
    labelled: bool | None = None
    for number, (features, labels) in enumerate(chunks):
        x, y, kind, label_kind = _check_dense(features, labels)
        if columns is None:
            columns, labelled = x.shape[1], y is not None
        elif x.shape[1] != columns:
            raise ValueError(f"chunk {number} has {x.shape[1]} columns, earlier chunks had {columns}")
        elif (y is not None) != labelled:
            which = "has" if y is not None else "lacks"
            raise ValueError(f"chunk {number} {which} labels, unlike earlier chunks")
        for block in _dense_blocks(x, y, kind, label_kind, chunk_rows):
            dst.write(block)
            written += block.size
            count += 1
        records += x.shape[0]
    return WriteStats(records=records, bytes_written=written, chunks=count)


# --------------------------------------------------------------------------------------------
# CSV -> RecordIO
# --------------------------------------------------------------------------------------------


def csv_to_recordio(
    src: TextIO | IO[bytes] | Iterable[str],
    dst_binaryio: IO[bytes],
    *,
    label_first: bool = True,
    dtype: str = "float32",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> CsvConversionStats:
    """Stream a headerless numeric CSV into dense RecordIO-protobuf, one block of lines at a time.

    ``src`` is a binary or text file object, or an iterable of lines. With ``label_first`` (the
    SageMaker CSV training layout) column 1 becomes ``label["values"]`` and the rest
    ``features["values"]``; without it every column is a feature and no label is written (the
    inference layout). Values and labels use ``dtype`` ("float32" or "float64"), parsed exactly
    (``sagedrop.csvblocks``). Blank lines are skipped. A non-numeric value or a changed column
    count raises ``CsvFormatError`` naming the 1-based line and column. Memory is bounded by one
    block of CSV (about 1 MiB) and its encoded records; ``chunk_rows`` bounds the encoded chunks.
    """
    from sagedrop.csvblocks import CsvReader

    kind = _resolve_dtype(dtype, "csv_to_recordio")
    if kind == "int32":
        raise ValueError("csv_to_recordio writes float32 or float64 values")
    reader = CsvReader(src, dtype=kind)
    blank = rows = written = chunks = 0
    for block in reader:
        table = block.table
        blank += block.blank
        if not table.shape[0]:
            continue
        if label_first and table.shape[1] < 2:
            line = reader.line - block.lines + 1
            raise CsvFormatError(
                f"line {line}: {table.shape[1]} column; label_first needs a label and a feature", line=line
            )
        if label_first:
            x, y = table[:, 1:], table[:, 0]
            label_kind: str | None = kind
        else:
            x, y, label_kind = table, None, None
        for encoded in _dense_blocks(x, y, kind, label_kind, chunk_rows):
            dst_binaryio.write(encoded)
            written += encoded.size
            chunks += 1
        rows += table.shape[0]
    columns = reader.columns
    feature_columns = 0 if columns is None else columns - (1 if label_first else 0)
    return CsvConversionStats(
        rows=rows,
        feature_columns=feature_columns,
        has_label=label_first,
        lines_read=reader.line,
        blank_lines=blank,
        bytes_written=written,
        chunks=chunks,
    )
