import numpy as np
import pytest

from sagedrop import algorithms
from sagedrop.datacheck import check_sample

LL = algorithms.get("linear-learner")
XGB = algorithms.get("xgboost")
MULTI = {"feature_dim": 3, "predictor_type": "multiclass_classifier", "num_classes": 4}


def check(algorithm, values, content_type, sample, truncated=False, channel="train"):
    problems, facts = check_sample(algorithm, values, channel, content_type, "s3://b/k", sample, truncated)
    return [p.message for p in problems], facts


def test_good_csv_passes_and_reports_its_width():
    messages, facts = check(LL, MULTI, "text/csv", b"0,1.5,2,3\n3,0.1,0.2,0.3\n")
    assert messages == []
    assert facts.columns == 4


def test_header_row_is_named():
    messages, _ = check(LL, MULTI, "text/csv", b"label,a,b,c\n0,1,2,3\n")
    assert any("looks like a header row" in m for m in messages)


def test_non_numeric_cell_names_line_and_column():
    messages, _ = check(LL, MULTI, "text/csv", b"0,1,2,3\n1,1,x,3\n")
    assert "line 2, column 3 is not a number: 'x'" in messages


def test_inconsistent_width_is_named():
    messages, _ = check(LL, MULTI, "text/csv", b"0,1,2,3\n1,1,2\n")
    assert "line 2 has 3 columns, line 1 has 4" in messages


def test_feature_dim_must_match_the_columns():
    messages, _ = check(LL, {**MULTI, "feature_dim": 11}, "text/csv", b"0,1,2,3\n")
    assert any("feature_dim says 11" in m for m in messages)


def test_label_out_of_range_suggests_label_first():
    messages, _ = check(LL, MULTI, "text/csv", b"7.5,1,2,3\n")
    assert any("the label (first column) '7.5'" in m for m in messages)


def test_truncated_sample_ignores_the_cut_line():
    messages, facts = check(LL, MULTI, "text/csv", b"0,1,2,3\n1,1,2,3\n2,1,2", truncated=True)
    assert messages == [] and facts.columns == 4


def test_recordio_magic():
    assert check(LL, MULTI, "application/x-recordio-protobuf", b"\x0a\x23\xd7\xce\x10\x00\x00\x00")[0] == []
    messages, _ = check(LL, MULTI, "application/x-recordio-protobuf", b"0,1,2\n")
    assert "RecordIO magic number" in messages[0]


def test_text_must_be_utf8():
    bt = algorithms.get("blazingtext")
    messages, _ = check(bt, {"mode": "skipgram"}, "text/plain", b"hello \xff world\n")
    assert "not UTF-8" in messages[0]


def test_multibyte_character_cut_by_the_range_is_fine():
    bt = algorithms.get("blazingtext")
    sample = "h\u00e9llo w\u00f6rld\n".encode() + "\u00e9".encode()[:1]
    assert check(bt, {"mode": "skipgram"}, "text/plain", sample, truncated=True)[0] == []


@pytest.mark.parametrize(("sample", "ok"), [(b"1 1:0.5 3:2\n0 2:1\n", True), (b"1 1=0.5\n", False)])
def test_libsvm_lines(sample, ok):
    values = {"num_round": 5, "objective": "binary:logistic"}
    assert (check(XGB, values, "text/libsvm", sample)[0] == []) is ok


def test_images_and_lst():
    ic = algorithms.get("image-classification")
    values = {"num_classes": 2, "num_training_samples": 10}
    assert check(ic, values, "application/x-image", b"\xff\xd8\xff\xe0....")[0] == []
    assert "neither a JPEG nor a PNG" in check(ic, values, "application/x-image", b"GIF89a")[0][0]


# ------------------------------------------------------------------ found by mutation testing (make mutation)


def test_only_the_line_cut_by_the_range_is_dropped():
    """A ranged read cuts the last line only: every complete line before it is still checked, and an object
    read whole keeps a last line without a newline."""
    messages, _ = check(LL, MULTI, "text/csv", b"0,1,2,3\n1,1,x,3\n2,1,2", truncated=True)
    assert messages == ["line 2, column 3 is not a number: 'x'"]
    messages, facts = check(LL, MULTI, "text/csv", b"0,1,2,3", truncated=False)
    assert messages == [] and facts.columns == 4
    messages, _ = check(LL, MULTI, "text/csv", b"0,1,2,3\r1,y,2,3\r2,1", truncated=True)
    assert messages == ["line 2, column 2 is not a number: 'y'"]


def test_a_utf8_byte_order_mark_is_not_data():
    """Spreadsheet programs may start a UTF-8 CSV with the byte order mark EF BB BF (U+FEFF,
    https://www.unicode.org/faq/utf_bom.html#bom4): it is not part of the first cell."""
    messages, facts = check(LL, MULTI, "text/csv", b"\xef\xbb\xbf0,1,2,3\n1,1,2,3\n")
    assert messages == [] and facts.columns == 4


@pytest.mark.parametrize(
    ("content_type", "sample", "location", "truncated"),
    [
        ("text/csv", b"0,1,\xff\n", "s3://b/d/x.csv", False),
        ("text/csv", b"0,1,2,3", "s3://b/d/x.csv", True),
        ("text/csv", b"label,a,b,c\n0,1,2,3\n", "s3://b/d/x.csv", False),
        ("text/libsvm", b"1 1:\xff\n", "s3://b/d/x.libsvm", False),
        ("application/x-recordio-protobuf", b"PAR1", "s3://b/d/x.rec", False),
        ("application/x-parquet", b"\x0a\x23\xd7\xce", "s3://b/d/x.parquet", False),
        ("application/x-image", b"GIF89a", "s3://b/d/x.gif", False),
        ("application/x-image", b"0\tcat\n", "s3://b/d/Train.LST", False),
        ("text/plain", b"\xff\n", "s3://b/d/x.txt", False),
    ],
)
def test_every_sample_problem_names_the_channel_and_the_object(content_type, sample, location, truncated):
    """The drop's rejection must say where (which channel, which object) and how to fix it."""
    problems, _ = check_sample(LL, MULTI, "validation", content_type, location, sample, truncated)
    assert problems
    assert all(p.path == f"channel validation ({location})" and p.message and p.hint for p in problems)


def test_parquet_needs_its_magic_number():
    """Apache Parquet files start (and end) with the 4 bytes PAR1
    (https://parquet.apache.org/docs/file-format/)."""
    assert check(LL, MULTI, "application/x-parquet", b"PAR1\x15\x04")[0] == []
    [message] = check(LL, MULTI, "application/x-parquet", b"0,1,2\n")[0]
    assert message == "is not a Parquet file (no PAR1 magic)"


def test_a_lst_file_under_an_image_channel_is_checked_as_a_list():
    """.lst lines are <index>\\t<label>\\t<path> (https://docs.aws.amazon.com/sagemaker/latest/dg/image-classification.html,
    "Input/Output Interface"), whatever the case of the extension."""
    ic = algorithms.get("image-classification")
    values = {"num_classes": 2, "num_training_samples": 10}
    lst = b"0\t1\tcats/a.jpg\n1\t0\tdogs/b.jpg\n"
    for name in ("s3://b/lst/train.lst", "s3://b/lst/TRAIN.LST"):
        problems, _ = check_sample(ic, values, "train_lst", "application/x-image", name, lst, False)
        assert problems == []
        problems, _ = check_sample(ic, values, "train_lst", "application/x-image", name, b"0 1 a.jpg\n", False)
        assert [p.message for p in problems] == ["line 1 is not '<index>\\t<label>\\t<image path>': '0 1 a.jpg'"]


def test_recordio_protobuf_reports_its_feature_count_and_image_recordio_none():
    """RecordIO-protobuf records carry their feature width (test_feature_count.py); image RecordIO does not."""
    from sagedrop import recordio

    data = recordio.encode_dense(np.zeros((2, 5), "float32"), np.array([0, 1], "float32"))
    assert check(LL, MULTI, "application/x-recordio-protobuf", data)[1].feature_count == 5
    assert check(LL, MULTI, "application/x-recordio", data)[1].feature_count is None
