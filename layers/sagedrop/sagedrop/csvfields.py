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
        self.ones, self.high = u(0x0101010101010101), u(0x8080808080808080)
        self.zeros, self.dots = u(0x3030303030303030), u(0x2E2E2E2E2E2E2E2E)
        self.add76 = u(0x7676767676767676)
        self.low_nibbles, self.pairs = u(0x0F0F0F0F0F0F0F0F), u(0x00FF00FF00FF00FF)
        self.quads = u(0x0000FFFF0000FFFF)
        full = (1 << 64) - 1
        # KEEP[n]: the top n bytes of a word (a field right-aligned on its last byte)
        self.keep = np.array([0] + [full ^ ((1 << (8 * (8 - n))) - 1) for n in range(1, 9)], np.uint64)
        # FRAC[8k + 1]: digits after a '.' in byte k of a word (7 - k); FRAC[0]: no '.'
        self.frac = np.zeros(66, np.int64)
        self.frac[1:58:8] = np.arange(7, -1, -1)
        self.signs = np.array([1.0, -1.0])
        self.p10f = np.array([10.0**k for k in range(309)])  # exact for k <= 22
        # SIGNED[k + 64 * negative]: the divisor of a mantissa with k digits after the '.', signed
        self.signed = np.concatenate([self.p10f[:64], -self.p10f[:64]])
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
    """Value of 8 ASCII digits per word (a 0 byte reads as '0'), first digit in the lowest byte:
    pairs, then quads, then all eight are combined by one multiply each (Lemire 2021). In place."""
    w &= c.low_nibbles
    w *= c.u(10 * 256 + 1)
    w >>= c.u(8)
    w &= c.pairs
    w *= c.u(100 * 65536 + 1)
    w >>= c.u(16)
    w &= c.quads
    w *= c.u(10000 * (1 << 32) + 1)
    w >>= c.u(32)
    return w


def _word(c: _Consts, w: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, ...]:
    """(value, digits after the '.', has a '.', bad) of the last ``n`` bytes of each word.

    ``w`` holds 8 bytes ending where the digits end (``_words_at``; overwritten), ``n`` how many
    of them belong to the field (clipped to 0..8; the bytes before them read as 0 digits). A '.' is taken out by
    moving the bytes before it one byte up (no division); more than one '.' or a byte that is no
    digit is bad. Operations run in place: each temporary is one array of the words' count.
    """
    import numpy as np

    u = c.u
    keep = c.keep.take(n, mode="clip")
    w &= keep  # a 0 byte before the field: read as a '0' digit, and no '.'
    x = w ^ c.dots
    dots = x - c.ones
    np.invert(x, out=x)
    dots &= x
    dots &= c.high  # 0x80 in each byte that is '.'
    np.right_shift(dots, u(7), out=x)
    below = x * u(0x1E)
    w ^= below  # '.' ^ 0x1E == '0'
    check = w ^ c.zeros  # digits become 0..9
    np.add(check, c.add76, out=below)  # 0x80 set from 10 up (no carry out of a byte below 0x80)
    check |= below
    check &= keep
    check &= c.high  # 0x80 in each of the field's bytes outside '0'..'9'
    np.subtract(dots, u(1), out=below)
    below &= dots  # a '.' left after taking out the lowest one: more than one '.'
    check |= below
    bad = check != 0
    has = dots != 0
    hasu = has.view(np.uint8).astype(np.uint64)
    np.subtract(x, hasu, out=below)  # the bytes before the '.'
    frac = c.frac.take(np.bitwise_count(below) + has.view(np.uint8))
    np.left_shift(dots, u(1), out=x)
    x -= hasu
    np.invert(x, out=x)  # bytes after the '.' (all bytes when there is none)
    below &= w
    below <<= u(8)
    w &= x
    w |= below  # '.' dropped, a 0 byte in front
    return _eight_digits(c, w), frac, has, bad


def _short(c: _Consts, w: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, ...]:
    """(mantissa, digits after the '.', has a '.', bad) of fields of up to 8 characters after the sign, from
    their last 8 bytes ``w``. Longer fields get arbitrary results here and are redone by the caller."""
    import numpy as np

    mantissa, frac, has, bad = _word(c, w, length)
    bad |= length.astype(np.uint8) <= has.view(np.uint8)  # at least one digit (longer fields are redone)
    return mantissa, frac, has, bad


def _long(c: _Consts, buf: np.ndarray, mend: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, ...]:
    """``_short`` for fields of 9 to 24 characters: up to three words of 8 digits, first to last.

    A word holding the '.' gives 7 digits, the others 8: the mantissa so far is scaled by 10**7
    or 10**8 before the next word's value is added."""
    import numpy as np

    longest = int(length.max()) if length.size else 0
    words = min(3, (longest + 7) // 8)  # words past the longest field would add zeros
    mantissa = np.zeros(mend.size, np.uint64)
    frac = np.zeros(mend.size, np.int64)
    dots = np.zeros(mend.size, np.int64)
    bad = length > 24
    for word in range(words - 1, -1, -1):  # word 0 ends where the digits end
        value, digits, has, wrong = _word(c, _words_at(buf, mend - 8 * word), length - 8 * word)
        bad |= wrong
        if word == 2:
            bad |= value >= c.u(1844)  # more would overflow uint64 (10**19 < 2**64)
        hasi = has.view(np.uint8).astype(np.int64)
        mantissa *= c.p10i.take(8 - hasi)
        mantissa += value
        frac += digits
        frac += (8 * word) * hasi
        dots += hasi
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
    first = buf[starts]
    neg = first == 45  # '-'
    begin = starts + (neg | (first == 43))  # '+'
    mantissa, frac, bad, long = _mantissas(c, buf, ends, begin)
    field = None
    if np.count_nonzero(bad) > FEW_SLOW_FIELDS:
        e_at = np.flatnonzero((buf[PAD:] | 32) == 101) + PAD  # 'e' or 'E'
        if e_at.size:  # read the mantissas again, up to each 'e'
            mend = ends.copy()
            field = np.searchsorted(ends, e_at)
            mend[field] = e_at
            mantissa, frac, bad, long = _mantissas(c, buf, mend, begin)
    value = mantissa.view(np.int64).astype(np.float64)  # int64: a faster conversion than uint64
    exact = ~bad  # up to 8 digits: below 2**53, at most 7 after the '.'
    if long.size:
        value[long] = mantissa[long].astype(np.float64)  # may exceed 2**63
        exact[long] &= (frac[long] <= 22) & (mantissa[long] < c.u(1 << 53))
    index = neg.view(np.uint8).astype(np.int64)
    index <<= 6
    index += frac
    value /= c.signed.take(index, mode="clip")  # x / -10**k == -(x / 10**k) exactly; "-0" gives -0.0
    far = None
    if field is not None:
        far = _apply_exponents(c, buf, ends, e_at, field, mantissa, frac, value, exact, bad)
        exact &= ~bad
        value[field] = np.copysign(value[field], c.signs.take(neg[field].view(np.uint8)))
    safe32 = exact.copy()
    if far is None:  # only long mantissas can be good but not exact
        maybe = long[~(exact[long] | bad[long])]
    else:
        maybe = np.flatnonzero(~exact & ~bad)
        maybe = maybe[~far[maybe]]
    if maybe.size:
        safe32[maybe] = _far_from_float32_ties(value[maybe])
    return value, exact, safe32


def _mantissas(c: _Consts, buf: np.ndarray, mend: np.ndarray, begin: np.ndarray) -> tuple[np.ndarray, ...]:
    """(mantissa, digits after the '.', bad, indices of the long fields) of the digits from each
    ``begin`` to each ``mend``: up to 8 characters from one word, 9 with a '.' from one word and
    the first character, longer ones word by word (``_long``)."""
    import numpy as np

    length = mend - begin
    mantissa, frac, has, bad = _short(c, _words_at(buf, mend), length)
    long = np.flatnonzero(length > 8)
    is_nine = length[long] == 9
    nine, long = long[is_nine], long[~is_nine]
    if nine.size:
        first = buf[begin[nine]]
        digit = first - np.uint8(48)
        good, dotted = ~bad[nine], has[nine]
        lead = np.flatnonzero(good & dotted & (digit <= 9))  # a '.' among the last 8: add the first digit
        mantissa[nine[lead]] += digit[lead].astype(np.uint64) * c.u(10**7)
        point = np.flatnonzero(good & ~dotted & (first == 46))  # '.' then 8 digits
        frac[nine[point]] = 8
        done = np.zeros(nine.size, bool)
        done[lead] = True
        done[point] = True
        long = np.concatenate([long, nine[~done]])  # no '.' (9 digits) or a wrong first character (disjoint)
    if long.size:
        mantissa[long], frac[long], bad[long] = _long(c, buf, mend[long], length[long])
    return mantissa, frac, bad, long


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
    value, _, dots, wrong = _word(c, _words_at(buf, ends), np.clip(length, 0, 4))
    value = value.astype(np.int64)
    wrong |= dots | (length < 1) | (length > 4)
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
