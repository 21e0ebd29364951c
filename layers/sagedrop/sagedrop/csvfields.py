"""Vectorized parsing of CSV fields: SWAR digit arithmetic on uint64 words, exact float results.

Used by ``sagedrop.csvblocks`` (which finds the fields and reports errors). For each field
(``buf[starts:ends]``), ``parse_fields`` gives its float64 value and whether that value is the
correctly rounded double (``exact``) and safe to round to float32 (``safe32``); every other field
is re-parsed exactly by the caller. The method (D. Lemire's 8-digit SWAR conversion, Clinger's
fast path) is described in ``sagedrop.csvblocks``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np

PAD = 32
"""Separator bytes before a block's data: word gathers may look up to 24 bytes back."""


# --------------------------------------------------------------------------------------------
# Vectorized field parsing (SWAR on uint64 words)
# --------------------------------------------------------------------------------------------


class _Consts:
    """numpy constants, built on first use so that importing this module needs no numpy."""

    _instance: _Consts | None = None

    def __init__(self) -> None:
        import numpy as np

        u = np.uint64
        self.high, self.zeros = u(0x8080808080808080), u(0x3030303030303030)
        self.add76 = u(0x7676767676767676)
        self.pairs, self.quads = u(0x00FF00FF00FF00FF), u(0x0000FFFF0000FFFF)
        self.full = u((1 << 64) - 1)
        self.signs = np.array([1.0, -1.0])
        self.p10f = np.array([10.0**k for k in range(309)])  # exact for k <= 22
        # SIGNED[k + 64 * negative]: the divisor of a mantissa with k digits after the '.', signed
        self.signed = np.concatenate([self.p10f[:64], -self.p10f[:64]])
        # POINTED[code + 64 * negative]: the same by _word's point code (8k, or NO_POINT: k = 0)
        pointed = np.ones(64)
        pointed[0:64:8] = self.p10f[:8]
        self.pointed = np.concatenate([pointed, -pointed])
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
    index = ends >> 3  # the word holding byte ends[i]; the 8 bytes before it start in the word before
    shift = ((ends & 7) << 3).view(np.uint64)
    low = words[:-1].take(index - 1)
    low >>= shift
    high = words.take(index)
    np.subtract(np.uint64(64), shift, out=shift)
    high <<= shift
    low |= high
    return low


def _eight_digits(c: _Consts, w: np.ndarray) -> np.ndarray:
    """Value of 8 digits 0..9 per word (one per byte), first digit in the lowest byte: pairs, then
    quads, then all eight are combined by one multiply each (Lemire 2021). In place."""
    w *= c.u(10 * 256 + 1)
    w >>= c.u(8)
    w &= c.pairs
    w *= c.u(100 * 65536 + 1)
    w >>= c.u(16)
    w &= c.quads
    w *= c.u(10000 * (1 << 32) + 1)
    w >>= c.u(32)
    return w


NO_POINT = 63
"""``_word``'s point code of a word without a '.' (with one: 8 x the digits after it, 0..56)."""


def _word(c: _Consts, w: np.ndarray, n8: np.ndarray, digit: bool = False) -> tuple[np.ndarray, ...]:
    """(value, point code, bad) of the last n8 / 8 bytes of each word (``digit``: bad also
    without a digit among them).

    ``w`` holds 8 bytes ending where the digits end (``_words_at``; overwritten), ``n8`` 8 x how
    many of them belong to the field (uint64; 64 and more: all 8); the bytes before them read as
    0 digits. The point code (uint8) is 8 x the digits after the '.', or ``NO_POINT``. The bytes
    become digit values (``^ '0'``); those above 9 are flagged: one flag on a '.' is taken out by
    moving the bytes before it one byte up (no division); more than one flag, or one on any other
    byte, is bad. Operations run in place: each temporary is one array of the words' count.
    """
    import numpy as np

    u = c.u
    t = np.right_shift(c.full, n8)  # the bytes before the field
    np.invert(t, out=t)
    w ^= c.zeros  # digits become 0..9, '.' 0x1E
    w &= t  # before the field: 0 digits
    flag = w + c.add76  # 0x80 set from 10 up (no carry out of a byte below 0x80)
    flag |= w
    flag &= c.high  # 0x80 in each byte above 9: a '.', or bad
    one = flag >> u(7)
    dot = one * u(0x1E)
    w ^= dot  # a '.' becomes 0
    one *= u(0xFF)
    empty = np.equal(t, one) if digit else None  # the field's bytes are a '.' or none
    one &= w  # a flagged byte that was no '.'
    np.subtract(flag, u(1), out=t)  # the bits below the lowest flag (all without one)
    point = np.bitwise_count(t)  # 8k + 7 for a flag in byte k, 64 without
    bad = flag & t  # a second flag
    bad |= one
    np.minimum(t, flag, out=t)  # the bytes before the '.' (none without)
    t &= w
    t *= u(0xFF)
    w += t  # ... moved one byte up, over the '.'
    np.subtract(np.uint8(NO_POINT), point, out=point)
    point &= np.uint8(NO_POINT)
    bad = bad != 0
    if empty is not None:
        bad |= empty
    return _eight_digits(c, w), point, bad


def _eights(length: np.ndarray) -> np.ndarray:
    """8 x the lengths (``_word``'s ``n8``); negative lengths as 0."""
    import numpy as np

    return (np.maximum(length, 0) << 3).view(np.uint64)


def _long(c: _Consts, buf: np.ndarray, mend: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, ...]:
    """(mantissa, digits after the '.', bad) of fields of 9 to 24 characters: up to three words
    of 8 digits, first to last, read by one ``_word`` call.

    A word holding the '.' gives 7 digits, the others 8: the mantissa so far is scaled by 10**7
    or 10**8 before the next word's value is added."""
    import numpy as np

    longest = int(length.max()) if length.size else 0
    words = min(3, (longest + 7) // 8)  # words past the longest field would add zeros
    back = np.arange(words - 1, -1, -1)[:, None] * 8  # first word first
    value, point, wrong = _word(c, _words_at(buf, (mend - back).ravel()), _eights(length - back).ravel())
    value, point, wrong = (a.reshape(words, -1) for a in (value, point, wrong))
    has = (point != NO_POINT).view(np.uint8).astype(np.int64)
    bad = (length > 24) | wrong.any(axis=0)
    if words == 3:
        bad |= value[0] >= c.u(1844)  # more would overflow uint64 (10**19 < 2**64)
    mantissa = value[0].copy()
    for word in range(1, words):
        mantissa *= c.p10i.take(8 - has[word])
        mantissa += value[word]
    frac = (np.where(has == 1, point >> 3, 0) + back * has).sum(axis=0)
    dots = has.sum(axis=0)
    bad |= (dots > 1) | (length <= dots)  # one '.' at most, and a digit
    return mantissa, frac, bad


FEW_SLOW_FIELDS = 32
"""Up to this many fields of a block that the digit words cannot read (an exponent, a space, a
wrong character) are left to the caller's exact per-field parse; more, and the block is read
again with exponents located in bulk (data written in scientific notation)."""


def parse_fields(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, ...]:
    """(value as float64, Clinger-exact, float32-safe) for the fields ``buf[starts:ends]``.

    Fields that are not exact (or not float32-safe) must be parsed by the caller exactly; a field
    that is no number is never marked exact."""
    import numpy as np

    c = _Consts.get()
    first = buf.take(starts)
    neg = first == 45  # '-'
    begin = starts + (neg | (first == 43))  # '+'
    mantissa, point, bad, long, frac = _mantissas(c, buf, ends, begin)
    field = None
    if np.count_nonzero(bad) > FEW_SLOW_FIELDS:
        e_at = np.flatnonzero((buf[PAD:] | 32) == 101) + PAD  # 'e' or 'E'
        if e_at.size:  # read the mantissas again, up to each 'e'
            mend = ends.copy()
            field = np.searchsorted(ends, e_at)
            mend[field] = e_at
            mantissa, point, bad, long, frac = _mantissas(c, buf, mend, begin)
    value = mantissa.view(np.int64).astype(np.float64)  # int64: a faster conversion than uint64
    index = neg.view(np.uint8) * np.uint8(64)
    index |= point
    value /= c.pointed.take(index)  # x / -10**k == -(x / 10**k) exactly; "-0" gives -0.0
    exact = ~bad  # up to 8 digits: below 2**53, at most 7 after the '.'
    if long.size:  # may exceed 2**63, up to 24 digits after the '.'
        signed = c.signed.take((neg[long].view(np.uint8).astype(np.int64) << 6) + frac)
        value[long] = mantissa[long].astype(np.float64) / signed
        exact[long] &= (frac <= 22) & (mantissa[long] < c.u(1 << 53))
    far = None
    if field is not None:
        frac_all = np.where(point == NO_POINT, 0, point >> 3).astype(np.int64)
        frac_all[long] = frac
        far = _apply_exponents(c, buf, ends, e_at, field, mantissa, frac_all, value, exact, bad)
        exact &= ~bad
        value[field] = np.copysign(value[field], c.signs.take(neg[field].view(np.uint8)))
    if far is None:  # only long mantissas can be good but not exact
        maybe = long[~(exact[long] | bad[long])]
    else:
        maybe = np.flatnonzero(~exact & ~bad)
        maybe = maybe[~far[maybe]]
    safe32 = exact  # shared while equal: neither is changed by the callers
    if maybe.size:
        safe32 = exact.copy()
        safe32[maybe] = _far_from_float32_ties(value[maybe])
    return value, exact, safe32


def _mantissas(c: _Consts, buf: np.ndarray, mend: np.ndarray, begin: np.ndarray) -> tuple[np.ndarray, ...]:
    """(mantissa, point code, bad, indices of the long fields, their digits after the '.') of the
    digits from each ``begin`` to each ``mend``: up to 8 characters from one word, 9 with a '.'
    from one word and the first character, longer ones (and '.' then 8 digits) by ``_long``."""
    import numpy as np

    length = mend - begin
    mantissa, point, bad = _word(c, _words_at(buf, mend), (length << 3).view(np.uint64), digit=True)
    long = np.flatnonzero(length > 8)
    is_nine = length[long] == 9
    nine, long = long[is_nine], long[~is_nine]
    if nine.size:
        digit = buf[begin[nine]] - np.uint8(48)
        lead = (point[nine] != NO_POINT) & (digit <= 9)  # a '.' among the last 8: add the first digit
        lead &= ~bad[nine]
        mantissa[nine[lead]] += digit[lead].astype(np.uint64) * c.u(10**7)
        long = np.concatenate([long, nine[~lead]])  # '.' then 8 digits, 9 digits, or a wrong character
    frac = np.zeros(0, np.int64)
    if long.size:
        mantissa[long], frac, bad[long] = _long(c, buf, mend[long], length[long])
    return mantissa, point, bad, long, frac


def _apply_exponents(
    c: _Consts,
    buf: np.ndarray,
    ends: np.ndarray,
    e_at: np.ndarray,
    field: np.ndarray,
    mantissa: np.ndarray,
    frac: np.ndarray,
    value: np.ndarray,
    exact: np.ndarray,
    bad: np.ndarray,
) -> np.ndarray:
    """Scale the fields with an exponent in place; the fields too far from 1 to be float32-safe."""
    import numpy as np

    exp, wrong = _exponents(c, buf, e_at, ends[field])
    bad[field] |= wrong
    bad[field[1:][field[1:] == field[:-1]]] = True  # two exponents
    k = exp - frac[field]
    magnitude = np.minimum(np.abs(k), 308)
    m = mantissa[field].astype(np.float64)
    with np.errstate(over="ignore", under="ignore"):
        value[field] = np.where(k >= 0, m * c.p10f[magnitude], m / c.p10f[magnitude])
    exact[field] &= np.abs(k) <= 22
    far = np.zeros(bad.size, bool)
    far[field] = np.abs(k) > 300
    return far


def _exponents(c: _Consts, buf: np.ndarray, e_at: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(exponent, bad) for the exponent parts from ``e_at`` (the 'e') to ``ends``: sign, 1-4 digits."""
    import numpy as np

    sign = buf[e_at + 1]
    negative = sign == 45
    begin = e_at + 1 + (negative | (sign == 43))
    length = ends - begin
    value, point, wrong = _word(c, _words_at(buf, ends), _eights(np.minimum(length, 4)))
    value = value.astype(np.int64)
    wrong |= (point != NO_POINT) | (length < 1) | (length > 4)
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
