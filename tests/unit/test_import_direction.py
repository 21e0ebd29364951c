"""The packages import one way: cli -> local -> client -> the domain, never back (no cycle).

``sagedrop`` (the Lambda layer) imports none of the others; ``sagedrop_client`` (API client, local
state file, data preparation) imports only the domain; ``sagedrop_local`` (the local stack) imports
the client and the domain; ``sagedrop_cli`` may import all of them. Every import statement counts,
those inside functions too (a deferred import is still a dependency).
"""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

PACKAGES = {
    "sagedrop": ROOT / "layers" / "sagedrop" / "sagedrop",
    "sagedrop_client": ROOT / "cli" / "sagedrop_client",
    "sagedrop_local": ROOT / "local" / "sagedrop_local",
    "sagedrop_cli": ROOT / "cli" / "sagedrop_cli",
}
ALLOWED = {
    "sagedrop": set(),
    "sagedrop_client": {"sagedrop"},
    "sagedrop_local": {"sagedrop", "sagedrop_client"},
    "sagedrop_cli": {"sagedrop", "sagedrop_client", "sagedrop_local"},
}


def imported_packages(source: str) -> set[str]:
    """The first-party top-level packages a module's source imports (absolute imports, at any depth)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


def violations(package: str, files: dict[str, str]) -> list[str]:
    """``file: imports X`` for each import of a package ``package`` may not import."""
    return [
        f"{name}: imports {other}"
        for name, source in sorted(files.items())
        for other in sorted(imported_packages(source) - ALLOWED[package] - {package})
    ]


def sources(package: str) -> dict[str, str]:
    root = PACKAGES[package]
    return {str(path.relative_to(ROOT)): path.read_text() for path in root.rglob("*.py")}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_each_package_imports_only_downwards(package):
    assert sources(package), f"no modules found under {PACKAGES[package]}"
    assert not violations(package, sources(package))


def test_the_allowed_graph_has_no_cycle():
    order: list[str] = []
    remaining = {name: set(deps) for name, deps in ALLOWED.items()}
    while remaining:
        ready = sorted(name for name, deps in remaining.items() if not deps - set(order))
        assert ready, f"import cycle among {sorted(remaining)}"
        order += ready
        for name in ready:
            del remaining[name]
    assert order == ["sagedrop", "sagedrop_client", "sagedrop_local", "sagedrop_cli"]


def test_the_scan_catches_an_upward_import_even_inside_a_function():
    planted = {"local/x.py": "def up():\n    from sagedrop_cli.target import Target\n    return Target\n"}
    assert violations("sagedrop_local", planted) == ["local/x.py: imports sagedrop_cli"]
    assert violations("sagedrop_client", {"c.py": "import sagedrop_local.stack\n"}) == ["c.py: imports sagedrop_local"]
    assert violations("sagedrop_cli", {"m.py": "from sagedrop_local.demo import main\n"}) == []
