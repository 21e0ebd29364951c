"""Rows of numbers sent on from the request's own text: JSON rows as CSV, and a plain ``text/csv`` body.

Both are the usual prediction request; both used to cost a Python step per value or per line, most of the
predict handler's own work (issue 16). Anything unusual returns None here and goes the way it went before
(``codecs.rows_to_csv``, ``codecs.csv_body_rows``), which also names every problem.

**JSON rows** (:func:`csv_lines`).

``codecs.rows_to_csv`` writes each parsed number back to text (``repr``, the shortest round-trip form):
for 100 rows of 11 floats that was about a sixth of the predict handler's own work (issue 16). The usual
request, ``{"instances": [[...], ...]}`` and nothing else, already holds that text. :func:`csv_lines`
takes it from the body, after ``json.loads`` has parsed and checked the same body, when the parsed rows
have the plain shape (non-empty lists of equal width, ``feature_dim`` when known) and every value is a
finite number; anything else (``null`` for a missing value, feature objects, ``configuration``, escapes,
non-finite values, a problem to name) returns None and ``codecs.rows_to_csv`` handles it as before.

What the endpoint receives: each field is the number's JSON text, a trailing ``.0`` dropped as
``codecs.number_text`` does for whole floats. For a body written by Python's ``json.dumps`` (``repr`` of
each float) the lines are byte for byte those of ``codecs.rows_to_csv``; for any other spelling of the
same numbers (``1.50``, ``1e5``, ``-0``) the text differs and the values do not: JSON's number grammar
(RFC 8259 section 6, https://www.rfc-editor.org/rfc/rfc8259#section-6) is a subset of what a float
parser reads, and a decimal text and its ``repr`` read as the same double (tests/unit/test_row_text.py
checks both with hypothesis). Uppercase exponents (``1E5``) and ``-0.0`` (``-0``) take the ``repr`` way, so the
endpoint only sees the characters it sees today.

**A text/csv body** (:func:`plain_csv_lines`): ``codecs.csv_body_rows`` matches each line with a regular
expression in a Python loop. A body of lines of numbers separated by commas, every line as wide as the
model takes (or as the first line), with no spaces, carriage returns, empty lines or fields or ``nan``, is
matched here by one expression over the whole body and split into the same lines (the expression's number
is codecs' own, written with possessive quantifiers; tests/unit/test_row_text.py compares both on
generated bodies).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from typing import Any

_DOCUMENT = re.compile(rb'[ \t\n\r]*\{[ \t\n\r]*"instances"[ \t\n\r]*:(.*)\}[ \t\n\r]*', re.S)
"""A JSON object with the one member ``instances`` (JSON whitespace: RFC 8259 section 2)."""
_WHITESPACE = b" \t\n\r"
_ARRAY_BYTES = b"0123456789.e+-,[]"
"""What an array of arrays of JSON numbers is written with (an uppercase ``E`` takes the other way)."""
_FINITE_DIGITS = 308
"""A line (row) this long or shorter, without an exponent, holds no number of 309 digits: every one is finite."""


def csv_lines(body: bytes | None, instances: Sequence[Any], feature_dim: int | None) -> list[bytes] | None:
    """The CSV lines of ``instances`` (parsed from ``body``) from the body's text, or None (see the module)."""
    if body is None or not _plain(instances, feature_dim):
        return None
    match = _DOCUMENT.fullmatch(body)
    if match is None:
        return None
    array = match.group(1).translate(None, _WHITESPACE)
    # Only numbers, commas and brackets: no string, so no other member, escape, literal or NaN/Infinity.
    if array.translate(None, _ARRAY_BYTES) or array[:2] != b"[[" or array[-2:] != b"]]":
        return None
    # The text is the one member's value and json.loads read it as ``instances``, n rows (``_plain``) of
    # numbers or lists: ``[[x,...],...,[x,...]]`` with n - 1 "],[" between the rows and no other bracket.
    data = array[2:-2].replace(b"],[", b"\n")
    if data.count(b"\n") != len(instances) - 1 or b"[" in data:  # a value that is a list
        return None
    data = data.replace(b".0,", b",").replace(b".0\n", b"\n").removesuffix(b".0")
    if b"-0," in data or b"-0\n" in data or data.endswith(b"-0"):  # number_text writes -0.0 as 0: repr's way
        return None
    lines = data.split(b"\n")
    # Only an exponent or over 308 digits make a JSON number infinite (1.8e308 is the largest double).
    if (b"e" in data or max(map(len, lines)) > _FINITE_DIGITS) and not _finite(instances):
        return None
    return lines


def _plain(instances: Sequence[Any], feature_dim: int | None) -> bool:
    """Non-empty lists of equal width (``feature_dim`` when known)."""
    if not isinstance(instances, list) or not instances or set(map(type, instances)) != {list}:
        return False
    widths = set(map(len, instances))
    width = widths.pop()
    return not widths and bool(width) and (feature_dim is None or width == feature_dim)


def _finite(instances: Sequence[Any]) -> bool:
    """The values add up to a finite number: none is infinite (``1e400`` parses as inf) and none is an int
    too large for a float (a sum that overflows takes the ``repr`` way too, to be safe)."""
    try:
        return math.isfinite(sum(map(sum, instances)))
    except OverflowError:
        return False


def plain_csv_lines(body: bytes, feature_dim: int | None) -> list[bytes] | None:
    """``codecs.csv_body_rows(body, feature_dim=...)`` for a plain body of numbers, or None (see the module)."""
    if not body:
        return None
    width = feature_dim or body.split(b"\n", 1)[0].count(b",") + 1
    if _csv_body(width).fullmatch(body) is None:
        return None
    return body.removesuffix(b"\n").split(b"\n")


_NUMBER = rb"[+-]?+(?:\d++\.?+\d*+|\.\d++)(?:[eE][+-]?+\d++)?+"
"""The number of ``codecs._NUMBER`` (optional sign, digits with an optional point, or a point and digits,
optional exponent), written with possessive quantifiers: the same numbers, matched without backtracking."""


@functools.cache
def _csv_body(width: int) -> re.Pattern[bytes]:
    """Lines of ``width`` numbers separated by commas, each line ended by a line feed but maybe the last."""
    row = _NUMBER + rb"(?:," + _NUMBER + rb"){%d}" % (width - 1)
    return re.compile(rb"(?>" + row + rb"\n)*(?:" + row + rb")?")
