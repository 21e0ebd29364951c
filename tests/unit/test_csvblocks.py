"""csvblocks: blocks parsed (and finished) where they are read or in threads, numbered in the file.

Each block is parsed with its own line numbers; ``CsvReader`` moves them to the file's in order, so
messages name the line in the file whichever thread parsed the block. The train function's
conversion (``convert.transform_csv``) encodes RecordIO-protobuf in the same threads.
"""

from __future__ import annotations

import io
import itertools
import threading

import numpy as np
import pytest

from sagedrop import recordio
from sagedrop.convert import parse_workers, transform_csv
from sagedrop.csvblocks import CsvFormatError, CsvReader
from sagedrop.settings import LAMBDA_MB_PER_VCPU, lambda_vcpus


def _csv(rows: int, start: int = 0) -> bytes:
    return b"".join(b"%d,%d.5,-%d\n" % (i, i, i) for i in range(start, start + rows))


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_mapped_runs_finish_per_block_in_file_order(workers: int) -> None:
    seen_threads: set[str] = set()

    def finish(block):
        seen_threads.add(threading.current_thread().name)
        return float(block.table[:, 0].sum()), block.table.shape[0]

    reader = CsvReader(io.BytesIO(_csv(5000)), block_bytes=1024, workers=workers)
    pairs = list(reader.mapped(finish))
    blocks = [b for b, _ in pairs]
    assert [r for _, r in pairs] == [(float(b.table[:, 0].sum()), b.table.shape[0]) for b in blocks]
    firsts = [b.first_line for b in blocks]
    assert firsts[0] == 1 and firsts == sorted(firsts)
    assert all(b.first_line + b.lines == n.first_line for b, n in itertools.pairwise(blocks))
    assert np.array_equal(np.concatenate([b.table[:, 0] for b in blocks]), np.arange(5000, dtype=np.float32))
    assert reader.line == 5000
    if workers > 1:
        assert any(name.startswith("csvblocks") for name in seen_threads)


def test_finish_is_not_called_for_blocks_of_blank_lines() -> None:
    calls = []
    data = b"\n" * 600 + _csv(10)
    pairs = list(CsvReader(io.BytesIO(data), block_bytes=256).mapped(lambda b: calls.append(b) or "done"))
    assert all(result is None for block, result in pairs if not block.table.shape[0])
    assert len(calls) == sum(1 for block, _ in pairs if block.table.shape[0])


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("bad_line", [1, 2, 700, 2999])
def test_errors_name_the_line_in_the_file_from_any_block(workers: int, bad_line: int) -> None:
    lines = _csv(3000).split(b"\n")
    lines[bad_line - 1] = b"1,oops,3"
    data = b"\n".join(lines)
    with pytest.raises(CsvFormatError) as info:
        list(CsvReader(io.BytesIO(data), block_bytes=512, workers=workers))
    assert (info.value.line, info.value.column, info.value.token) == (bad_line, 2, "oops")
    hint = " (SageMaker CSV has no header row)" if bad_line == 1 else ""
    assert str(info.value) == f"line {bad_line}, column 2: 'oops' is not a number{hint}"


def test_width_errors_and_blank_lines_keep_file_line_numbers_across_blocks() -> None:
    data = _csv(400) + b"\n\n  \n" + _csv(400, 400) + b"1,2\n"
    with pytest.raises(CsvFormatError) as info:
        list(CsvReader(io.BytesIO(data), block_bytes=300, workers=2))
    assert (info.value.line, info.value.columns, info.value.expected) == (804, 2, 3)
    assert str(info.value) == "line 804: 2 columns, expected 3 like the lines before"


def test_moved_errors_keep_every_field() -> None:
    value = CsvFormatError.bad_value("x", 1, 4)
    assert "no header row" in str(value)
    moved = value.moved(10)
    assert (moved.line, moved.column, moved.token) == (11, 4, "x") and "header" not in str(moved)
    width = CsvFormatError.bad_width(3, 2, 5).moved(7)
    assert (width.line, width.columns, width.expected, str(width)) == (
        10,
        2,
        5,
        "line 10: 2 columns, expected 5 like the lines before",
    )
    assert value.moved(0) is value


@pytest.mark.parametrize("workers", [1, 2])
def test_transform_csv_writes_the_same_bytes_with_threads(workers: int) -> None:
    data = _csv(20000)
    out = io.BytesIO()
    stats = transform_csv(io.BytesIO(data), out, where="s3://b/k", recordio=True, workers=workers)
    table = np.loadtxt(io.StringIO(data.decode()), delimiter=",", dtype=np.float32)
    assert out.getvalue() == recordio.encode_dense(table[:, 1:], table[:, 0])
    assert (stats.rows, stats.columns, stats.bytes_written) == (20000, 3, len(out.getvalue()))


def test_lambda_vcpus_follow_the_memory_size() -> None:
    assert lambda_vcpus({}) is None
    assert lambda_vcpus({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "abc"}) is None
    assert lambda_vcpus({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(LAMBDA_MB_PER_VCPU)}) == 1.0
    assert lambda_vcpus({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}) < 1


def test_parse_workers_one_thread_below_two_vcpus_in_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert parse_workers({}) == 2  # outside Lambda: the CPUs, at most PARSE_WORKERS
    assert parse_workers({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}) == 1  # the template's train function
    assert parse_workers({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3537"}) == 1
    assert parse_workers({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3538"}) == 2
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0}, raising=False)
    assert parse_workers({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "10240"}) == 1


NINE = ["1234.5678", ".12345678", "12345678.", "123456789", "0.0123456", "-0.0123456", "+9.8765432"]
NOT_NUMBERS = [".1234567.", "1234567..", "..1234567", "1.2345678.", "1.23.4567", "-.1234567.", "1234x5678", "x.1234567"]


def test_nine_character_fields_read_like_float() -> None:
    """Fields of 9 characters after the sign take a shortcut (one word plus the first character):
    the values are float()'s, bit for bit, and anything float() refuses is still refused."""
    text = "\n".join(f"{v},{v}" for v in NINE) + "\n"
    for dtype in ("float32", "float64"):
        got = np.concatenate([b.table for b in CsvReader(io.BytesIO(text.encode()), dtype=dtype)])
        expected = np.array([[float(v)] * 2 for v in NINE], dtype)
        assert np.array_equal(got.view(f"u{got.itemsize}"), expected.view(f"u{got.itemsize}"))
    for token in NOT_NUMBERS:
        with pytest.raises(CsvFormatError) as info:
            list(CsvReader(io.BytesIO(f"1,2\n3,{token}\n".encode())))
        assert (info.value.line, info.value.column, info.value.token) == (2, 2, token)


@pytest.mark.parametrize("block_bytes", [1, 2, 3, 7, 16, 64, 1 << 16])
def test_line_ends_and_long_lines_across_read_boundaries(block_bytes: int) -> None:
    """CRLF split between two reads, a CR at the end of a read, lines longer than a block, a BOM and
    no final newline: the same table and line count as the LF text read in one piece."""
    rows = [[i, i * 0.25, -i * 1000.125, 123456789.5] for i in range(40)]
    lines = [",".join(repr(v) for v in row) for row in rows]
    ends = ["\r\n", "\r", "\n"]
    data = "\ufeff".encode() + "".join(line + ends[i % 3] for i, line in enumerate(lines))[:-1].encode()
    reader = CsvReader(io.BytesIO(data), dtype="float64", block_bytes=block_bytes)
    table = np.concatenate([b.table for b in reader])
    assert np.array_equal(table, np.array(rows, np.float64))
    assert reader.line == 40


def test_common_number_shapes_take_the_vectorized_path() -> None:
    """Numbers as np.savetxt("%.6g"), repr() and "%.4f" write them are read by the word arithmetic
    (exact, no per-field float() fallback): the speed of the train function's conversion rests on it."""
    from sagedrop.csvblocks import _buffer, _Layout
    from sagedrop.csvfields import parse_fields

    rng = np.random.default_rng(5)
    values = np.concatenate([rng.normal(size=300), rng.normal(size=300) * 1000, np.arange(-20, 20)])
    for fmt in ("%.6g", "%.4f", "%d"):
        fields = [fmt % v for v in values if "e" not in fmt % v]
        buf = _buffer(("\n".join(fields) + "\n").encode())
        layout = _Layout(buf)
        value, exact, safe32 = parse_fields(buf, layout.starts, layout.ends)
        assert exact.all() and safe32.all(), [f for f, ok in zip(fields, exact, strict=True) if not ok][:5]
        assert np.array_equal(value, [float(f) for f in fields])


def test_a_wrong_column_count_after_many_exponents_is_reported_not_a_crash() -> None:
    """The values before a short line are checked first; with more than 32 exponents in the block they
    are read with exponents located in bulk, which once looked past those values (IndexError)."""
    rows = [b"%d,%d.25,-%d,1e-%d" % (i, i, i, i % 30) for i in range(600)]
    rows[432] = b"1,2,3"
    with pytest.raises(CsvFormatError) as err:
        list(CsvReader(io.BytesIO(b"\n".join(rows) + b"\n"), block_bytes=1 << 16))
    assert (err.value.line, err.value.columns, err.value.expected) == (433, 3, 4)
    rows[432] = b"1,2,3,4"
    rows[100] = b"1,2e5x,3,4"
    with pytest.raises(CsvFormatError, match="line 101, column 2: '2e5x' is not a number"):
        list(CsvReader(io.BytesIO(b"\n".join([*rows[:432], b"1,2"]) + b"\n"), block_bytes=1 << 16))


def _bits(table: np.ndarray) -> np.ndarray:
    return table.view(f"u{table.itemsize}")


@pytest.mark.parametrize("block_bytes", [64, 1 << 16])
def test_bytes_below_the_comma_in_fields_read_as_before(block_bytes: int) -> None:
    """'+' (an explicit sign, an exponent's sign), spaces and tabs around values are bytes up to ','
    like the separators, which one comparison finds: the layout falls back to the exact separators
    (Python's ``float()`` accepts all these tokens), and its field spans are exactly those."""
    from sagedrop.csvblocks import _PAD, _buffer, _Layout

    rows = [["+1", "2.5e+05", " 3", "4\t"], ["-1", "+0.5", "1E+3 ", "\t-7.25"], ["0", "1", "2", "3"]]
    text = "".join(",".join(row) + "\n" for row in rows).encode()
    for dtype in ("float32", "float64"):
        got = np.concatenate([b.table for b in CsvReader(io.BytesIO(text), dtype=dtype, block_bytes=block_bytes)])
        expected = np.array([[float(v) for v in row] for row in rows], dtype)
        assert np.array_equal(_bits(got), _bits(expected))
    buf = _buffer(text)
    body = buf[_PAD:]
    exact = np.flatnonzero((body == 44) | (body == 10)) + _PAD
    for columns in (None, 4):
        layout = _Layout(buf, columns)
        assert np.array_equal(layout.ends, exact) and layout.newlines == 3
        assert np.array_equal(layout.starts, np.concatenate([[_PAD], exact[:-1] + 1]))
        assert np.array_equal(layout.line_ends, [3, 7, 11]) and layout.regular(4) and not layout.regular(3)


def test_bytes_below_the_comma_keep_errors_and_their_places() -> None:
    """A space inside a value, a '+' with no digits, a quote and a wrong column count next to such
    bytes are reported at the same line and column as with the exact separators."""
    cases = [
        (b"1,2,3\n4,5 6,7\n", (2, 2, "5 6")),
        (b"1,2,3\n4,5,+\n", (2, 3, "+")),
        (b'1,2,3\n"4",5,6\n', (2, 1, '"4"')),
        (b"1,+2,3\n4,+5\n", (2, None, None)),
        (b"1,2,3\n4, 5,6,7\n", (2, None, None)),
    ]
    for text, (line, column, token) in cases:
        with pytest.raises(CsvFormatError) as info:
            list(CsvReader(io.BytesIO(text)))
        assert (info.value.line, info.value.column, info.value.token) == (line, column, token), text
        if token is None:
            assert (info.value.columns, info.value.expected) == (2 if b"+5" in text else 4, 3)


def test_regular_blocks_with_every_point_position_and_signed_zeros() -> None:
    """A '.' at every place of fields of 1 to 9 characters (and none), signs, "-0" and "-0.0" (which
    must stay -0.0) and long fields of up to 24 digits, in regular blocks: bit-identical to
    Python's ``float()`` in float64 and float32 (the word arithmetic takes the '.' out by moving
    the digits before it; a wrong move would change the value)."""
    tokens = ["-0", "-0.0", "+0", "0.", ".0", "-.5", "+5.", ".12345678", "12345678.", "-123456789"]
    for n in range(1, 10):
        digits = "123456789"[:n]
        tokens += [digits[:k] + "." + digits[k:] for k in range(n + 1) if n > 1 or k == 0]
    tokens += ["1" * 17 + "." + "9" * 6, "." + "7" * 23, "9" * 19, "-" + "3" * 12 + "." + "3" * 11]
    tokens += [t for t in tokens if not t.startswith(("-", "+"))]  # an even count
    rows = [tokens[i : i + 2] for i in range(0, len(tokens) - 1, 2)]
    text = "".join(",".join(row) + "\n" for row in rows).encode()
    for dtype in ("float32", "float64"):
        got = np.concatenate([b.table for b in CsvReader(io.BytesIO(text), dtype=dtype)])
        expected = np.array([[float(v) for v in row] for row in rows], dtype)
        assert np.array_equal(_bits(got), _bits(expected))
    assert np.signbit(np.concatenate([b.table for b in CsvReader(io.BytesIO(b"-0,-0.0\n"))])).all()
