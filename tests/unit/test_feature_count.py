"""The feature count the train function records (datacheck.SampleFacts) and deploy.json's feature_count.

RecordIO-protobuf records are written by sagedrop.recordio, whose bytes equal the SageMaker SDK's
writer (tests/unit/test_recordio.py): a dense record's ``values`` tensor holds one value per feature;
a sparse one carries ``shape`` = [feature count] (SDK ``write_spmatrix_to_sparse_tensor``).
"""

from __future__ import annotations

import numpy as np
import pytest

from sagedrop import algorithms, datacheck, recordio
from sagedrop.errors import ManifestError
from sagedrop.pretrained import parse_deploy_json


def test_csv_columns_after_the_label_are_the_feature_count():
    xgboost = algorithms.get("xgboost")
    sample = b"1,0.5,2,3\n0,0.1,4,5\n"
    problems, facts = datacheck.check_sample(xgboost, {}, "train", "text/csv", "s3://b/k", sample, False)
    assert problems == []
    assert facts.feature_count == 3


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_dense_recordio_records_give_their_width(dtype):
    data = recordio.encode_dense(np.arange(12).reshape(3, 4).astype(dtype), np.array([0, 1, 0], "float32"))
    assert datacheck.recordio_feature_count(data) == 4


def test_sparse_recordio_records_give_their_shape():
    matrix = (np.array([1.0, 2.0], "float32"), np.array([1, 6]), np.array([0, 1, 2]), (2, 9))
    assert datacheck.recordio_feature_count(recordio.encode_sparse(matrix, np.array([0, 1], "float32"))) == 9


def test_what_is_not_recordio_protobuf_gives_no_count():
    assert datacheck.recordio_feature_count(b"not recordio") is None
    assert datacheck.recordio_feature_count(recordio.MAGIC_BYTES + b"\xff\xff\x00\x00") is None


def test_a_label_out_of_range_says_the_range_not_where_the_label_goes():
    """The label is the first column here: the hint says which labels the classes must use."""
    ll = algorithms.get("linear-learner")
    values = {"predictor_type": "multiclass_classifier", "num_classes": 3}
    problems, _ = datacheck.check_sample(ll, values, "train", "text/csv", "s3://b/k", b"3,0.5,1\n", False)
    assert [p.hint for p in problems] == [
        "every label must be an integer from 0 to 2 for a multiclass_classifier: classes are numbered from 0, so "
        "classes 1 to N become 0 to N-1"
    ]


def test_deploy_json_states_the_feature_count():
    spec = parse_deploy_json({"algorithm": "xgboost", "feature_count": 13}, default_name="m")
    assert spec.feature_count == 13
    with pytest.raises(ManifestError) as exc:
        parse_deploy_json({"algorithm": "xgboost", "feature_count": "13"}, default_name="m")
    assert "$.feature_count: expected a positive integer" in str(exc.value)
    with pytest.raises(ManifestError) as exc:
        parse_deploy_json(
            {
                "algorithm": "linear-learner",
                "feature_count": 4,
                "hyperparameters": {"predictor_type": "regressor", "feature_dim": 5},
            },
            default_name="m",
        )
    assert "$.feature_count: is 4 but feature_dim is 5" in str(exc.value)
