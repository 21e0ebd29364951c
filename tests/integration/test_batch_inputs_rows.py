"""Batch scoring on moto: the data files are checked before a transform job starts, and a completed job's
record counts the rows it scored.

The model (xgboost, trained by the real train function on 6-feature rows from
tests/support/sagemaker_moto.csv_rows) records 6 features: batch rows must have 6 values (no label), as a
prediction request's rows must (sagedrop.codecs.csv_body_rows). SageMaker's ``.out`` layout (one answer
line per input record with AssembleWith Line) is written by hand, as in test_batch_flow.
"""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from sagedrop.recordio import encode_dense
from tests.conftest import load_function
from tests.integration.test_batch_flow import FOLDER, T1, drop, end, run, transform_event, transform_jobs
from tests.support.sagemaker_moto import install, train


def recordio_dense(rows: int, features: int) -> bytes:
    return encode_dense(np.arange(rows * features, dtype=np.float32).reshape(rows, features))


@pytest.fixture
def hosting(stack, monkeypatch):
    return install(stack, monkeypatch)


@pytest.fixture
def serving(stack, hosting, lambda_context):
    job = train(stack, lambda_context, {"algorithm": "xgboost", "hyperparameters": {"num_round": 10}}, when=T1)
    hosting.set_job(job, metrics={"validation:rmse": 0.3})
    assert load_function("deploy").handler(hosting.training_event(job), lambda_context)["status"] == "in_service"
    stack.notifications()
    return job


def rejected(stack, lambda_context, body=None):
    (result,) = run(drop(stack, body or {}), lambda_context)
    assert result["status"] == "rejected", result
    assert transform_jobs(stack) == []
    (note,) = stack.notifications()
    assert "nothing started" in note["subject"]
    return result["message"]


def test_rows_of_another_width_are_refused_with_both_numbers(stack, serving, lambda_context):
    stack.put(f"{FOLDER}/ok.csv", "1,2,3,4,5,6\n")
    stack.put(f"{FOLDER}/with-label.csv", "1,2,3,4,5,6\n0,1,2,3,4,5,6\n")
    message = rejected(stack, lambda_context)
    assert "invalid batch input data" in message
    assert "with-label.csv" in message and "line 2" in message
    assert "has 7 values, the model takes 6 features" in message and "drop the label column" in message
    assert "ok.csv" not in message


def test_a_header_a_word_and_an_empty_file_are_each_named(stack, serving, lambda_context):
    stack.put(f"{FOLDER}/a.csv", "f1,f2,f3,f4,f5,f6\n1,2,3,4,5,6\n")
    stack.put(f"{FOLDER}/b.csv", "1,2,3,x,5,6\n")
    stack.put(f"{FOLDER}/c.csv", "")
    message = rejected(stack, lambda_context)
    assert "a.csv" in message and "header" in message
    assert "b.csv" in message and "'x' is not a number" in message
    assert "c.csv: is empty (0 bytes)" in message


def test_only_the_head_is_read_and_a_cut_last_line_is_no_problem(stack, serving, lambda_context):
    """A 200 KB file: the ranged read (64 KiB) cuts a line in the middle, which is not reported."""
    row = "1.25,2.5,3.75,4.125,5.5,6.0625\n"
    stack.put(f"{FOLDER}/big.csv", row * (200_000 // len(row)))
    (result,) = run(drop(stack, {}), lambda_context)
    assert result["status"] == "started", result


def test_gzip_input_is_checked_after_decompression(stack, serving, lambda_context):
    stack.s3.put_object(Bucket=stack.data_bucket, Key=f"{FOLDER}/rows.csv.gz", Body=gzip.compress(b"1,2,3,4,5,6,7\n"))
    message = rejected(stack, lambda_context, {"compression": "gzip", "content_type": "text/csv"})
    assert "has 7 values, the model takes 6 features" in message
    stack.s3.put_object(Bucket=stack.data_bucket, Key=f"{FOLDER}/rows.csv.gz", Body=b"1,2,3,4,5,6\n")
    assert "is not gzip data" in rejected(stack, lambda_context, {"compression": "gzip", "content_type": "text/csv"})


def test_recordio_framing_and_width_are_checked(stack, serving, lambda_context):
    stack.s3.put_object(Bucket=stack.data_bucket, Key=f"{FOLDER}/rows.pbr", Body=b"1,2,3,4,5,6\n")
    assert "is not RecordIO" in rejected(stack, lambda_context)
    stack.s3.put_object(Bucket=stack.data_bucket, Key=f"{FOLDER}/rows.pbr", Body=recordio_dense(3, 4))
    assert "its records have 4 features, the model takes 6" in rejected(stack, lambda_context)
    stack.s3.put_object(Bucket=stack.data_bucket, Key=f"{FOLDER}/rows.pbr", Body=recordio_dense(3, 6))
    (result,) = run(drop(stack, {}), lambda_context)
    assert result["status"] == "started", result


def test_completed_job_records_the_rows_of_its_out_files(stack, serving, lambda_context):
    stack.put(f"{FOLDER}/a.csv", "1,2,3,4,5,6\n6,5,4,3,2,1\n")
    stack.put(f"{FOLDER}/b.csv", "1,1,1,1,1,1\n")
    (started,) = run(drop(stack, {}), lambda_context)
    job = started["job"]
    out = f"batch/churn/{job}/"
    stack.s3.put_object(Bucket=stack.artifact_bucket, Key=out + "a.csv.out", Body=b"0.91\n0.12\n")
    stack.s3.put_object(Bucket=stack.artifact_bucket, Key=out + "b.csv.out", Body=b"0.5\n")
    end(stack, job, "Completed")
    load_function("deploy").handler(transform_event(stack, job), lambda_context)
    record = stack.registry_item("churn", f"BATCH#{job}")
    assert record["rows"] == 3 and "rows_note" not in record
    (note,) = stack.notifications()
    assert f"Batch {job} scored 3 row(s) of its files" in note["message"]


def test_comma_joined_answers_count_as_their_values(stack, serving, lambda_context):
    """XGBoost images before 1.2-2 answer a request's rows as one comma-joined line (the comment in
    sagedrop/algorithms/xgboost.py, serve.py per branch), so rows are predictions, not lines."""
    stack.put(f"{FOLDER}/a.csv", "1,2,3,4,5,6\n6,5,4,3,2,1\n1,1,1,1,1,1\n")
    (started,) = run(drop(stack, {}), lambda_context)
    job = started["job"]
    key = f"batch/churn/{job}/a.csv.out"
    stack.s3.put_object(Bucket=stack.artifact_bucket, Key=key, Body=b"0.91,0.12,0.5\n")
    end(stack, job, "Completed")
    load_function("deploy").handler(transform_event(stack, job), lambda_context)
    assert stack.registry_item("churn", f"BATCH#{job}")["rows"] == 3


def test_rows_are_null_with_a_reason_when_not_known(stack, serving, lambda_context):
    stack.put(f"{FOLDER}/a.csv", "1,2,3,4,5,6\n")
    (failed,) = run(drop(stack, {}), lambda_context)
    end(stack, failed["job"], "Failed", "ClientError: 415")
    load_function("deploy").handler(transform_event(stack, failed["job"], "Failed", "415"), lambda_context)
    record = stack.registry_item("churn", f"BATCH#{failed['job']}")
    assert record["rows"] is None and record["rows_note"].startswith("not counted: the job failed")

    stack.put("churn/other/a.csv", "1,2,3,4,5,6\n")
    (garbled,) = run(drop(stack, {}, folder="churn/other"), lambda_context)
    stack.s3.put_object(
        Bucket=stack.artifact_bucket, Key=f"batch/churn/{garbled['job']}/a.csv.out", Body=b"<html>oops</html>\n"
    )
    end(stack, garbled["job"], "Completed")
    load_function("deploy").handler(transform_event(stack, garbled["job"]), lambda_context)
    record = stack.registry_item("churn", f"BATCH#{garbled['job']}")
    assert record["rows"] is None and "do not read as text/csv answers" in record["rows_note"]


def test_rows_are_null_when_the_functions_time_runs_out(stack):
    """count_rows stops at its deadline (checked every CHUNK rows) and says so."""
    import time

    from sagedrop import algorithms, batch_labels

    key = "batch/churn/job/a.csv.out"
    stack.s3.put_object(Bucket=stack.artifact_bucket, Key=key, Body=b"0.5\n" * 2500)
    record = {"output": f"s3://{stack.artifact_bucket}/batch/churn/job/", "accept": "text/csv", "split_lines": True}
    xgboost = algorithms.get("xgboost")
    late = batch_labels.count_rows(stack.s3, record, xgboost, {}, time.monotonic() - 1)
    assert late.rows is None and "took longer than the function's time" in late.note
    assert "after 1,000 rows" in late.note
    assert batch_labels.count_rows(stack.s3, record, xgboost, {}, time.monotonic() + 60).rows == 2500
