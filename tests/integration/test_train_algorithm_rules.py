"""The train function on moto: per-version and per-channel rules refuse before any job; warnings flow.

Sources are named in each test's docstring.
"""

from __future__ import annotations

from tests.conftest import load_function


def run(stack, event, lambda_context):
    return load_function("train").handler(event, lambda_context)["results"]


def csv_rows(rows: int, features: int) -> str:
    return "".join(f"{i % 2}," + ",".join(f"{(i * 3 + j) % 7}" for j in range(features)) + "\n" for i in range(rows))


def test_an_ignored_hyperparameter_starts_the_job_and_is_recorded_and_notified(stack, lambda_context):
    """https://docs.aws.amazon.com/sagemaker/latest/dg/ll_hyperparameters.html, num_classes: "Required when
    predictor_type is multiclass_classifier. Otherwise, the algorithm ignores it." """
    stack.put("churn/train/train.csv", csv_rows(50, 3))
    manifest = {
        "algorithm": "linear-learner",
        "hyperparameters": {"feature_dim": 3, "predictor_type": "binary_classifier", "num_classes": 3},
    }
    [result] = run(stack, stack.drop_manifest("churn", manifest), lambda_context)
    assert result["status"] == "started"
    job_item = stack.registry_item("churn", f"JOB#{result['job']}")
    [warning] = job_item["warnings"]
    assert warning["path"] == "$.hyperparameters.num_classes"
    assert "ignored for predictor_type binary_classifier" in warning["message"]
    [note] = stack.notifications()
    assert note["attributes"]["event"] == "warned"
    assert "1 warning" in note["subject"]
    assert "$.hyperparameters.num_classes" in note["message"] and result["job"] in note["message"]


def test_a_clean_manifest_sends_no_warning(stack, lambda_context):
    stack.put("churn/train/train.csv", csv_rows(50, 3))
    manifest = {"algorithm": "linear-learner", "hyperparameters": {"feature_dim": 3, "predictor_type": "regressor"}}
    [result] = run(stack, stack.drop_manifest("churn", manifest), lambda_context)
    assert result["status"] == "started"
    assert stack.registry_item("churn", f"JOB#{result['job']}")["warnings"] == []
    assert stack.notifications() == []


def test_libsvm_files_found_in_a_sibling_folder_are_refused_in_pipe_mode(stack, lambda_context):
    """The content type comes from the file names (no channels in the manifest), so the check runs after the
    channels are resolved. aws/sagemaker-xgboost-container @ f7a93a21e50e (1.7-1), data_utils.py:
    "Pipe mode not supported for LibSVM." """
    stack.put("sparse/train/part-0.libsvm", "1 1:0.5 3:1\n0 2:1\n")
    manifest = {"algorithm": "xgboost", "hyperparameters": {"num_round": 5}, "training": {"input_mode": "Pipe"}}
    [result] = run(stack, stack.drop_manifest("sparse", manifest), lambda_context)
    assert result["status"] == "rejected"
    assert stack.training_jobs() == []
    assert "File mode only" in stack.registry_item("sparse")["last_error"]


def test_a_hyperparameter_of_another_xgboost_version_starts_nothing(stack, lambda_context):
    """aws/sagemaker-xgboost-container branch 1.7-1 @ f7a93a21e50e no longer declares
    single_precision_histogram (1.5-1 @ 4eef773aab5c does): the container would fail the billed job with
    "Extraneous hyperparameter found"."""
    stack.put("churn/train/train.csv", csv_rows(50, 3))
    hps = {"num_round": 5, "single_precision_histogram": True}
    [result] = run(
        stack, stack.drop_manifest("churn", {"algorithm": "xgboost", "hyperparameters": hps}), lambda_context
    )
    assert result["status"] == "rejected"
    assert stack.training_jobs() == []
    assert "removed in version 1.7-1" in stack.registry_item("churn")["last_error"]
    [note] = stack.notifications()
    assert note["attributes"]["event"] == "rejected"
