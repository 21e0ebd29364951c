import io

import numpy as np
import pytest

from sagedrop import recordio
from sagedrop.convert import LabelBins, label_range, transform_csv
from sagedrop.errors import DataError


def test_equal_width_bins_follow_pandas_cut():
    # pandas.cut([1, 2, 3, 4, 5, 6, 7, 8, 9], 4) -> edges (0.992, 3.0], (3.0, 5.0], (5.0, 7.0], (7.0, 9.0]
    bins = LabelBins.equal_width(1.0, 9.0, 4)
    assert bins.edges == pytest.approx((0.992, 3.0, 5.0, 7.0, 9.0))
    assert bins.classes([1, 2, 3, 3.0001, 5, 6, 7, 8, 9]).tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 3]
    assert bins.names() == ["(0.992, 3]", "(3, 5]", "(5, 7]", "(7, 9]"]


def test_values_outside_the_train_range_go_to_the_outer_bins():
    bins = LabelBins.equal_width(0.0, 10.0, 2)
    assert bins.classes([-5, 100]).tolist() == [0, 1]


def test_a_constant_label_still_makes_bins():
    bins = LabelBins.equal_width(5.0, 5.0, 3)
    assert bins.count == 3
    assert bins.classes([5.0]).tolist() in ([0], [1], [2])


def test_label_range_streams_the_first_column():
    assert label_range(["3,1,2", "", "-1,0,0", "7.5,1,1"], "x") == (-1.0, 7.5, 3)


def test_transform_to_csv_with_binned_labels():
    out = io.BytesIO()
    bins = LabelBins.equal_width(0.0, 100.0, 4)
    stats = transform_csv(["10,1.5,2", "60,3,4.25", "100,5,6"], out, where="x", bins=bins)
    assert out.getvalue().decode() == "0,1.5,2\n2,3,4.25\n3,5,6\n"
    assert (stats.rows, stats.columns) == (3, 3)


def test_transform_to_recordio_reads_back():
    out = io.BytesIO()
    lines = [f"{i % 3},{i},{i * 0.5}" for i in range(50)]
    transform_csv(lines, out, where="x", recordio=True)
    features, labels = recordio.read_dense(out.getvalue())
    assert features.shape == (50, 2)
    assert labels.tolist() == [float(i % 3) for i in range(50)]
    assert features[7].tolist() == [7.0, 3.5]


def test_bad_cell_is_named_with_its_line_and_column():
    with pytest.raises(DataError) as info:
        transform_csv(["1,2,3", "1,x,3"], io.BytesIO(), where="s3://b/k.csv")
    assert "line 2, column 2 is not a number: 'x'" in str(info.value)


def test_files_of_one_channel_must_agree_on_columns():
    out = io.BytesIO()
    stats = transform_csv(["1,2,3"], out, where="a")
    with pytest.raises(DataError) as info:
        transform_csv(["1,2"], out, where="b", stats=stats)
    assert "earlier files had 3" in str(info.value)


def test_transform_reads_a_binary_stream_like_the_s3_body():
    """The train function passes the S3 object's streaming body: bytes, BOM and CRLF included."""
    body = io.BytesIO(b"\xef\xbb\xbf1,0.1,2\r\n0,3,4.25\r\n")
    out = io.BytesIO()
    stats = transform_csv(body, out, where="s3://b/k.csv", recordio=True)
    features, labels = recordio.read_dense(out.getvalue())
    assert (stats.rows, stats.columns) == (2, 3)
    assert labels.tolist() == [1.0, 0.0]
    assert features.tolist() == [[float(np.float32(0.1)), 2.0], [3.0, 4.25]]


def test_bad_cell_in_a_binary_stream_is_named_with_its_line_and_column():
    with pytest.raises(DataError) as info:
        transform_csv(io.BytesIO(b"1,2,3\n4,5,6\n7,8\n"), io.BytesIO(), where="s3://b/k.csv")
    assert "line 3 has 2 columns, expected 3" in str(info.value)
    with pytest.raises(DataError) as info:
        transform_csv(io.BytesIO(b"1,2,3\n4,\xff,6\n"), io.BytesIO(), where="s3://b/k.csv")
    assert "line 2, column 2 is not a number" in str(info.value)


def test_label_bins_use_the_exact_double_labels():
    """A label just above a bin edge in float64 but equal to it in float32 stays above the edge."""
    bins = LabelBins((0.0, 0.1, 1.0))
    above = "0.10000000000000002"  # the double after 0.1; float32 would round both to 0.1
    out = io.BytesIO()
    transform_csv(io.BytesIO(f"{above},1\n0.1,1\n".encode()), out, where="x", bins=bins, recordio=True)
    _, labels = recordio.read_dense(out.getvalue())
    assert labels.tolist() == [1.0, 0.0]
    assert label_range(io.BytesIO(f"{above},1\n0.05,2\n".encode()), "x") == (0.05, float(above), 2)
