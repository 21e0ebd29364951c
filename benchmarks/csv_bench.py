"""Benchmark CSV -> RecordIO-protobuf streaming, the train function's channel conversion.

    python benchmarks/csv_bench.py [--mb 1024] [--cols 11] [--runs 3] [--keep]

Writes a headerless numeric CSV of --mb MB in /tmp (label first, --cols features, values
formatted like ``np.savetxt(fmt="%.6g")``: a 32 MB block of rows repeated), then measures, in
one run:
  (a) ``convert.transform_csv(binary stream, out, recordio=True)``: what the train function
      runs on each S3 object (here a local file; S3 transfer excluded), MB/s of CSV in, with its
      default parsing workers (``convert.parse_workers()``: up to 2, one per CPU here; forked
      processes fed through shared memory, ``csvprocs``), with as many threads instead, and with
      one thread;
  (b) ``recordio.csv_to_recordio`` (`sagedrop prepare recordio`) on the same file;
  (c) the previous parser, ``np.loadtxt`` (float32), on the first 32 MB: the old bound;
  (d) pandas' C parser (``read_csv(header=None, engine="c", dtype=float64, chunksize=...)``,
      then float32) on the same 32 MB, when pandas is importable (the benchmark venv has it:
      benchmarks/requirements.txt), with its float32 bits compared to ``np.loadtxt``'s;
  and checks on the 32 MB block that the float32 values are exactly ``np.loadtxt``'s, and
  that peak traced memory (tracemalloc) stays flat when the input grows 4x. The file is
  deleted afterwards (unless --keep). Goal: (a) >= 200 MB/s of CSV.

Each figure is given twice: wall-clock MB/s, and MB per CPU-second of this process and its workers (less
sensitive to other work on a shared machine); the load average is printed at start and end.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "sagedrop"))

from sagedrop import convert, recordio
from sagedrop.csvblocks import CsvReader

GOAL_MB_S = 200
BLOCK_MB = 32


def make_block(cols: int, mb: int, seed: int = 0) -> bytes:
    """About ``mb`` MB of CSV rows: a rounded non-negative label, then normal features."""
    rng = np.random.default_rng(seed)
    out = io.StringIO()
    while out.tell() < mb * 1_000_000:
        table = rng.normal(size=(50_000, cols + 1))
        table[:, 0] = np.round(np.abs(table[:, 0]))
        np.savetxt(out, table, fmt="%.6g", delimiter=",")
    return out.getvalue().encode()


def write_csv(path: Path, block: bytes, mb: int) -> int:
    with path.open("wb") as f:
        while f.tell() < mb * 1_000_000:
            f.write(block)
    return path.stat().st_size


def cpu_seconds() -> float:
    """CPU time of this process and of its ended worker processes (the conversion waits for its workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def fastest(fn, runs: int, setup=None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of the fastest of ``runs`` calls; ``setup`` runs before
    each, untimed."""
    times = []
    for _ in range(runs):
        if setup is not None:
            setup()
        start, cpu = time.perf_counter(), cpu_seconds()
        fn()
        times.append((time.perf_counter() - start, cpu_seconds() - cpu))
    return min(times)


def pandas_parser(block: bytes, expected: np.ndarray):
    """pandas' C parser over ``block`` in chunks of rows, as float32; None without pandas."""
    try:
        import pandas as pd
    except ImportError:
        return None

    def run() -> np.ndarray:
        chunks = pd.read_csv(io.BytesIO(block), header=None, engine="c", dtype=np.float64, chunksize=1 << 16)
        return np.concatenate([chunk.to_numpy(np.float64).astype(np.float32) for chunk in chunks])

    same = np.array_equal(run().view(np.uint32), expected.view(np.uint32))
    return pd.__version__, same, run


def rate(size: int, seconds: tuple[float, float]) -> str:
    wall, cpu = seconds
    return f"{size / wall / 1e6:8.1f} MB/s of CSV, {size / cpu / 1e6:6.1f} MB/CPU-s"


SPIN = "import time\nt = time.perf_counter()\nx = 0\nfor i in range(8_000_000): x += i\nprint(time.perf_counter() - t)"


def cores_worth() -> float:
    """How many cores' worth of work this machine gives two CPU-bound processes at once (2.0 on two
    idle, independent cores): a pure-Python loop alone, then two copies side by side, in this run."""
    import subprocess

    def spin(copies: int) -> float:
        procs = [subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.PIPE) for _ in range(copies)]
        return max(float(p.communicate()[0]) for p in procs)

    alone = min(spin(1) for _ in range(2))
    together = min(spin(2) for _ in range(2))
    return 2 * alone / together


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def traced_peak(src: Path, dst: Path) -> float:
    tracemalloc.start()
    with src.open("rb") as fin, dst.open("wb") as fout:
        convert.transform_csv(fin, fout, where=str(src), recordio=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024, help="size of the generated CSV in MB (default 1 GB)")
    parser.add_argument("--cols", type=int, default=11, help="feature columns after the label")
    parser.add_argument(
        "--runs", type=int, default=3, help="timed runs of (a), (c), (d), the fastest counts; (b) runs once"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()

    cores = (
        f"{os.cpu_count()} CPU cores (the conversion parses in {convert.parse_workers()} worker process(es) here; in"
        " Lambda one per whole vCPU the memory buys: one, the function's own, at the template's 1,024 MB)"
    )
    print(f"python {platform.python_version()}, numpy {np.__version__}, {cores}, {load()}")
    print(f"two CPU-bound processes side by side got {cores_worth():.2f} cores' worth of work (2.00: two free cores)")
    block = make_block(args.cols, BLOCK_MB)
    expected = np.loadtxt(io.StringIO(block.decode()), delimiter=",", dtype=np.float32)
    parsed = np.concatenate([b.table for b in CsvReader(io.BytesIO(block))])
    assert parsed.shape == expected.shape and np.array_equal(parsed.view(np.uint32), expected.view(np.uint32))
    print(f"checked: {expected.size:,} values of a {len(block) / 1e6:.0f} MB block, float32 bits == np.loadtxt's")
    with_pandas = pandas_parser(block, expected)

    tmp = Path(tempfile.mkdtemp(prefix="csv-bench-", dir="/tmp"))
    try:
        src, dst = tmp / "in.csv", tmp / "out.pbr"
        size = write_csv(src, block, args.mb)
        print(f"input: {src} {size / 1e6:,.0f} MB ({size // len(block)}+ copies of the block)")

        def run_convert(workers: int | None = None, processes: bool = True) -> None:
            with src.open("rb") as fin, dst.open("wb") as fout:
                stats = convert.transform_csv(
                    fin, fout, where=str(src), recordio=True, workers=workers, processes=processes
                )
            assert stats.columns == args.cols + 1

        def run_prepare() -> None:
            with src.open("rb") as fin, dst.open("wb") as fout:
                recordio.csv_to_recordio(fin, fout)

        # Each timed run writes a new output file, as the train function does (a new temporary file per
        # channel): removing the last run's 900 MB is not part of the conversion (untimed).
        def fresh() -> None:
            dst.unlink(missing_ok=True)

        t_convert = fastest(run_convert, args.runs, fresh)
        out_mb = dst.stat().st_size / 1e6
        t_threads = fastest(lambda: run_convert(processes=False), args.runs, fresh)
        t_single = fastest(lambda: run_convert(1), args.runs, fresh)
        t_prepare = fastest(run_prepare, 1, fresh)
        text = block.decode()
        t_loadtxt = fastest(lambda: np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float32), args.runs)
        t_pandas = fastest(with_pandas[2], args.runs) if with_pandas else None

        small, large = tmp / "small.csv", tmp / "large.csv"
        write_csv(small, block, BLOCK_MB)
        write_csv(large, block, 4 * BLOCK_MB)
        peaks = traced_peak(small, tmp / "small.pbr"), traced_peak(large, tmp / "large.pbr")
    finally:
        if not args.keep:
            for path in tmp.iterdir():
                path.unlink()
            tmp.rmdir()

    timings = {
        "convert": t_convert,
        "threads": t_threads,
        "single": t_single,
        "prepare": t_prepare,
        "loadtxt": t_loadtxt,
    }
    return report(args, size, len(block), out_mb, timings, with_pandas, t_pandas, peaks)


def report(args, size, block_size, out_mb, timings, with_pandas, t_pandas, peaks) -> int:
    """Print the figures, the goal and the verdict; exit status 1 when the goal is not met."""
    t_convert, t_single = timings["convert"], timings["single"]
    mb_s = size / t_convert[0] / 1e6
    print(f"\nCSV -> RecordIO, {size / 1e6:,.0f} MB of CSV -> {out_mb:,.0f} MB (fastest of {args.runs} runs):")
    workers = convert.parse_workers()
    print(f"  (a) convert.transform_csv, {workers} process(es)   {rate(size, t_convert)}  ({t_convert[0]:.1f} s)")
    print(f"      the same, {workers} thread(s) instead        {rate(size, timings['threads'])}")
    print(f"      the same, one parsing thread           {rate(size, t_single)}  ({t_single[0]:.1f} s)")
    print(f"  (b) recordio.csv_to_recordio (prepare)       {rate(size, timings['prepare'])}")
    print(f"  (c) np.loadtxt alone (the old parser)        {rate(block_size, timings['loadtxt'])}")
    if with_pandas and t_pandas:
        version, same = with_pandas[0], "==" if with_pandas[1] else "!="
        print(f"  {'(d) pandas ' + version + ' C parser alone':44s}{rate(block_size, t_pandas)}", end="")
        print(f"  (float32 bits {same} np.loadtxt's)")
    else:
        print("  (d) pandas' C parser: pandas is not installed here (it is in the benchmark venv)")
    per_cpu = {name: (size if name != "loadtxt" else block_size) / t[1] for name, t in timings.items()}
    print(
        f"  per CPU-second against np.loadtxt in this run: (a) {per_cpu['convert'] / per_cpu['loadtxt']:.2f}x,"
        f" one thread {per_cpu['single'] / per_cpu['loadtxt']:.2f}x"
    )
    print(f"  {load()}")
    print(f"  streaming memory, peak traced: {peaks[0]:.1f} MB for {BLOCK_MB} MB of CSV, {peaks[1]:.1f} MB for 4x that")
    met = mb_s >= GOAL_MB_S
    print(
        f"  CSV in, train function's conversion: {mb_s:.0f} MB/s ({size / t_convert[1] / 1e6:.0f} MB per CPU-second),"
        f" goal >= {GOAL_MB_S} MB/s:",
        "MET" if met else "NOT MET",
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
