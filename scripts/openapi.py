"""Regenerate docs/openapi.json from the predict function's router (Powertools' OpenAPI support).

    python scripts/openapi.py           # write docs/openapi.json and its page, docs/api-reference.md
    python scripts/openapi.py --check   # exit 1 when the committed document or page differs from the router

The router is built without runtime validation (which would import pydantic at every cold start);
generating the document needs pydantic, which is a development dependency only. The test
tests/integration/test_predict_function.py::test_openapi_document_matches_the_router runs the check;
the page is rendered by scripts/openapi_markdown.py (tests/unit/test_docs.py checks it too).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import openapi_markdown  # noqa: E402  (the page's renderer, beside this script)

DOCUMENT = ROOT / "docs" / "openapi.json"
APP = ROOT / "functions" / "predict" / "app.py"

DESCRIPTION = (
    "sagedrop's prediction API. Every route is authorized as the stack's AuthMode parameter says: "
    "AWS Signature Version 4 (iam, the default), a Cognito ID token (cognito) or the x-api-key header "
    '(apikey). Predictions accept JSON {"instances": [...]} or the algorithm\'s raw '
    'body; errors are {"error": {"code", "message"}} with 400, 404, 409, 413, 415, 429, 502, 503 '
    "(with Retry-After) or 504. Limits: 6 MB per request and answer (Lambda), 6 MB per endpoint call "
    "(4 MB serverless; sagedrop splits rows into calls), 29 s per request (API Gateway)."
)


def load_router() -> Any:
    """functions/predict/app.py's resolver (importing the module creates no AWS client)."""
    layer = str(ROOT / "layers" / "sagedrop")
    if layer not in sys.path:
        sys.path.insert(0, layer)
    spec = importlib.util.spec_from_file_location("sagedrop_predict_app_openapi", APP)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def _prune_unused_schemas(document: dict[str, Any]) -> None:
    """Drop component schemas nothing refers to (Powertools adds its validation-error models always)."""
    schemas = document.get("components", {}).get("schemas", {})
    removed = True
    while removed:  # until no schema is left that only removed ones referred to
        removed = False
        for name in list(schemas):
            rest = {k: v for k, v in schemas.items() if k != name}
            text = json.dumps({**document, "components": {**document["components"], "schemas": rest}})
            if f"#/components/schemas/{name}" not in text:
                del schemas[name]
                removed = True
    if "components" in document and not schemas:
        document["components"].pop("schemas", None)


def render() -> str:
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server, ServerVariable

    app = load_router()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a duplicate operationId or similar must not pass silently
        text = app.get_openapi_json_schema(
            title="sagedrop",
            version="1",
            description=DESCRIPTION,
            servers=[
                Server(
                    url="https://{api_id}.execute-api.{region}.amazonaws.com/{stage}",
                    description="the stack's ApiUrl output",
                    variables={
                        "api_id": ServerVariable(default="api-id", description="the REST API id"),
                        "region": ServerVariable(default="us-east-1"),
                        "stage": ServerVariable(default="v1", description="StageName parameter"),
                    },
                )
            ],
            # AuthMode=iam (the default): SigV4 on the Authorization header, as the template's OpenAPI body says
            # (x-amazon-apigateway-authtype awsSigv4); cognito and apikey modes: see docs/security.md.
            security_schemes={
                "sigv4": APIKey(
                    name="Authorization",
                    in_=APIKeyIn.header,
                    description=(
                        "AWS Signature Version 4 for the execute-api service (AuthMode=iam, the default). "
                        "With AuthMode=cognito this header carries a Cognito ID token instead; AuthMode=apikey "
                        "uses the x-api-key header."
                    ),
                )
            },
            security=[{"sigv4": []}],
        )
    document = json.loads(text)
    _prune_unused_schemas(document)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    page = openapi_markdown.render(json.loads(text))
    outputs = ((DOCUMENT, text), (openapi_markdown.PAGE, page))
    if "--check" in argv:
        stale = [path for path, content in outputs if not path.exists() or path.read_text() != content]
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date: run python scripts/openapi.py", file=sys.stderr)
        if stale:
            return 1
        print(f"{DOCUMENT.relative_to(ROOT)} and {openapi_markdown.PAGE.relative_to(ROOT)} match the router")
        return 0
    for path, content in outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
