"""The local Lambda runner gives a function its environment and puts back only what it set, when it stops.

Environment variables are process-wide: while a function runs in the stack's thread, the CLI (typer)
in the test's thread sets and deletes ``PYDANTIC_DISABLE_PLUGINS`` around each command
(typer/_adapters.py ``disabled_pydantic_plugins``). Restoring a snapshot of the whole environment
after the invocation undid that change and typer's ``del`` then failed with a KeyError (seen as a
flaky ``tests/cli/test_cli.py::test_submit_status_predict``). Removing the function's keys after each
invocation raced the same way (another thread's boto3 iterating the environment: KeyError
'DEFAULT_TRAINING_INSTANCE_TYPE'), so keys are only added or changed while the stack runs; the function's
code reads exactly its own mapping through ``sagedrop.settings.environ()``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import SimpleNamespace

from sagedrop_local.runner import LambdaRunner
from sagedrop_local.wiring import FunctionSpec

HANDLER = """
import os
import threading

SEEN = {}
STARTED = threading.Event()
GO_ON = threading.Event()


def handler(event, context):
    from sagedrop import settings

    SEEN["during"] = {key: os.environ.get(key) for key in ("FN_SETTING", "BASE_SETTING", "KEPT")}
    SEEN["own"] = dict(settings.environ())
    STARTED.set()
    GO_ON.wait(10)  # meanwhile the test's thread changes another variable
    return {"ok": True}
"""


def runner_with_function(tmp_path: Path) -> tuple[LambdaRunner, FunctionSpec]:
    (tmp_path / "app.py").write_text(HANDLER)
    spec = FunctionSpec(
        logical_id="Fn",
        name="fn",
        code_dir=tmp_path,
        handler="app.handler",
        timeout=30,
        environment={"FN_SETTING": "from-template", "KEPT": "function-value"},
        arn="arn:aws:lambda:us-east-1:123456789012:function:fn",
    )
    wiring = SimpleNamespace(functions={"Fn": spec})
    return LambdaRunner(wiring, base_env={"BASE_SETTING": "base"}, log=lambda _line: None), spec  # type: ignore[arg-type]


def test_a_change_made_by_another_thread_during_an_invocation_survives_it(tmp_path, monkeypatch):
    monkeypatch.delenv("FN_SETTING", raising=False)
    monkeypatch.delenv("BASE_SETTING", raising=False)
    monkeypatch.delenv("OTHER_THREAD", raising=False)
    monkeypatch.setenv("KEPT", "process-value")
    runner, _spec = runner_with_function(tmp_path)
    module = runner._module(runner.wiring.functions["Fn"])
    results: list[object] = []
    worker = threading.Thread(target=lambda: results.append(runner.invoke("Fn", {})))
    worker.start()
    assert module.STARTED.wait(10)
    os.environ["OTHER_THREAD"] = "1"  # what typer does in the CLI's thread
    module.GO_ON.set()
    worker.join(10)

    assert results == [{"ok": True}]
    assert module.SEEN["during"] == {"FN_SETTING": "from-template", "BASE_SETTING": "base", "KEPT": "function-value"}
    # the function's own code reads exactly its environment, nothing else of the process
    assert module.SEEN["own"] == {"FN_SETTING": "from-template", "BASE_SETTING": "base", "KEPT": "function-value"}
    assert os.environ.get("OTHER_THREAD") == "1"  # a snapshot restore would have removed it
    # Between invocations nothing is removed (another thread may be reading the environment) ...
    assert os.environ["FN_SETTING"] == "from-template"
    runner.stop()
    # ... and the stack's stop puts everything back
    assert "FN_SETTING" not in os.environ and "BASE_SETTING" not in os.environ  # what the runner set is gone
    assert os.environ["KEPT"] == "process-value"  # and what it overwrote is back
