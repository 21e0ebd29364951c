"""Render docs/openapi.json as a markdown page of the docs site (docs/api-reference.md): offline, no JS.

    python scripts/openapi_markdown.py           # write docs/api-reference.md from docs/openapi.json
    python scripts/openapi_markdown.py --check   # exit 1 when the page is not the rendering of the document

``scripts/openapi.py`` regenerates the JSON and this page together (``make openapi``);
tests/unit/test_docs.py checks that the committed page is the rendering of the committed document.
The rendering is deterministic: operations in the document's order, schema fields depth first.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "docs" / "openapi.json"
PAGE = ROOT / "docs" / "api-reference.md"

HEADER = """\
# API reference

<!-- Generated from docs/openapi.json by scripts/openapi_markdown.py (make openapi); do not edit by hand. -->

This page is the rendering of [openapi.json](openapi.json) (OpenAPI {version}), which
`scripts/openapi.py` generates from the predict function's router (`functions/predict/app.py`). The
examples per algorithm, the error codes and the limits are on the [prediction API](api.md) page; who may
call which route is on the [security](security.md) page.
"""


def cell(text: Any) -> str:
    """Text safe for one markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def type_of(schema: dict[str, Any]) -> str:
    """A schema's type in words: ``string``, ``array of number``, ``number or array of number``."""
    if "oneOf" in schema or "anyOf" in schema:
        return " or ".join(type_of(option) for option in schema.get("oneOf", schema.get("anyOf", [])))
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        items = schema.get("items") or {}
        return f"array of {type_of(items)}" if items else "array"
    if schema.get("format"):
        return f"{kind} ({schema['format']})"
    return kind


def constraints(schema: dict[str, Any]) -> str:
    """Enum, bounds and examples of a schema, as a short text."""
    notes = []
    if "enum" in schema:
        notes.append("one of " + ", ".join(f"`{value}`" for value in schema["enum"]))
    for key, word in (("minimum", ">="), ("maximum", "<="), ("minItems", "items >="), ("maxItems", "items <=")):
        if key in schema:
            value = schema[key]
            notes.append(f"{word} {int(value) if float(value).is_integer() else value}")
    if "examples" in schema:
        notes.append("e.g. " + ", ".join(f"`{json.dumps(value)}`" for value in schema["examples"]))
    return "; ".join(notes)


def fields(schema: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str, bool, str]]:
    """(name, type, required, description) of every property, nested ones as ``a.b`` and ``a[].b``."""
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        text = "; ".join(part for part in (prop.get("description", ""), constraints(prop)) if part)
        yield path, type_of(prop), name in required, text
        if prop.get("type") == "object":
            yield from fields(prop, f"{path}.")
        elif prop.get("type") == "array" and (prop.get("items") or {}).get("properties"):
            yield from fields(prop["items"], f"{path}[].")
            if prop["items"].get("description"):
                yield f"{path}[]", "object", False, prop["items"]["description"]


def schema_lines(schema: dict[str, Any]) -> list[str]:
    """A schema as a field table, or its type and description when it has no properties."""
    rows = list(fields(schema))
    if not rows:
        text = "; ".join(part for part in (schema.get("description", ""), constraints(schema)) if part)
        return [f"`{type_of(schema)}`" + (f": {text}" if text else ""), ""]
    lines = ["| field | type | required | description |", "|---|---|---|---|"]
    lines += [f"| `{name}` | {cell(kind)} | {'yes' if req else ''} | {cell(text)} |" for name, kind, req, text in rows]
    return [*lines, ""]


def example_lines(media: dict[str, Any]) -> list[str]:
    """A media type's example(s) as fenced blocks."""
    examples = dict(media.get("examples", {}))
    if "example" in media:
        examples["example"] = {"value": media["example"]}
    lines = []
    for name, example in examples.items():
        value = example.get("value")
        fence, text = ("text", value) if isinstance(value, str) else ("json", json.dumps(value, ensure_ascii=False))
        lines += [f"Example `{name}`:", "", f"```{fence}", text.rstrip("\n"), "```", ""]
    return lines


def content_lines(content: dict[str, Any], heading: str) -> list[str]:
    lines = []
    for media_type, media in content.items():
        lines += [f"{heading} `{media_type}`", ""]
        lines += schema_lines(media.get("schema", {}))
        lines += example_lines(media)
    return lines


def parameter_lines(parameters: list[dict[str, Any]]) -> list[str]:
    if not parameters:
        return []
    lines = ["**Parameters**", "", "| name | in | type | required | description |", "|---|---|---|---|---|"]
    for parameter in parameters:
        schema = parameter.get("schema", {})
        text = "; ".join(part for part in (parameter.get("description", ""), constraints(schema)) if part)
        required = "yes" if parameter.get("required") else ""
        lines.append(f"| `{parameter['name']}` | {parameter['in']} | {type_of(schema)} | {required} | {cell(text)} |")
    return [*lines, ""]


def response_lines(responses: dict[str, Any]) -> list[str]:
    lines = ["**Responses**", "", "| status | description | headers |", "|---|---|---|"]
    for status in sorted(responses):
        response = responses[status]
        headers = ", ".join(f"`{name}`" for name in response.get("headers", {}))
        lines.append(f"| {status} | {cell(response.get('description', ''))} | {headers} |")
    lines.append("")
    for status in sorted(responses):
        if status.startswith("2") and responses[status].get("content"):
            lines += content_lines(responses[status]["content"], f"Answer {status},")
    return lines


def operation_lines(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", ""]
    summary = operation.get("summary", "")
    lines += [f"**{summary}**" + (f" (`{operation['operationId']}`)" if "operationId" in operation else ""), ""]
    if operation.get("description"):
        lines += [operation["description"], ""]
    lines += parameter_lines(operation.get("parameters", []))
    body = operation.get("requestBody")
    if body:
        lines += ["**Request body**" + (" (required)" if body.get("required") else ""), ""]
        if body.get("description"):
            lines += [body["description"], ""]
        lines += content_lines(body.get("content", {}), "Body")
    lines += response_lines(operation.get("responses", {}))
    return lines


def server_lines(document: dict[str, Any]) -> list[str]:
    lines = ["## Servers and authorization", ""]
    for server in document.get("servers", []):
        lines += [f"- `{server['url']}`: {server.get('description', '')}"]
        for name, variable in server.get("variables", {}).items():
            note = f": {variable['description']}" if variable.get("description") else ""
            lines.append(f"    - `{name}` (default `{variable.get('default', '')}`){note}")
    for name, scheme in document.get("components", {}).get("securitySchemes", {}).items():
        where = f"the `{scheme['name']}` {scheme['in']}" if "name" in scheme else scheme.get("type", "")
        lines.append(f"- Security scheme `{name}` ({where}): {scheme.get('description', '')}")
    return [*lines, ""]


def error_lines(document: dict[str, Any]) -> list[str]:
    """The body of the answers that are not 2xx, once per distinct schema (sagedrop has one)."""
    schemas: dict[str, tuple[dict[str, Any], set[str]]] = {}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                for media_type, media in response.get("content", {}).items():
                    if status.startswith("2") or "schema" not in media:
                        continue
                    key = json.dumps([media_type, media["schema"]], sort_keys=True)
                    schemas.setdefault(key, (media["schema"], set()))[1].add(status)
    lines = ["## Error answers", ""]
    for key, (schema, statuses) in schemas.items():
        media_type = json.loads(key)[0]
        lines += [f"Statuses {', '.join(sorted(statuses))} answer `{media_type}`:", ""]
        lines += schema_lines(schema)
    return lines if schemas else []


def render(document: dict[str, Any]) -> str:
    info = document.get("info", {})
    lines = [HEADER.format(version=document.get("openapi", "3")), "## Overview", "", info.get("description", ""), ""]
    lines += server_lines(document)
    lines += error_lines(document)
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            tag = (operation.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append((method, path, operation))
    for tag, operations in by_tag.items():
        lines += [f"## {tag.capitalize()}", ""]
        for method, path, operation in operations:
            lines += operation_lines(method, path, operation)
    return "\n".join(lines).rstrip("\n") + "\n"


def render_file(document_path: Path = DOCUMENT) -> str:
    return render(json.loads(document_path.read_text()))


def main(argv: list[str]) -> int:
    text = render_file()
    if "--check" in argv:
        if not PAGE.exists() or PAGE.read_text() != text:
            print(f"{PAGE.relative_to(ROOT)} is out of date: run python scripts/openapi.py", file=sys.stderr)
            return 1
        print(f"{PAGE.relative_to(ROOT)} matches {DOCUMENT.relative_to(ROOT)}")
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
