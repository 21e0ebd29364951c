"""RecordIO framing, the SageMaker ``Record`` protobuf, and MXNet image records, by hand.

Pure Python plus numpy; no ``protobuf`` package and no SageMaker SDK. numpy is imported lazily
inside the functions that need it, so ``import sagedrop.recordio`` is cheap and the framing,
``starts_with_magic`` and the MXNet image-record helpers work where numpy is not installed.

Modules: ``framing`` (constants, errors, frames; no numpy), ``_wire`` (vectorized varints and
byte pieces shared by the encoders), ``dense`` (the dense writer, CSV -> RecordIO), ``encode``
(sparse, seq2seq, one record with any keys), ``decode`` (reading back), ``image`` (MXNet image
records; no numpy). Everything public is imported here: ``from sagedrop.recordio import ...``.

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
[REF]    ``tests/data/recordio`` (byte-exact output of the SDK writer): seq2seq records carry
         ``features["target"]`` before ``features["source"]`` on the wire; float values are the
         raw IEEE bits. NaN rule: the SDK passes each float32 through a Python float (double) and
         back, and that conversion sets the quiet bit of a NaN (0x7f800001 -> 0x7fc00001) while
         keeping sign and payload; float64 values reach the wire unchanged.
"""

from __future__ import annotations

from sagedrop.csvblocks import CsvFormatError
from sagedrop.recordio.decode import (
    decode_record,
    feature_width,
    read_dense,
    read_records,
    read_seq2seq,
    read_sparse,
)
from sagedrop.recordio.dense import (
    csv_to_recordio,
    encode_dense,
    encode_dense_array,
    write_dense,
    write_dense_chunks,
)
from sagedrop.recordio.encode import (
    encode_record,
    encode_seq2seq,
    encode_sparse,
    write_seq2seq,
    write_sparse,
)
from sagedrop.recordio.framing import (
    DEFAULT_CHUNK_ROWS,
    MAGIC,
    MAGIC_BYTES,
    MAX_RECORD_BYTES,
    SEQ2SEQ_KEY_ORDER,
    BytesValue,
    CsvConversionStats,
    Frame,
    Record,
    RecordIOError,
    SparseRows,
    Tensor,
    WriteStats,
    frame,
    iter_frames,
    starts_with_magic,
)
from sagedrop.recordio.image import (
    IR_FORMAT,
    IR_SIZE,
    IRHeader,
    iter_image_rec,
    pack_image_record,
    unpack_image_record,
    write_image_rec,
)

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
    "feature_width",
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
