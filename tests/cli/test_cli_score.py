"""`sagedrop score` and `sagedrop batches` against the local stack."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sagedrop_cli.main import app
from sagedrop_local.stack import LocalStack
from tests.cli.test_cli import model_folder, runner, workdir  # noqa: F401  (workdir: a fixture)


@pytest.fixture(scope="module")
def local() -> Any:
    """Its own stack name: the emulated AWS outlives a module, so test_cli.py's stack name would collide."""
    stack = LocalStack(stack="sagedrop-score", api_port=0, endpoint_delay=0.2, log=lambda line: None)
    stack.start()
    yield stack
    stack.stop()


pytestmark = [pytest.mark.localstack, pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]


def test_score_a_file_and_list_the_batches(local, workdir):  # noqa: F811
    folder, test_x, test_y = model_folder(workdir, "scored")
    assert runner.invoke(app, ["submit", str(folder), "--local"]).exit_code == 0
    assert local.wait_for_status("scored", ("in_service", "failed", "rejected"), timeout=60)["status"] == "in_service"
    rows = workdir / "to-score.csv"
    rows.write_text("\n".join(",".join(f"{v:.4f}" for v in row) for row in test_x) + "\n")
    local.runner.wait_idle()

    result = runner.invoke(app, ["score", str(rows), "--model", "scored", "--watch", "--name", "december", "--local"])
    assert result.exit_code == 0, result.output
    assert "predictions in s3://" in result.output
    output = result.output.rsplit("predictions in ", 1)[1].split()[0]
    bucket, _, prefix = output[len("s3://") :].partition("/")
    body = local.client("s3").get_object(Bucket=bucket, Key=f"{prefix}to-score.csv.out")["Body"].read().decode()
    scores = np.array([float(line) for line in body.split()])
    assert len(scores) == len(test_x) and np.mean((scores > 0.5) == test_y) > 0.9

    listed = runner.invoke(app, ["batches", "scored", "--local"])
    assert listed.exit_code == 0 and "Completed" in listed.output


def test_score_refuses_before_uploading(local, workdir):  # noqa: F811
    rows = workdir / "x.jsonl"
    rows.write_text('{"a": 1}\n')
    result = runner.invoke(app, ["score", str(rows), "--model", "nobody", "--local"])
    assert result.exit_code == 1 and "there is no model 'nobody'" in result.output
    assert "Nothing was uploaded" in result.output


def test_local_works_from_any_directory_and_local_env_prints_the_exports(local, workdir, tmp_path, monkeypatch):  # noqa: F811
    from sagedrop_client import state

    user_state = tmp_path / "home" / ".sagedrop" / "local.json"
    user_state.parent.mkdir(parents=True)
    (workdir / ".sagedrop" / "local.json").rename(user_state)  # as `sagedrop local up` leaves it for the user
    monkeypatch.setattr(state, "USER_STATE", user_state)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    local.runner.wait_idle()
    result = runner.invoke(app, ["batches", "nobody", "--local"])
    assert result.exit_code == 0 and "no batch jobs for nobody" in result.output
    result = runner.invoke(app, ["local", "env"])
    assert result.exit_code == 0, result.output
    assert f"export AWS_ENDPOINT_URL={local.endpoint_url}" in result.output
    assert f"export AWS_REGION={local.wiring.region}" in result.output


def test_prepare_recordio_says_what_it_wrote_in_a_sentence(tmp_path):
    source = tmp_path / "rows.csv"
    source.write_text("1,0.5,2\n0,1.5,3\n\n")
    result = runner.invoke(app, ["prepare", "recordio", str(source), str(tmp_path / "rows.pbr")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "2 records, each with a label and 2 features" in text and "1 blank line skipped" in text
    assert "CsvConversionStats" not in text


def test_the_status_table_keeps_one_line_per_model():
    from rich.console import Console

    from sagedrop_cli.main import _models_table

    items = [
        {
            "model": f"model-{i}",
            "status": "in_service",
            "algorithm": "xgboost",
            "endpoint": f"model-{i}",
            "metrics": {"validation:auc": 0.91, "train:auc": 0.95, "validation:logloss": 0.31},
            "last_error": "a long error " * 20,
        }
        for i in range(3)
    ]
    for width in (80, 4096):
        console = Console(width=width, record=True)
        console.print(_models_table(items, width if width == 80 else None))
        rows = [line for line in console.export_text().splitlines() if "model-" in line]
        assert len(rows) == 3 and all(len(line) <= width for line in rows)
