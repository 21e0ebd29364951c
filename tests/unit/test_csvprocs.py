"""csvprocs: CSV blocks parsed and finished in forked worker processes through shared memory.

``convert.transform_csv`` (the train function's channel conversion) asks for processes; the bytes
it writes must be the same as one thread's, the file's line numbers must survive, and every
failure in a worker must come back to the caller instead of hanging or being lost.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import threading

import numpy as np
import pytest

from sagedrop import csvprocs
from sagedrop.convert import DataError, transform_csv
from sagedrop.csvblocks import Block, CsvFormatError, CsvReader

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="worker processes are forked")


def _csv(rows: int, start: int = 0) -> bytes:
    return b"".join(b"%d,%d.25,-%d,1e-%d\n" % (i, i, i, i % 30) for i in range(start, start + rows))


def _encode(block: Block) -> np.ndarray:
    from sagedrop import recordio

    return recordio.encode_dense_array(block.table[:, 1:], block.table[:, 0])


def _children() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name == "csvblocks"]


@pytest.mark.parametrize("block_bytes", [300, 4096, 1 << 16])
def test_processes_write_the_same_bytes_as_one_thread(block_bytes: int) -> None:
    data = _csv(6000)
    serial = b"".join(bytes(r) for _, r in CsvReader(io.BytesIO(data), block_bytes=block_bytes).mapped(_encode))
    reader = CsvReader(io.BytesIO(data), block_bytes=block_bytes, workers=2, processes=True)
    pairs = list(reader.mapped(_encode))
    assert b"".join(bytes(r) for _, r in pairs) == serial
    assert all(block.table is None for block, _ in pairs[1:])  # the first block is parsed here, serially
    assert sum(block.shape[0] for block, _ in pairs) == 6000 and {b.shape[1] for b, _ in pairs} == {4}
    assert reader.line == 6000
    assert not _children()


def test_transform_csv_uses_processes_and_matches_one_thread() -> None:
    data = _csv(20000)
    one, two = io.BytesIO(), io.BytesIO()
    s1 = transform_csv(io.BytesIO(data), one, where="s3://b/k", recordio=True, workers=1)
    s2 = transform_csv(io.BytesIO(data), two, where="s3://b/k", recordio=True, workers=2)
    assert one.getvalue() == two.getvalue()
    assert (s1.rows, s1.columns, s1.bytes_written) == (s2.rows, s2.columns, s2.bytes_written)
    assert (s1.rows, s1.columns) == (20000, 4)


def test_a_line_longer_than_a_slot_is_parsed_in_the_parent_in_turn() -> None:
    wide = b",".join(b"%d" % i for i in range(3000)) + b"\n"  # ~14 KB: more than a 2 x 1 KiB slot
    data = b"".join([_csv_wide(200, 3000), wide, _csv_wide(200, 3000)])
    serial = [bytes(r) for _, r in CsvReader(io.BytesIO(data), block_bytes=1024).mapped(_encode)]
    reader = CsvReader(io.BytesIO(data), block_bytes=1024, workers=2, processes=True)
    parallel = [bytes(r) for _, r in reader.mapped(_encode)]
    assert parallel == serial


def _csv_wide(rows: int, columns: int) -> bytes:
    return b"".join(b",".join(b"%d" % ((r + c) % 7) for c in range(columns)) + b"\n" for r in range(rows))


@pytest.mark.parametrize("bad_line", [2, 1500, 5999])
def test_a_bad_value_in_a_worker_names_its_line_in_the_file(bad_line: int) -> None:
    lines = _csv(6000).split(b"\n")
    lines[bad_line - 1] = b"1,2,x7,4"
    data = b"\n".join(lines)
    with pytest.raises(DataError) as err:
        transform_csv(io.BytesIO(data), io.BytesIO(), where="s3://b/k.csv", recordio=True, workers=2)
    assert f"line {bad_line}, column 3 is not a number: 'x7'" in str(err.value)
    assert not _children()


def test_a_wrong_column_count_in_a_worker_names_its_line() -> None:
    lines = _csv(6000).split(b"\n")
    lines[4321 - 1] = b"1,2,3"
    reader = CsvReader(io.BytesIO(b"\n".join(lines)), block_bytes=2048, workers=2, processes=True)
    with pytest.raises(CsvFormatError) as err:
        list(reader.mapped(_encode))
    assert (err.value.line, err.value.columns, err.value.expected) == (4321, 3, 4)


def test_an_exception_from_finish_comes_back_with_its_type_and_the_workers_traceback() -> None:
    def finish(block: Block) -> None:
        if block.table[0, 0] > 1000:
            raise ValueError(f"label {block.table[0, 0]} too large")

    reader = CsvReader(io.BytesIO(_csv(5000)), block_bytes=1024, workers=2, processes=True)
    with pytest.raises(ValueError, match="too large") as err:
        list(reader.mapped(finish))
    assert any("raised in a CSV parsing process" in note for note in err.value.__notes__)


def test_results_that_are_no_byte_array_or_too_large_come_back_through_the_pipe() -> None:
    reader = CsvReader(io.BytesIO(_csv(3000)), block_bytes=1024, workers=2, processes=True)
    sums = [r for _, r in reader.mapped(lambda b: (b.shape[0], float(b.table[:, 0].sum())))]
    assert sum(rows for rows, _ in sums) == 3000 and sum(total for _, total in sums) == sum(range(3000))
    big = CsvReader(io.BytesIO(_csv(3000)), block_bytes=1024, workers=2, processes=True)
    results = [r for _, r in big.mapped(lambda b: np.full(10 * 4096 + b.shape[0], 7, np.uint8))]
    assert all(isinstance(r, np.ndarray) and r.size > 10 * 4096 and (r == 7).all() for r in results)


def test_a_worker_that_dies_is_an_error_not_a_hang() -> None:
    def finish(block: Block) -> None:
        if block.table[0, 0] > 1000:
            os._exit(3)

    reader = CsvReader(io.BytesIO(_csv(5000)), block_bytes=1024, workers=2, processes=True)
    with pytest.raises(csvprocs.WorkerError, match="exit code 3"):
        list(reader.mapped(finish))
    assert not _children()


@pytest.mark.parametrize("result_bytes", [0, 1 << 20])
def test_stopping_early_stops_the_workers_at_once(result_bytes: int) -> None:
    """Also when the unread replies are results too large for shared memory (sent through the pipe,
    where a worker would wait for a reader that is gone)."""
    import time

    def finish(block: Block) -> np.ndarray:
        return np.zeros(result_bytes, np.uint8) if result_bytes else _encode(block)

    pairs = CsvReader(io.BytesIO(_csv(20000)), block_bytes=1024, workers=2, processes=True).mapped(finish)
    next(pairs)
    next(pairs)
    assert len(_children()) == 2
    start = time.monotonic()
    pairs.close()
    assert not _children()
    assert time.monotonic() - start < 5


def test_threads_are_used_while_another_python_thread_runs() -> None:
    names: set[str] = set()
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not csvprocs.fork_is_safe()
        reader = CsvReader(io.BytesIO(_csv(3000)), block_bytes=1024, workers=2, processes=True)
        blocks = [b for b, _ in reader.mapped(lambda b: names.add(threading.current_thread().name))]
    finally:
        release.set()
        other.join()
    assert all(b.table is not None for b in blocks)  # parsed in this process
    assert any(name.startswith("csvblocks") for name in names)


def test_threads_are_used_when_no_shared_mapping_can_be_made(monkeypatch: pytest.MonkeyPatch) -> None:
    import mmap

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(mmap, "mmap", refuse)
    reader = CsvReader(io.BytesIO(_csv(3000)), block_bytes=1024, workers=2, processes=True)
    assert sum(b.table.shape[0] for b, _ in reader.mapped(_encode)) == 3000


def test_block_shape_follows_its_table() -> None:
    table = np.zeros((3, 5), np.float32)
    assert Block(table=table, labels64=None, lines=3, blank=0).shape == (3, 5)
    assert Block(table=None, labels64=None, lines=4, blank=1, shape=(3, 5)).shape == (3, 5)
