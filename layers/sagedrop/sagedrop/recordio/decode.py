"""Reading RecordIO-protobuf back (records, dense, sparse, seq2seq). Sources: ``sagedrop.recordio``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only; numpy is imported lazily at run time
    import numpy as np

from sagedrop.recordio._wire import (
    _varint_decode,
)
from sagedrop.recordio.dense import (
    _dense_layout,
)
from sagedrop.recordio.framing import (
    _CHUNK_BYTES,
    _ITEMSIZE,
    _RECORD_STRING_FIELDS,
    _U64,
    _VALUE_FIELD_BYTES,
    _VALUE_FIELDS,
    BytesValue,
    Frame,
    Record,
    RecordIOError,
    Source,
    SparseRows,
    Tensor,
    _frame_error,
    _open_read,
    _ProtoError,
    iter_frames,
    starts_with_magic,
)

# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------


def _read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    start = pos
    while True:
        if pos >= end:
            raise _ProtoError(start, "truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & _U64, pos
        shift += 7
        if shift >= 70:
            raise _ProtoError(start, "varint longer than 10 bytes")


def _fields(buf: bytes, pos: int, end: int) -> Iterator[tuple[int, int, Any, int]]:
    """(field number, wire type, value, tag position); LEN/I32/I64 values are (start, end) spans [PB]."""
    while pos < end:
        at = pos
        key, pos = _read_varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _ProtoError(at, "field number 0")
        if wire == 0:
            value, pos = _read_varint(buf, pos, end)
            yield number, wire, value, at
            continue
        if wire == 2:
            size, pos = _read_varint(buf, pos, end)
        elif wire == 1:
            size = 8
        elif wire == 5:
            size = 4
        else:
            raise _ProtoError(at, f"unsupported wire type {wire} for field {number}")
        if pos + size > end:
            raise _ProtoError(at, f"field {number} needs {size} bytes but only {end - pos} remain")
        yield number, wire, (pos, pos + size), at
        pos += size


def _expect_len(number: int, wire: int, at: int, what: str) -> None:
    if wire != 2:
        raise _ProtoError(at, f"{what} (field {number}) has wire type {wire}, expected 2 (length-delimited)")


def _decode_tensor(buf: bytes, start: int, end: int, kind: str) -> Tensor:
    import numpy as np

    values: list[np.ndarray] = []
    keys: list[np.ndarray] = []
    shape: list[np.ndarray] = []
    item = _ITEMSIZE.get(kind)
    scalar_wire = {"float32": 5, "float64": 1, "int32": 0}[kind]
    for number, wire, value, at in _fields(buf, start, end):
        if number == 1:
            if wire == 2:
                lo, hi = value
                if kind == "int32":
                    values.append(_varint_decode(buf, lo, hi).astype(np.uint32).view(np.int32))
                else:
                    assert item is not None
                    if (hi - lo) % item:
                        problem = f"packed {kind} values of {hi - lo} bytes (not a multiple of {item})"
                        raise _ProtoError(at, problem)
                    values.append(np.frombuffer(buf, f"<f{item}", (hi - lo) // item, lo).copy())
            elif wire == scalar_wire:
                if kind == "int32":
                    values.append(np.array([value & 0xFFFFFFFF], np.uint32).view(np.int32))
                else:
                    lo, hi = value
                    values.append(np.frombuffer(buf, f"<f{item}", 1, lo).copy())
            else:
                raise _ProtoError(at, f"tensor values have wire type {wire}")
        elif number in (2, 3):
            target = keys if number == 2 else shape
            if wire == 2:
                target.append(_varint_decode(buf, *value))
            elif wire == 0:
                target.append(np.array([value], np.uint64))
            else:
                raise _ProtoError(at, f"tensor {'keys' if number == 2 else 'shape'} have wire type {wire}")
    dtype = {"float32": "<f4", "float64": "<f8", "int32": "<i4"}[kind]
    return Tensor(
        dtype=kind,
        values=np.concatenate(values).astype(dtype, copy=False) if values else np.empty(0, dtype),
        keys=np.concatenate(keys) if keys else None,
        shape=tuple(int(s) for s in np.concatenate(shape)) if shape else None,
    )


def _decode_bytes_value(buf: bytes, start: int, end: int) -> BytesValue:
    out = BytesValue(values=[])
    for number, wire, value, at in _fields(buf, start, end):
        if number in (1, 2):
            _expect_len(number, wire, at, "Bytes field")
            raw = bytes(buf[value[0] : value[1]])
            if number == 1:
                out.values.append(raw)
            else:
                out.content_type = _utf8(raw, at)
    return out


def _decode_value(buf: bytes, start: int, end: int) -> Tensor | BytesValue | None:
    result: Tensor | BytesValue | None = None
    for number, wire, value, at in _fields(buf, start, end):
        if number in _VALUE_FIELDS:
            _expect_len(number, wire, at, f"{_VALUE_FIELDS[number]}_tensor")
            result = _decode_tensor(buf, value[0], value[1], _VALUE_FIELDS[number])
        elif number == _VALUE_FIELD_BYTES:
            _expect_len(number, wire, at, "bytes")
            result = _decode_bytes_value(buf, value[0], value[1])
    return result


def _utf8(raw: bytes, at: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _ProtoError(at, f"string is not UTF-8: {exc.reason}") from None


def _decode_entry(buf: bytes, start: int, end: int) -> tuple[str, Tensor | BytesValue | None]:
    key = ""
    value: Tensor | BytesValue | None = None
    for number, wire, span, at in _fields(buf, start, end):
        if number == 1:
            _expect_len(number, wire, at, "map key")
            key = _utf8(bytes(buf[span[0] : span[1]]), at)
        elif number == 2:
            _expect_len(number, wire, at, "map value")
            value = _decode_value(buf, span[0], span[1])
    return key, value


def _decode(buf: bytes) -> Record:
    record = Record()
    for number, wire, span, at in _fields(buf, 0, len(buf)):
        if number in (1, 2):
            _expect_len(number, wire, at, "features" if number == 1 else "label")
            key, value = _decode_entry(buf, span[0], span[1])
            (record.features if number == 1 else record.label)[key] = value
        elif number in _RECORD_STRING_FIELDS:
            _expect_len(number, wire, at, _RECORD_STRING_FIELDS[number])
            setattr(record, _RECORD_STRING_FIELDS[number], _utf8(bytes(buf[span[0] : span[1]]), at))
    return record


def decode_record(payload: bytes | bytearray | memoryview) -> Record:
    """Decode one ``Record`` payload [PROTO, PB]; malformed input raises ``RecordIOError``."""
    buf = bytes(payload)
    try:
        return _decode(buf)
    except _ProtoError as exc:
        raise RecordIOError(f"invalid Record protobuf at payload byte {exc.pos}: {exc}") from None


def read_records(src: Source) -> Iterator[Record]:
    """Decode every record of a RecordIO-protobuf stream (bytes, path or binary file)."""
    for frame_ in iter_frames(src):
        yield _decode_framed(frame_)


def _read_all(src: Source) -> bytes:
    if isinstance(src, (bytes, bytearray, memoryview)):
        return bytes(src)
    reader, owned = _open_read(src)
    try:
        return bytes(reader.read())
    finally:
        if owned:
            reader.close()


def _dense_tensor(value: Any, index: int, offset: int, what: str) -> Tensor:
    if not isinstance(value, Tensor) or value.is_sparse:
        got = "missing" if value is None else ("sparse" if isinstance(value, Tensor) else "not a tensor")
        raise RecordIOError(
            f"record index {index} at byte offset {offset}: {what} is {got}, expected a dense tensor",
            record=index,
            offset=offset,
        )
    return value


def _fast_dense(data: bytes) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Vectorized read when every record has the first record's fixed layout, else None."""
    import numpy as np

    try:
        first = next(iter_frames(data), None)
        if first is None:
            return None
        record = decode_record(first.payload)
    except RecordIOError:
        return None  # the record-by-record path reports it with its index and offset
    features = record.features.get("values") if len(record.features) == 1 else None
    if not isinstance(features, Tensor) or features.is_sparse or features.values.size == 0:
        return None
    label = record.label.get("values") if len(record.label) == 1 else None
    if record.label and (not isinstance(label, Tensor) or label.values.size != 1 or label.is_sparse):
        return None
    if features.shape is not None or (label is not None and label.shape is not None):
        return None
    label_kind = label.dtype if label is not None else None
    layout = _dense_layout(features.values.size, features.dtype, label_kind)
    if layout is None or len(data) % layout.size:
        return None
    rows = len(data) // layout.size
    table = np.frombuffer(data, np.uint8).reshape(rows, layout.size)
    fo, fb, lo, lb = layout.feature_offset, layout.feature_bytes, layout.label_offset, layout.label_bytes
    spans = [(0, fo), (fo + fb, lo if label_kind else layout.size)]
    if label_kind:
        spans.append((lo + lb, layout.size))
    step = max(1, _CHUNK_BYTES // layout.size)
    for start in range(0, rows, step):
        block = table[start : start + step]
        for a, b in spans:
            expected = np.broadcast_to(layout.template[a:b], (len(block), b - a))
            if b > a and not np.array_equal(block[:, a:b], expected):
                return None
    x = np.ascontiguousarray(table[:, fo : fo + fb]).view("<f4" if features.dtype == "float32" else "<f8")
    y = None
    if label_kind:
        y = np.ascontiguousarray(table[:, lo : lo + lb]).view(f"<f{lb}").reshape(rows)
    return x.reshape(rows, features.values.size), y


def read_dense(src: Source) -> tuple[np.ndarray, np.ndarray | None]:
    """Read dense records back into ``(features[rows, columns], labels[rows] or None)``.

    When every record shares the fixed float layout the writers produce, the whole file is
    sliced as a 2-D byte table (no per-record work); otherwise records are decoded one by one.
    """
    import numpy as np

    data = _read_all(src)
    if len(data) >= 8 and starts_with_magic(data):
        fast = _fast_dense(data)
        if fast is not None:
            return fast
    rows: list[np.ndarray] = []
    labels: list[Any] = []
    label_kind: str | None = None
    has_label: bool | None = None
    for frame_ in iter_frames(data):
        record = _decode_framed(frame_)
        x = _dense_tensor(record.features.get("values"), frame_.index, frame_.offset, 'features["values"]')
        if rows and (x.values.size != rows[0].size or x.values.dtype != rows[0].dtype):
            raise _frame_error(
                frame_.index,
                frame_.offset,
                f"{x.values.size} {x.dtype} features, earlier records had {rows[0].size} {rows[0].dtype}",
            )
        rows.append(x.values)
        if has_label is None:
            has_label = bool(record.label)
        elif has_label != bool(record.label):
            raise _frame_error(
                frame_.index,
                frame_.offset,
                "labels present in some records only",
            )
        if record.label:
            y = _dense_tensor(record.label.get("values"), frame_.index, frame_.offset, 'label["values"]')
            label_kind = y.dtype
            labels.append(y.values[0] if y.values.size == 1 else y.values)
    if not rows:
        return np.empty((0, 0), np.float32), None
    features = np.stack(rows)
    if not labels:
        return features, None
    dtype = {"float32": np.float32, "float64": np.float64, "int32": np.int32}[label_kind or "float32"]
    return features, np.asarray(labels, dtype=dtype)


def _decode_framed(frame_: Frame) -> Record:
    try:
        return _decode(frame_.payload)
    except _ProtoError as exc:
        raise _frame_error(
            frame_.index,
            frame_.offset,
            f"invalid Record protobuf at payload byte {exc.pos}: {exc}",
        ) from None


def read_sparse(src: Source) -> SparseRows:
    """Read sparse (or dense) ``features["values"]`` records back into CSR arrays and labels."""
    import numpy as np

    data: list[np.ndarray] = []
    indices: list[np.ndarray] = []
    counts: list[int] = []
    labels: list[Any] = []
    columns = 0
    for frame_ in iter_frames(src):
        record = _decode_framed(frame_)
        x = record.features.get("values")
        if not isinstance(x, Tensor):
            raise _frame_error(
                frame_.index,
                frame_.offset,
                'features["values"] is not a tensor',
            )
        keys = x.keys if x.keys is not None else np.arange(x.values.size, dtype=np.uint64)
        if keys.size != x.values.size:
            raise _frame_error(
                frame_.index,
                frame_.offset,
                f"{keys.size} keys for {x.values.size} values",
            )
        width = x.shape[0] if x.shape else (int(keys.max()) + 1 if keys.size else 0)
        columns = max(columns, width)
        data.append(x.values)
        indices.append(keys.astype(np.int64))
        counts.append(x.values.size)
        if record.label:
            y = _dense_tensor(record.label.get("values"), frame_.index, frame_.offset, 'label["values"]')
            labels.append(y.values[0])
        elif labels:
            raise _frame_error(
                frame_.index,
                frame_.offset,
                "labels present in some records only",
            )
    indptr = np.concatenate(([0], np.cumsum(counts, dtype=np.int64)))
    dtype = data[0].dtype if data else np.float32
    return SparseRows(
        data=np.concatenate(data) if data else np.empty(0, dtype),
        indices=np.concatenate(indices) if indices else np.empty(0, np.int64),
        indptr=indptr,
        shape=(len(counts), columns),
        labels=np.asarray(labels) if labels else None,
    )


def read_seq2seq(src: Source) -> tuple[list[list[int]], list[list[int]]]:
    """Read seq2seq records back into (sources, targets) lists of token ids [REF]."""
    sources: list[list[int]] = []
    targets: list[list[int]] = []
    for frame_ in iter_frames(src):
        record = _decode_framed(frame_)
        pair = []
        for key in ("source", "target"):
            tensor = record.features.get(key)
            if not isinstance(tensor, Tensor) or tensor.dtype != "int32":
                raise _frame_error(
                    frame_.index,
                    frame_.offset,
                    f'features["{key}"] is not an int32 tensor',
                )
            pair.append(tensor.values.tolist())
        sources.append(pair[0])
        targets.append(pair[1])
    return sources, targets


def feature_width(sample: bytes) -> int | None:
    """Features per record of RecordIO-protobuf data, from the first record of the sample: the ``values``
    feature tensor's ``shape`` (sparse records) or its length (dense). None when the first record does
    not fit the sample or has no such tensor. Field numbers: [PROTO]; no numpy."""
    try:
        payload = next(iter_frames(sample)).payload
        for number, _, span, _ in _fields(payload, 0, len(payload)):
            if number != 1:  # Record.features: map entries (key = 1, value = 2)
                continue
            entry = {n: v for n, _, v, _ in _fields(payload, *span)}
            if 1 not in entry or payload[slice(*entry[1])] != b"values" or 2 not in entry:
                continue
            for kind, _, tensor, _ in _fields(payload, *entry[2]):
                if kind in _VALUE_FIELDS:
                    return _tensor_width(payload, tensor, _VALUE_FIELDS[kind])
    except (StopIteration, ValueError, RecordIOError, _ProtoError):
        return None
    return None


def _tensor_width(payload: bytes, span: tuple[int, int], kind: str) -> int | None:
    """shape[0] when the tensor has a shape (sparse), else the number of packed values."""
    count = 0
    for number, wire, value, _ in _fields(payload, *span):
        if number == 3:  # shape
            return _read_varint(payload, value[0], value[1])[0] if wire == 2 else int(value)
        if number == 1:
            if wire != 2:
                count += 1
            elif kind == "int32":
                count += sum(1 for byte in payload[value[0] : value[1]] if byte < 0x80)
            else:
                count += (value[1] - value[0]) // _ITEMSIZE[kind]
    return count or None
