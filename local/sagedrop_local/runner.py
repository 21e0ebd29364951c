"""Lambda, locally: the same handler modules, the template's environment, sync and async invocations.

Each function's module (``functions/<name>/app.py``) is imported once, like a warm Lambda
container. Its environment variables are the ones template.yaml gives it (resolved to the local
resources); since environment variables are process-wide, invocations run one at a time under
a lock with the function's environment applied, which also matches what a single Lambda
container does.

Asynchronous invocations (S3 notifications, EventBridge rules, schedules) go through a queue
worker with Lambda's retry policy for async events (two retries) and finally the on-failure
destination: the stack's FailedEventsQueue.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType, ModuleType
from typing import Any

from sagedrop.settings import FUNCTION_ENVIRONMENT
from sagedrop_local.wiring import FunctionSpec, Wiring

ASYNC_RETRIES = 2  # Lambda retries a failed asynchronous invocation twice


@dataclass
class Context:
    """The Lambda context object, as Powertools reads it."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class FunctionError(RuntimeError):
    """The handler raised: what Lambda reports as a function error."""

    def __init__(self, function: str, error: BaseException) -> None:
        self.function = function
        self.error = error
        super().__init__(f"{function}: {type(error).__name__}: {error}")


class LambdaRunner:
    def __init__(
        self,
        wiring: Wiring,
        base_env: dict[str, str],
        log: Callable[[str], None] = print,
        on_dead_letter: Callable[[str, dict[str, Any], str], None] | None = None,
    ) -> None:
        self.wiring = wiring
        self.base_env = base_env
        self.log = log
        self.on_dead_letter = on_dead_letter
        self._modules: dict[str, ModuleType] = {}
        self._lock = threading.RLock()
        self._queue: queue.Queue[tuple[str, dict[str, Any], int] | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._pending = 0
        self._pending_lock = threading.Condition()
        self.invocations: list[tuple[str, str]] = []  # (function logical id, outcome)
        self.env_overrides: dict[str, dict[str, str]] = {}
        self._env_lock = threading.Lock()
        self._saved_env: dict[str, str | None] = {}  # what the process had before the invocations

    # ---- synchronous -------------------------------------------------------------------

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        spec = self.wiring.functions[function]
        # A round trip through JSON, as Lambda serializes the event.
        event = json.loads(json.dumps(event))
        with self._lock:
            module = self._module(spec)
            handler = getattr(module, spec.handler.split(".", 1)[1])
            context = Context(
                function_name=spec.name,
                memory_limit_in_mb=512,
                invoked_function_arn=spec.arn,
                aws_request_id=str(uuid.uuid4()),
                deadline=time.monotonic() + spec.timeout,
                log_group_name=f"/aws/lambda/{spec.name}",
            )
            with self._environment(spec):
                try:
                    result = handler(event, context)
                except Exception as exc:
                    self.invocations.append((function, "error"))
                    raise FunctionError(function, exc) from exc
            self.invocations.append((function, "ok"))
            return json.loads(json.dumps(result, default=str))

    def _module(self, spec: FunctionSpec) -> ModuleType:
        module = self._modules.get(spec.logical_id)
        if module is None:
            module_file = spec.code_dir / (spec.handler.split(".", 1)[0] + ".py")
            name = f"sagedrop_local_fn_{spec.logical_id}"
            loader_spec = importlib.util.spec_from_file_location(name, module_file)
            if loader_spec is None or loader_spec.loader is None:
                raise RuntimeError(f"cannot load {module_file}")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[name] = module
            with self._environment(spec):
                loader_spec.loader.exec_module(module)
            self._modules[spec.logical_id] = module
        return module

    @contextmanager
    def _environment(self, spec: FunctionSpec) -> Iterator[None]:
        """The function's environment (template.yaml's, through the wiring) while it runs.

        The function's own code reads exactly that mapping (``sagedrop.settings.FUNCTION_ENVIRONMENT``).
        The process environment, which the libraries read (botocore's ``AWS_*``, Powertools'
        ``POWERTOOLS_*``), only gains or changes keys here and is put back by :meth:`stop`: removing a key
        between invocations raced with other threads reading the environment (a test's or the CLI's boto3
        iterating it raised KeyError for a key removed meanwhile).
        """
        values = {**self.base_env, **spec.environment, **self.env_overrides.get(spec.logical_id, {})}
        with self._env_lock:
            for name, value in values.items():
                if os.environ.get(name) != value:
                    self._saved_env.setdefault(name, os.environ.get(name))
                    os.environ[name] = value
        token = FUNCTION_ENVIRONMENT.set(MappingProxyType(values))
        try:
            yield
        finally:
            FUNCTION_ENVIRONMENT.reset(token)

    def restore_environment(self) -> None:
        """Put back every variable the invocations set or changed (the stack is stopping)."""
        with self._env_lock:
            for name, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            self._saved_env.clear()

    # ---- asynchronous ------------------------------------------------------------------

    def start(self) -> None:
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="lambda-async", daemon=True)
            self._worker.start()

    def stop(self) -> None:
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=10)
            self._worker = None
        self.restore_environment()

    def invoke_async(self, function: str, event: dict[str, Any]) -> None:
        with self._pending_lock:
            self._pending += 1
        self._queue.put((function, event, 0))

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until every queued asynchronous invocation has run (True) or the timeout (False)."""
        deadline = time.monotonic() + timeout
        with self._pending_lock:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._pending_lock.wait(remaining)
        return True

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            function, event, attempt = item
            try:
                self.invoke(function, event)
            except FunctionError as exc:
                detail = "".join(traceback.format_exception_only(type(exc.error), exc.error)).strip()
                if attempt < ASYNC_RETRIES:
                    self.log(f"lambda   {function} failed (attempt {attempt + 1}), retrying: {detail}")
                    time.sleep(0.2 * (attempt + 1))
                    self._queue.put((function, event, attempt + 1))
                    continue
                self.log(
                    f"lambda   {function} failed {attempt + 1} times, event sent to the on-failure queue: {detail}"
                )
                if self.on_dead_letter is not None:
                    self.on_dead_letter(function, event, detail)
            except Exception as exc:  # a bug in the emulator itself: say so, keep serving
                self.log(f"lambda   {function}: local runner error {type(exc).__name__}: {exc}")
            with self._pending_lock:
                self._pending -= 1
                self._pending_lock.notify_all()
