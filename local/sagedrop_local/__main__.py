"""`python -m sagedrop_local up|demo` (also `sagedrop local up|demo`, `make up`, `make demo`)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Any

from sagedrop_client.state import LOCAL_STATE, USER_STATE, remove_local_state, write_local_state
from sagedrop_local.stack import LocalStack


def _log(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


def auth_lines(stack: LocalStack, info: dict[str, Any]) -> str:
    """How to call the local API, for the AuthMode in force (printed by `make up`)."""
    region, url = stack.wiring.region, stack.api_url
    lines = [f"  auth          AuthMode={info['auth_mode']} (SAGEDROP_AUTH_MODE=iam|cognito|apikey make up)"]
    for name, keys in (info.get("principals") or {}).items():
        lines.append(f"  {name:<13} AWS_ACCESS_KEY_ID={keys['access_key']} AWS_SECRET_ACCESS_KEY={keys['secret_key']}")
    if info.get("principals"):
        lines.append(
            f'  curl          curl --aws-sigv4 "aws:amz:{region}:execute-api" '
            f'--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" {url}/models'
        )
    cognito = info.get("cognito")
    if cognito:
        for user, login in cognito["users"].items():
            lines.append(f"  {user:<13} {login['username']} / {login['password']}")
        lines.append(
            f"  token         aws --endpoint-url {stack.endpoint_url} cognito-idp admin-initiate-auth "
            f"--user-pool-id {cognito['user_pool_id']} --client-id {cognito['client_id']} "
            "--auth-flow ADMIN_USER_PASSWORD_AUTH --auth-parameters USERNAME=<user>,PASSWORD=<password> "
            "--query AuthenticationResult.IdToken --output text"
        )
    if info.get("api_key_required"):
        lines.append(f"  api key       x-api-key: {info['api_key']}")
    return "\n".join(lines)


def run_up(api_port: int = 3000, moto_port: int = 4566) -> int:
    """The local stack in the foreground until Ctrl-C."""
    mode = os.environ.get("SAGEDROP_AUTH_MODE")
    stack = LocalStack(
        moto_port=moto_port,
        api_port=api_port,
        log=_log,
        schedules=True,
        overrides={"AuthMode": mode} if mode else None,
    )
    try:
        stack.start()
    except OSError as exc:
        print(
            f"cannot start the local stack: {exc}. Is something else using port {api_port} or {moto_port}? "
            "Pick others with --port/--aws-port.",
            file=sys.stderr,
        )
        return 1
    info = stack.auth.describe() if stack.auth else {}
    from sagedrop_local.control import ControlServer

    control = ControlServer(stack)  # `sagedrop local cleanup` from another terminal
    control.start()
    info = {**info, **control.state()}
    for state in (LOCAL_STATE, USER_STATE):  # the user's copy lets `--local` work from any directory
        write_local_state(
            state,
            stack=stack.wiring.stack,
            region=stack.wiring.region,
            bucket=stack.data_bucket,
            table=stack.registry_table,
            api_url=stack.api_url,
            endpoint_url=stack.endpoint_url,
            **info,
        )
    print(
        f"""
sagedrop local stack '{stack.wiring.stack}' is up (Ctrl-C stops it)
  REST API      {stack.api_url}
{auth_lines(stack, info)}
  emulated AWS  {stack.endpoint_url}   (aws --endpoint-url {stack.endpoint_url} s3 ls)
  data bucket   s3://{stack.data_bucket}/
  try           sagedrop submit my-model/ --local ; sagedrop status --local --watch
  idle cleanup  sagedrop local cleanup --advance 180   (pretend 3 hours passed, then run cleanup)
""",
        flush=True,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    print("stopping the local stack ...", flush=True)
    control.stop()
    stack.stop()
    remove_local_state()
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
