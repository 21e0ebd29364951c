"""RecordIO framing, the SageMaker ``Record`` protobuf, and MXNet image records, by hand.

Pure Python plus numpy; no ``protobuf`` package and no SageMaker SDK. numpy is imported lazily
inside the functions that need it, so ``import sagedrop.recordio`` is cheap and the framing,
``starts_with_magic`` and the MXNet image-record helpers work where numpy is not installed.

Where each format fact comes from (cited below by tag):

[SDK]    aws/sagemaker-python-sdk ``src/sagemaker/amazon/common.py``: ``_write_recordio`` writes the
         magic ``0xced7230a`` and the payload length as native (little-endian) uint32, the payload,
         then zero padding to a multiple of 4; ``write_numpy_to_dense_tensor`` writes one Record per
         row, features under the key ``"values"``, the row's label as a one-element tensor under
         label ``"values"``; ``write_spmatrix_to_sparse_tensor`` writes a CSR row's data as
         ``values``, its column indices as ``keys`` (uint64) and ``shape = [n_cols]``;
         ``_resolve_type`` maps the array dtype to the tensor type (float32 -> Float32Tensor,
         float64 -> Float64Tensor, the platform int -> Int32Tensor).
[PROTO]  aws/sagemaker-python-sdk ``src/sagemaker/amazon/record.proto`` (proto2): Record.features = 1,
         Record.label = 2 (both ``map<string, Value>``), uid = 3, metadata = 4, configuration = 5;
         Value oneof: float32_tensor = 2, float64_tensor = 3, int32_tensor = 7, bytes = 9;
         each tensor: values = 1, keys = 2 (uint64), shape = 3 (uint64), all ``[packed = true]``;
         Bytes: value = 1 (repeated bytes), content_type = 2.
[PB]     Protocol Buffers encoding: tag = field << 3 | wire type; varints little-endian base 128;
         packed repeated scalars are one length-delimited field; a negative int32 is sign-extended
         to 64 bits (10-byte varint); a map entry is a message with key = 1 and value = 2; empty
         packed fields are not written; parsers must accept packed and unpacked repeated scalars.
[DMLC]   dmlc/dmlc-core ``include/dmlc/recordio.h`` and ``src/recordio.cc`` (MXNet's RecordIO): the
         length word holds ``cflag << 29 | length``; cflag 0 = whole record, 1 = first part,
         2 = middle part, 3 = last part. Its writer splits a record at every 4-aligned occurrence
         of the magic inside the payload (dropping those 4 bytes); its reader re-joins the parts,
         putting the magic back between them. Padding follows the last part only.
[MXNET]  apache/mxnet ``python/mxnet/recordio.py``: ``IRHeader(flag, label, id, id2)`` packed as
         ``'IfQQ'`` (24 bytes); ``pack`` sets flag = 0 for a scalar label, or flag = label count,
         label = 0 and appends the labels as float32 after the header; ``unpack`` reads ``flag``
         float32 labels after the header when flag > 0.
[REF]    ``shared/testdata/recordio`` (byte-exact output of the SDK writer): seq2seq records carry
         ``features["target"]`` before ``features["source"]`` on the wire; float values are the
         raw IEEE bits. NaN rule: the SDK passes each float32 through a Python float (double) and
         back, and that conversion sets the quiet bit of a NaN (0x7f800001 -> 0x7fc00001) while
         keeping sign and payload; float64 values reach the wire unchanged.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from numbers import Number
from typing import IO, TYPE_CHECKING, Any, BinaryIO, NamedTuple, TextIO

from sagedrop.csvblocks import CsvFormatError

if TYPE_CHECKING:  # pragma: no cover - typing only; numpy is imported lazily at run time
    import numpy as np

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "IR_FORMAT",
    "IR_SIZE",
    "MAGIC",
    "MAGIC_BYTES",
    "MAX_RECORD_BYTES",
    "SEQ2SEQ_KEY_ORDER",
    "BytesValue",
    "CsvConversionStats",
    "CsvFormatError",
    "Frame",
    "IRHeader",
    "Record",
    "RecordIOError",
    "SparseRows",
    "Tensor",
    "WriteStats",
    "csv_to_recordio",
    "decode_record",
    "encode_dense",
    "encode_dense_array",
    "encode_record",
    "encode_seq2seq",
    "encode_sparse",
    "frame",
    "iter_frames",
    "iter_image_rec",
    "pack_image_record",
    "read_dense",
    "read_records",
    "read_seq2seq",
    "read_sparse",
    "starts_with_magic",
    "unpack_image_record",
    "write_dense",
    "write_dense_chunks",
    "write_image_rec",
    "write_seq2seq",
    "write_sparse",
]

# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

MAGIC = 0xCED7230A
"""RecordIO magic number [SDK ``_kmagic``, DMLC ``kMagic``]."""

MAGIC_BYTES = struct.pack("<I", MAGIC)
"""The magic as it appears in a file: little-endian, ``0a 23 d7 ce`` [SDK, DMLC]."""

_LENGTH_BITS = 29
_LENGTH_MASK = (1 << _LENGTH_BITS) - 1
MAX_RECORD_BYTES = _LENGTH_MASK
"""The largest payload one frame can describe: the length word keeps 29 bits for it [DMLC]."""

CFLAG_WHOLE, CFLAG_FIRST, CFLAG_MIDDLE, CFLAG_LAST = 0, 1, 2, 3  # [DMLC]

DEFAULT_CHUNK_ROWS = 65_536
"""Rows encoded per chunk by the streaming writers (also bounded by ``_CHUNK_BYTES``)."""

_CHUNK_BYTES = 256 << 10  # encoded bytes per dense chunk: keeps the working set in the CPU cache
_RAGGED_CHUNK_ROWS = 16_384  # variable-length layouts use int64 index arrays: smaller chunks

SEQ2SEQ_KEY_ORDER = ("target", "source")
"""Order of the seq2seq feature map entries on the wire, as in the SDK-produced reference [REF]."""

# Wire tags, (field number << 3) | wire type 2 (length-delimited) [PROTO, PB].
_TAG_FEATURES = 0x0A  # Record.features = 1
_TAG_LABEL = 0x12  # Record.label = 2
_TAG_ENTRY_KEY = 0x0A  # map entry key = 1
_TAG_ENTRY_VALUE = 0x12  # map entry value = 2
_TAG_VALUES = 0x0A  # tensor values = 1 (packed)
_TAG_KEYS = 0x12  # tensor keys = 2 (packed)
_TAG_SHAPE = 0x1A  # tensor shape = 3 (packed)
_VALUE_TAGS = {"float32": 0x12, "float64": 0x1A, "int32": 0x3A}  # Value oneof: 2, 3, 7
_VALUE_FIELDS = {2: "float32", 3: "float64", 7: "int32"}
_VALUE_FIELD_BYTES = 9
_RECORD_STRING_FIELDS = {3: "uid", 4: "metadata", 5: "configuration"}
_ITEMSIZE = {"float32": 4, "float64": 8}
_KEY_VALUES = b"values"

_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1
_U64 = (1 << 64) - 1

# --------------------------------------------------------------------------------------------
# Errors and small types
# --------------------------------------------------------------------------------------------


class RecordIOError(ValueError):
    """Corrupt or unreadable RecordIO data; the message names the record index and byte offset."""

    def __init__(self, message: str, *, record: int | None = None, offset: int | None = None) -> None:
        super().__init__(message)
        self.record = record
        self.offset = offset


class _ProtoError(Exception):
    """Internal: malformed protobuf at ``pos`` (byte index in the payload)."""

    def __init__(self, pos: int, message: str) -> None:
        super().__init__(message)
        self.pos = pos


class Frame(NamedTuple):
    """One logical record read from a RecordIO stream."""

    index: int  # 0-based record number
    offset: int  # byte offset of the record's first frame from the start of the stream
    payload: bytes


@dataclass
class Tensor:
    """A decoded Float32/Float64/Int32 tensor [PROTO]. ``keys`` is set only for sparse tensors."""

    dtype: str  # "float32" | "float64" | "int32"
    values: np.ndarray
    keys: np.ndarray | None = None  # uint64 column indices (sparse)
    shape: tuple[int, ...] | None = None

    @property
    def is_sparse(self) -> bool:
        return self.keys is not None and len(self.keys) > 0


@dataclass
class BytesValue:
    """A decoded ``Bytes`` value [PROTO]."""

    values: list[bytes]
    content_type: str | None = None


@dataclass
class Record:
    """A decoded ``aialgs.data.Record`` [PROTO]. Map values are ``None`` when the Value was empty."""

    features: dict[str, Tensor | BytesValue | None] = field(default_factory=dict)
    label: dict[str, Tensor | BytesValue | None] = field(default_factory=dict)
    uid: str | None = None
    metadata: str | None = None
    configuration: str | None = None


class SparseRows(NamedTuple):
    """CSR arrays read back from sparse records (scipy: ``csr_matrix((data, indices, indptr), shape)``)."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple[int, int]
    labels: np.ndarray | None


@dataclass(frozen=True)
class WriteStats:
    """What a writer wrote."""

    records: int
    bytes_written: int
    chunks: int


@dataclass(frozen=True)
class CsvConversionStats:
    """What ``csv_to_recordio`` read and wrote."""

    rows: int
    feature_columns: int
    has_label: bool
    lines_read: int
    blank_lines: int
    bytes_written: int
    chunks: int


Source = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO | IO[bytes]

# --------------------------------------------------------------------------------------------
# Framing (no numpy)
# --------------------------------------------------------------------------------------------


def starts_with_magic(first_bytes: bytes | bytearray | memoryview) -> bool:
    """True when the data begins with the RecordIO magic ``0a 23 d7 ce`` [SDK, DMLC]. Needs no numpy."""
    return bytes(first_bytes[:4]) == MAGIC_BYTES


def _varint_bytes(value: int) -> bytes:
    """One unsigned varint [PB]."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def frame(payload: bytes | bytearray | memoryview, *, escape_magic: bool = False) -> bytes:
    """Frame one payload: magic, length word, payload, zero padding to 4 bytes [SDK].

    With ``escape_magic`` the payload is split at each 4-aligned copy of the magic, the way
    MXNet's writer does it (cflag 1/2/3 parts) [DMLC]; the SageMaker SDK never splits (cflag 0).
    """
    data = bytes(payload)
    size = len(data)
    if size > MAX_RECORD_BYTES:
        raise ValueError(f"record payload of {size} bytes exceeds the RecordIO limit of {MAX_RECORD_BYTES}")
    pad = b"\0" * (-size & 3)
    if not escape_magic:
        return MAGIC_BYTES + struct.pack("<I", size) + data + pad
    parts: list[bytes] = []
    start = 0
    lower_align = size & ~3
    hit = data.find(MAGIC_BYTES)
    while hit >= 0:
        if hit % 4 == 0 and hit < lower_align:
            cflag = CFLAG_FIRST if start == 0 else CFLAG_MIDDLE
            word = struct.pack("<I", cflag << _LENGTH_BITS | (hit - start))
            parts.append(MAGIC_BYTES + word + data[start:hit])
            start = hit + 4
            hit = data.find(MAGIC_BYTES, hit + 4)
        else:
            hit = data.find(MAGIC_BYTES, hit + 1)
    cflag = CFLAG_LAST if parts else CFLAG_WHOLE
    parts.append(MAGIC_BYTES + struct.pack("<I", cflag << _LENGTH_BITS | (size - start)) + data[start:] + pad)
    return b"".join(parts)


def _open_read(src: Source) -> tuple[Any, bool]:
    """A binary reader for ``src`` and whether we opened it (and must close it)."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        return io.BytesIO(src), True
    if isinstance(src, (str, os.PathLike)):
        return open(src, "rb"), True
    if not hasattr(src, "read"):
        raise TypeError(f"expected bytes, a path or a binary file object, got {type(src).__name__}")
    return src, False


def _read_exact(read: Any, size: int) -> bytes:
    """Read up to ``size`` bytes, looping over short reads (raw files, sockets)."""
    data = read(size)
    if data is None:
        data = b""
    if len(data) == size or not data:
        return bytes(data)
    chunks = [bytes(data)]
    got = len(data)
    while got < size:
        more = read(size - got)
        if not more:
            break
        chunks.append(bytes(more))
        got += len(more)
    return b"".join(chunks)


def _frame_error(index: int, offset: int, problem: str) -> RecordIOError:
    message = f"record index {index} at byte offset {offset}: {problem}"
    return RecordIOError(message, record=index, offset=offset)


def iter_frames(src: Source) -> Iterator[Frame]:
    """Iterate the logical records of a RecordIO stream, validating the framing [SDK, DMLC].

    Multi-part records (cflag 1, 2..., 3) are re-joined with the magic between parts [DMLC].
    Offsets count from where reading started. Any corruption raises ``RecordIOError`` naming the
    record index (0-based) and the byte offset of the bad frame. Padding must be present (as
    dmlc's reader requires) but its bytes are not checked.
    """
    reader, owned = _open_read(src)
    try:
        read = reader.read
        offset = 0
        index = 0
        while True:
            record_offset = offset
            parts: list[bytes] = []
            while True:
                header = _read_exact(read, 8)
                if not header:
                    if parts:
                        raise _frame_error(
                            index,
                            offset,
                            f"data ends inside a multi-part record that began at byte offset {record_offset} "
                            "(no final cflag-3 frame)",
                        )
                    return
                if len(header) < 4:
                    raise _frame_error(
                        index,
                        offset,
                        f"truncated frame header: {len(header)} byte(s) where the 4-byte magic should be",
                    )
                (magic,) = struct.unpack_from("<I", header)
                if magic != MAGIC:
                    raise _frame_error(
                        index,
                        offset,
                        f"bad magic 0x{magic:08x} (bytes {header[:4].hex()}), expected 0x{MAGIC:08x}",
                    )
                if len(header) < 8:
                    raise _frame_error(
                        index, offset, f"truncated length word: {len(header) - 4} of 4 bytes after the magic"
                    )
                (word,) = struct.unpack_from("<I", header, 4)
                cflag, length = word >> _LENGTH_BITS, word & _LENGTH_MASK
                if cflag > CFLAG_LAST:
                    raise _frame_error(
                        index, offset, f"bad length word 0x{word:08x}: continuation flag {cflag} is not 0-3"
                    )
                if parts and cflag in (CFLAG_WHOLE, CFLAG_FIRST):
                    raise _frame_error(
                        index,
                        offset,
                        f"bad length word 0x{word:08x}: cflag {cflag} inside a multi-part record that began "
                        f"at byte offset {record_offset} (expected cflag 2 or 3)",
                    )
                if not parts and cflag in (CFLAG_MIDDLE, CFLAG_LAST):
                    raise _frame_error(
                        index,
                        offset,
                        f"bad length word 0x{word:08x}: continuation cflag {cflag} with no first part",
                    )
                padded = (length + 3) & ~3
                body = _read_exact(read, padded)
                if len(body) < padded:
                    padding = f" (+{padded - length} padding)" if padded != length else ""
                    remain = f"only {len(body)} remain"
                    raise _frame_error(
                        index,
                        offset,
                        f"truncated payload: the length word says {length} bytes{padding} but {remain}",
                    )
                offset += 8 + padded
                parts.append(body if padded == length else body[:length])
                if cflag in (CFLAG_WHOLE, CFLAG_LAST):
                    break
            yield Frame(index, record_offset, parts[0] if len(parts) == 1 else MAGIC_BYTES.join(parts))
            index += 1
    finally:
        if owned:
            reader.close()


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


# --------------------------------------------------------------------------------------------
# Dense writer
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
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

    def rows_per_chunk(self, chunk_rows: int) -> int:
        """Rows per encoded chunk: at most ``chunk_rows`` and about ``_CHUNK_BYTES`` of output."""
        return max(1, min(chunk_rows, _CHUNK_BYTES // self.size))

    def template_block(self, rows: int) -> np.ndarray:
        """``rows`` copies of the template, back to back: one memory copy stamps a whole chunk."""
        import numpy as np

        return np.tile(self.template, rows)


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
    import numpy as np

    rows = x.shape[0]
    size, fo, fb = layout.size, layout.feature_offset, layout.feature_bytes
    out[:] = block[: rows * size]
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
    x: np.ndarray, y: np.ndarray | None, kind: str, label_kind: str | None, chunk_rows: int
) -> Iterator[np.ndarray]:
    """Encoded chunks (flat uint8); the fixed layout reuses one cache-sized buffer between chunks."""
    import numpy as np

    rows = x.shape[0]
    layout = _dense_layout(x.shape[1], kind, label_kind)
    if layout is None:
        step = max(1, min(chunk_rows, _RAGGED_CHUNK_ROWS))
        for start in range(0, rows, step):
            stop = min(rows, start + step)
            yield _dense_ragged_chunk(x[start:stop], None if y is None else y[start:stop], kind, label_kind)
        return
    step = layout.rows_per_chunk(chunk_rows)
    block = layout.template_block(min(step, rows))
    buffer = np.empty(block.size, np.uint8)
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        out = buffer[: (stop - start) * layout.size]
        yc = None if y is None or label_kind is None else _as_wire(y[start:stop], label_kind)
        _fill_dense(out, layout, block, _as_wire(x[start:stop], kind), yc)
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
    """Write a 2-D array (and optional labels) to a binary file in bounded chunks [SDK]."""
    x, y, kind, label_kind = _check_dense(features, labels)
    written = chunks = 0
    for block in _dense_blocks(x, y, kind, label_kind, chunk_rows):
        dst.write(block)
        written += block.size
        chunks += 1
    return WriteStats(records=x.shape[0], bytes_written=written, chunks=chunks)


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


# --------------------------------------------------------------------------------------------
# MXNet image records (no numpy)
# --------------------------------------------------------------------------------------------

IR_FORMAT = "<IfQQ"
"""IRHeader layout: uint32 flag, float32 label, uint64 id, uint64 id2 [MXNET]."""
IR_SIZE = struct.calcsize(IR_FORMAT)  # 24


class IRHeader(NamedTuple):
    """MXNet image record header [MXNET]. ``label`` is a float, or a tuple of floats when flag > 0."""

    flag: int
    label: float | tuple[float, ...]
    id: int
    id2: int


def pack_image_record(
    header: IRHeader | tuple[Any, Any, int, int],
    image: bytes | bytearray | memoryview,
) -> bytes:
    """Pack an image record payload, as MXNet's ``recordio.pack`` [MXNET].

    A scalar label is stored in the header (flag forced to 0); a sequence of labels sets
    flag = count, label = 0 and follows the header as float32 values.
    """
    flag, label, ident, ident2 = header
    del flag  # recomputed from the label, as MXNet does
    if isinstance(label, Number):
        head = struct.pack(IR_FORMAT, 0, float(label), int(ident), int(ident2))
        return head + bytes(image)
    values = label.ravel().tolist() if hasattr(label, "ravel") else [float(v) for v in label]
    head = struct.pack(IR_FORMAT, len(values), 0.0, int(ident), int(ident2))
    return head + struct.pack(f"<{len(values)}f", *values) + bytes(image)


def unpack_image_record(payload: bytes | bytearray | memoryview) -> tuple[IRHeader, bytes]:
    """Split an image record payload into its header and image bytes [MXNET]."""
    data = bytes(payload)
    if len(data) < IR_SIZE:
        raise RecordIOError(f"image record of {len(data)} bytes is shorter than the {IR_SIZE}-byte IRHeader")
    flag, label, ident, ident2 = struct.unpack_from(IR_FORMAT, data)
    if flag > 0:
        end = IR_SIZE + 4 * flag
        if len(data) < end:
            raise RecordIOError(
                f"image record header says {flag} float32 labels ({4 * flag} bytes) but only "
                f"{len(data) - IR_SIZE} bytes follow the header"
            )
        labels = struct.unpack_from(f"<{flag}f", data, IR_SIZE)
        return IRHeader(flag, labels, ident, ident2), data[end:]
    return IRHeader(flag, label, ident, ident2), data[IR_SIZE:]


def write_image_rec(
    dst: IO[bytes],
    items: Iterable[tuple[IRHeader | tuple[Any, Any, int, int], bytes]],
    *,
    escape_magic: bool = True,
    index_dst: TextIO | None = None,
) -> WriteStats:
    """Write ``(header, image_bytes)`` items as an MXNet ``.rec`` file [MXNET, DMLC].

    ``escape_magic`` splits payloads at aligned copies of the magic as MXNet's writer does, so
    readers that seek record starts by the magic never mistake image bytes for a frame [DMLC].
    With ``index_dst`` an MXNet ``.idx`` is written too: ``id<TAB>byte offset`` per record.
    """
    records = written = 0
    for header, image in items:
        payload = pack_image_record(header, image)
        framed = frame(payload, escape_magic=escape_magic)
        if index_dst is not None:
            index_dst.write(f"{int(header[2])}\t{written}\n")
        dst.write(framed)
        written += len(framed)
        records += 1
    return WriteStats(records=records, bytes_written=written, chunks=records)


def iter_image_rec(src: Source) -> Iterator[tuple[IRHeader, bytes]]:
    """Iterate ``(header, image_bytes)`` from an MXNet ``.rec`` file (bytes, path or binary file)."""
    for frame_ in iter_frames(src):
        try:
            yield unpack_image_record(frame_.payload)
        except RecordIOError as exc:
            raise _frame_error(
                frame_.index,
                frame_.offset,
                str(exc),
            ) from None
