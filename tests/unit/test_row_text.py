"""Rows sent on from the request's own text (``sagedrop.row_text``) give the endpoint what the per-value and
per-line ways give (``codecs.rows_to_csv``, ``codecs.csv_body_rows``): the same bytes for a body Python's
``json.dumps`` wrote and for every plain CSV body, the same numbers for any other spelling of them.

JSON numbers follow RFC 8259 section 6 (https://www.rfc-editor.org/rfc/rfc8259#section-6):
``-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?``; the strategy below writes exactly that grammar.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sagedrop import codecs, row_text
from sagedrop.algorithms.inference import PredictionInput, ServingContext, row_requests

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_FINITE = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(10**20), 10**20),
    st.sampled_from([0, 0.0, -0.0, 2.0, -12.0, 1e15, 1e16, 1e22, 0.05, 1e-7, 123456.789]),
)


def _rows(width: int) -> st.SearchStrategy[list[list[float | int]]]:
    return st.lists(st.lists(_FINITE, min_size=width, max_size=width), min_size=1, max_size=6)


def _body(document: object, separators: tuple[str, str] | None = None, indent: int | None = None) -> bytes:
    return json.dumps(document, separators=separators, indent=indent).encode()


# ---------------------------------------------------------------------------------------- JSON rows


@FAST
@given(
    rows=st.integers(1, 4).flatmap(_rows),
    layout=st.sampled_from([(None, None), ((",", ":"), None), (None, 2), ((", ", ": "), 1)]),
    known=st.booleans(),
)
def test_json_rows_from_json_dumps_are_byte_for_byte_the_per_value_lines(rows, layout, known) -> None:
    body = _body({"instances": rows}, *layout)
    instances = json.loads(body)["instances"]
    feature_dim = len(rows[0]) if known else None
    lines = row_text.csv_lines(body, instances, feature_dim)
    expected = codecs.rows_to_csv(instances, feature_dim=feature_dim)
    negative_zero = any(isinstance(v, float) and v == 0 and math.copysign(1, v) < 0 for row in rows for v in row)
    huge = sum(abs(v) for row in rows for v in row) > 1e300  # where a sum could overflow: the repr way, to be safe
    if not negative_zero and not huge:
        assert lines is not None  # the usual request takes the text's way...
    assert lines in (None, expected)  # ...and sends what the per-value way sends


_JSON_NUMBER = st.from_regex(r"\A-?(0|[1-9][0-9]{0,20})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?\Z", fullmatch=True)


@FAST
@given(st.lists(st.lists(_JSON_NUMBER, min_size=3, max_size=3), min_size=1, max_size=5))
def test_json_rows_in_any_spelling_send_the_same_numbers(texts) -> None:
    """Whatever way the client writes a number, the endpoint reads the value today's lines give."""
    body = ('{"instances": [' + ", ".join("[" + ", ".join(row) + "]" for row in texts) + "]}").encode()
    instances = json.loads(body)["instances"]
    lines = row_text.csv_lines(body, instances, 3)
    try:
        expected = codecs.rows_to_csv(instances, feature_dim=3)
    except codecs.BadInput:  # 1e999 is infinite: refused, and never by the text's way
        assert lines is None
        return
    assume(lines is not None)
    assert len(lines) == len(expected)
    for line, reference in zip(lines, expected, strict=True):
        assert [float(v) for v in line.split(b",")] == [float(v) for v in reference.split(b",")]


@pytest.mark.parametrize(
    "body",
    [
        '{"instances": [[1, NaN, 3]]}',
        '{"instances": [[1, Infinity, 3]]}',
        '{"instances": [[1, 1e400, 3]]}',
        '{"instances": [[1, true, 3]]}',
        '{"instances": [[1, null, 3]]}',
        '{"instances": [[1, "2", 3]]}',
        '{"instances": [[1, [2], 3]]}',
        '{"instances": [[[1, 2]], [[3, 4]]]}',
        '{"instances": [[1, 2, %s.5]]}' % ("1" + "0" * 400),
        '{"instances": [[1, 2, 3], [4, 5]]}',
        '{"instances": [[1, 2, 3]], "configuration": {}}',
        '{"configuration": {}, "instances": [[1, 2, 3]]}',
        '{"instances": [[1, 2, 3]], "instances": [[4, 5, 6]]}',
        '{"\\u0069nstances": [[1, 2, 3]]}',
        '{"instances": [{"features": [1, 2, 3]}]}',
        '{"instances": [[1, -0.0, 3]]}',
        '{"instances": [[1, 2E5, 3]]}',
        '{"instances": [[]]}',
        '{"instances": [[1, 2, %s]]}' % (10**400),
    ],
)
def test_anything_but_plain_rows_of_numbers_takes_the_per_value_way(body) -> None:
    instances = json.loads(body).get("instances")
    assert row_text.csv_lines(body.encode(), instances, None) is None


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ('{"instances": [[1, 2, 3], [1, NaN, 3]]}', "$.instances[1][1]"),
        ('{"instances": [[1, 2, 3], [1, 1e400, 3]]}', "$.instances[1][1]"),
        ('{"instances": [[1, 2, 3], [1, %s.0, 3]]}' % ("9" * 400), "$.instances[1][1]"),
        ('{"instances": [[1, 2, 3], [1, true, 3]]}', "$.instances[1][1]"),
        ('{"instances": [[1, 2, 3], [1, 2]]}', "$.instances[1]"),
    ],
)
def test_a_bad_value_is_refused_and_named_as_before(body, path) -> None:
    payload = PredictionInput(instances=json.loads(body)["instances"], json_body=body.encode())
    with pytest.raises(codecs.BadInput) as caught:
        row_requests(payload, ServingContext(feature_dim=3), accept="text/csv")
    assert [p.path for p in caught.value.problems] == [path]


def test_row_requests_send_the_body_text_for_json_rows() -> None:
    body = b'{"instances": [[1.50, 2.0, 3e2], [0.1, -4, 5.25]]}'
    payload = PredictionInput(instances=json.loads(body)["instances"], json_body=body)
    [call] = row_requests(payload, ServingContext(feature_dim=3), accept="text/csv")
    assert (call.body, call.count) == (b"1.50,2,3e2\n0.1,-4,5.25", 2)


# ---------------------------------------------------------------------------------------- text/csv


_CSV_NUMBER = st.from_regex(r"\A[+-]?([0-9]{1,6}(\.[0-9]{0,4})?|\.[0-9]{1,4})([eE][+-]?[0-9]{1,2})?\Z", fullmatch=True)


@FAST
@given(
    rows=st.integers(1, 4).flatmap(
        lambda width: st.lists(st.lists(_CSV_NUMBER, min_size=width, max_size=width), min_size=1, max_size=6)
    ),
    trailing=st.booleans(),
    known=st.booleans(),
)
def test_a_plain_csv_body_gives_the_per_line_lines(rows, trailing, known) -> None:
    body = ("\n".join(",".join(row) for row in rows) + ("\n" if trailing else "")).encode()
    feature_dim = len(rows[0]) if known else None
    lines = row_text.plain_csv_lines(body, feature_dim)
    assert lines is not None
    assert lines == codecs.csv_body_rows(body, feature_dim=feature_dim)
    assert lines == codecs.csv_body_rows(body, feature_dim=feature_dim, allow_missing=True)


@FAST
@given(
    body=st.text(alphabet="0123456789.eE+-,\n", max_size=40).map(str.encode),
    feature_dim=st.one_of(st.none(), st.integers(1, 4)),
    allow_missing=st.booleans(),
)
def test_any_csv_body_taken_the_fast_way_is_what_the_per_line_way_takes(body, feature_dim, allow_missing) -> None:
    lines = row_text.plain_csv_lines(body, feature_dim)
    if lines is not None:
        assert lines == codecs.csv_body_rows(body, feature_dim=feature_dim, allow_missing=allow_missing)


@pytest.mark.parametrize(
    "body",
    [b"1,2\n3,4\n\n", b"1,2\n\n3,4", b"1, 2\n3,4", b"1,2\r\n3,4", b"1,,2", b"1,nan", b"1,2\n3", b"a,b\n1,2", b"1e,2"],
)
def test_anything_but_a_plain_csv_body_takes_the_per_line_way(body) -> None:
    assert row_text.plain_csv_lines(body, None) is None
