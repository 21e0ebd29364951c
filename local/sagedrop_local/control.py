"""A running local stack's control door: `sagedrop local cleanup [--advance MINUTES]` from another terminal.

`make up` (``python -m sagedrop_local up``) runs the stack in its own process: the emulated AWS, its clock
(:meth:`sagedrop_local.emulator.LocalAws.advance_clock`) and the Lambda runner live there. This module
gives that process one more loopback HTTP server with one route:

``POST /cleanup`` ``{"advance_minutes": N}`` moves the emulated clock N minutes ahead (endpoint, model and
job times and CloudWatch data points, as the demo does) and runs the cleanup function once, as its
schedule would (:meth:`sagedrop_local.stack.LocalStack.run_schedule_now`); the answer is the function's
report. The request must carry the token written with the server's address into the local state file
(``.sagedrop/local.json``, as the local principals' keys are), so only its reader can drive the stack.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CONTROL_HEADER = "X-Sagedrop-Control"
MAX_ADVANCE_MINUTES = 60 * 24 * 366
"""A year and a day: beyond every idle window the manifest allows, and a bound on a mistyped number."""


class ControlServer:
    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.token = secrets.token_urlsafe(24)
        self.url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one cleanup at a time

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = make_server(host, port, self.wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://{host}:{self._server.server_port}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()

    def state(self) -> dict[str, str]:
        """What the local state file records so the CLI can find and use this server."""
        return {"control_url": self.url, "control_token": self.token}

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        if not hmac.compare_digest(request.headers.get(CONTROL_HEADER, ""), self.token):
            return _json(403, {"error": "the control token is missing or wrong (read it from .sagedrop/local.json)"})
        if request.method != "POST" or request.path.rstrip("/") != "/cleanup":
            return _json(404, {"error": "the only route is POST /cleanup"})
        try:
            body = json.loads(request.get_data() or b"{}")
            minutes = float(body.get("advance_minutes", 0))
        except (ValueError, TypeError, AttributeError):
            return _json(400, {"error": 'send {"advance_minutes": <number>}'})
        if not 0 <= minutes <= MAX_ADVANCE_MINUTES:
            return _json(400, {"error": f"advance_minutes must be between 0 and {MAX_ADVANCE_MINUTES}"})
        with self._lock:
            if minutes:
                self.stack.aws.advance_clock(minutes)
            report = self.stack.run_schedule_now("CleanupFunction")
        return _json(200, {"advanced_minutes": minutes, "report": report})


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, default=str), status=status, content_type="application/json")


def request_cleanup(state: dict[str, Any], advance_minutes: float, timeout: float = 120) -> dict[str, Any]:
    """Ask the running stack described by ``state`` (the local state file) to run idle cleanup."""
    import urllib.error
    import urllib.request

    url = str(state.get("control_url") or "")
    if not url.startswith("http://127.0.0.1:"):
        raise RuntimeError(
            "the running local stack has no control address (it was started by an older sagedrop): "
            "restart it with `make up`"
        )
    request = urllib.request.Request(  # noqa: S310 - a loopback http URL, checked above
        f"{url}/cleanup",
        data=json.dumps({"advance_minutes": advance_minutes}).encode(),
        headers={CONTROL_HEADER: str(state.get("control_token", "")), "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback, checked above
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}").get("error", exc.reason)
        raise RuntimeError(f"the local stack refused: HTTP {exc.code} {detail}") from None
    except urllib.error.URLError as exc:
        raise RuntimeError(f"no local stack answers at {url} ({exc.reason}): is `make up` still running?") from None


def summary(report: dict[str, Any]) -> str:
    """The cleanup report in a sentence (the demo's words)."""
    hibernated = report.get("hibernated") or []
    names = f": {', '.join(str(h.get('model', h)) if isinstance(h, dict) else str(h) for h in hibernated)}"
    return (
        f"cleanup looked at {report.get('scanned', 0)} endpoint(s) and hibernated {len(hibernated)} that nobody "
        f"called in the idle window{names if hibernated else ''}"
    )
