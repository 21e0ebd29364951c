"""`sagedrop local cleanup [--advance MINUTES]` against a running local stack, as from another terminal.

`make up` writes the control server's address and token into the local state file
(sagedrop_local/__main__.py); the CLI reads that file and asks the stack to move its emulated clock
(LocalAws.advance_clock) and run the cleanup function once (LocalStack.run_schedule_now).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from sagedrop_cli.main import app
from sagedrop_client.state import write_local_state
from sagedrop_local.control import ControlServer, request_cleanup
from sagedrop_local.stack import LocalStack
from tests.localstack.test_local_stack import SETTLED, blobs, csv_text, drop

pytestmark = [pytest.mark.localstack, pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]
runner = CliRunner(env={"COLUMNS": "240"})


@pytest.fixture(scope="module")
def local() -> Any:
    stack = LocalStack(stack="sagedrop-ctl", api_port=None, endpoint_delay=0.2, log=lambda line: None)
    stack.start()
    control = ControlServer(stack)
    control.start()
    stack.control = control
    yield stack
    control.stop()
    stack.stop()


@pytest.fixture
def state(local, tmp_path, monkeypatch) -> dict[str, Any]:
    monkeypatch.chdir(tmp_path)
    values = {
        "stack": local.wiring.stack,
        "region": local.wiring.region,
        "bucket": local.data_bucket,
        "table": local.registry_table,
        "api_url": "",
        "endpoint_url": local.endpoint_url,
        **local.control.state(),
    }
    write_local_state(tmp_path / ".sagedrop" / "local.json", **values)
    return values


def test_cleanup_hibernates_only_once_the_clock_has_moved_past_the_idle_window(local, state):
    x, y = blobs(120, seed=5, classes=2)
    manifest = {"algorithm": "xgboost", "hyperparameters": {"objective": "binary:logistic", "num_round": 5}}
    drop(local, "idle", manifest, csv_text(x, y))
    assert local.wait_for_status("idle", SETTLED, timeout=60)["status"] == "in_service"

    result = runner.invoke(app, ["local", "cleanup"])
    assert result.exit_code == 0, result.output
    assert "hibernated 0 that nobody called" in result.output
    assert (local.registry_item("idle") or {})["status"] == "in_service"

    result = runner.invoke(app, ["local", "cleanup", "--advance", "200"])
    assert result.exit_code == 0, result.output
    assert "the local clock moved 200 minutes ahead" in result.output
    assert "hibernated 1 that nobody called in the idle window: idle" in result.output
    assert (local.registry_item("idle") or {})["status"] == "hibernated"


def test_the_control_server_wants_its_token_and_a_sane_number(local, state):
    with pytest.raises(RuntimeError, match="HTTP 403"):
        request_cleanup({**state, "control_token": "guess"}, 0)
    with pytest.raises(RuntimeError, match="HTTP 400"):
        request_cleanup(state, 10**9)
    result = runner.invoke(app, ["local", "cleanup", "--advance", "-5"])
    assert result.exit_code != 0


def test_without_a_running_stack_the_command_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sagedrop_client.state.USER_STATE", tmp_path / "none" / "local.json")
    monkeypatch.setattr("sagedrop_client.state.LOCAL_STATE", tmp_path / ".sagedrop" / "local.json")
    result = runner.invoke(app, ["local", "cleanup"])
    assert result.exit_code == 1 and "make up" in result.output
    (tmp_path / ".sagedrop").mkdir()
    (tmp_path / ".sagedrop" / "local.json").write_text(json.dumps({"stack": "x"}))
    result = runner.invoke(app, ["local", "cleanup"])
    assert result.exit_code == 1 and "no control address" in result.output
