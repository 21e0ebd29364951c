"""Headerless numeric CSV, read in blocks of bytes and parsed by vectorized numpy, exactly.

Shared by ``recordio.csv_to_recordio`` (``sagedrop prepare recordio``) and ``convert`` (the train
function's channel conversion). A block of whole lines is parsed in a few dozen numpy passes:

1. the separators (``,`` and newline) give every field's span; a field's last 8 bytes are gathered
   as a little-endian uint64 word, right-aligned on the end of its digits (a 9-character field
   with a '.' adds its first character; longer fields read up to two more words);
2. SWAR arithmetic checks that those bytes are digits (with at most one ``.``), takes the ``.``
   out, and turns 8 ASCII digits into their value with three multiplies per word (the method of
   D. Lemire, "Fast float parsing in practice", Software: Practice and Experience 51(5), 2021);
   an exponent (``e``/``E``, sign, up to 4 digits) is parsed the same way;
3. a field becomes ``mantissa * 10**k`` with one correctly rounded float64 operation when the
   mantissa is below 2**53 and ``|k| <= 22`` (Clinger's fast path, W. D. Clinger, "How to read
   floating point numbers accurately", PLDI 1990): both operands are exact, so the result is the
   correctly rounded double, the one Python's ``float()`` and ``np.loadtxt`` give. A float32
   value is that double rounded to float32, as before (``loadtxt`` parsed to double, then cast).
   Longer mantissas (e.g. 17 significant digits) use an approximation within a few float64 ulps
   and keep it only when no float32 rounding boundary lies that close, so float32 results stay
   identical; every other field goes through Python's ``float()`` one by one.

Anything else (whitespace around a value, ``nan``/``inf``, blank lines, CRLF line ends) takes
a slower but exact path, and the first bad value is reported with its 1-based line and column.
Accepted syntax is Python's ``float()`` without digit-group underscores (what ``np.loadtxt``
accepted). numpy is imported lazily; memory is bounded by one block plus the current line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cache, partial
from typing import TYPE_CHECKING, Any, TypeVar

from sagedrop.csvfields import PAD as _PAD
from sagedrop.csvfields import parse_fields

if TYPE_CHECKING:  # pragma: no cover - typing only
    from concurrent.futures import Future

    import numpy as np

T = TypeVar("T")

BLOCK_BYTES = 512 << 10
"""Bytes of CSV parsed per block: large enough to amortize numpy's per-call cost (and, with parsing
threads, the GIL's hand-over at each numpy call: two threads gained 1.2x over one with 256 KiB
blocks and 1.6x with 512 KiB on this project's 2-core machine, benchmarks/csv_bench.py), small
enough that the per-field arrays stay in the CPU cache (one thread: 256 and 512 KiB parse at the
same speed, 1 MiB and more slower)."""

_BOM = b"\xef\xbb\xbf"

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h> parameter numbers
_HEAP_KEPT_BYTES = 64 << 20
_MMAP_FROM_BYTES = 16 << 20


@cache
def keep_freed_memory() -> None:
    """Let the C allocator keep freed memory for reuse (glibc only; once per process).

    Each block's numpy temporaries are a few hundred KB: by default glibc serves such sizes with a
    fresh ``mmap`` or trims them off the heap when freed, so every block page-faults its memory in
    again (measured here: ~136,000 minor faults and a third of the CPU time for 36 MB of CSV).
    ``mallopt(3)`` raises the trim threshold to 64 MiB and the mmap threshold to 16 MiB
    (https://man7.org/linux/man-pages/man3/mallopt.3.html): the process keeps at most 64 MiB of
    freed heap, so memory stays bounded. Elsewhere (no glibc ``mallopt``) this does nothing.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):  # pragma: no cover - not glibc
        return
    mallopt(_M_TRIM_THRESHOLD, _HEAP_KEPT_BYTES)
    mallopt(_M_MMAP_THRESHOLD, _MMAP_FROM_BYTES)


class CsvFormatError(ValueError):
    """A CSV line that cannot become a record; the message names the line and column (1-based).

    ``token`` is the offending value (``None`` for a column-count problem), ``columns`` the
    number of values found on the line and ``expected`` the column count of the lines before.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int,
        column: int | None = None,
        token: str | None = None,
        columns: int | None = None,
        expected: int | None = None,
    ) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.token = token
        self.columns = columns
        self.expected = expected

    @classmethod
    def bad_value(cls, shown: str, line: int, column: int) -> CsvFormatError:
        hint = " (SageMaker CSV has no header row)" if line == 1 else ""
        message = f"line {line}, column {column}: {shown!r} is not a number{hint}"
        return cls(message, line=line, column=column, token=shown)

    @classmethod
    def bad_width(cls, line: int, found: int, expected: int) -> CsvFormatError:
        message = f"line {line}: {found} columns, expected {expected} like the lines before"
        return cls(message, line=line, columns=found, expected=expected)

    def moved(self, lines: int) -> CsvFormatError:
        """The same problem ``lines`` lines further down (a block parsed with its own numbering)."""
        if not lines:
            return self
        if self.token is not None and self.column is not None:
            return self.bad_value(self.token, self.line + lines, self.column)
        if self.columns is not None and self.expected is not None:
            return self.bad_width(self.line + lines, self.columns, self.expected)
        return CsvFormatError(str(self), line=self.line + lines)  # pragma: no cover - not raised by the parser


@dataclass(frozen=True)
class Block:
    """Parsed lines: ``table`` is rows x columns; ``labels64`` is column 1 as exact float64.

    A block parsed in a worker process (``CsvReader(processes=True)``) comes back without its
    arrays (``table`` None): ``shape`` still gives its rows and columns."""

    table: np.ndarray | None
    labels64: np.ndarray | None
    lines: int  # lines consumed, blank ones included
    blank: int
    first_line: int = 1  # 1-based number of the block's first line in the file
    shape: tuple[int, int] = (0, 0)  # the table's rows x columns (set from the table when there is one)

    def __post_init__(self) -> None:
        if self.table is not None:
            object.__setattr__(self, "shape", (int(self.table.shape[0]), int(self.table.shape[1])))


# --------------------------------------------------------------------------------------------
# Reading whole lines in blocks of bytes
# --------------------------------------------------------------------------------------------


def _raw_chunks(src: Any, size: int) -> Iterator[bytes]:
    """Bytes from a binary or text file object, or from an iterable of lines (one per item)."""
    read = getattr(src, "read", None)
    if read is not None:
        while True:
            data = read(size)
            if not data:
                return
            yield data.encode("utf-8") if isinstance(data, str) else bytes(data)
    parts: list[str] = []
    held = 0
    for line in src:
        text = line.decode("utf-8") if isinstance(line, (bytes, bytearray)) else line
        parts.append(text.rstrip("\r\n"))
        held += len(text) + 1
        if held >= size:
            parts.append("")
            yield "\n".join(parts).encode("utf-8")
            parts, held = [], 0
    if parts:
        parts.append("")
        yield "\n".join(parts).encode("utf-8")


Allocate = Callable[[int], "np.ndarray | None"]
"""Where a block's bytes go: a uint8 array of the given size, or None for a new one."""


def _buffer(head: bytes, data: bytes = b"", stop: int = 0, into: Allocate | None = None) -> np.ndarray:
    """``head + data[:stop]`` after ``_PAD`` separators, in a buffer with 16 spare bytes at the end
    (word gathers read past the last byte), 8-byte aligned: the one copy of a block's bytes (into
    the array ``into`` gives, e.g. shared memory, when it gives one)."""
    import numpy as np

    start = _PAD + len(head)
    need = start + stop
    size = need + 16 + 7 & ~7
    whole = into(size) if into is not None else None
    if whole is None:
        whole = np.empty(size, np.uint8)
    whole[:_PAD] = 44
    whole[need:] = 0
    whole[_PAD:start] = np.frombuffer(head, np.uint8)
    whole[start:need] = np.frombuffer(data, np.uint8, count=stop)
    return whole[:need]


def _line_blocks(src: Any, size: int, into: Allocate | None = None) -> Iterator[np.ndarray]:
    """Blocks of whole lines (``_buffer``), each ending with a newline (added at the end of the data
    if missing); a line longer than ``size`` is carried until it ends.

    A leading UTF-8 byte order mark is dropped. CR and CRLF line ends become LF, as Python's
    universal newlines and botocore's ``iter_lines`` (``bytes.splitlines``) treat them.
    """
    pending = b""
    first = True
    for data in _raw_chunks(src, size):
        if first:
            data, pending = pending + data, b""
            if len(data) < len(_BOM) and _BOM.startswith(data):  # a mark split between reads
                pending = data
                continue
            data = data[len(_BOM) :] if data.startswith(_BOM) else data
            first = False
        if b"\r" in data or pending.endswith(b"\r"):
            data, pending = pending + data, b""
            if data.endswith(b"\r"):  # its LF may be in the next chunk: decide then
                pending = data
                continue
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            pending += data  # one long line: keep reading until it ends
            continue
        yield _buffer(pending, data, cut, into)
        pending = data[cut:]
    if pending:
        pending = pending.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        yield _buffer(pending if pending.endswith(b"\n") else pending + b"\n", into=into)


# --------------------------------------------------------------------------------------------
# Blocks of lines -> tables
# --------------------------------------------------------------------------------------------


def _is_number(token: bytes) -> float | None:
    """Python ``float()`` without digit-group underscores (``np.loadtxt``'s syntax), or None."""
    if b"_" in token:
        return None
    try:
        return float(token)
    except ValueError:
        return None


def _shown(token: bytes) -> str:
    return token.decode("utf-8", "replace").strip() or "<empty>"


class _Layout:
    """Where a block's fields are: spans, the separator ending each, and the lines.

    One pass finds every byte up to ``,`` (44): the separators ``,`` and newline (10), and the few
    other bytes that low ('+', space, tab, '"', ...), which no field of plain decimals holds. When
    the bytes found are exactly ``columns`` - 1 commas and a newline per line (``_separators``), the
    block is regular; otherwise the other bytes are dropped from the spans (the exact layout: a
    field with '+' or a space is then read, or reported, as before) and the lines counted."""

    def __init__(self, buf: np.ndarray, columns: int | None = None) -> None:
        import numpy as np

        self.buf = buf
        found = np.flatnonzero(buf <= 44)  # the _PAD separators first: offsets 0.._PAD - 1
        if found.size < _PAD or found[_PAD - 1] != _PAD - 1:  # pragma: no cover - _buffer pads with commas
            raise ValueError("a block buffer starts with _PAD separator bytes")
        self.ends = found[_PAD:]
        self.sep = buf.take(self.ends)
        self._line_ends: np.ndarray | None = None
        self._regular: tuple[int, bool] | None = None
        if columns is not None and self._matches(columns):
            self._regular = (columns, True)
            self.newlines = self.ends.size // columns  # lines in the block (each ends with a newline)
            self.starts = found[_PAD - 1 : -1] + 1
            return
        real = (self.sep == 44) | (self.sep == 10)
        if real.all():
            self.starts = found[_PAD - 1 : -1] + 1
        else:
            self.ends, self.sep = self.ends[real], self.sep[real]
            self.starts = np.empty_like(self.ends)
            self.starts[:1] = _PAD
            self.starts[1:] = self.ends[:-1] + 1
        self.newlines = int(np.count_nonzero(self.sep == 10))  # lines in the block (each ends with one)

    def _matches(self, columns: int) -> bool:
        import numpy as np

        size = self.ends.size
        return size % columns == 0 and bool(np.array_equal(self.sep, _separators(columns, size)))

    @property
    def line_ends(self) -> np.ndarray:
        """Index of the field ending each line."""
        import numpy as np

        if self._line_ends is None:
            self._line_ends = np.flatnonzero(self.sep == 10)
        return self._line_ends

    def regular(self, columns: int) -> bool:
        """Whether every line has ``columns`` fields: the separators are exactly ``columns`` - 1
        commas then a newline, line after line."""
        if self._regular is None or self._regular[0] != columns:
            self._regular = (columns, self._matches(columns))
        return self._regular[1]


_SEPARATORS: dict[int, np.ndarray] = {}


def _separators(columns: int, size: int) -> np.ndarray:
    """``size`` separators of regular lines of ``columns`` fields (a multiple of ``columns``):
    ``columns - 1`` commas and a newline, repeated. Kept per column count, grown when needed."""
    import numpy as np

    table = _SEPARATORS.get(columns)
    if table is None or table.size < size:
        line = np.full(columns, 44, np.uint8)
        line[-1] = 10
        table = np.tile(line, size // columns * 9 // 8 + 1)  # room for slightly larger blocks
        _SEPARATORS[columns] = table  # replaced whole, never changed: safe to share between threads
    return table[:size]


class CsvReader:
    """Iterate a headerless numeric CSV as ``Block`` tables of ``dtype`` (float32 or float64).

    ``labels64`` asks for the first column again as exact float64 (label binning needs the
    values before any float32 rounding). The column count is fixed by the first data line.
    """

    def __init__(
        self,
        src: Any,
        *,
        dtype: str = "float32",
        labels64: bool = False,
        block_bytes: int = BLOCK_BYTES,
        workers: int | None = None,
        processes: bool = False,
    ) -> None:
        """``workers`` > 1 parses (and finishes, ``mapped``) the next blocks in threads (default 1):
        ``convert.parse_workers`` decides for the train function (one thread on a 1,024 MB Lambda).
        ``processes`` asks ``mapped(finish)`` for worker processes instead where they can be forked
        (``csvprocs``): blocks then come back without their tables, with ``finish``'s results."""
        import numpy as np

        self._src = src
        self._dtype = np.dtype(dtype)
        self._labels64 = labels64
        self._block_bytes = block_bytes
        self._workers = 1 if workers is None else max(1, workers)
        self._processes = processes
        self.columns: int | None = None
        self.line = 0  # lines of the blocks handed out so far

    def __iter__(self) -> Iterator[Block]:
        """Blocks in file order (see ``mapped``)."""
        for block, _ in self.mapped(None):
            yield block

    def mapped(self, finish: Callable[[Block], T] | None) -> Iterator[tuple[Block, T | None]]:
        """``(block, finish(block))`` in file order; ``finish`` (e.g. encoding the block) runs
        where the block was parsed. With 2+ workers the next blocks are parsed and finished
        meanwhile, in worker processes when asked for (``processes``, ``_pool``) and else in threads
        (numpy releases the GIL inside its loops), so this thread only reads; at most the pool's
        ``depth`` blocks are held (threads: ``workers + 1``; processes: two per worker). Each block
        is parsed with its own line numbers (from 1), moved to the file's here, in order: the first
        problem in the file is the one raised, naming its line in the file."""
        keep_freed_memory()
        room: list[Allocate] = []  # a worker pool's memory for the next block, once there is one
        blocks = _line_blocks(self._src, self._block_bytes, lambda size: room[0](size) if room else None)
        for data in blocks:  # serially until a data line fixes the column count
            yield self._located(self._work, data, finish)
            if self.columns is not None:
                break
        if self._workers == 1:
            for data in blocks:
                yield self._located(self._work, data, finish)
            return
        from collections import deque

        with self._pool(finish) as pool:
            room.append(pool.room)
            pending: deque[Any] = deque()  # futures or csvprocs handles, in file order
            while True:
                if len(pending) >= pool.depth:  # before the next read: it may reuse that block's memory
                    yield self._located(pending.popleft().result)
                data = next(blocks, None)
                if data is None:
                    break
                pending.append(pool.submit(data))
            while pending:
                yield self._located(pending.popleft().result)

    def _pool(self, finish: Callable[[Block], T] | None) -> Any:
        """Worker processes when asked for and possible (``csvprocs``), else threads."""
        work = partial(self._work, finish=finish)
        if self._processes and finish is not None:
            from sagedrop import csvprocs

            if csvprocs.fork_is_safe():
                try:
                    return csvprocs.BlockProcesses(self._workers, work, self._block_bytes)
                except OSError:  # no shared mapping or no fork here: threads do the same work
                    pass
        return _Threads(self._workers, work)

    def _work(self, buf: np.ndarray, finish: Callable[[Block], T] | None) -> tuple[Block, T | None]:
        block = self._parse_block(buf)
        return block, finish(block) if finish is not None and block.table.shape[0] else None

    def _located(self, work: Callable[..., tuple[Block, T | None]], *args: Any) -> tuple[Block, T | None]:
        """Run (or collect) one block's work in file order; number its lines in the file."""
        try:
            block, result = work(*args)
        except CsvFormatError as exc:
            raise exc.moved(self.line) from None
        if self.line:
            block = replace(block, first_line=self.line + 1)
        self.line += block.lines
        return block, result

    # -- one block ----------------------------------------------------------------------------

    def _parse_block(self, buf: np.ndarray) -> Block:
        """One block of whole lines (``_buffer``), numbered from 1. Blank lines make the fast parse
        fail (an empty or whitespace field is no number); only then are they looked for and dropped."""
        columns = self.columns
        try:
            return self._parse(buf, None)
        except CsvFormatError:
            data = buf[_PAD:].tobytes()
            if not _has_blank(data):
                raise
            self.columns = columns  # a whitespace-only first line may have set it (first block only)
        lines = data.count(b"\n")
        kept = [(i, line) for i, line in enumerate(data.split(b"\n")[:-1]) if line.strip()]
        if not kept:
            return Block(table=_empty(self._dtype, columns), labels64=None, lines=lines, blank=lines)
        numbers = [1 + i for i, _ in kept]
        block = self._parse(_buffer(b"".join(line + b"\n" for _, line in kept)), numbers)
        return replace(block, lines=lines, blank=lines - block.table.shape[0])

    def _parse(self, buf: np.ndarray, numbers: list[int] | None) -> Block:
        layout = _Layout(buf, self.columns)
        if self.columns is None:
            self.columns = int(layout.line_ends[0]) + 1
        if not layout.regular(self.columns):
            self._check_columns(layout, numbers)
        table, labels = self._values(buf, layout, numbers)
        return Block(table=table, labels64=labels, lines=layout.newlines, blank=0)

    @staticmethod
    def _line_number(row: int, numbers: list[int] | None) -> int:
        return numbers[row] if numbers is not None else 1 + row

    def _check_columns(self, layout: _Layout, numbers: list[int] | None) -> None:
        import numpy as np

        columns = self.columns
        assert columns is not None
        ends = layout.line_ends
        rows = ends.size
        if layout.ends.size == rows * columns and np.array_equal(ends, np.arange(columns - 1, rows * columns, columns)):
            return
        counts = np.diff(ends, prepend=-1)
        row = int(np.argmax(counts != columns))
        number = self._line_number(row, numbers)
        # a bad value earlier on the line, or on an earlier line, is the first problem
        self._values_check_upto(layout, int(ends[row - 1]) + 1 if row else 0, numbers)
        raise CsvFormatError.bad_width(number, int(counts[row]), columns)

    def _values_check_upto(self, layout: _Layout, stop: int, numbers: list[int] | None) -> None:
        """Raise for the first bad value among the fields before ``stop`` (in a bad-width block)."""
        import numpy as np

        if not stop:
            return
        buf = layout.buf
        starts, ends = layout.starts[:stop], layout.ends[:stop]
        # only the bytes of those fields: exponents are located in the whole buffer given
        _, _, safe32 = parse_fields(buf[: ends[-1] + 1], starts, ends)
        for index in np.flatnonzero(~safe32):
            token = bytes(buf[starts[index] : ends[index]])
            if _is_number(token) is None:
                row = int(np.searchsorted(layout.line_ends, index))
                column = int(index - (layout.line_ends[row - 1] + 1 if row else 0)) + 1
                raise CsvFormatError.bad_value(_shown(token), self._line_number(row, numbers), column)

    def _values(
        self, buf: np.ndarray, layout: _Layout, numbers: list[int] | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        import numpy as np

        columns = self.columns
        assert columns is not None
        value, exact, safe32 = parse_fields(buf, layout.starts, layout.ends)
        if self._dtype == np.float32:
            ok = safe32
            with np.errstate(over="ignore"):
                out = value.astype(np.float32)
        else:
            ok = exact
            out = value
        if not ok.all():  # in field order, so the first bad value is the one reported
            fix = np.flatnonzero(~ok)
            with np.errstate(over="ignore"):
                out[fix] = self._exact(buf, layout, fix, columns, numbers)
        labels = None
        if self._labels64:
            labels = value[::columns].copy()
            if not exact[::columns].all():
                rows = np.flatnonzero(~exact[::columns])
                labels[rows] = self._exact(buf, layout, rows * columns, columns, numbers)
        return out.reshape(-1, columns), labels

    def _exact(
        self, buf: np.ndarray, layout: _Layout, fields: np.ndarray, columns: int, numbers: list[int] | None
    ) -> list[float]:
        """Python's exact parse of the given fields; the first bad one raises with its place."""
        out: list[float] = []
        starts, ends = layout.starts, layout.ends
        for index in fields.tolist():
            token = bytes(buf[starts[index] : ends[index]])
            number = _is_number(token)
            if number is None:
                row, column = divmod(index, columns)
                raise CsvFormatError.bad_value(_shown(token), self._line_number(row, numbers), column + 1)
            out.append(number)
        return out


class _Threads:
    """Blocks parsed in a thread pool; at most ``workers + 1`` held (``BlockProcesses``'s interface)."""

    def __init__(self, workers: int, work: Callable[[np.ndarray], Any]) -> None:
        from concurrent.futures import ThreadPoolExecutor  # imported when used: keeps imports cheap

        self.depth = workers + 1
        self._work = work
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="csvblocks")

    @staticmethod
    def room(size: int) -> np.ndarray | None:
        """Blocks parsed in threads get memory of their own (``_buffer``'s)."""
        del size
        return None

    def submit(self, buf: np.ndarray) -> Future[Any]:
        return self._executor.submit(self._work, buf)

    def __enter__(self) -> _Threads:
        return self

    def __exit__(self, *exc: object) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _has_blank(data: bytes) -> bool:
    """Whether a line holds only whitespace (asked only once a block failed to parse)."""
    return any(not line.strip() for line in data.split(b"\n")[:-1])


def _empty(dtype: Any, columns: int | None) -> np.ndarray:
    import numpy as np

    return np.empty((0, columns or 0), dtype)
