"""The `sagedrop` command against the local stack (submit, status, predict, stop/start) and with bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from sagedrop_cli.main import app
from sagedrop_client.state import write_local_state
from sagedrop_local.stack import LocalStack

pytestmark = [pytest.mark.localstack, pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]
runner = CliRunner(env={"COLUMNS": "240"})


@pytest.fixture(scope="module")
def local() -> Any:
    stack = LocalStack(stack="sagedrop-cli", api_port=0, endpoint_delay=0.2, log=lambda line: None)
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def workdir(local, tmp_path, monkeypatch) -> Path:
    """A working directory in which `--local` finds the running local stack."""
    monkeypatch.chdir(tmp_path)
    write_local_state(
        tmp_path / ".sagedrop" / "local.json",
        stack=local.wiring.stack,
        region=local.wiring.region,
        bucket=local.data_bucket,
        table=local.registry_table,
        api_url=local.api_url,
        endpoint_url=local.endpoint_url,
        **local.auth.describe(),  # AuthMode, the local principals' keys, as `sagedrop local up` writes them
    )
    return tmp_path


def model_folder(root: Path, name: str, header: bool = False) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 2, 240)
    features = labels[:, None] * 4.0 + rng.normal(0, 0.5, (240, 3))
    folder = root / name
    for channel, rows in (("train", slice(0, 160)), ("validation", slice(160, 200))):
        (folder / channel).mkdir(parents=True)
        lines = [",".join([str(int(labels[i]))] + [f"{v:.4f}" for v in features[i]]) for i in range(240)[rows]]
        text = ("label,a,b,c\n" if header else "") + "\n".join(lines) + "\n"
        (folder / channel / f"{channel}.csv").write_text(text)
    manifest = {
        "algorithm": "xgboost",
        "labels": ["no", "yes"],
        "hyperparameters": {"objective": "binary:logistic", "num_round": 10},
    }
    (folder / "training.json").write_text(json.dumps(manifest))
    return folder, features[200:], labels[200:]


def test_submit_status_predict(local, workdir):
    folder, test_x, test_y = model_folder(workdir, "churn")
    result = runner.invoke(app, ["submit", str(folder), "--local"])
    assert result.exit_code == 0, result.output
    assert "submitted" in result.output
    keys = [o["Key"] for o in local.client("s3").list_objects_v2(Bucket=local.data_bucket)["Contents"]]
    assert "churn/training.json" in keys and "churn/train/train.csv" in keys

    item = local.wait_for_status("churn", ("in_service", "failed", "rejected", "gate_failed"), timeout=60)
    assert item["status"] == "in_service", item

    result = runner.invoke(app, ["status", "--local"])
    assert result.exit_code == 0 and "churn" in result.output and "in_service" in result.output
    result = runner.invoke(app, ["status", "churn", "--local"])
    assert result.exit_code == 0 and "serving_job" in result.output

    rows = workdir / "rows.csv"
    rows.write_text("\n".join(",".join(f"{v:.4f}" for v in row) for row in test_x) + "\n")
    out = workdir / "predictions.jsonl"
    # The local Lambda runner swaps os.environ around each invocation, and typer sets and deletes an
    # environment variable while it parses options: let the endpoint's async events finish first.
    local.runner.wait_idle()
    result = runner.invoke(
        app, ["predict", "churn", "--csv", str(rows), "--out", str(out), "--batch-rows", "7", "--local"]
    )
    assert result.exit_code == 0, result.output
    predictions = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(predictions) == len(test_x)
    scores = np.array([p["score"] for p in predictions])
    assert np.mean((scores > 0.5) == test_y) > 0.9


def test_stop_and_start(local, workdir):
    folder, _, _ = model_folder(workdir, "sleepy")
    assert runner.invoke(app, ["submit", str(folder), "--local"]).exit_code == 0
    assert local.wait_for_status("sleepy", ("in_service", "failed", "rejected"), timeout=60)["status"] == "in_service"

    result = runner.invoke(app, ["stop", "sleepy", "--local"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert (answer["model"], answer["status"], answer["endpoint"]) == ("sleepy", "hibernated", "sleepy")
    assert "endpoint sleepy was deleted, its endpoint config and model are kept" in answer["message"]
    endpoints = [e["EndpointName"] for e in local.client("sagemaker").list_endpoints()["Endpoints"]]
    assert "sleepy" not in endpoints
    assert local.registry_item("sleepy")["status"] == "hibernated"

    result = runner.invoke(app, ["stop", "sleepy", "--local"])
    assert result.exit_code == 0 and "is already stopped" in json.loads(result.output)["message"]

    result = runner.invoke(app, ["start", "sleepy", "--local"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == "waking"
    assert local.wait_for_status("sleepy", ("in_service",), timeout=30)["status"] == "in_service"
    result = runner.invoke(app, ["start", "sleepy", "--local"])
    assert result.exit_code == 0 and "already running" in json.loads(result.output)["message"]

    result = runner.invoke(app, ["stop", "no-such-model", "--local"])
    assert result.exit_code == 1
    assert "model_not_found" in result.output and "no-such-model" in result.output


def test_a_header_row_is_caught_before_anything_is_uploaded(local, workdir):
    folder, _, _ = model_folder(workdir, "headers", header=True)
    result = runner.invoke(app, ["submit", str(folder), "--local"])
    assert result.exit_code == 1
    assert "looks like a header row" in result.output
    assert "Nothing was uploaded" in result.output
    listed = local.client("s3").list_objects_v2(Bucket=local.data_bucket, Prefix="headers/")
    assert listed.get("KeyCount", 0) == 0


def test_check_names_every_manifest_problem(workdir):
    folder, _, _ = model_folder(workdir, "bad")
    (folder / "training.json").write_text(json.dumps({"algorithm": "xgboost", "hyperparameters": {"etaa": 1}}))
    result = runner.invoke(app, ["check", str(folder)])
    assert result.exit_code == 1
    assert "did you mean 'eta'" in result.output
    assert "num_round" in result.output


def test_predict_needs_exactly_one_input(workdir):
    result = runner.invoke(app, ["predict", "churn", "--local"])
    assert result.exit_code == 2
    assert "exactly one of --csv" in result.output


def test_unknown_model_is_a_clear_error(local, workdir):
    rows = workdir / "rows.csv"
    rows.write_text("1,2,3\n")
    result = runner.invoke(app, ["predict", "no-such-model", "--csv", str(rows), "--local"])
    assert result.exit_code == 1
    assert "no-such-model" in result.output


def test_without_a_target_the_cli_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SAGEDROP_STACK", raising=False)
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 1
    assert "--stack" in result.output and "sagedrop local up" in result.output


def test_the_cli_signs_as_the_local_admin_or_predictor(local, workdir, monkeypatch):
    """Signed calls pass; the predictor principal is refused stop/start with API Gateway's IAM message."""
    local.runner.wait_idle()  # no async invocation swapping os.environ while typer parses (see above)
    result = runner.invoke(app, ["stop", "no-such-model", "--local"])
    assert result.exit_code == 1 and "model_not_found" in result.output  # signed as admin: reached the function
    monkeypatch.setenv("SAGEDROP_LOCAL_PRINCIPAL", "predictor")
    result = runner.invoke(app, ["stop", "no-such-model", "--local"])
    assert result.exit_code == 1
    assert "HTTP 403" in result.output and "sagedrop-local-predictor is not authorized to perform" in result.output
    monkeypatch.setenv("SAGEDROP_LOCAL_PRINCIPAL", "nobody")
    result = runner.invoke(app, ["stop", "no-such-model", "--local"])
    assert result.exit_code == 1 and "SAGEDROP_LOCAL_PRINCIPAL='nobody' is not a local principal" in result.output


def test_signing_covers_what_is_sent():
    """The CLI's signer is botocore's SigV4Auth for execute-api: a signed header list, a scope, a date."""
    from botocore.credentials import Credentials

    from sagedrop_client.api import sign

    headers = sign(
        "POST",
        "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/models/m/predictions",
        {"Content-Type": "text/csv"},
        b"1,2",
        Credentials("AKIDEXAMPLE", "secret", "session-token"),
        "eu-west-1",
    )
    authorization = headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in authorization
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token" in authorization
    assert headers["X-Amz-Security-Token"] == "session-token" and headers["X-Amz-Date"].endswith("Z")
