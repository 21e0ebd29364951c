"""`python -m sagedrop_local up|demo` (also `sagedrop local up|demo`, `make up`, `make demo`)."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

from sagedrop_local.stack import LocalStack

STATE = Path(".sagedrop") / "local.json"


def _log(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


def run_up(api_port: int = 3000, moto_port: int = 4566) -> int:
    """The local stack in the foreground until Ctrl-C."""
    from sagedrop_cli.target import write_local_state

    stack = LocalStack(moto_port=moto_port, api_port=api_port, log=_log, schedules=True)
    try:
        stack.start()
    except OSError as exc:
        print(
            f"cannot start the local stack: {exc}. Is something else using port {api_port} or {moto_port}? "
            "Pick others with --port/--aws-port.",
            file=sys.stderr,
        )
        return 1
    write_local_state(
        STATE,
        stack=stack.wiring.stack,
        region=stack.wiring.region,
        bucket=stack.data_bucket,
        table=stack.registry_table,
        api_url=stack.api_url,
        api_key=stack.api_key,
        api_key_id=stack.api_key_id,
        endpoint_url=stack.endpoint_url,
    )
    print(
        f"""
sagedrop local stack '{stack.wiring.stack}' is up (Ctrl-C stops it)
  REST API      {stack.api_url}    (header x-api-key: {stack.api_key})
  emulated AWS  {stack.endpoint_url}   (aws --endpoint-url {stack.endpoint_url} s3 ls)
  data bucket   s3://{stack.data_bucket}/
  try           sagedrop submit my-model/ --local ; sagedrop status --local --watch
""",
        flush=True,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    print("stopping the local stack ...", flush=True)
    stack.stop()
    STATE.unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv else ""
    if command == "up":
        return run_up()
    if command == "demo":
        from sagedrop_local.demo import main as demo_main

        return demo_main()
    print("usage: python -m sagedrop_local up|demo", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
