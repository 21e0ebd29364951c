"""Channel conversion in the train function: CSV -> RecordIO-protobuf, and label binning.

The classic linear-learner tutorial converts its CSV with ``write_numpy_to_dense_tensor`` and
bins a numeric target with ``pandas.cut(y, 4)`` in a notebook. A manifest says the same with
``"convert": "recordio-protobuf"`` and ``"label_bins": 4``; the train function streams each CSV
channel from S3 through these functions into the artifact bucket, in bounded memory, and trains
on the result.

numpy is needed here; it ships in the data layer, attached to the train function only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from sagedrop.errors import DataError, Problem

MAX_CONVERT_BYTES = 2 * 1024**3
"""Largest channel the train function converts: parsing and encoding run at a few hundred MB/s
(``make bench``: benchmarks/recordio_bench.py), so S3 transfer dominates the function's time
(Timeout in template.yaml), and /tmp (10 GB) holds the output. Larger data:
`sagedrop prepare recordio`."""


@dataclass(frozen=True)
class LabelBins:
    """Equal-width bins over the label range, as ``pandas.cut(y, n)`` makes them.

    pandas extends the lowest edge by 0.1% of the range so the minimum falls in the first bin;
    bins are right-inclusive: (e0, e1], (e1, e2], ... Class i is bin i.
    """

    edges: tuple[float, ...]

    @classmethod
    def equal_width(cls, low: float, high: float, count: int) -> LabelBins:
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError("the label range must be finite")
        if high == low:  # pandas widens a zero range by 0.1% on both sides
            pad = abs(low) * 0.001 if low != 0 else 0.001
            low, high = low - pad, high + pad
            edges = [low + (high - low) * i / count for i in range(count + 1)]
        else:
            edges = [low + (high - low) * i / count for i in range(count + 1)]
            edges[0] = low - (high - low) * 0.001
        return cls(tuple(edges))

    @property
    def count(self) -> int:
        return len(self.edges) - 1

    def names(self) -> list[str]:
        """Readable class names: ``(24.7, 105]``, like pandas' interval labels (3 significant digits)."""
        return [f"({self.edges[i]:.3g}, {self.edges[i + 1]:.3g}]" for i in range(self.count)]

    def classes(self, values: Any) -> Any:
        """Class index of each value; values outside the train range go to the first/last bin."""
        import numpy as np

        inner = np.asarray(self.edges[1:-1], dtype=np.float64)
        return np.searchsorted(inner, np.asarray(values, dtype=np.float64), side="left").astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {"edges": list(self.edges), "names": self.names()}


PARSE_WORKERS = 2
"""Workers parsing and encoding the next CSV blocks while this process reads and writes: forked
processes where they can be made (``csvprocs``: a GIL each), else threads (numpy releases the GIL
inside its loops, but takes it back at each of about a hundred calls per block). At most this many
(the only count measured: this project's 2-core machine), no more than the CPUs the process may
run on, and in Lambda no more than the whole vCPUs the function's memory buys
(``settings.lambda_vcpus``: 1 below 3,538 MB, so the template's 1,024 MB train function parses in
its own process, with no hand-over costs on a fraction of a vCPU). Memory stays bounded (a few
blocks per worker)."""


def parse_workers(env: Mapping[str, str] | None = None) -> int:
    """Parsing workers for this process (see ``PARSE_WORKERS``); ``env`` defaults to the function's."""
    import os

    from sagedrop.settings import lambda_vcpus

    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    vcpus = lambda_vcpus(env)
    if vcpus is not None:
        cpus = min(cpus, int(vcpus))
    return max(1, min(PARSE_WORKERS, cpus))


def _reader(
    source: Any,
    where: str,
    *,
    dtype: str,
    workers: int | None = None,
    finish: Callable[[Any], Any] | None = None,
    processes: bool = False,
) -> Iterator[tuple[Any, Any]]:
    """``(block, finish(block))`` of a CSV's parsed blocks (``csvblocks.CsvReader.mapped``; with
    ``processes`` and a ``finish`` they are parsed and finished in forked worker processes where
    possible and come back without their tables), its mistakes as ``DataError`` naming line and
    column."""
    from sagedrop.csvblocks import CsvFormatError, CsvReader

    try:
        workers = parse_workers() if workers is None else workers
        reader = CsvReader(source, dtype=dtype, labels64=True, workers=workers, processes=processes)
        yield from reader.mapped(finish)
    except CsvFormatError as exc:
        if exc.token is None:
            raise DataError(
                Problem(
                    where,
                    f"line {exc.line} has {exc.columns} columns, expected {exc.expected}",
                    "every row needs the same number of columns",
                )
            ) from None
        raise DataError(
            Problem(
                where,
                f"line {exc.line}, column {exc.column} is not a number: {exc.token[:40]!r}",
                "the algorithm reads numbers only",
            )
        ) from None


def label_range(source: Iterable[str] | IO[bytes], where: str) -> tuple[float, float, int]:
    """Minimum and maximum of the first column, and the row count, in one streaming pass.

    ``source`` is a binary stream (an S3 body) or lines; the labels are exact float64 values.
    """
    low, high, rows = math.inf, -math.inf, 0
    for block, _ in _reader(source, where, dtype="float32"):
        labels = block.labels64
        if labels is not None and labels.size:
            low, high = min(low, float(labels.min())), max(high, float(labels.max()))
            rows += labels.size
    if rows == 0:
        raise DataError(Problem(where, "holds no rows", "upload the data"))
    return low, high, rows


@dataclass
class ConvertStats:
    rows: int = 0
    columns: int = 0
    bytes_written: int = 0


def transform_csv(
    source: Iterable[str] | IO[bytes],
    out: IO[bytes],
    *,
    where: str,
    bins: LabelBins | None = None,
    recordio: bool = False,
    stats: ConvertStats | None = None,
    workers: int | None = None,
    processes: bool = True,
) -> ConvertStats:
    """Stream CSV rows (label first) to ``out``: labels binned if asked, as CSV or RecordIO-protobuf.

    ``source`` is a binary stream (an S3 body: parsed in blocks of bytes, ``csvblocks``) or
    lines. Values are the correctly rounded doubles of the text, features then rounded to
    float32 for RecordIO; labels stay float64 until binned. Memory is bounded by a few blocks.
    ``workers``: parsing workers (default ``parse_workers()``), forked processes where they can be
    made unless ``processes`` is False, else threads.
    """
    import numpy as np

    from sagedrop import recordio as rio

    stats = stats or ConvertStats()

    def encode(block: Any) -> Any:  # runs in a parsing worker (process or thread)
        table, labels = block.table, block.labels64
        if bins is not None:
            labels = bins.classes(labels).astype(np.float64)
        if recordio:
            return rio.encode_dense_array(table[:, 1:], labels.astype(np.float32))
        body = np.column_stack([labels, table[:, 1:]])
        return ("\n".join(",".join(_number(v) for v in row) for row in body.tolist()) + "\n").encode()

    dtype = "float32" if recordio else "float64"
    for block, data in _reader(source, where, dtype=dtype, workers=workers, finish=encode, processes=processes):
        rows, columns = block.shape
        if not rows:
            continue
        if stats.columns and columns != stats.columns:
            raise DataError(
                Problem(
                    where,
                    f"rows have {columns} columns, earlier files had {stats.columns}",
                    "every file of a channel needs the same columns",
                )
            )
        stats.columns = columns
        out.write(data)
        stats.rows += rows
        stats.bytes_written += len(data) if isinstance(data, bytes) else data.nbytes
    return stats


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)
