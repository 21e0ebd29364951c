"""`sagedrop local cleanup [--advance MINUTES]`: idle cleanup on the running local stack (`make up`).

The stack runs in another process; its control server (:mod:`sagedrop_local.control`, address and token in
the local state file) moves the emulated clock and runs the cleanup function there.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from sagedrop_cli.main import console, fail, local_app, out


@local_app.command("cleanup")
def local_cleanup(
    advance: Annotated[
        float,
        typer.Option(
            "--advance",
            min=0,
            help="Pretend this many minutes passed first (endpoint, job and metric times move back), e.g. 180.",
        ),
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the cleanup function's whole report.")] = False,
) -> None:
    """Run idle cleanup once on the running local stack, as its schedule would."""
    from sagedrop_client.state import local_state
    from sagedrop_local.control import request_cleanup, summary

    state = local_state()
    if state is None:
        raise fail("no local stack is running: start one with `make up` (or `sagedrop local up`) in another terminal")
    try:
        answer = request_cleanup(json.loads(state.read_text()), advance)
    except RuntimeError as exc:
        raise fail(str(exc)) from None
    report = answer.get("report") or {}
    if as_json:
        out.print_json(data=report)
        return
    if advance:
        console.print(f"the local clock moved {advance:g} minutes ahead")
    out.print(summary(report), highlight=False)
