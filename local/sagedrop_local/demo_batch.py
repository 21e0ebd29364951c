"""The demo's batch scoring step: the held-out rows dropped as a file with a batch.json, scored by a batch
transform job (no endpoint call), the .out file read back and compared with the truth."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def score_held_out(
    stack: Any,
    model: str,
    rows_csv: str,
    truth: np.ndarray,
    scores: Callable[[np.ndarray, np.ndarray], tuple[float, float, float]],
    log: Callable[[str], None],
    timeout: float = 60,
) -> dict[str, Any]:
    """Drop ``rows_csv`` and a batch.json under ``demo/<model>/held-out/``; wait for the batch record."""
    s3 = stack.client("s3")
    folder = f"demo/{model}/held-out"
    s3.put_object(Bucket=stack.data_bucket, Key=f"{folder}/rows.csv", Body=rows_csv.encode())
    s3.put_object(Bucket=stack.data_bucket, Key=f"{folder}/batch.json", Body=json.dumps({"model": model}).encode())
    log(f"dropped s3://{stack.data_bucket}/{folder}/rows.csv and batch.json")
    deadline = time.monotonic() + timeout
    record: dict[str, Any] = {}
    while time.monotonic() < deadline:
        batches = stack.registry_batches(model)
        if batches and batches[-1].get("status") not in (None, "InProgress"):
            record = batches[-1]
            break
        time.sleep(0.2)
    if record.get("status") != "Completed":
        raise RuntimeError(f"the batch of {model} did not complete: {record or 'no batch record'}")
    bucket, _, prefix = record["output"][len("s3://") :].partition("/")
    out = s3.get_object(Bucket=bucket, Key=f"{prefix}rows.csv.out")["Body"].read().decode()
    predicted = np.array([int(float(line)) for line in out.split()])
    if record.get("rows") != len(predicted):
        raise RuntimeError(f"the batch record counts {record.get('rows')} rows, the .out file holds {len(predicted)}")
    precision, recall, f1 = scores(truth, predicted)
    log(f"{model:20s} batch {record['job']}: {record['rows']} rows in {record.get('duration_s', 0):.1f} s")
    log(f"{'':20s} results at {record['output']}rows.csv.out")
    log(f"{'':20s} weighted precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f} (same rows as over HTTP)")
    return record
