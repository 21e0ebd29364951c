"""Benchmark sagedrop.recordio's vectorized dense writer against a naive per-record writer.

    python benchmarks/recordio_bench.py [--rows N] [--cols C] [--baseline-rows M] [--csv-rows K]

Measures, in one run:
  (a) the new writer into memory: ``encode_dense`` (a ``bytes`` object) and
      ``encode_dense_array`` (the same bytes in a numpy buffer, no final ``bytes`` copy);
  (b) the new writer to a file in a temporary directory (``write_dense``, page cache, no fsync);
  (c) a naive baseline (defined below) into memory and to a file, on ``--baseline-rows`` rows
      and extrapolated as rows/s; its output is asserted identical to the new writer's;
  and the peak traced memory (tracemalloc) of the streaming ``csv_to_recordio`` on generated
  CSV files of two sizes, to show that memory stays bounded as the input grows.
Goals: new/baseline >= 50x to a file and >= 100x into memory.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import struct
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "sagedrop"))

from sagedrop import recordio

# --------------------------------------------------------------------------------------------
# The naive baseline: one record at a time, nested protobuf messages built with struct and a
# Python varint function, the way a hand-rolled per-row encoder is usually written.
# --------------------------------------------------------------------------------------------

_MAGIC = 0xCED7230A


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _float32_map_entry(field: int, key: bytes, values: list[float]) -> bytes:
    tensor = _length_delimited(1, struct.pack(f"<{len(values)}f", *values))  # Float32Tensor.values
    value = _length_delimited(2, tensor)  # Value.float32_tensor
    return _length_delimited(field, _length_delimited(1, key) + _length_delimited(2, value))


def baseline_record(row: list[float], label: float | None) -> bytes:
    payload = _float32_map_entry(1, b"values", row)  # Record.features
    if label is not None:
        payload += _float32_map_entry(2, b"values", [label])  # Record.label
    pad = b"\0" * ((4 - len(payload) % 4) % 4)
    return struct.pack("<II", _MAGIC, len(payload)) + payload + pad


def baseline_write(dst, features: np.ndarray, labels: np.ndarray) -> None:
    for row, label in zip(features.tolist(), labels.tolist(), strict=True):
        dst.write(baseline_record(row, label))


# --------------------------------------------------------------------------------------------
# Measurement helpers
# --------------------------------------------------------------------------------------------


def _timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Median wall time of ``repeat`` runs after one warm-up run, and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        del result
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _best_of(fn: Callable[[], object], runs: int) -> float:
    """Fastest of ``runs`` runs (generous to the slow baseline)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _row(name: str, rows: int, seconds: float, nbytes: int, note: str = "") -> float:
    rate = rows / seconds
    mbps = nbytes / seconds / 1e6
    print(f"  {name:<44} {rate:>14,.0f} rows/s {mbps:>9,.1f} MB/s  {seconds * 1e3:>9.1f} ms  {note}")
    return rate


def _write_csv(path: Path, rows: int, cols: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    with path.open("w") as f:
        for start in range(0, rows, 50_000):
            block = rng.normal(size=(min(50_000, rows - start), cols + 1))
            block[:, 0] = np.round(np.abs(block[:, 0]))
            np.savetxt(f, block, fmt="%.6g", delimiter=",")
    return path.stat().st_size


def _csv_peak(src: Path, dst: Path, chunk_rows: int) -> tuple[float, float, recordio.CsvConversionStats]:
    """(peak traced MB, seconds without tracing, stats) for one streaming conversion."""
    with src.open() as fin, dst.open("wb") as fout:
        start = time.perf_counter()
        stats = recordio.csv_to_recordio(fin, fout, chunk_rows=chunk_rows)
        seconds = time.perf_counter() - start
    tracemalloc.start()
    with src.open() as fin, dst.open("wb") as fout:
        recordio.csv_to_recordio(fin, fout, chunk_rows=chunk_rows)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6, seconds, stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the new writer")
    parser.add_argument("--cols", type=int, default=11, help="float32 feature columns (default 11)")
    parser.add_argument("--baseline-rows", type=int, default=100_000, help="rows for the slow baseline")
    parser.add_argument("--csv-rows", type=int, default=100_000, help="rows of the smaller generated CSV")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each new-writer case (median)")
    args = parser.parse_args()

    rows, cols = args.rows, args.cols
    base_rows = min(args.baseline_rows, rows)
    rng = np.random.default_rng(0)
    features = rng.normal(size=(rows, cols)).astype(np.float32)
    labels = rng.integers(0, 2, size=rows).astype(np.float32)

    machine = f"{os.cpu_count()} CPU(s), {platform.machine()}"
    print(f"python {platform.python_version()}, numpy {np.__version__}, {machine}")
    print(f"data: {rows:,} rows x {cols} float32 features + float32 label")

    # Identical bytes: the baseline and the new writer agree on the baseline subset.
    subset = io.BytesIO()
    baseline_write(subset, features[:base_rows], labels[:base_rows])
    new_subset = recordio.encode_dense(features[:base_rows], labels[:base_rows])
    assert subset.getvalue() == new_subset, "baseline and new writer disagree"
    record_bytes = len(new_subset) // base_rows
    total_bytes = record_bytes * rows
    print(f"output: {record_bytes} bytes per record, {total_bytes / 1e6:,.1f} MB for {rows:,} rows")
    print(f"checked: baseline output == new writer output on the first {base_rows:,} rows", end=" ")
    print(f"({len(new_subset):,} bytes)")

    with tempfile.TemporaryDirectory(prefix="recordio-bench-") as tmp:
        tmpdir = Path(tmp)
        path = tmpdir / "new.rec"

        def new_to_file() -> None:
            with path.open("wb") as f:
                recordio.write_dense(f, features, labels)

        def base_to_file() -> None:
            with (tmpdir / "baseline.rec").open("wb") as f:
                baseline_write(f, features[:base_rows], labels[:base_rows])

        def base_to_memory() -> bytes:
            out = io.BytesIO()
            baseline_write(out, features[:base_rows], labels[:base_rows])
            return out.getvalue()

        t_mem, encoded = _timed(lambda: recordio.encode_dense(features, labels), args.repeat)
        assert isinstance(encoded, bytes)
        assert len(encoded) == total_bytes
        assert encoded[: len(new_subset)] == new_subset
        del encoded
        t_arr, _ = _timed(lambda: recordio.encode_dense_array(features, labels), args.repeat)
        t_file, _ = _timed(new_to_file, args.repeat)
        assert path.stat().st_size == total_bytes
        t_base_mem = _best_of(base_to_memory, 2)
        t_base_file = _best_of(base_to_file, 2)
        assert (tmpdir / "baseline.rec").read_bytes() == new_subset

        print(f"\nwriters (new: median of {args.repeat} runs after a warm-up; baseline: best of 2 runs):")
        new_mem = _row("(a) new, into memory: encode_dense -> bytes", rows, t_mem, total_bytes)
        new_arr = _row("(a) new, into memory: encode_dense_array", rows, t_arr, total_bytes, "(numpy buffer)")
        new_file = _row("(b) new, to a file: write_dense", rows, t_file, total_bytes)
        note = f"(measured on {base_rows:,} rows, extrapolated)"
        base_bytes = record_bytes * base_rows
        base_mem = _row("(c) baseline, into memory (BytesIO)", base_rows, t_base_mem, base_bytes, note)
        base_file = _row("(c) baseline, to a file", base_rows, t_base_file, base_bytes, note)

        ratio_mem, ratio_arr, ratio_file = new_mem / base_mem, new_arr / base_mem, new_file / base_file
        print("\nratios (new rows/s / baseline rows/s):")
        for label, ratio, goal in (
            ("into memory, bytes", ratio_mem, 100),
            ("into memory, numpy buffer", ratio_arr, 100),
            ("to a file", ratio_file, 50),
        ):
            verdict = "met" if ratio >= goal else "NOT met"
            print(f"  {label + ':':<28}{ratio:7.1f}x  (goal >= {goal}x: {verdict})")

        print("\nstreaming csv_to_recordio (chunk_rows=65,536), peak memory traced by tracemalloc:")
        for factor in (1, 4):
            csv_rows = args.csv_rows * factor
            src = tmpdir / f"in{factor}.csv"
            size = _write_csv(src, csv_rows, cols, seed=factor)
            peak, seconds, stats = _csv_peak(src, tmpdir / f"out{factor}.rec", 65_536)
            assert stats.rows == csv_rows
            sizes = f"CSV {size / 1e6:7.1f} MB -> RecordIO {stats.bytes_written / 1e6:7.1f} MB"
            speed = f"{csv_rows / seconds:,.0f} rows/s ({size / seconds / 1e6:.1f} MB/s of CSV)"
            print(f"  {csv_rows:>9,} rows, {sizes}: peak {peak:6.1f} MB traced, {speed}")
        print("  (peak memory depends on chunk_rows, not on the file size)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
