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
