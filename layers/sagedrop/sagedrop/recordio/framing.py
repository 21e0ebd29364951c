"""RecordIO framing (no numpy): constants, errors, small types, frames. Sources: ``sagedrop.recordio``."""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, BinaryIO, NamedTuple

if TYPE_CHECKING:  # pragma: no cover - typing only; numpy is imported lazily at run time
    import numpy as np


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
