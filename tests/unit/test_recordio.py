"""sagedrop.recordio: byte-exact SageMaker SDK output, round trips, corruption, CSV, MXNet records.

The reference cases in tests/data/recordio are outputs of the SDK's own writer. The
hypothesis tests compare the vectorized writers with ``_oracle_*`` below: a deliberately naive,
independent per-row encoder written from record.proto and the protobuf wire format, which
converts float32 through a Python float exactly as the SDK does (so the NaN rule is checked by
construction, not by copying the module's logic).
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import sagedrop
from sagedrop import recordio
from sagedrop.recordio import (
    MAGIC,
    MAGIC_BYTES,
    BytesValue,
    CsvFormatError,
    IRHeader,
    RecordIOError,
    Tensor,
)

TESTDATA = Path(__file__).resolve().parents[1] / "data" / "recordio"
CASES_FILE = TESTDATA / "cases.json"
CASES: dict[str, dict] = json.loads(CASES_FILE.read_text()) if CASES_FILE.is_file() else {}
MISSING = f"reference data not found: {CASES_FILE} (tests/data/recordio holds the SDK writer's reference output)"
CASE_PARAMS = list(CASES) or [pytest.param("missing", marks=pytest.mark.skip(reason=MISSING))]

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------------------------
# A naive, independent oracle (record.proto + protobuf wire format, one row at a time)
# --------------------------------------------------------------------------------------------


def _v(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        if n < 0x80:
            out.append(n)
            return bytes(out)
        out.append(n & 0x7F | 0x80)
        n >>= 7


def _ld(number: int, payload: bytes) -> bytes:
    return _v(number << 3 | 2) + _v(len(payload)) + payload


def _packed(kind: str, values) -> bytes:
    if kind == "float32":
        return b"".join(struct.pack("<f", float(v)) for v in values)  # SDK: numpy -> float -> float32
    if kind == "float64":
        return b"".join(struct.pack("<d", float(v)) for v in values)
    return b"".join(_v(int(v)) for v in values)


VALUE_FIELD = {"float32": 2, "float64": 3, "int32": 7}


def _tensor(kind: str, values, keys=None, shape=None) -> bytes:
    body = b""
    if len(values):
        body += _ld(1, _packed(kind, values))
    if keys is not None and len(keys):
        body += _ld(2, b"".join(_v(int(k)) for k in keys))
    if shape is not None:
        body += _ld(3, b"".join(_v(int(s)) for s in shape))
    return _ld(VALUE_FIELD[kind], body)


def _entry(map_field: int, key: str, value: bytes) -> bytes:
    return _ld(map_field, _ld(1, key.encode()) + _ld(2, value))


def _frame(payload: bytes) -> bytes:
    return struct.pack("<II", MAGIC, len(payload)) + payload + b"\0" * (-len(payload) % 4)


def _kind(dtype) -> str:
    return {"f4": "float32", "f8": "float64"}.get(np.dtype(dtype).str[1:], "int32")


def _oracle_dense(x: np.ndarray, y: np.ndarray | None) -> bytes:
    out = []
    for i, row in enumerate(x):
        rec = _entry(1, "values", _tensor(_kind(x.dtype), row))
        if y is not None:
            rec += _entry(2, "values", _tensor(_kind(y.dtype), [y[i]]))
        out.append(_frame(rec))
    return b"".join(out)


def _oracle_sparse(data, indices, indptr, columns, y) -> bytes:
    out = []
    for i in range(len(indptr) - 1):
        lo, hi = indptr[i], indptr[i + 1]
        rec = _entry(1, "values", _tensor(_kind(data.dtype), data[lo:hi], indices[lo:hi], [columns]))
        if y is not None:
            rec += _entry(2, "values", _tensor(_kind(y.dtype), [y[i]]))
        out.append(_frame(rec))
    return b"".join(out)


def _oracle_seq2seq(sources, targets) -> bytes:
    return b"".join(
        _frame(_entry(1, "target", _tensor("int32", t)) + _entry(1, "source", _tensor("int32", s)))
        for s, t in zip(sources, targets, strict=True)
    )


def _sdk_bits32(a: np.ndarray) -> np.ndarray:
    """float32 bits after the SDK's float32 -> double -> float32 trip: NaNs get the quiet bit."""
    bits = a.view(np.uint32).copy()
    bits[np.isnan(a)] |= 0x00400000
    return bits


# --------------------------------------------------------------------------------------------
# Reference cases (SageMaker SDK output), byte for byte
# --------------------------------------------------------------------------------------------


def _load_case(name: str):
    """(kind, inputs) for a case; see cases.json for how each one was produced."""
    if (TESTDATA / f"{name}.npz").is_file():
        z = np.load(TESTDATA / f"{name}.npz")
        labels = z["labels"] if "labels" in z.files else None
        if "features" in z.files:
            return "dense", (z["features"], labels)
        shape = tuple(int(s) for s in z["shape"])
        return "sparse", ((z["data"], z["indices"], z["indptr"], shape), labels)
    doc = json.loads((TESTDATA / f"{name}.json").read_text())
    return "seq2seq", (doc["source"], doc["target"])


def _encode(kind: str, inputs) -> bytes:
    return {
        "dense": recordio.encode_dense,
        "sparse": recordio.encode_sparse,
        "seq2seq": recordio.encode_seq2seq,
    }[kind](*inputs)


def _write(kind: str, inputs, chunk_rows: int) -> bytes:
    out = io.BytesIO()
    writer = {
        "dense": recordio.write_dense,
        "sparse": recordio.write_sparse,
        "seq2seq": recordio.write_seq2seq,
    }
    writer[kind](out, *inputs, chunk_rows=chunk_rows)
    return out.getvalue()


@pytest.mark.parametrize("name", CASE_PARAMS)
def test_reference_case_is_byte_exact(name: str) -> None:
    kind, inputs = _load_case(name)
    expected = (TESTDATA / f"{name}.rec").read_bytes()
    assert len(expected) == CASES[name]["bytes"]
    got = _encode(kind, inputs)
    assert got == expected, f"{name}: first difference at byte {_first_diff(got, expected)}"


@pytest.mark.parametrize("name", CASE_PARAMS)
@pytest.mark.parametrize("chunk_rows", [1, 2, 5])
def test_reference_case_streamed_in_small_chunks(name: str, chunk_rows: int) -> None:
    kind, inputs = _load_case(name)
    assert _write(kind, inputs, chunk_rows) == (TESTDATA / f"{name}.rec").read_bytes()


@pytest.mark.parametrize("name", CASE_PARAMS)
def test_reference_case_matches_the_naive_oracle(name: str) -> None:
    kind, inputs = _load_case(name)
    if kind == "dense":
        oracle = _oracle_dense(*inputs)
    elif kind == "sparse":
        (data, indices, indptr, shape), labels = inputs
        oracle = _oracle_sparse(data, indices, indptr, shape[1], labels)
    else:
        oracle = _oracle_seq2seq(*inputs)
    assert oracle == (TESTDATA / f"{name}.rec").read_bytes()


@pytest.mark.parametrize("name", CASE_PARAMS)
def test_reference_case_reads_back(name: str) -> None:
    kind, inputs = _load_case(name)
    path = TESTDATA / f"{name}.rec"
    meta = CASES[name]
    if kind == "dense":
        features, labels = inputs
        assert features.shape == (meta["rows"], meta["cols"])
        assert str(features.dtype) == meta["features_dtype"]
        x, y = recordio.read_dense(path)
        assert x.dtype == features.dtype
        assert np.array_equal(x.view(np.uint8), features.view(np.uint8))  # bit-exact, -0.0 included
        if labels is None:
            assert y is None
            assert meta["labels_dtype"] is None
        else:
            assert y.dtype == labels.dtype
            assert np.array_equal(y, labels)
    elif kind == "sparse":
        (data, indices, indptr, shape), labels = inputs
        rows = recordio.read_sparse(path)
        assert rows.shape == shape == (meta["rows"], meta["cols"])
        assert np.array_equal(rows.data, data)
        assert np.array_equal(rows.indices, indices)
        assert np.array_equal(rows.indptr, indptr)
        assert np.array_equal(rows.labels, labels)
    else:
        assert recordio.read_seq2seq(path) == tuple(inputs)
        assert len(inputs[0]) == meta["records"]


@pytest.mark.skipif(not CASES, reason=MISSING)
def test_reference_seq2seq_wire_order_is_target_then_source() -> None:
    data = (TESTDATA / "seq2seq_int32_pairs.rec").read_bytes()
    assert data.index(b"target") < data.index(b"source")
    assert recordio.SEQ2SEQ_KEY_ORDER == ("target", "source")


def _first_diff(a: bytes, b: bytes) -> int:
    return next((i for i, (p, q) in enumerate(zip(a, b, strict=False)) if p != q), min(len(a), len(b)))


# --------------------------------------------------------------------------------------------
# Round trips (hypothesis)
# --------------------------------------------------------------------------------------------

F32 = st.floats(width=32, allow_nan=True, allow_infinity=True)
F64 = st.floats(allow_nan=True, allow_infinity=True)
I32 = st.integers(-(2**31), 2**31 - 1)


@st.composite
def dense_cases(draw):
    rows = draw(st.integers(0, 12))
    cols = draw(st.integers(1, 20))
    kind = draw(st.sampled_from(["float32", "float64", "int32"]))
    elements = {"float32": F32, "float64": F64, "int32": I32}[kind]
    x = draw(hnp.arrays(np.dtype(kind), (rows, cols), elements=elements))
    label_kind = draw(st.sampled_from([None, "float32", "float64", "int32"]))
    y = None
    if label_kind is not None:
        label_elements = {"float32": F32, "float64": F64, "int32": I32}[label_kind]
        y = draw(hnp.arrays(np.dtype(label_kind), (rows,), elements=label_elements))
    return x, y


def _same_bits(got: np.ndarray, want: np.ndarray) -> bool:
    if want.dtype == np.float32:
        return np.array_equal(got.view(np.uint32), _sdk_bits32(want))
    if want.dtype == np.float64:
        return np.array_equal(got.view(np.uint64), want.view(np.uint64))
    return np.array_equal(got, want)


@FAST
@given(dense_cases(), st.integers(1, 5))
def test_dense_round_trip_and_oracle(case, chunk_rows) -> None:
    x, y = case
    data = recordio.encode_dense(x, y)
    assert data == _oracle_dense(x, y)
    assert _write("dense", (x, y), chunk_rows) == data
    assert recordio.encode_dense_array(x, y, chunk_rows=chunk_rows).tobytes() == data
    if len(x) == 0:
        assert data == b""
        return
    got_x, got_y = recordio.read_dense(data)
    assert got_x.shape == x.shape
    assert _same_bits(got_x, x)
    if y is None:
        assert got_y is None
    else:
        assert _same_bits(got_y, y)


@st.composite
def sparse_cases(draw):
    rows = draw(st.integers(0, 8))
    columns = draw(st.integers(1, 300))
    kind = draw(st.sampled_from(["float32", "float64", "int32"]))
    elements = {"float32": F32, "float64": F64, "int32": I32}[kind]
    row_columns = st.lists(st.integers(0, columns - 1), max_size=min(columns, 6), unique=True)
    per_row = [draw(row_columns) for _ in range(rows)]
    indices = np.array([c for row in per_row for c in row], dtype=np.int32)
    indptr = np.concatenate(([0], np.cumsum([len(r) for r in per_row]))).astype(np.int32)
    data = draw(hnp.arrays(np.dtype(kind), (len(indices),), elements=elements))
    label_kind = draw(st.sampled_from([None, "float32", "float64", "int32"]))
    y = None
    if label_kind is not None:
        y = draw(
            hnp.arrays(
                np.dtype(label_kind),
                (rows,),
                elements={"float32": F32, "float64": F64, "int32": I32}[label_kind],
            )
        )
    return data, indices, indptr, (rows, columns), y


@FAST
@given(sparse_cases(), st.integers(1, 4))
def test_sparse_round_trip_and_oracle(case, chunk_rows) -> None:
    data, indices, indptr, shape, y = case
    encoded = recordio.encode_sparse((data, indices, indptr, shape), y)
    assert encoded == _oracle_sparse(data, indices, indptr, shape[1], y)
    assert _write("sparse", ((data, indices, indptr, shape), y), chunk_rows) == encoded
    rows = recordio.read_sparse(encoded)
    assert rows.shape == (shape[0], shape[1] if shape[0] else 0)
    assert np.array_equal(rows.indptr, indptr)
    assert np.array_equal(rows.indices, indices)
    assert _same_bits(rows.data, data)
    if y is None or shape[0] == 0:
        assert rows.labels is None
    else:
        assert _same_bits(rows.labels, y)


SEQ = st.lists(I32, max_size=12)
TOKENS = st.lists(SEQ, max_size=8)


@FAST
@given(TOKENS.flatmap(lambda s: st.tuples(st.just(s), st.lists(SEQ, min_size=len(s), max_size=len(s)))))
def test_seq2seq_round_trip_and_oracle(pairs) -> None:
    sources, targets = pairs
    encoded = recordio.encode_seq2seq(sources, targets)
    assert encoded == _oracle_seq2seq(sources, targets)  # empty sequences: present, empty tensors
    assert recordio.read_seq2seq(encoded) == (sources, targets)
    streamed = io.BytesIO()
    recordio.write_seq2seq(streamed, iter(sources), iter(targets), chunk_rows=3)
    assert streamed.getvalue() == encoded


def test_seq2seq_empty_sequence_is_an_empty_int32_tensor() -> None:
    encoded = recordio.encode_seq2seq([[]], [[5]])
    record = next(recordio.read_records(encoded))
    assert record.features["source"].dtype == "int32"
    assert record.features["source"].values.size == 0
    assert b"\x0a\x06source\x12\x02\x3a\x00" in encoded


def test_seq2seq_rejects_length_mismatch_and_int32_overflow() -> None:
    with pytest.raises(ValueError, match="same number"):
        recordio.encode_seq2seq([[1], [2]], [[1]])
    with pytest.raises(ValueError, match="int32"):
        recordio.encode_seq2seq([[2**31]], [[1]])


@FAST
@given(hnp.arrays(np.float32, st.integers(1, 30), elements=F32))
def test_float32_nan_rule_matches_sdk_conversion(values) -> None:
    x = values.reshape(1, -1)
    data = recordio.encode_dense(x)
    assert data == _oracle_dense(x, None)
    got, _ = recordio.read_dense(data)
    assert np.array_equal(got.view(np.uint32), _sdk_bits32(x))


def test_signalling_nan_gets_quiet_bit_and_input_is_untouched() -> None:
    bits = np.array([[0x7F800001, 0xFF800123, 0x7FC00000, 0x7FA00001, 0x3F800000]], dtype=np.uint32)
    x = bits.view(np.float32)
    before = bits.copy()
    got, _ = recordio.read_dense(recordio.encode_dense(x))
    assert got.view(np.uint32).tolist() == [[0x7FC00001, 0xFFC00123, 0x7FC00000, 0x7FE00001, 0x3F800000]]
    assert np.array_equal(bits, before)
    d = np.array([[np.nan]], dtype=np.float64).view(np.uint64)
    d[0, 0] = 0x7FF0000000000001  # float64 signalling NaN reaches the wire unchanged
    got64, _ = recordio.read_dense(recordio.encode_dense(d.view(np.float64)))
    assert int(got64.view(np.uint64)[0, 0]) == 0x7FF0000000000001


def test_negative_int32_is_a_ten_byte_varint() -> None:
    data = recordio.encode_dense(np.array([[-1]], dtype=np.int32))
    assert b"\xff" * 9 + b"\x01" in data
    x, _ = recordio.read_dense(data)
    assert x.tolist() == [[-1]]


def test_encode_record_any_keys_uid_and_bytes_round_trip() -> None:
    payload = recordio.encode_record(
        {
            "values": Tensor(
                "float32", np.array([1.5, -2.0], np.float32), keys=np.array([3, 9], np.uint64), shape=(10,)
            ),
            "ids": np.array([1, -7], np.int64),
            "blob": BytesValue([b"\x00\x01", b"jpeg"], content_type="image/jpeg"),
        },
        {"values": np.array([2.0])},
        uid="row-1",
        metadata='{"src": "x"}',
        configuration="{}",
    )
    record = recordio.decode_record(payload)
    assert list(record.features) == ["values", "ids", "blob"]
    assert record.features["values"].keys.tolist() == [3, 9]
    assert record.features["values"].shape == (10,)
    assert record.features["ids"].values.tolist() == [1, -7]
    assert record.features["ids"].dtype == "int32"
    assert record.features["blob"] == BytesValue([b"\x00\x01", b"jpeg"], "image/jpeg")
    assert record.label["values"].dtype == "float64"
    assert (record.uid, record.metadata, record.configuration) == ("row-1", '{"src": "x"}', "{}")


def test_decoder_accepts_unpacked_repeated_values_and_skips_unknown_fields() -> None:
    # values (field 1) twice with wire type 5, not packed
    tensor = b"\x0d" + struct.pack("<f", 1.0) + b"\x0d" + struct.pack("<f", 2.0)
    value = _ld(2, tensor)
    payload = _entry(1, "values", value) + _v(99 << 3 | 0) + _v(5)  # unknown varint field 99
    record = recordio.decode_record(payload)
    assert record.features["values"].values.tolist() == [1.0, 2.0]


# --------------------------------------------------------------------------------------------
# Framing and corruption
# --------------------------------------------------------------------------------------------


def _five_records() -> bytes:
    """5 dense records of 60 bytes each (payload 52 + 8 header), like dense_f32_label_f32.rec."""
    x = np.arange(20, dtype=np.float32).reshape(5, 4)
    data = recordio.encode_dense(x, np.arange(5, dtype=np.float32))
    assert len(data) == 300
    return data


def _frames_error(data: bytes) -> RecordIOError:
    with pytest.raises(RecordIOError) as info:
        list(recordio.iter_frames(data))
    return info.value


def test_frames_of_a_clean_stream() -> None:
    frames = list(recordio.iter_frames(_five_records()))
    assert [(f.index, f.offset, len(f.payload)) for f in frames] == [(i, 60 * i, 52) for i in range(5)]


@pytest.mark.parametrize(
    ("cut", "record", "offset", "message"),
    [
        (299, 4, 240, "truncated payload: the length word says 52 bytes but only 51 remain"),
        (250, 4, 240, "truncated payload: the length word says 52 bytes but only 2 remain"),
        (246, 4, 240, "truncated length word: 2 of 4 bytes after the magic"),
        (242, 4, 240, "truncated frame header: 2 byte(s)"),
    ],
)
def test_truncation_names_record_and_offset(cut, record, offset, message) -> None:
    err = _frames_error(_five_records()[:cut])
    assert isinstance(err, ValueError)
    assert (err.record, err.offset) == (record, offset)
    assert f"record index {record} at byte offset {offset}: {message}" in str(err)


def test_bad_magic_names_record_and_offset() -> None:
    data = bytearray(_five_records())
    data[120] ^= 0xFF
    err = _frames_error(bytes(data))
    assert str(err).startswith("record index 2 at byte offset 120: bad magic 0xced723f5")
    assert (err.record, err.offset) == (2, 120)


def test_bad_length_too_long_and_too_short() -> None:
    data = bytearray(_five_records())
    struct.pack_into("<I", data, 64, 10_000)
    assert "record index 1 at byte offset 60: truncated payload: the length word says 10000 bytes" in str(
        _frames_error(bytes(data))
    )
    data = bytearray(_five_records())
    struct.pack_into("<I", data, 64, 48)  # 4 bytes short: the next frame starts inside record 1
    err = _frames_error(bytes(data))
    assert (err.record, err.offset) == (2, 116)
    assert "bad magic" in str(err)
    with pytest.raises(RecordIOError, match=r"record index 1 at byte offset 60: invalid Record protobuf"):
        list(recordio.read_records(bytes(data)))


def test_reserved_cflag_and_orphan_continuation_are_rejected() -> None:
    data = bytearray(_five_records())
    struct.pack_into("<I", data, 4 + 60, 5 << 29 | 52)
    err = _frames_error(bytes(data))
    assert "record index 1 at byte offset 60: bad length word 0xa0000034: continuation flag 5" in str(err)
    data = bytearray(_five_records())
    struct.pack_into("<I", data, 4 + 120, 3 << 29 | 52)
    assert "record index 2 at byte offset 120" in str(_frames_error(bytes(data)))
    data = bytearray(_five_records())
    struct.pack_into("<I", data, 4 + 240, 1 << 29 | 52)  # last record opens a multi-part record
    message = str(_frames_error(bytes(data)))
    assert "data ends inside a multi-part record that began at byte offset 240" in message


def test_bad_protobuf_names_record_offset_and_payload_byte() -> None:
    good = _five_records()
    bad = good[:180] + recordio.frame(b"\x0a\x7f\x01") + good[180:]  # declares 127 bytes, has 1
    with pytest.raises(RecordIOError) as info:
        list(recordio.read_records(bad))
    expected = "record index 3 at byte offset 180: invalid Record protobuf at payload byte 0"
    assert str(info.value).startswith(expected)
    with pytest.raises(RecordIOError, match="unsupported wire type 3"):
        recordio.decode_record(b"\x0b")
    with pytest.raises(RecordIOError, match="truncated varint"):
        recordio.decode_record(b"\x08\x80")


def test_errors_from_files_and_short_reads_match_bytes(tmp_path) -> None:
    data = _five_records()[:299]
    path = tmp_path / "x.rec"
    path.write_bytes(data)

    class Trickle(io.RawIOBase):
        def __init__(self, raw: bytes) -> None:
            self.raw, self.pos = raw, 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            chunk = self.raw[self.pos : self.pos + min(size, 3)]
            self.pos += len(chunk)
            return chunk

    expected = str(_frames_error(data))
    for src in (path, str(path), io.BytesIO(data), Trickle(data)):
        with pytest.raises(RecordIOError) as info:
            list(recordio.iter_frames(src))
        assert str(info.value) == expected
    assert [f.payload for f in recordio.iter_frames(Trickle(_five_records()))] == [
        f.payload for f in recordio.iter_frames(_five_records())
    ]


def test_escaped_magic_is_split_like_mxnet_and_rejoined() -> None:
    payload = MAGIC_BYTES + b"abcd" + MAGIC_BYTES + b"xy"
    framed = recordio.frame(payload, escape_magic=True)
    expected = (
        MAGIC_BYTES + struct.pack("<I", 1 << 29 | 0)
        + MAGIC_BYTES + struct.pack("<I", 2 << 29 | 4) + b"abcd"
        + MAGIC_BYTES + struct.pack("<I", 3 << 29 | 2) + b"xy\0\0"
    )  # fmt: skip
    assert framed == expected
    assert [f.payload for f in recordio.iter_frames(framed + framed)] == [payload, payload]
    assert [f.offset for f in recordio.iter_frames(framed + framed)] == [0, len(framed)]
    unaligned = b"z" + MAGIC_BYTES + b"abc"
    assert recordio.frame(unaligned, escape_magic=True) == recordio.frame(unaligned)
    assert recordio.frame(payload) == MAGIC_BYTES + struct.pack("<I", 14) + payload + b"\0\0"


def test_starts_with_magic() -> None:
    assert recordio.starts_with_magic(b"\x0a\x23\xd7\xce\x00")
    assert recordio.starts_with_magic(memoryview(bytearray(MAGIC_BYTES)))
    assert not recordio.starts_with_magic(b"\x0a\x23\xd7")
    assert not recordio.starts_with_magic(b"1,2,3\n")
    assert MAGIC_BYTES == b"\x0a\x23\xd7\xce"
    assert MAGIC == 0xCED7230A


def test_import_is_cheap_and_framing_works_without_numpy() -> None:
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "from sagedrop import recordio as r\n"
        "data = r.frame(r.pack_image_record(r.IRHeader(0, [1.0, 2.0], 7, 0), b'img'))\n"
        "assert r.starts_with_magic(data)\n"
        "(h, img), = r.iter_image_rec(data)\n"
        "assert h.label == (1.0, 2.0) and img == b'img'\n"
        "print('ok')\n"
    )
    src = str(Path(sagedrop.__file__).resolve().parents[1])  # the layer folder that holds the package
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": src}, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# --------------------------------------------------------------------------------------------
# Writers: validation, streaming, fast reader fallbacks
# --------------------------------------------------------------------------------------------


def test_streaming_chunks_give_the_one_shot_bytes() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(1000, 11)).astype(np.float32)
    y = rng.normal(size=1000).astype(np.float32)
    one_shot = recordio.encode_dense(x, y)
    for rows in (1, 7, 999, 4096):
        assert _write("dense", (x, y), rows) == one_shot
    out = io.BytesIO()
    pieces = ((x[i : i + 37], y[i : i + 37]) for i in range(0, 1000, 37))
    stats = recordio.write_dense_chunks(out, pieces, chunk_rows=5)
    assert out.getvalue() == one_shot
    assert (stats.records, stats.bytes_written) == (1000, len(one_shot))
    got_x, got_y = recordio.read_dense(io.BytesIO(one_shot))
    assert np.array_equal(got_x, x)
    assert np.array_equal(got_y, y)


def test_write_dense_chunks_rejects_inconsistent_chunks() -> None:
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="chunk 1 has 4 columns, earlier chunks had 3"):
        recordio.write_dense_chunks(io.BytesIO(), [(x, None), (np.zeros((2, 4), np.float32), None)])
    with pytest.raises(ValueError, match="chunk 1 has labels"):
        recordio.write_dense_chunks(io.BytesIO(), [(x, None), (x, np.zeros(2, np.float32))])


@pytest.mark.parametrize(
    ("features", "labels", "message"),
    [
        (np.zeros(3, np.float32), None, "2-D"),
        (np.zeros((3, 0), np.float32), None, "at least one column"),
        (np.zeros((3, 2), np.float32), np.zeros(2, np.float32), "vector of 3 values"),
        (np.zeros((3, 2), np.float16), None, "unsupported dtype float16"),
        (np.zeros((3, 2), bool), None, "unsupported dtype bool"),
        (np.full((1, 2), 2**31, np.int64), None, "int32 range"),
        (np.zeros((1, 2), np.float32), np.array([-(2**31) - 1]), "int32 range"),
    ],
)
def test_dense_input_validation(features, labels, message) -> None:
    with pytest.raises(ValueError, match=message):
        recordio.encode_dense(features, labels)


def test_sparse_input_validation_and_duck_typing() -> None:
    class Csr:
        data = np.array([1.0, 2.0], np.float32)
        indices = np.array([0, 2])
        indptr = np.array([0, 1, 2])
        shape = (2, 3)

    class Coo:
        def tocsr(self):
            return Csr()

    assert recordio.encode_sparse(Csr()) == recordio.encode_sparse(Coo())
    with pytest.raises(ValueError, match=r"column indices must lie in \[0, 2\)"):
        recordio.encode_sparse((Csr.data, Csr.indices, Csr.indptr, (2, 2)))
    with pytest.raises(ValueError, match="indptr"):
        recordio.encode_sparse((Csr.data, Csr.indices, np.array([0, 2, 1]), (2, 3)))
    with pytest.raises(TypeError, match="CSR-like"):
        recordio.encode_sparse(object())


def test_read_dense_falls_back_for_varying_layouts() -> None:
    x = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    y = np.array([1, 300], np.int32)  # varint labels of 1 and 2 bytes: no fixed layout
    got_x, got_y = recordio.read_dense(recordio.encode_dense(x, y))
    assert np.array_equal(got_x, x)
    assert got_y.tolist() == [1, 300]
    escaped = b"".join(
        recordio.frame(f.payload, escape_magic=True) for f in recordio.iter_frames(recordio.encode_dense(x))
    )
    magic_float = np.frombuffer(MAGIC_BYTES, np.float32)[0]
    split = np.array([[1.0, magic_float, 5.0, 6.0]], np.float32)  # the magic lands 4-aligned in the payload
    framed = recordio.encode_dense(split)
    split_framed = recordio.frame(next(recordio.iter_frames(framed)).payload, escape_magic=True)
    assert split_framed != framed
    assert recordio.read_dense(split_framed)[0].view(np.uint32).tolist() == split.view(np.uint32).tolist()
    assert np.array_equal(recordio.read_dense(escaped)[0], x)


def test_read_dense_rejects_mixed_widths_and_sparse_records() -> None:
    two, three = np.zeros((1, 2), np.float32), np.zeros((1, 3), np.float32)
    mixed = recordio.encode_dense(two) + recordio.encode_dense(three)
    with pytest.raises(RecordIOError, match="record index 1 at byte offset 32: 3 float32 features"):
        recordio.read_dense(mixed)
    sparse = recordio.encode_sparse((np.array([1.0], np.float32), np.array([1]), np.array([0, 1]), (1, 4)))
    expected = r"record index 0 at byte offset 0: features\[.values.\] is sparse"
    with pytest.raises(RecordIOError, match=expected):
        recordio.read_dense(sparse)


# --------------------------------------------------------------------------------------------
# CSV -> RecordIO
# --------------------------------------------------------------------------------------------

CSV = "1,0.5,2.5,-3\n0,1e3,nan,inf\n\n1, 4 ,5,6\r\n"


@pytest.mark.parametrize("chunk_rows", [1, 2, 100])
def test_csv_conversion_label_first(chunk_rows: int) -> None:
    out = io.BytesIO()
    stats = recordio.csv_to_recordio(io.StringIO(CSV), out, chunk_rows=chunk_rows)
    table = np.array([[1, 0.5, 2.5, -3], [0, 1e3, np.nan, np.inf], [1, 4, 5, 6]], np.float32)
    assert out.getvalue() == recordio.encode_dense(table[:, 1:], table[:, 0])
    assert (stats.rows, stats.feature_columns, stats.has_label) == (3, 3, True)
    assert (stats.lines_read, stats.blank_lines, stats.bytes_written) == (4, 1, len(out.getvalue()))


def test_csv_conversion_without_label_and_float64() -> None:
    out = io.BytesIO()
    stats = recordio.csv_to_recordio(io.StringIO("1,2\n3,4\n"), out, label_first=False, dtype="float64")
    assert out.getvalue() == recordio.encode_dense(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert (stats.rows, stats.feature_columns, stats.has_label) == (2, 2, False)


@pytest.mark.parametrize(
    ("text", "chunk_rows", "line", "column", "message"),
    [
        ("1,2,3\n4,5,6\n7,abc,9\n", 100, 3, 2, "line 3, column 2: 'abc' is not a number"),
        ("1,2,3\n4,5,6\n7,abc,9\n", 2, 3, 2, "line 3, column 2: 'abc' is not a number"),
        ("1,2,3\n4,5,6\n\n7,8\n", 2, 4, None, "line 4: 2 columns, expected 3 like the lines before"),
        ("1,2,3\n4,5\n", 100, 2, None, "line 2: 2 columns, expected 3"),
        (
            "label,a,b\n1,2,3\n",
            100,
            1,
            1,
            "line 1, column 1: 'label' is not a number (SageMaker CSV has no header row)",
        ),
        ("1,,3\n", 100, 1, 2, "line 1, column 2: '<empty>' is not a number"),
        ("1,1_000,3\n", 100, 1, 2, "line 1, column 2: '1_000' is not a number"),
        ("5\n", 100, 1, None, "label_first needs a label and a feature"),
    ],
)
def test_csv_errors_name_line_and_column(text, chunk_rows, line, column, message) -> None:
    with pytest.raises(CsvFormatError) as info:
        recordio.csv_to_recordio(io.StringIO(text), io.BytesIO(), chunk_rows=chunk_rows)
    assert message in str(info.value)
    assert (info.value.line, info.value.column) == (line, column)


def test_csv_conversion_streams_large_input_in_chunks() -> None:
    rng = np.random.default_rng(3)
    table = rng.normal(size=(5000, 6)).round(4)
    text = "".join(",".join(f"{v:.4f}" for v in row) + "\n" for row in table)
    out = io.BytesIO()
    stats = recordio.csv_to_recordio(io.StringIO(text), out, chunk_rows=512)
    expected = table.astype(np.float32)
    assert out.getvalue() == recordio.encode_dense(expected[:, 1:], expected[:, 0])
    assert stats.chunks >= 5000 // 512


# The vectorized CSV parser (sagedrop.csvblocks) against Python's float(): every value must have
# the bits of float(text) (float64) and of float(text) rounded to float32, as np.loadtxt gave.

_DIGITS = st.text("0123456789", min_size=1, max_size=21)


@st.composite
def _decimal(draw: st.DrawFn) -> str:
    digits = draw(_DIGITS)
    cut = draw(st.integers(0, len(digits)))
    text = draw(st.sampled_from(["", "-", "+"])) + draw(st.sampled_from([digits, f"{digits[:cut]}.{digits[cut:]}"]))
    if draw(st.booleans()):
        text += draw(st.sampled_from("eE")) + draw(st.sampled_from(["", "-", "+"])) + str(draw(st.integers(0, 400)))
    return text


def _bits(values: np.ndarray) -> np.ndarray:
    return values.view(np.uint32 if values.dtype == np.float32 else np.uint64)


@FAST
@given(rows=st.lists(st.lists(_decimal(), min_size=3, max_size=3), min_size=1, max_size=40))
def test_csv_values_are_pythons_float_bit_for_bit(rows: list[list[str]]) -> None:
    from sagedrop.csvblocks import CsvReader

    text = "".join(",".join(row) + "\n" for row in rows).encode()
    exact = np.array([[float(v) for v in row] for row in rows], np.float64)
    # small blocks: a few exponents per block, parsed one by one; one large block: many exponents,
    # located in bulk (csvfields.FEW_SLOW_FIELDS)
    for dtype, block_bytes in (("float32", 64), ("float64", 64), ("float32", 1 << 16), ("float64", 1 << 16)):
        blocks = list(CsvReader(io.BytesIO(text), dtype=dtype, labels64=True, block_bytes=block_bytes))
        got = np.concatenate([b.table for b in blocks])
        with np.errstate(over="ignore"):
            expected = exact.astype(dtype)
        assert np.array_equal(_bits(got), _bits(expected))
        assert np.array_equal(_bits(np.concatenate([b.labels64 for b in blocks])), _bits(exact[:, 0]))


def test_csv_many_exponents_in_one_block_and_the_first_bad_value() -> None:
    """More exponent fields in a block than are parsed one by one: the bulk path gives float()'s
    bits, and a bad value among them is still reported at its line and column."""
    from sagedrop.csvblocks import CsvReader
    from sagedrop.csvfields import FEW_SLOW_FIELDS

    rng = np.random.default_rng(7)
    values = rng.normal(size=(4 * FEW_SLOW_FIELDS, 3)) * 10.0 ** rng.integers(-30, 30, size=(4 * FEW_SLOW_FIELDS, 3))
    lines = [",".join(f"{v:.9e}" for v in row) for row in values]
    got = np.concatenate([b.table for b in CsvReader(io.BytesIO("\n".join(lines).encode()), dtype="float64")])
    assert np.array_equal(_bits(got), _bits(np.array([[float(v) for v in line.split(",")] for line in lines])))
    lines[90] = lines[90].replace("e", "x", 1)
    with pytest.raises(CsvFormatError) as info:
        list(CsvReader(io.BytesIO("\n".join(lines).encode())))
    assert (info.value.line, info.value.column) == (91, 1)


def test_csv_float32_ties_and_long_mantissas_round_like_loadtxt() -> None:
    """Values whose double lies on (or next to) a float32 rounding tie, written with 17+ digits:
    the fast approximation must hand them to the exact path (np.loadtxt parses to double first)."""
    tie = np.float64(1.0) + np.float64(2.0**-24)  # halfway between two float32 values
    values = [tie, np.nextafter(tie, 2.0), np.nextafter(tie, 0.0), 0.1, 1 / 3, 3.4028235677973366e38]
    text = "".join(f"{float(v)!r},{float(v):.20e}\n" for v in values)
    expected = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float32)
    from sagedrop.csvblocks import CsvReader

    got = np.concatenate([b.table for b in CsvReader(io.BytesIO(text.encode()))])
    assert np.array_equal(_bits(got), _bits(expected))


def test_csv_bytes_bom_crlf_cr_blank_and_whitespace_lines() -> None:
    data = b"\xef\xbb\xbf1,2\r\n\r\n  \r\n3,4\r5,6\n\t\n7,8"  # BOM, CRLF, CR, blank lines, no final newline
    out = io.BytesIO()
    stats = recordio.csv_to_recordio(io.BytesIO(data), out, label_first=False)
    assert out.getvalue() == recordio.encode_dense(np.array([[1, 2], [3, 4], [5, 6], [7, 8]], np.float32))
    assert (stats.rows, stats.lines_read, stats.blank_lines) == (4, 7, 3)


@pytest.mark.parametrize("workers", [1, 2])
def test_csv_first_error_wins_across_blocks_and_threads(workers: int) -> None:
    """Many small blocks parsed in threads: the earliest problem in the file is the one reported."""
    from sagedrop.csvblocks import CsvReader

    lines = [f"{i},{i * 0.5},{-i}" for i in range(2000)]
    lines[1500] = "1,2"  # a later column-count problem
    lines[700] = "1,2,x7"  # the first problem
    with pytest.raises(CsvFormatError) as info:
        list(CsvReader(io.BytesIO("\n".join(lines).encode()), block_bytes=512, workers=workers))
    assert (info.value.line, info.value.column, info.value.token) == (701, 3, "x7")


def test_csv_leading_blank_blocks_then_data_in_threads() -> None:
    """Whole blocks of blank lines before the first data line: the column count comes from the data."""
    from sagedrop.csvblocks import CsvReader

    data = b"\n" * 3000 + b"".join(b"%d,%d,%d\n" % (i, i, i) for i in range(3000))
    reader = CsvReader(io.BytesIO(data), block_bytes=512, workers=2)
    blocks = list(reader)
    table = np.concatenate([b.table for b in blocks if b.table.size])
    assert np.array_equal(table, np.repeat(np.arange(3000, dtype=np.float32)[:, None], 3, axis=1))
    assert (sum(b.blank for b in blocks), reader.line, reader.columns) == (3000, 6000, 3)


def test_csv_non_utf8_bytes_are_a_bad_value_not_a_crash() -> None:
    with pytest.raises(CsvFormatError) as info:
        recordio.csv_to_recordio(io.BytesIO(b"1,2\n3,\xff\xfe\n"), io.BytesIO())
    assert (info.value.line, info.value.column) == (2, 2)


# --------------------------------------------------------------------------------------------
# MXNet image records
# --------------------------------------------------------------------------------------------


def test_irheader_pack_scalar_label() -> None:
    payload = recordio.pack_image_record(IRHeader(9, 3.0, 7, 1), b"\xff\xd8jpeg")
    assert payload == struct.pack("<IfQQ", 0, 3.0, 7, 1) + b"\xff\xd8jpeg"  # flag forced to 0, like MXNet
    assert recordio.IR_SIZE == 24
    header, image = recordio.unpack_image_record(payload)
    assert header == IRHeader(0, 3.0, 7, 1)
    assert image == b"\xff\xd8jpeg"


def test_irheader_pack_label_vector() -> None:
    payload = recordio.pack_image_record((0, np.array([1.0, 2.5, -1.0]), 42, 0), b"png")
    assert payload == struct.pack("<IfQQ", 3, 0.0, 42, 0) + struct.pack("<3f", 1.0, 2.5, -1.0) + b"png"
    header, image = recordio.unpack_image_record(payload)
    assert header == IRHeader(3, (1.0, 2.5, -1.0), 42, 0)
    assert image == b"png"


def test_irheader_unpack_errors() -> None:
    with pytest.raises(RecordIOError, match="shorter than the 24-byte IRHeader"):
        recordio.unpack_image_record(b"\0" * 10)
    with pytest.raises(RecordIOError, match="says 4 float32 labels"):
        recordio.unpack_image_record(struct.pack("<IfQQ", 4, 0.0, 1, 0) + b"\0" * 8)


def test_image_rec_file_round_trip_with_index() -> None:
    aligned_magic = b"\xff\xd8\xff\xe0" * 5 + MAGIC_BYTES  # payload offset 24 + 20 = 44: 4-aligned
    items = [(IRHeader(0, float(i), i, 0), aligned_magic + bytes([i]) * (i + 1)) for i in range(4)]
    items.append((IRHeader(0, [1.0, 2.0], 99, 0), b"multi"))
    out, index = io.BytesIO(), io.StringIO()
    stats = recordio.write_image_rec(out, items, index_dst=index)
    data = out.getvalue()
    assert stats.records == 5
    assert stats.bytes_written == len(data)
    cflags = [struct.unpack_from("<I", data, f.offset + 4)[0] >> 29 for f in recordio.iter_frames(data)]
    assert cflags[:4] == [1, 1, 1, 1]
    assert cflags[4] == 0
    back = list(recordio.iter_image_rec(data))
    assert [img for _, img in back] == [img for _, img in items]
    assert back[4][0] == IRHeader(2, (1.0, 2.0), 99, 0)
    for line, (header, _) in zip(index.getvalue().splitlines(), back, strict=True):
        key, offset = line.split("\t")
        assert int(key) == header.id
        assert next(recordio.iter_image_rec(data[int(offset) :]))[0] == header
    plain = io.BytesIO()
    recordio.write_image_rec(plain, items, escape_magic=False)
    assert [img for _, img in recordio.iter_image_rec(plain.getvalue())] == [img for _, img in items]


def test_image_rec_bad_header_names_record() -> None:
    data = recordio.frame(recordio.pack_image_record(IRHeader(0, 1.0, 1, 0), b"x")) + recordio.frame(b"short")
    with pytest.raises(RecordIOError, match=r"record index 1 at byte offset 36: image record of 5 bytes"):
        list(recordio.iter_image_rec(data))


def test_large_outputs_to_a_file_are_written_behind_with_the_same_bytes(tmp_path: Path) -> None:
    """Over 4 MiB to an operating-system file: a second thread writes each 1 MiB chunk while the next is
    encoded into the other buffer; the file must hold exactly the in-memory encoding, in order."""
    import threading

    rng = np.random.default_rng(7)
    x = rng.normal(size=(70_000, 13)).astype(np.float32)
    y = rng.integers(0, 5, size=70_000).astype(np.float32)
    writers: set[str] = set()

    class Recording(io.FileIO):
        def write(self, b):  # type: ignore[override]
            writers.add(threading.current_thread().name)
            return super().write(b)

    path = tmp_path / "big.rec"
    with Recording(path, "wb") as f:
        stats = recordio.write_dense(f, x, y)
    expected = recordio.encode_dense(x, y)
    assert len(expected) > 4 << 20 and path.read_bytes() == expected
    per_chunk = (1 << 20) // (len(expected) // 70_000)
    assert stats.bytes_written == len(expected) and stats.chunks == -(-70_000 // per_chunk)
    assert all(name.startswith("recordio-write") for name in writers)
    small = tmp_path / "small.rec"
    writers.clear()
    with Recording(small, "wb") as f:
        recordio.write_dense(f, x[:100], y[:100])
    assert small.read_bytes() == recordio.encode_dense(x[:100], y[:100])
    assert writers == {threading.current_thread().name}  # small outputs: no second thread


def test_a_failed_write_behind_raises_and_stops(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(size=(70_000, 13)).astype(np.float32)
    calls = []

    class Full(io.FileIO):
        def write(self, b):  # type: ignore[override]
            calls.append(len(b))
            if len(calls) == 3:
                raise OSError(28, "No space left on device")
            return super().write(b)

    with Full(tmp_path / "full.rec", "wb") as f, pytest.raises(OSError, match="No space left"):
        recordio.write_dense(f, x)
    assert len(calls) == 3  # nothing written after the failure
