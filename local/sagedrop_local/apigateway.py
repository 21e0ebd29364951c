"""The REST API, locally: template.yaml's routes, its authorization, proxy events, limits.

Requests to ``http://127.0.0.1:<port>/<stage>/<path>`` (the stage prefix may be left out) are
matched against the routes of the template's ``Api`` events, authorized as the template's API
asks for that method (``authorizers.LocalAuth``: SigV4 + IAM policy, Cognito token and/or API
key), turned into REST API Lambda proxy events carrying the caller in ``requestContext``
(binary media types from the template are base64-encoded) and answered with the function's
proxy response. Gateway errors use the template's GatewayResponses bodies, with
``$context.error.messageString`` (API Gateway's message, quoted) filled in.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sagedrop_local.authorizers import LocalAuth
from sagedrop_local.sigv4 import AuthFailure
from sagedrop_local.wiring import ApiRoute, Wiring

API_PAYLOAD_LIMIT = 10 * 1024 * 1024  # REST API request payload
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024  # synchronous Lambda invocation payload
INTEGRATION_TIMEOUT_S = 29


def _route_regex(path: str) -> re.Pattern[str]:
    escaped = re.escape(path)  # "{model}" becomes "\\{model\\}", "{proxy+}" becomes "\\{proxy\\+\\}"
    pattern = re.sub(r"\\\{(\w+)(\\\+)?\\\}", lambda m: f"(?P<{m.group(1)}>{'.+' if m.group(2) else '[^/]+'})", escaped)
    return re.compile(f"^{pattern}/?$")


class LocalApi:
    def __init__(
        self,
        wiring: Wiring,
        invoke: Callable[[str, dict[str, Any]], Any],
        auth: LocalAuth,
        log: Callable[[str], None] = print,
    ) -> None:
        self.wiring = wiring
        self.invoke = invoke
        self.auth = auth
        self.log = log
        self.routes = [(route, _route_regex(route.path)) for route in wiring.routes]
        api = next(iter(wiring.resources_of_type("AWS::Serverless::Api").values()), {"Properties": {}})
        props = api.get("Properties", {})
        self.binary_types = [t.replace("~1", "/") for t in props.get("BinaryMediaTypes", [])]
        self.gateway_responses = props.get("GatewayResponses", {})
        self.stage = wiring.stage
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # ---- server --------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 3000) -> int:
        self._server = make_server(host, port, self.wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-api", daemon=True)
        self._thread.start()
        return int(self._server.server_port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        started = time.monotonic()
        response = self.handle(request)
        elapsed = (time.monotonic() - started) * 1000
        self.log(f"api      {request.method} {request.path} -> {response.status_code} ({elapsed:.0f} ms)")
        return response(environ, start_response)

    # ---- one request ---------------------------------------------------------------------

    def _gateway_error(self, kind: str, status: int, message: str) -> Response:
        """The template's gateway response for ``kind`` (else API Gateway's default ``{"message": ...}``)."""
        spec = self.gateway_responses.get(kind, {})
        template = spec.get("ResponseTemplates", {}).get("application/json")
        body = json.dumps({"message": message})
        if template:
            body = template.replace("$context.error.messageString", json.dumps(message)).replace(
                "$context.error.message", message
            )
        return Response(body, status=int(spec.get("StatusCode", status)), content_type="application/json")

    def match(self, method: str, path: str) -> tuple[ApiRoute, dict[str, str]] | None:
        for route, regex in self.routes:
            found = regex.match(path)
            if found and route.method == method:
                return route, found.groupdict()
        return None

    def handle(self, request: Request) -> Response:
        path = request.path
        stage_prefix = f"/{self.stage}"
        if path == stage_prefix or path.startswith(stage_prefix + "/"):
            path = path[len(stage_prefix) :] or "/"
        found = self.match(request.method, path)
        if found is None:
            return self._gateway_error("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")
        body = request.get_data()
        if len(body) > API_PAYLOAD_LIMIT:
            return self._gateway_error("REQUEST_TOO_LARGE", 413, "Request Too Long")
        route, parameters = found
        raw_path = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
        url = f"{request.scheme}://{request.host}{raw_path}"
        try:
            caller = self.auth.authorize(request.method, route.path, path, url, dict(request.headers.items()), body)
        except AuthFailure as refused:
            status = 401 if refused.kind == "UNAUTHORIZED" else 403
            self.log(f"api      refused {request.method} {request.path}: {refused.message.splitlines()[0]}")
            return self._gateway_error(refused.kind, status, refused.message)
        event = self.proxy_event(request, route, path, parameters, body, caller)
        if len(json.dumps(event)) > LAMBDA_PAYLOAD_LIMIT:
            return Response(
                json.dumps(
                    {
                        "error": {
                            "code": "payload_too_large",
                            "message": f"the request is over Lambda's {LAMBDA_PAYLOAD_LIMIT:,}-byte payload limit",
                        }
                    }
                ),
                status=413,
                content_type="application/json",
            )
        started = time.monotonic()
        try:
            result = self.invoke(route.function, event)
        except Exception as exc:
            self.log(f"api      {route.function} failed: {exc}")
            return Response(
                json.dumps({"message": "Internal server error"}), status=502, content_type="application/json"
            )
        if time.monotonic() - started > INTEGRATION_TIMEOUT_S:
            return self._gateway_error("INTEGRATION_TIMEOUT", 504, "Endpoint request timed out")
        return self.proxy_response(result)

    def proxy_event(
        self,
        request: Request,
        route: ApiRoute,
        path: str,
        parameters: dict[str, str],
        body: bytes,
        caller: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        content_type = (request.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        binary = any(
            content_type == t or (t.endswith("/*") and content_type.startswith(t[:-1])) for t in self.binary_types
        )
        headers = dict(request.headers.items())
        multi_headers = {key: request.headers.getlist(key) for key in headers}
        query = {key: values[-1] for key, values in request.args.lists()} or None
        multi_query = dict(request.args.lists()) or None
        now = time.time()
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": request.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": parameters or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": uuid.uuid4().hex[:6],
                "resourcePath": route.path,
                "httpMethod": request.method,
                "extendedRequestId": uuid.uuid4().hex[:16],
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "path": f"/{self.stage}{path}",
                "accountId": self.wiring.account,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "stage": self.stage,
                "domainPrefix": "127",
                "requestTimeEpoch": int(now * 1000),
                "requestId": str(uuid.uuid4()),
                "identity": {
                    "sourceIp": request.remote_addr or "127.0.0.1",
                    "userAgent": request.headers.get("User-Agent", ""),
                    **(caller or {}).get("identity", {}),
                },
                **({"authorizer": caller["authorizer"]} if caller and "authorizer" in caller else {}),
                "domainName": request.host,
                "apiId": self.auth.api_id,
            },
            "body": (base64.b64encode(body).decode() if binary else body.decode("utf-8", errors="replace"))
            if body
            else None,
            "isBase64Encoded": bool(binary and body),
        }

    @staticmethod
    def proxy_response(result: Any) -> Response:
        if not isinstance(result, dict) or "statusCode" not in result:
            return Response(
                json.dumps({"message": "Internal server error"}), status=502, content_type="application/json"
            )
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        response = Response(data, status=int(result["statusCode"]))
        for key, value in (result.get("headers") or {}).items():
            response.headers[key] = str(value)
        for key, values in (result.get("multiValueHeaders") or {}).items():
            for value in values:
                if response.headers.get(key) != str(value):
                    response.headers.add(key, str(value))
        return response
