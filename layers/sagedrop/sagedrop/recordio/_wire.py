"""numpy helpers shared by the RecordIO-protobuf encoders (varints, byte pieces). Sources: ``sagedrop.recordio``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only; numpy is imported lazily at run time
    import numpy as np

from sagedrop.recordio.framing import (
    _INT32_MAX,
    _INT32_MIN,
    _ITEMSIZE,
    _KEY_VALUES,
    _TAG_ENTRY_KEY,
    _TAG_ENTRY_VALUE,
    _TAG_LABEL,
    _TAG_VALUES,
    _VALUE_TAGS,
    MAGIC_BYTES,
    MAX_RECORD_BYTES,
    _ProtoError,
    _varint_bytes,
)

# --------------------------------------------------------------------------------------------
# numpy helpers shared by the encoders
# --------------------------------------------------------------------------------------------


def _resolve_dtype(dtype: Any, what: str) -> str:
    """Tensor type for a numpy dtype [SDK ``_resolve_type``], accepting any integer width for Int32."""
    import numpy as np

    dt = np.dtype(dtype)
    if dt.kind == "f" and dt.itemsize == 4:
        return "float32"
    if dt.kind == "f" and dt.itemsize == 8:
        return "float64"
    if dt.kind in "iu":
        return "int32"
    raise ValueError(f"unsupported dtype {dt} for {what}: use float32, float64 or integers in int32 range")


def _check_int32(values: np.ndarray, what: str) -> None:
    if values.size and (values.min() < _INT32_MIN or values.max() > _INT32_MAX):
        raise ValueError(f"{what} hold values outside the int32 range [{_INT32_MIN}, {_INT32_MAX}]")


def _as_wire(values: np.ndarray, kind: str) -> np.ndarray:
    """Little-endian, C-contiguous values as the SDK puts them on the wire (NaN rule) [REF]."""
    import numpy as np

    if kind == "float32":
        out = np.ascontiguousarray(values, dtype="<f4")
        if out.size and np.isnan(out.max()):  # max() propagates NaN: one cheap pass
            bits = out.view("<u4")
            nan = (bits & 0x7F800000 == 0x7F800000) & (bits & 0x007FFFFF != 0)
            out = out.copy()  # never touch the caller's array
            bits = out.view("<u4")
            bits[nan] |= np.uint32(0x00400000)  # double round trip sets the quiet bit [REF]
        return out
    if kind == "float64":
        return np.ascontiguousarray(values, dtype="<f8")
    return np.ascontiguousarray(values, dtype=np.int64)


def _varints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorized varint encoding: (flat bytes, bytes per value) [PB]. Negative ints sign-extend."""
    import numpy as np

    v = np.asarray(values)
    signed = v.dtype.kind == "i"  # two's complement: a negative int32 is a 10-byte varint [PB]
    v = v.astype(np.int64, copy=False).view(np.uint64) if signed else v.astype(np.uint64, copy=False)
    v = v.ravel()
    if v.size == 0:
        return np.empty(0, np.uint8), np.empty(0, np.int64)
    counts = np.ones(v.size, np.int64)
    vmax = int(v.max())
    width = 1
    while width < 10 and vmax >> (7 * width):
        counts += v >= np.uint64(1 << (7 * width))
        width += 1
    if width == 1:
        return v.astype(np.uint8), counts
    mat = np.empty((v.size, width), np.uint8)
    for j in range(width):
        low7 = ((v >> np.uint64(7 * j)) & np.uint64(0x7F)).astype(np.uint8)
        mat[:, j] = low7 | ((counts > j + 1).astype(np.uint8) << 7)
    return mat[np.arange(width) < counts[:, None]], counts


def _varint_decode(buf: bytes | memoryview, start: int, end: int) -> np.ndarray:
    """Vectorized decoding of a packed run of varints to uint64 [PB]; raises ``_ProtoError``."""
    import numpy as np

    a = np.frombuffer(buf, np.uint8, end - start, start)
    if a.size == 0:
        return np.empty(0, np.uint64)
    last = a < 0x80
    if not last[-1]:
        raise _ProtoError(end, "packed varints end in the middle of a varint")
    ends = np.flatnonzero(last)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    sizes = ends - starts + 1
    if sizes.max() > 10:
        bad = int(starts[np.argmax(sizes > 10)])
        raise _ProtoError(start + bad, "varint longer than 10 bytes")
    position = np.arange(a.size) - np.repeat(starts, sizes)
    parts = (a & 0x7F).astype(np.uint64) << (7 * position).astype(np.uint64)
    return np.add.reduceat(parts, starts)


class _Parts:
    """Per-record byte pieces for ``n`` records, assembled into one buffer once (``_assemble``).

    A piece is ``bytes`` (the same for every record), a 2-D uint8 array (one fixed-width row per
    record) or ``(flat uint8, lengths)`` (a ragged run per record, concatenated in record order).
    """

    __slots__ = ("lengths", "n", "pieces")

    def __init__(self, n: int, pieces: list[Any], lengths: np.ndarray) -> None:
        self.n = n
        self.pieces = pieces
        self.lengths = lengths


def _const(n: int, data: bytes) -> _Parts:
    import numpy as np

    return _Parts(n, [data], np.full(n, len(data), np.int64))


def _fixed(rows: np.ndarray) -> _Parts:
    import numpy as np

    return _Parts(rows.shape[0], [rows], np.full(rows.shape[0], rows.shape[1], np.int64))


def _ragged(flat: np.ndarray, lengths: np.ndarray) -> _Parts:
    return _Parts(len(lengths), [(flat, lengths)], lengths)


def _cat(*parts: _Parts) -> _Parts:
    pieces: list[Any] = []
    for p in parts:
        pieces.extend(p.pieces)
    lengths = parts[0].lengths.copy()
    for p in parts[1:]:
        lengths += p.lengths
    return _Parts(parts[0].n, pieces, lengths)


def _field(tag: int, inner: _Parts, present: np.ndarray | None = None) -> _Parts:
    """Wrap ``inner`` as a length-delimited field; rows where ``present`` is False get nothing [PB]."""
    import numpy as np

    n = inner.n
    if present is None:
        head, head_len = _varints(inner.lengths)
        return _Parts(n, [bytes((tag,)), (head, head_len), *inner.pieces], inner.lengths + 1 + head_len)
    present_len = present.astype(np.int64)
    head, counts = _varints(inner.lengths[present])
    head_len = np.zeros(n, np.int64)
    head_len[present] = counts
    tags = (np.full(int(present_len.sum()), tag, np.uint8), present_len)
    return _Parts(n, [tags, (head, head_len), *inner.pieces], inner.lengths + present_len + head_len)


def _assemble(parts: _Parts) -> np.ndarray:
    """Interleave the pieces record by record into one flat uint8 buffer (vectorized scatter)."""
    import numpy as np

    n = parts.n
    total = parts.lengths
    ends = np.cumsum(total)
    out = np.empty(int(ends[-1]) if n else 0, np.uint8)
    if not n:
        return out
    pos = ends - total
    for piece in parts.pieces:
        if isinstance(piece, bytes):
            if piece:
                out[pos[:, None] + np.arange(len(piece))] = np.frombuffer(piece, np.uint8)
                pos += len(piece)
        elif isinstance(piece, tuple):
            flat, lengths = piece
            if flat.size:
                source_start = np.cumsum(lengths) - lengths
                out[np.repeat(pos - source_start, lengths) + np.arange(flat.size)] = flat
            pos += lengths
        else:
            width = piece.shape[1]
            if width:
                out[pos[:, None] + np.arange(width)] = piece
                pos += width
    return out


def _frame_parts(payload: _Parts) -> np.ndarray:
    """Frame every record of ``payload`` (cflag 0, no magic escaping, like the SDK) [SDK]."""
    import numpy as np

    lengths = payload.lengths
    if lengths.size and int(lengths.max()) > MAX_RECORD_BYTES:
        raise ValueError(f"a record payload exceeds the RecordIO limit of {MAX_RECORD_BYTES} bytes")
    words = lengths.astype("<u4").view(np.uint8).reshape(-1, 4)
    pad = -lengths & 3
    framed = _cat(_const(payload.n, MAGIC_BYTES), _fixed(words), payload)
    framed = _cat(framed, _ragged(np.zeros(int(pad.sum()), np.uint8), pad))
    return _assemble(framed)


def _hdr(tag: int, length: int) -> bytes:
    return bytes((tag,)) + _varint_bytes(length)


def _scalar_map_prefix(map_tag: int, key: bytes, kind: str, body_len: int) -> bytes:
    """Bytes before a dense packed body inside ``map_tag { key: Value { tensor { values } } }`` [PROTO]."""
    packed = _hdr(_TAG_VALUES, body_len)
    tensor_len = len(packed) + body_len
    value = _hdr(_VALUE_TAGS[kind], tensor_len)
    value_len = len(value) + tensor_len
    key_part = _hdr(_TAG_ENTRY_KEY, len(key)) + key
    entry_value = _hdr(_TAG_ENTRY_VALUE, value_len)
    entry_len = len(key_part) + len(entry_value) + value_len
    return _hdr(map_tag, entry_len) + key_part + entry_value + value + packed


def _tensor_map_field(map_tag: int, key: bytes, kind: str, tensor: _Parts) -> _Parts:
    """``map_tag { key: Value { <kind>_tensor { ...tensor } } }`` for every record [PROTO]."""
    value = _field(_VALUE_TAGS[kind], tensor)
    entry = _cat(_const(tensor.n, _hdr(_TAG_ENTRY_KEY, len(key)) + key), _field(_TAG_ENTRY_VALUE, value))
    return _field(map_tag, entry)


def _packed_values(kind: str, values: np.ndarray, row_lengths: np.ndarray) -> tuple[_Parts, np.ndarray]:
    """Packed bodies for ragged rows of values: (parts, byte length per row)."""
    import numpy as np

    if kind == "int32":
        flat, counts = _varints(values)
        bounds = np.concatenate(([0], np.cumsum(counts)))
        row_ends = np.cumsum(row_lengths)
        nbytes = bounds[row_ends] - bounds[row_ends - row_lengths]
    else:
        flat = values.view(np.uint8)
        nbytes = row_lengths * _ITEMSIZE[kind]
    return _ragged(flat, nbytes), nbytes


def _label_parts(labels: np.ndarray, kind: str) -> _Parts:
    """``label { "values": Value { tensor { values: [label] } } }`` per row [SDK, PROTO]."""
    import numpy as np

    n = labels.shape[0]
    if kind == "int32":
        flat, counts = _varints(labels)
        body = _ragged(flat, counts)
    else:
        body = _fixed(labels.view(np.uint8).reshape(n, _ITEMSIZE[kind]))
    return _tensor_map_field(_TAG_LABEL, _KEY_VALUES, kind, _field(_TAG_VALUES, body))
