"""`sagedrop check` / `submit` on folders, without a stack: every problem of every channel in one run, and
bring-a-model folders (deploy.json + model.tar.gz) checked as the deploy function checks them.

Archive rules (sagedrop.archive, sagedrop.pretrained): the XGBoost 1.7-1 container loads every top-level
file whatever its name (serve_utils.get_loaded_booster, cited in sagedrop/algorithms/xgboost.py); the Linear
Learner container serves ``model_algo-*`` files (sagedrop/algorithms/linear_learner.py).
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import boto3
from moto import mock_aws
from typer.testing import CliRunner

from sagedrop_cli import submit as submitting
from sagedrop_cli.main import app

runner = CliRunner(env={"COLUMNS": "240"})


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


def training_folder(root: Path, train: str, validation: str | None) -> Path:
    folder = root / "churn"
    (folder / "train").mkdir(parents=True)
    (folder / "train" / "part.csv").write_text(train)
    if validation is not None:
        (folder / "validation").mkdir()
        (folder / "validation" / "part.csv").write_text(validation)
    (folder / "training.json").write_text(json.dumps({"algorithm": "xgboost", "hyperparameters": {"num_round": 5}}))
    return folder


def test_an_empty_validation_folder_does_not_hide_a_bad_value_in_train(tmp_path):
    folder = training_folder(tmp_path, "1,2.5,3\n0,abc,4\n", validation="")
    result = runner.invoke(app, ["check", str(folder)])
    assert result.exit_code == 1
    assert "channel validation" in result.output and "holds no data files" in result.output
    assert "line 2, column 2 is not a number: 'abc'" in result.output


def test_a_good_training_folder_passes(tmp_path):
    folder = training_folder(tmp_path, "1,2.5,3\n0,1.5,4\n", validation="1,2,3\n")
    result = runner.invoke(app, ["check", str(folder)])
    assert result.exit_code == 0, result.output
    assert "xgboost model 'churn' is ready to submit" in result.output


def brought_folder(root: Path, deploy: dict, files: dict[str, bytes] | None) -> Path:
    folder = root / "scorer"
    folder.mkdir(parents=True)
    (folder / "deploy.json").write_text(json.dumps(deploy))
    if files is not None:
        (folder / "model.tar.gz").write_bytes(tar_gz(files))
    return folder


def test_check_understands_a_deploy_json_folder(tmp_path):
    folder = brought_folder(tmp_path, {"algorithm": "xgboost"}, {"xgboost-model": b"\x80\x04booster"})
    result = runner.invoke(app, ["check", str(folder)])
    assert result.exit_code == 0, result.output
    assert "xgboost model 'scorer' is ready to submit" in result.output


def test_check_names_the_problems_of_a_deploy_json_folder(tmp_path):
    folder = brought_folder(tmp_path, {"algorithm": "linear-learner", "trainnig": {}}, {"notes.bin": b"\x00" * 8})
    result = runner.invoke(app, ["check", str(folder)])
    assert result.exit_code == 1 and "$.trainnig" in result.output

    folder = brought_folder(tmp_path / "b", {"algorithm": "linear-learner"}, {"weights.bin": b"\x00" * 8})
    result = runner.invoke(app, ["check", str(folder)])
    assert result.exit_code == 1 and "model_algo-*" in result.output

    folder = brought_folder(tmp_path / "c", {"algorithm": "xgboost"}, None)
    result = runner.invoke(app, ["check", str(folder)])
    assert result.exit_code == 1 and "model.tar.gz: does not exist" in result.output

    folder = brought_folder(tmp_path / "d", {"algorithm": "xgboost"}, {"xgboost-model": b"\x80"})
    (folder / "model.tar.gz").write_bytes((folder / "model.tar.gz").read_bytes()[:40])
    result = runner.invoke(app, ["check", str(folder)])
    assert result.exit_code == 1 and "the file is cut short" in result.output


def test_a_folder_with_neither_or_both_manifests_says_so(tmp_path):
    result = runner.invoke(app, ["check", str(tmp_path)])
    assert result.exit_code == 1 and "no training.json or deploy.json here" in result.output
    folder = brought_folder(tmp_path, {"algorithm": "xgboost"}, {"xgboost-model": b"\x80"})
    (folder / "training.json").write_text("{}")
    result = runner.invoke(app, ["check", str(folder)])
    assert result.exit_code == 1 and "holds both training.json" in result.output


@mock_aws
def test_submit_uploads_the_archive_first_and_deploy_json_last(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    folder = brought_folder(tmp_path, {"algorithm": "xgboost"}, {"xgboost-model": b"\x80\x04booster"})
    (folder / "notes.txt").write_text("not uploaded")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="data")
    plan = submitting.plan(folder, "data", "team", s3)
    assert plan.brought and [key for _, key in plan.files] == ["team/scorer/model.tar.gz", "team/scorer/deploy.json"]
    submitting.upload(plan, s3)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="data")["Contents"])
    assert keys == ["team/scorer/deploy.json", "team/scorer/model.tar.gz"]


def test_the_local_stack_says_http_for_its_http_urls():
    """The local API and emulated AWS are served at http://127.0.0.1 (sagedrop_local/apigateway.py
    LocalApi.start, stack.py LocalStack.start): what the local stack and its demo say calls them HTTP."""
    import sagedrop_local

    root = Path(sagedrop_local.__file__).parent
    assert [path.name for path in sorted(root.glob("*.py")) if "HTTPS" in path.read_text()] == []
