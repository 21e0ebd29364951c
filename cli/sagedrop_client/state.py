"""The running local stack's coordinates: ``.sagedrop/local.json`` (and the user's copy).

``sagedrop local up`` (``make up``) writes the file when the stack is up and removes it when it stops;
the CLI's ``--local`` reads it to find the emulated AWS endpoint, the API and the local principals.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LOCAL_STATE = Path(".sagedrop") / "local.json"
"""The working directory's copy."""
USER_STATE = Path.home() / ".sagedrop" / "local.json"
"""The user's copy, so that `--local` works from any directory."""


def local_state() -> Path | None:
    """The running local stack's state: the working directory's, else the user's (None: none runs)."""
    return next((path for path in (LOCAL_STATE, USER_STATE) if path.is_file()), None)


def write_local_state(path: Path, **values: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=2))


def read_local_state(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def remove_local_state() -> None:
    """Both copies (the stack stopped)."""
    for path in (LOCAL_STATE, USER_STATE):
        path.unlink(missing_ok=True)
