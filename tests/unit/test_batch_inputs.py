"""The head checks of batch input files (sagedrop.batch_inputs.check_head), per content type.

Formats: JSON Lines is one JSON value per line (https://jsonlines.org/); RecordIO framing is the magic
0xced7230a, a little-endian length word, the payload and padding to 4 bytes (design notes, and
sagedrop/recordio/framing.py's sources); JPEG starts with FF D8 FF and PNG with its 8-byte signature
(sagedrop.codecs.image_type).
"""

from __future__ import annotations

import numpy as np

from sagedrop import algorithms
from sagedrop.batch_inputs import InputSpec, check_head
from sagedrop.recordio import encode_dense

LL = algorithms.get("linear-learner")
IC = algorithms.get("image-classification")
XGB = algorithms.get("xgboost")


def problems(head, content_type, algorithm, truncated=False, features=None):
    return [
        str(p) for p in check_head(head, truncated, "s3://b/k", InputSpec(content_type, "None", features), algorithm)
    ]


def test_json_lines_name_the_line_that_does_not_parse():
    (problem,) = problems(b'{"features": [1, 2]}\n{"features": [1, \n', "application/jsonlines", LL)
    assert problem.startswith("s3://b/k line 2: is not JSON")
    assert problems(b'{"features": [1, 2]}\n\n{"features": [3, 4]}\n', "application/jsonlines", LL) == []


def test_a_cut_last_line_is_not_judged_but_a_head_without_a_newline_is():
    assert problems(b'{"features": [1, 2]}\n{"feat', "application/jsonlines", LL, truncated=True) == []
    (problem,) = problems(b'{"features": [1, 2]' * 10, "application/jsonlines", LL, truncated=True)
    assert "has no complete line in its first 64 KiB" in problem


def test_csv_rows_are_checked_against_the_models_features_with_the_file_named():
    (problem,) = problems(b"1,2,3\n1,2\n", "text/csv", XGB, features=3)
    assert problem.startswith("s3://b/k line 2 (byte 6): has 2 values, the model takes 3 features")
    assert "write exactly 3 features per row" in problem
    assert problems(b"1,2,3\n4,,6\n", "text/csv", XGB, features=3) == []  # xgboost reads an empty field as missing


def test_recordio_framing_is_judged_only_as_far_as_the_head_reaches():
    data = encode_dense(np.ones((50, 3), dtype=np.float32))
    assert problems(data, "application/x-recordio-protobuf", LL, features=3) == []
    assert problems(data[:70], "application/x-recordio-protobuf", LL, truncated=True, features=3) == []
    (problem,) = problems(b"\x00" * 16, "application/x-recordio-protobuf", LL)
    assert "is not RecordIO" in problem and "bad magic" in problem


def test_images_must_be_jpeg_or_png():
    assert problems(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8, "application/x-image", IC) == []
    (problem,) = problems(b"GIF89a", "image/png", IC)
    assert "is not a JPEG or PNG image" in problem
