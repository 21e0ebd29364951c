"""MXNet image records (no numpy). Sources: ``sagedrop.recordio``."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from numbers import Number
from typing import IO, TYPE_CHECKING, Any, NamedTuple, TextIO

if TYPE_CHECKING:  # pragma: no cover - typing only; numpy is imported lazily at run time
    pass

from sagedrop.recordio.framing import (
    RecordIOError,
    Source,
    WriteStats,
    _frame_error,
    frame,
    iter_frames,
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
