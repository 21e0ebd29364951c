"""Headerless numeric CSV, read in blocks of bytes and parsed by vectorized numpy, exactly.

Shared by ``recordio.csv_to_recordio`` (``sagedrop prepare recordio``) and ``convert`` (the train
function's channel conversion). A block of whole lines is parsed in a few dozen numpy passes:

1. the separators (``,`` and newline) give every field's span; a field's last 8, 16 or 24
   bytes are gathered as little-endian uint64 words, right-aligned on the end of its digits;
2. SWAR arithmetic checks that those bytes are digits (with at most one ``.``), and turns 8
   ASCII digits into their value in a handful of integer operations per word (the method of
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

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    from concurrent.futures import Future

    import numpy as np

BLOCK_BYTES = 256 << 10
"""Bytes of CSV parsed per block: large enough to amortize numpy's per-call cost, small enough
that the per-field arrays stay in the CPU cache."""

_PAD = 32  # separator bytes before a block's data: word gathers may look up to 24 bytes back
_BOM = b"\xef\xbb\xbf"


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


@dataclass(frozen=True)
class Block:
    """Parsed lines: ``table`` is rows x columns; ``labels64`` is column 1 as exact float64."""

    table: np.ndarray
    labels64: np.ndarray | None
    lines: int  # lines consumed, blank ones included
    blank: int


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


def _line_blocks(src: Any, size: int) -> Iterator[bytes]:
    """Blocks of whole lines, each ending with a newline (added at the end of the data if missing).

    A leading UTF-8 byte order mark is dropped. CR and CRLF line ends become LF, as Python's
    universal newlines and botocore's ``iter_lines`` (``bytes.splitlines``) treat them.
    """
    pending = b""
    first = True
    for data in _raw_chunks(src, size):
        if first:
            data = data[len(_BOM) :] if data.startswith(_BOM) else data
            first = False
        if pending:
            data = pending + data
        if b"\r" in data:
            if data.endswith(b"\r"):  # its LF may be in the next chunk: decide then
                pending = data
                continue
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            pending = data  # one long line: keep reading until it ends
            continue
        pending = data[cut:]
        yield data if cut == len(data) else data[:cut]
    if pending:
        pending = pending.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        yield pending if pending.endswith(b"\n") else pending + b"\n"


# --------------------------------------------------------------------------------------------
# Vectorized field parsing (SWAR on uint64 words)
# --------------------------------------------------------------------------------------------


class _Consts:
    """numpy constants, built on first use so that importing this module needs no numpy."""

    _instance: _Consts | None = None

    def __init__(self) -> None:
        import numpy as np

        u = np.uint64
        self.ones, self.high = u(0x0101010101010101), u(0x8080808080808080)
        self.zeros, self.dots, self.add46 = u(0x3030303030303030), u(0x2E2E2E2E2E2E2E2E), u(0x4646464646464646)
        self.mul1, self.mul2, self.mask = u(0x000F424000000064), u(0x0000271000000001), u(0x000000FF000000FF)
        full = (1 << 64) - 1
        # KEEP[n]: the top n bytes of a word (a field right-aligned on its last byte)
        self.keep = np.array([0] + [full ^ ((1 << (8 * (8 - n))) - 1) for n in range(1, 9)], np.uint64)
        self.p10f = np.array([10.0**k for k in range(309)])  # exact for k <= 22
        self.p10i = np.array([10**k for k in range(20)], np.uint64)
        self.u = u

    @classmethod
    def get(cls) -> _Consts:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance


def _words_at(buf: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The 8 bytes before each end offset, as little-endian uint64.

    Two aligned word gathers and a funnel shift (numpy gives 0 for a shift by 64): several
    times faster than numpy's unaligned gather. ``buf`` starts 8-byte aligned and has 8 spare
    bytes after its end (``CsvReader._buffer``).
    """
    import numpy as np

    base = buf if buf.base is None else buf.base
    words = np.ndarray((base.size // 8,), np.dtype("<u8"), base, 0)
    start = ends - 8
    shift = (start & 7).astype(np.uint64) << np.uint64(3)
    index = start >> 3
    return (words[index] >> shift) | (words[index + 1] << (np.uint64(64) - shift))


def _digit_word(c: _Consts, w: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the last ``n`` bytes, '0' before them: (digits with '.' as '0', dot flags, bad)."""
    keep = c.keep[n]
    w = (w & keep) | (c.zeros & ~keep)
    x = w ^ c.dots
    dots = (x - c.ones) & ~x & c.high  # 0x80 in each byte that was '.'
    w ^= (dots >> c.u(7)) * c.u(0x1E)  # '.' ^ 0x1E == '0'
    bad = (((w + c.add46) | (w - c.zeros)) & c.high) != 0  # a byte outside '0'..'9'
    return w, dots, bad


def _eight_digits(c: _Consts, w: np.ndarray) -> np.ndarray:
    """Value of 8 ASCII digits per word, first digit in the lowest byte (Lemire 2021)."""
    import numpy as np

    v = w - c.zeros
    t = v >> c.u(8)
    v *= c.u(10)
    v += t
    np.right_shift(v, c.u(16), out=t)
    t &= c.mask
    t *= c.mul2
    v &= c.mask
    v *= c.mul1
    v += t
    v >>= c.u(32)
    return v


def _short(c: _Consts, buf: np.ndarray, mend: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, ...]:
    """(mantissa, digits after the '.', bad) of fields of up to 8 characters after the sign.

    The '.' is taken out by moving the bytes before it one byte up (no division). Longer
    fields come out bad here and are redone by ``_long``. Operations run in place: each
    temporary is one array of the block's field count.
    """
    import numpy as np

    u = c.u
    n = np.clip(length, 0, 8)
    keep = c.keep[n]
    w = _words_at(buf, mend)
    w &= keep
    np.invert(keep, out=keep)
    keep &= c.zeros
    w |= keep  # '0' before the field
    x = w ^ c.dots
    dots = x - c.ones
    np.invert(x, out=x)
    dots &= x
    dots &= c.high  # 0x80 in each byte that is '.'
    np.right_shift(dots, u(7), out=x)
    below = x.copy()
    x *= u(0x1E)
    w ^= x  # '.' ^ 0x1E == '0'
    np.add(w, c.add46, out=x)
    check = w - c.zeros
    check |= x
    check &= c.high
    bad = check != 0  # a byte outside '0'..'9'
    has = dots != 0
    bad |= np.bitwise_count(dots) > 1
    bad |= length > 8
    bad |= length <= has  # at least one digit
    hasu = has.view(np.uint8).astype(np.uint64)
    below -= hasu  # bytes before the '.'
    np.left_shift(dots, u(1), out=x)
    x -= hasu
    np.invert(x, out=x)  # bytes after the '.' (all bytes when there is none)
    frac = np.bitwise_count(x).view(np.int8).astype(np.int64)
    frac >>= 3
    frac &= 7
    np.bitwise_and(w, below, out=below)
    below <<= u(8)
    w &= x
    w |= below
    w |= c.zeros  # '.' dropped, '0' in front
    return _eight_digits(c, w), frac, bad


def _long(c: _Consts, buf: np.ndarray, mend: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, ...]:
    """``_short`` for fields of 9 to 24 characters: up to three words of 8 digits."""
    import numpy as np

    mantissa = np.zeros(mend.size, np.uint64)
    frac = np.zeros(mend.size, np.int64)
    ndots = np.zeros(mend.size, np.uint8)
    bad = length > 24
    for word in range(3):
        n = np.clip(length - 8 * word, 0, 8)
        w, dots, wrong = _digit_word(c, _words_at(buf, mend - 8 * word), n)
        part = _eight_digits(c, w)
        if word == 2:
            wrong |= part >= c.u(1844)  # more would overflow uint64 (10**19 < 2**64)
        bad |= wrong
        mantissa += part * c.p10i[8 * word]
        lowest = dots & (~dots + c.u(1))
        byte = (np.bitwise_count(lowest - c.u(1)) >> c.u(3)).astype(np.int64)  # flag bit 8p+7 -> p
        frac = np.where(dots != 0, 7 - byte + 8 * word, frac)
        ndots += np.bitwise_count(dots)
    bad |= (ndots > 1) | (length - ndots < 1) | (frac > 19)
    frac = np.minimum(frac, 19)
    # the '.' was read as a '0' digit: mantissa = (int part * 10 + 0) * 10**frac + fraction
    fraction = mantissa % c.p10i[frac]
    mantissa = np.where(ndots > 0, (mantissa - fraction) // c.u(10) + fraction, mantissa)
    return mantissa, frac, bad


def _parse_fields(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, ...]:
    """(value as float64, Clinger-exact, float32-safe) for the fields ``buf[starts:ends]``."""
    import numpy as np

    c = _Consts.get()
    first = buf[starts]
    neg = first == 45  # '-'
    begin = starts + (neg | (first == 43))  # '+'
    mend = ends
    e_at = np.flatnonzero((buf[_PAD:] | 32) == 101) + _PAD  # 'e' or 'E'
    field = None
    if e_at.size:
        mend = ends.copy()
        field = np.searchsorted(ends, e_at)
        mend[field] = e_at
    length = mend - begin
    mantissa, frac, bad = _short(c, buf, mend, length)
    long = np.flatnonzero(length > 8)
    if long.size:
        mantissa[long], frac[long], bad[long] = _long(c, buf, mend[long], length[long])
    value = mantissa.view(np.int64).astype(np.float64)  # int64: a faster conversion than uint64
    if long.size:
        value[long] = mantissa[long].astype(np.float64)  # may exceed 2**63
    value /= c.p10f[frac]
    exact = (frac <= 22) & (mantissa < c.u(1 << 53))
    if field is not None:
        exp, wrong = _exponents(c, buf, e_at, ends[field])
        bad[field] |= wrong
        bad[field[1:][field[1:] == field[:-1]]] = True  # two exponents
        k = exp - frac[field]
        magnitude = np.minimum(np.abs(k), 308)
        m = mantissa[field].astype(np.float64)
        with np.errstate(over="ignore", under="ignore"):
            value[field] = np.where(k >= 0, m * c.p10f[magnitude], m / c.p10f[magnitude])
        exact[field] &= np.abs(k) <= 22
        far = np.abs(k) > 300
    value *= np.where(neg, -1.0, 1.0)
    exact &= ~bad
    safe32 = exact.copy()
    maybe = np.flatnonzero(~exact & ~bad)
    if field is not None and maybe.size:
        too_far = np.zeros(bad.size, bool)
        too_far[field] = far
        maybe = maybe[~too_far[maybe]]
    if maybe.size:
        safe32[maybe] = _far_from_float32_ties(value[maybe])
    return value, exact, safe32


def _exponents(c: _Consts, buf: np.ndarray, e_at: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(exponent, bad) for the exponent parts from ``e_at`` (the 'e') to ``ends``: sign, 1-4 digits."""
    import numpy as np

    sign = buf[e_at + 1]
    negative = sign == 45
    begin = e_at + 1 + (negative | (sign == 43))
    length = ends - begin
    w, dots, wrong = _digit_word(c, _words_at(buf, ends), np.clip(length, 0, 4))
    value = _eight_digits(c, w).astype(np.int64)
    wrong |= (dots != 0) | (length < 1) | (length > 4)
    return np.where(negative, -value, value), wrong


def _far_from_float32_ties(value: np.ndarray) -> np.ndarray:
    """True where every double within 8 ulps of ``value`` rounds to the same float32.

    ``value`` is then close enough to the correctly rounded double (its error is a few ulps) to
    give the same float32 [Clinger 1990; float32 rounding ties are exact in float64]."""
    import numpy as np

    with np.errstate(over="ignore", invalid="ignore"):
        r = value.astype(np.float32)
        below = np.nextafter(r, np.float32(-np.inf)).astype(np.float64)
        above = np.nextafter(r, np.float32(np.inf)).astype(np.float64)
        r64 = r.astype(np.float64)
        tol = 8 * np.spacing(np.abs(value))
        return (
            np.isfinite(r)
            & (np.abs(value) < 3.4e38)
            & (value - (r64 + below) / 2 > tol)
            & ((r64 + above) / 2 - value > tol)
        )


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
    """Where a block's fields are: spans, and the line each ends."""

    def __init__(self, buf: np.ndarray) -> None:
        import numpy as np

        self.buf = buf
        body = buf[_PAD:]
        self.ends = np.flatnonzero((body == 44) | (body == 10)) + _PAD
        self.starts = np.empty_like(self.ends)
        if self.ends.size:
            self.starts[0] = _PAD
            self.starts[1:] = self.ends[:-1] + 1
        self.line_ends = np.flatnonzero(buf[self.ends] == 10)  # field index ending each line


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
    ) -> None:
        """``workers`` > 1 parses the next blocks in threads; the default is 1: on the shared 2-core
        development machine no gain was measured, and the train function (MemorySize 1024 in
        template.yaml) has less than one vCPU: "At 1,769 MB, a function has the equivalent of one
        vCPU" (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html)."""
        import numpy as np

        self._src = src
        self._dtype = np.dtype(dtype)
        self._labels64 = labels64
        self._block_bytes = block_bytes
        self._workers = 1 if workers is None else max(1, workers)
        self.columns: int | None = None
        self.line = 0  # lines read so far (blocks being parsed included)

    def __iter__(self) -> Iterator[Block]:
        """Blocks in file order. With 2+ workers, the next blocks are parsed in threads meanwhile
        (numpy releases the GIL inside its loops); at most ``workers + 1`` blocks are held."""
        blocks = _line_blocks(self._src, self._block_bytes)
        for data in blocks:  # serially until a data line fixes the column count
            yield self._block(data)
            if self.columns is not None:
                break
        if self._workers == 1:
            for data in blocks:
                yield self._block(data)
            return
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor  # imported when used: keeps imports cheap

        with ThreadPoolExecutor(self._workers, thread_name_prefix="csvblocks") as pool:
            pending: deque[Future[Block]] = deque()
            for data in blocks:
                lines = data.count(b"\n")
                pending.append(pool.submit(self._parse_block, data, lines, self.line + 1))
                self.line += lines
                if len(pending) > self._workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    # -- one block ----------------------------------------------------------------------------

    @staticmethod
    def _buffer(data: bytes) -> np.ndarray:
        """The block after ``_PAD`` separators, in a buffer with 16 spare bytes at the end."""
        import numpy as np

        need = _PAD + len(data)
        whole = np.empty(need + 16 + 7 & ~7, np.uint8)
        whole[:_PAD] = 44
        whole[need:] = 0
        buf = whole[:need]
        buf[_PAD:] = np.frombuffer(data, np.uint8)
        return buf

    def _block(self, data: bytes) -> Block:
        """Parse one block; called in file order (line numbers are counted here, not in threads)."""
        lines = data.count(b"\n")
        first_line = self.line + 1
        self.line += lines
        return self._parse_block(data, lines, first_line)

    def _parse_block(self, data: bytes, lines: int, first_line: int) -> Block:
        columns = self.columns
        if b"\n\n" not in data and not data.startswith(b"\n"):
            try:
                return self._parse(data, lines, first_line, None)
            except CsvFormatError:
                if not _has_blank(data):
                    raise
                self.columns = columns  # a whitespace-only first line may have set it (first block only)
        # drop blank (empty or whitespace-only) lines, keeping their numbers for messages
        kept = [(i, line) for i, line in enumerate(data.split(b"\n")[:-1]) if line.strip()]
        if not kept:
            return Block(table=_empty(self._dtype, columns), labels64=None, lines=lines, blank=lines)
        numbers = [first_line + i for i, _ in kept]
        return self._parse(b"".join(line + b"\n" for _, line in kept), lines, first_line, numbers)

    def _parse(self, data: bytes, lines: int, first_line: int, numbers: list[int] | None) -> Block:
        buf = self._buffer(data)
        layout = _Layout(buf)
        if self.columns is None:
            self.columns = int(layout.line_ends[0]) + 1
        self._check_columns(layout, first_line, numbers)
        table, labels = self._values(buf, layout, first_line, numbers)
        return Block(table=table, labels64=labels, lines=lines, blank=lines - table.shape[0])

    def _line_number(self, row: int, first_line: int, numbers: list[int] | None) -> int:
        return numbers[row] if numbers is not None else first_line + row

    def _check_columns(self, layout: _Layout, first_line: int, numbers: list[int] | None) -> None:
        import numpy as np

        columns = self.columns
        assert columns is not None
        ends = layout.line_ends
        rows = ends.size
        if layout.ends.size == rows * columns and np.array_equal(ends, np.arange(columns - 1, rows * columns, columns)):
            return
        counts = np.diff(ends, prepend=-1)
        row = int(np.argmax(counts != columns))
        number = self._line_number(row, first_line, numbers)
        found = int(counts[row])
        # a bad value earlier on the line, or on an earlier line, is the first problem
        self._values_check_upto(layout, int(ends[row - 1]) + 1 if row else 0, first_line, numbers)
        raise CsvFormatError(
            f"line {number}: {found} columns, expected {columns} like the lines before",
            line=number,
            columns=found,
            expected=columns,
        )

    def _values_check_upto(self, layout: _Layout, stop: int, first_line: int, numbers: list[int] | None) -> None:
        """Raise for the first bad value among the fields before ``stop`` (in a bad-width block)."""
        import numpy as np

        if not stop:
            return
        buf = layout.buf
        starts, ends = layout.starts[:stop], layout.ends[:stop]
        _, _, safe32 = _parse_fields(buf, starts, ends)
        for index in np.flatnonzero(~safe32):
            token = bytes(buf[starts[index] : ends[index]])
            if _is_number(token) is None:
                row = int(np.searchsorted(layout.line_ends, index))
                column = int(index - (layout.line_ends[row - 1] + 1 if row else 0)) + 1
                raise self._bad_value(token, self._line_number(row, first_line, numbers), column)

    def _bad_value(self, token: bytes, line: int, column: int) -> CsvFormatError:
        hint = " (SageMaker CSV has no header row)" if line == 1 else ""
        shown = _shown(token)
        return CsvFormatError(
            f"line {line}, column {column}: {shown!r} is not a number{hint}", line=line, column=column, token=shown
        )

    def _values(
        self, buf: np.ndarray, layout: _Layout, first_line: int, numbers: list[int] | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        import numpy as np

        columns = self.columns
        assert columns is not None
        value, exact, safe32 = _parse_fields(buf, layout.starts, layout.ends)
        if self._dtype == np.float32:
            ok = safe32
            with np.errstate(over="ignore"):
                out = value.astype(np.float32)
        else:
            ok = exact
            out = value
        fix = np.flatnonzero(~ok)
        if fix.size:  # in field order, so the first bad value is the one reported
            with np.errstate(over="ignore"):
                out[fix] = self._exact(buf, layout, fix, columns, first_line, numbers)
        labels = None
        if self._labels64:
            labels = value[::columns].copy()
            rows = np.flatnonzero(~exact[::columns])
            if rows.size:
                labels[rows] = self._exact(buf, layout, rows * columns, columns, first_line, numbers)
        return out.reshape(-1, columns), labels

    def _exact(
        self,
        buf: np.ndarray,
        layout: _Layout,
        fields: np.ndarray,
        columns: int,
        first_line: int,
        numbers: list[int] | None,
    ) -> list[float]:
        """Python's exact parse of the given fields; the first bad one raises with its place."""
        out: list[float] = []
        starts, ends = layout.starts, layout.ends
        for index in fields.tolist():
            token = bytes(buf[starts[index] : ends[index]])
            number = _is_number(token)
            if number is None:
                row, column = divmod(index, columns)
                raise self._bad_value(token, self._line_number(row, first_line, numbers), column + 1)
            out.append(number)
        return out


def _has_blank(data: bytes) -> bool:
    """Whether a line holds only whitespace (asked only once a block failed to parse)."""
    return any(not line.strip() for line in data.split(b"\n")[:-1])


def _empty(dtype: Any, columns: int | None) -> np.ndarray:
    import numpy as np

    return np.empty((0, columns or 0), dtype)
