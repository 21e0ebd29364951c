"""Generic wire helpers: rows to CSV, body checks that name the row and byte, chunking, answers, images."""

from __future__ import annotations

import base64
import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagedrop import codecs
from sagedrop.codecs import BadInput, BadModelResponse, Chunk, PayloadTooLarge
from tests.support.runtime_moto import tiny_jpeg, tiny_png


def messages(exc: BadInput) -> list[str]:
    return [str(p) for p in exc.problems]


# ---------------------------------------------------------------------------------- numbers and rows


@pytest.mark.parametrize(
    ("value", "text"),
    [(3, "3"), (-2, "-2"), (2.0, "2"), (0.1, "0.1"), (1e-7, "1e-07"), (1e20, "1e+20"), (123456.789, "123456.789")],
)
def test_number_text_is_the_shortest_round_trip(value, text):
    assert codecs.number_text(value) == text
    assert float(codecs.number_text(value)) == value


@pytest.mark.parametrize("value", [True, None, "1", math.nan, math.inf, [1]])
def test_number_text_refuses_what_is_not_a_finite_number(value):
    assert codecs.number_text(value) is None


def test_rows_to_csv_lists_and_feature_objects():
    lines = codecs.rows_to_csv([[1, 2.5, -3], {"features": [0.0, 1e-3, 7]}], feature_dim=3)
    assert lines == [b"1,2.5,-3", b"0,0.001,7"]


def test_rows_to_csv_names_every_bad_row_and_value():
    with pytest.raises(BadInput) as caught:
        codecs.rows_to_csv([[1, 2, 3], [1, 2], "1,2,3", [1, None, "x"], [], [0, 1, 2, 3]], feature_dim=3)
    assert messages(caught.value) == [
        "$.instances[1]: has 2 values, the model takes 3 features (send exactly 3 features per row)",
        "$.instances[2]: expected a list of numbers, got the string '1,2,3' (e.g. [1.5, 0, 3.2])",
        "$.instances[3][1]: expected a finite number, got null",
        "$.instances[3][2]: expected a finite number, got the string 'x'",
        "$.instances[4]: is an empty row (send the feature values of one example)",
        "$.instances[5]: has 4 values, the model takes 3 features (predictions take the features only: drop the "
        "label column)",
    ]
    assert caught.value.http_status == 400


def test_rows_to_csv_missing_values_become_empty_fields_when_allowed():
    assert codecs.rows_to_csv([[1, None, 3]], allow_missing=True) == [b"1,,3"]


def _per_value_lines(rows):
    """The reference: every value through number_text, one by one."""
    return [",".join(codecs.number_text(v) for v in row).encode() for row in rows]


EDGE_VALUES = [0, -0.0, 0.0, 7.0, -12.0, 10.0, 1e15, 9999999999999998.0, 1e16, -1e16, 1e22, 0.05, -0.05, 1e-7, 2**60]


@pytest.mark.parametrize("value", EDGE_VALUES)
def test_rows_to_csv_whole_request_path_writes_what_number_text_writes(value):
    rows = [[value, 1.5, -3], [2, value, 0.25], [value, value, value]]
    assert codecs.rows_to_csv(rows) == _per_value_lines(rows)
    assert codecs.rows_to_csv(rows, feature_dim=3) == _per_value_lines(rows)


def test_rows_to_csv_one_feature_rows_and_ints():
    rows = [[7.0], [2.5], [-3], [10**20], [3.0]]
    assert codecs.rows_to_csv(rows) == [b"7", b"2.5", b"-3", b"100000000000000000000", b"3"] == _per_value_lines(rows)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.lists(
            st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(), st.sampled_from(EDGE_VALUES)),
            min_size=3,
            max_size=3,
        ),
        min_size=1,
        max_size=8,
    )
)
def test_rows_to_csv_equals_number_text_value_by_value(rows):
    assert codecs.rows_to_csv(rows, feature_dim=3) == _per_value_lines(rows)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, True, False, None, "1", "1e5", [2], [[2]], {"a": 1}])
def test_rows_to_csv_refuses_a_bad_value_among_plain_rows(bad):
    rows = [[1.0, 2.0, 3.0]] * 5 + [[1.0, bad, 3.0]]
    with pytest.raises(BadInput) as caught:
        codecs.rows_to_csv(rows)
    assert [p.path for p in caught.value.problems] == ["$.instances[5][1]"]


def test_problems_are_capped_and_counted():
    with pytest.raises(BadInput) as caught:
        codecs.rows_to_csv([["x"]] * 25)
    assert len(caught.value.problems) == codecs.MAX_PROBLEMS
    assert caught.value.total == 25
    assert caught.value.describe().endswith("; and 5 more problems")


# ---------------------------------------------------------------------------------- raw bodies


def test_csv_body_rows_skips_blank_lines_crlf_and_bom():
    body = "\ufeff1,2,3\r\n\r\n4.5,-6,7e2\n\n".encode()
    assert codecs.csv_body_rows(body, feature_dim=3) == [b"1,2,3", b"4.5,-6,7e2"]


def test_csv_body_rows_names_line_byte_and_field():
    body = b"1,2,3\n4,5\n7,eight,9\n1, 2 ,3\n"
    with pytest.raises(BadInput) as caught:
        codecs.csv_body_rows(body, feature_dim=3)
    assert messages(caught.value) == [
        "text/csv body line 2 (byte 6): has 2 values, the model takes 3 features (send exactly 3 features per row)",
        "text/csv body line 3 (byte 10), field 2: 'eight' is not a number (fields are numbers separated by commas)",
    ]


def test_csv_body_rows_spots_a_header():
    with pytest.raises(BadInput) as caught:
        codecs.csv_body_rows(b"age,income\n31,5000\n")
    assert messages(caught.value) == [
        "text/csv body line 1 (byte 0): is not numeric: it looks like a header (send data rows only, no header)"
    ]


def test_csv_body_rows_missing_values_for_algorithms_that_take_them():
    assert codecs.csv_body_rows(b"1,,3\nnan,2,\n", allow_missing=True) == [b"1,,3", b"nan,2,"]
    with pytest.raises(BadInput):
        codecs.csv_body_rows(b"1,,3\n")


def test_csv_body_rows_byte_offsets_count_utf8_bytes():
    with pytest.raises(BadInput) as caught:
        codecs.csv_body_rows("1,2\n\u00e9\n".encode())
    assert "line 2 (byte 4)" in messages(caught.value)[0]


def test_invalid_utf8_names_the_byte():
    with pytest.raises(BadInput) as caught:
        codecs.csv_body_rows(b"1,2\n3,\xfe\n")
    assert messages(caught.value) == ["text/csv body: byte 6 (0xfe) is not valid UTF-8 (send UTF-8 text)"]


def test_a_body_without_rows():
    with pytest.raises(BadInput) as caught:
        codecs.csv_body_rows(b"\n\n")
    assert "has no data rows" in messages(caught.value)[0]


def test_libsvm_rows_with_optional_label():
    assert codecs.libsvm_body_rows(b"1 3:0.5 10:2\n\n4:1e-3\n") == [b"1 3:0.5 10:2", b"4:1e-3"]
    with pytest.raises(BadInput) as caught:
        codecs.libsvm_body_rows(b"3:0.5 x:1\n")
    assert messages(caught.value)[0].startswith("text/libsvm body line 1 (byte 0), token 2: 'x:1' is not index:value")


def test_text_lines():
    assert codecs.text_lines(b" one \n\ntwo words\n") == ["one", "two words"]
    with pytest.raises(BadInput):
        codecs.text_lines(b"  \n")


def test_parse_json_body_names_line_column_and_byte():
    with pytest.raises(BadInput) as caught:
        codecs.parse_json_body(b'{"instances":\n [1, 2,]}')
    assert messages(caught.value)[0].startswith(
        "the body: is not valid JSON: Expecting value at line 2, column 8 (byte 21)"
    )


# ---------------------------------------------------------------------------------- chunking


def test_chunks_respect_the_row_count():
    assert codecs.chunk_sizes([1] * 7, max_bytes=1000, max_rows=3) == [Chunk(0, 3), Chunk(3, 6), Chunk(6, 7)]


def test_chunks_respect_bytes_with_separators_and_overhead():
    # sizes 4,4,4 with 1-byte separators and 10 bytes of overhead: 10+4+1+4 = 19 fits 20, a third does not.
    assert codecs.chunk_sizes([4, 4, 4], max_bytes=20, max_rows=100, overhead=10) == [Chunk(0, 2), Chunk(2, 3)]
    # exactly at the limit fits
    assert codecs.chunk_sizes([5, 5], max_bytes=11, max_rows=100) == [Chunk(0, 2)]
    assert codecs.chunk_sizes([5, 5], max_bytes=10, max_rows=100) == [Chunk(0, 1), Chunk(1, 2)]


def test_an_item_that_cannot_fit_alone_is_413_named():
    with pytest.raises(PayloadTooLarge) as caught:
        codecs.chunk_sizes(
            [10, 7_000_000], max_bytes=6 * codecs.MB, max_rows=100, name_of=lambda i: f"$.instances[{i}]"
        )
    assert str(caught.value) == (
        "$.instances[1] is 7,000,000 bytes (7 MB) encoded, over the 6,291,456 bytes (6 MB) limit of one InvokeEndpoint "
        "request: send less data per instance"
    )
    assert caught.value.http_status == 413


def test_no_items_no_chunks():
    assert codecs.chunk_sizes([], max_bytes=10, max_rows=1) == []


def test_join_lines():
    assert codecs.join_lines([b"a", b"b", b"c"], Chunk(1, 3)) == b"b\nc"


# ---------------------------------------------------------------------------------- answers


@pytest.mark.parametrize(
    ("body", "values"),
    [
        (b"0.1,0.9", [0.1, 0.9]),
        (b"0.1\n0.9\n", [0.1, 0.9]),
        (b"2.0", [2.0]),
        (b"[0.1, 0.2, 0.7],[0.3, 0.3, 0.4]", [[0.1, 0.2, 0.7], [0.3, 0.3, 0.4]]),
        (b"[0.1, 0.9]\n[0.8, 0.2]\n", [[0.1, 0.9], [0.8, 0.2]]),
        (b"", []),
    ],
)
def test_parse_csv_values(body, values):
    assert codecs.parse_csv_values(body, "the endpoint") == values


@pytest.mark.parametrize("body", [b"0.1,abc", b"[0.1, x]", b"\xff\xfe"])
def test_parse_csv_values_refuses_what_is_not_numbers(body):
    with pytest.raises(BadModelResponse) as caught:
        codecs.parse_csv_values(body, "the endpoint")
    assert caught.value.http_status == 502


def test_parse_json_response():
    assert codecs.parse_json_response(b'{"a": 1}', "x") == {"a": 1}
    with pytest.raises(BadModelResponse) as caught:
        codecs.parse_json_response(b"<html>oops</html>", "the endpoint")
    assert "the endpoint answered something that is not JSON" in str(caught.value)


def test_as_int_and_top_indices():
    assert [codecs.as_int(v) for v in (2, 2.0, 2.5, True, "2")] == [2, 2, None, None, None]
    assert codecs.top_indices([0.1, 0.5, 0.5, 0.2], 3) == [1, 2, 3]


# ---------------------------------------------------------------------------------- images


def test_image_types_by_magic_bytes():
    assert codecs.image_type(tiny_jpeg()) == "image/jpeg"
    assert codecs.image_type(tiny_png()) == "image/png"
    assert codecs.image_type(b"GIF89a") is None


def test_decode_base64_in_every_common_spelling():
    png = tiny_png()
    standard = base64.b64encode(png).decode()
    assert codecs.decode_base64(standard, "$.instances[0]") == png
    assert codecs.decode_base64(base64.urlsafe_b64encode(png).decode().rstrip("="), "x") == png
    assert codecs.decode_base64("data:image/png;base64," + standard, "x") == png
    assert codecs.decode_base64(standard[:20] + "\n" + standard[20:], "x") == png


def test_decode_base64_names_the_bad_character():
    with pytest.raises(BadInput) as caught:
        codecs.decode_base64("iVBOR*w0KGgo", "$.instances[2]")
    assert messages(caught.value) == [
        "$.instances[2]: character '*' at position 5 is not base64 (encode the image as base64)"
    ]
    with pytest.raises(BadInput):
        codecs.decode_base64(42, "$.instances[0]")


def test_check_image():
    assert codecs.check_image(tiny_png(), "application/x-image", "body") == "image/png"
    with pytest.raises(BadInput) as caught:
        codecs.check_image(tiny_png(), "image/jpeg", "the image/jpeg body")
    assert "is declared image/jpeg but the bytes are image/png" in messages(caught.value)[0]
    with pytest.raises(BadInput) as caught:
        codecs.check_image(b"BM\x00\x01", "image/png", "body")
    assert "is not a JPEG or PNG image (it starts with bytes 42 4d 00 01)" in messages(caught.value)[0]
    with pytest.raises(BadInput):
        codecs.check_image(b"", "image/png", "body")


def test_size_text():
    assert codecs.size_text(6 * codecs.MB) == "6,291,456 bytes (6 MB)"
    assert codecs.size_text(4_000_000) == "4,000,000 bytes (4 MB)"
    assert codecs.size_text(1234) == "1,234 bytes"


# ---------------------------------------------------------------------------------- widths and indices


def test_ragged_rows_are_refused_without_a_feature_count():
    """Every row of one request has the same features: the SageMaker XGBoost container answers ragged CSV
    rows with 415 (aws/sagemaker-xgboost-container 1.7-1 f7a93a2, algorithm_mode/serve.py)."""
    with pytest.raises(BadInput) as exc:
        codecs.rows_to_csv([[1, 2, 3], [4, 5], [6, 7, 8]])
    assert messages(exc.value) == [
        "$.instances[1]: has 2 values, the first row has 3 (every row needs the same number of features, in the "
        "same order)"
    ]
    with pytest.raises(BadInput) as exc:
        codecs.csv_body_rows(b"1,2\n3,4,5\n")
    assert messages(exc.value)[0].startswith("text/csv body line 2 (byte 4): has 3 values, the first row has 2")


def test_libsvm_indices_are_zero_based_and_checked_against_the_feature_count():
    """The container builds csr_matrix((data, (row, col))) from the indices as written: index i is column
    i, so a model of n features takes 0..n-1 (serve_utils._get_sparse_matrix_from_libsvm, 1.7-1 f7a93a2)."""
    assert codecs.libsvm_body_rows(b"0:1 3:2\n", feature_dim=4) == [b"0:1 3:2"]
    with pytest.raises(BadInput) as exc:
        codecs.libsvm_body_rows(b"1:0.5 2:1.2 5:1\n", feature_dim=5)
    assert messages(exc.value) == [
        "text/libsvm body line 1 (byte 0), token 3: index 5 is out of range: the model takes 5 features, "
        "indices 0 to 4 (libsvm indices count from 0 (the first feature is 0:value))"
    ]
    assert codecs.libsvm_body_rows(b"1 9:1\n") == [b"1 9:1"]  # no count known: the container decides


def test_a_json_body_that_is_not_utf8_names_the_byte():
    with pytest.raises(BadInput) as exc:
        codecs.parse_json_body(b'{"instances": ["\xff"]}')
    assert messages(exc.value) == ["the body: byte 16 (0xff) is not valid UTF-8 (send UTF-8 text)"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 30), max_size=12),
    st.integers(1, 100),
    st.integers(1, 6),
    st.integers(0, 2),
    st.integers(0, 10),
)
def test_chunks_are_consecutive_full_and_within_limits(sizes, max_bytes, max_rows, separator, overhead):
    """Whatever path chunk_sizes takes: the chunks cover every item in order, each within both limits, and
    each but the last is full (the next item would not have fit), or an item alone over the limit is 413."""
    if any(overhead + size > max_bytes for size in sizes):
        with pytest.raises(PayloadTooLarge):
            codecs.chunk_sizes(sizes, max_bytes=max_bytes, max_rows=max_rows, separator=separator, overhead=overhead)
        return
    chunks = codecs.chunk_sizes(sizes, max_bytes=max_bytes, max_rows=max_rows, separator=separator, overhead=overhead)

    def used(start: int, end: int) -> int:
        return overhead + sum(sizes[start:end]) + separator * (end - start - 1)

    assert [c.start for c in chunks] == ([0] if chunks else []) + [c.end for c in chunks[:-1]]
    assert (chunks[-1].end if chunks else 0) == len(sizes)
    for chunk, following in itertools.pairwise(chunks):
        assert chunk.count == max_rows or used(chunk.start, chunk.end + 1) > max_bytes
        assert following.count >= 1
    for chunk in chunks:
        assert 1 <= chunk.count <= max_rows and used(chunk.start, chunk.end) <= max_bytes


def _csv_values_reference(body: bytes) -> list[float] | str:
    """parse_csv_values' flat answers as it read them before (issue 16): a regular-expression split."""
    import re

    try:
        return [float(v) for v in re.split(r"[,\s]+", body.decode().strip()) if v]
    except ValueError:
        return "refused"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789.e-,x \t\n\r\u00a0\u2003\u3000", max_size=40))
def test_flat_csv_answers_read_the_fields_the_regular_expression_split_read(text):
    """Fields between commas and white space (str.split and re's \\s both take Unicode white space)."""
    try:
        got: list | str = codecs.parse_csv_values(text.encode(), "the endpoint")
    except BadModelResponse:
        got = "refused"
    assert got == _csv_values_reference(text.encode())
