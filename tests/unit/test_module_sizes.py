"""Size limits of the domain package (issue 13): no module in ``layers/sagedrop`` over 600 lines, no class
over 300 lines, so that each behaviour has one obvious, readable file.

The limits are the project's rule ("Keep modules under ~600 lines and classes under ~300", issue 13), not
an AWS fact. A class's size is its ``class`` statement through its last line (decorators excluded).
"""

from __future__ import annotations

import ast
from pathlib import Path

LAYER = Path(__file__).resolve().parents[2] / "layers" / "sagedrop"
MAX_MODULE_LINES = 600
MAX_CLASS_LINES = 300

# Modules allowed over the limit while being split (the second test below fails for an entry that is
# already within the limits, so the list only shrinks). Empty: every module is within the limits.
ALLOWED: frozenset[str] = frozenset()
# Classes allowed over the limit while being split (empty: every class is within the limits).
ALLOWED_CLASSES: frozenset[str] = frozenset()


def _modules() -> dict[str, Path]:
    return {path.relative_to(LAYER).as_posix(): path for path in sorted(LAYER.rglob("*.py"))}


def _module_lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _class_lines(path: Path) -> list[tuple[int, str]]:
    """(lines, qualified name) of every class in the module, nested ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                name = f"{prefix}{child.name}"
                found.append((child.end_lineno - child.lineno + 1, name))
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _too_big(name: str, path: Path) -> list[str]:
    problems = []
    lines = _module_lines(path)
    if lines > MAX_MODULE_LINES:
        problems.append(f"{name}: {lines} lines (limit {MAX_MODULE_LINES})")
    problems += [
        f"{name}: class {cls} has {size} lines (limit {MAX_CLASS_LINES})"
        for size, cls in _class_lines(path)
        if size > MAX_CLASS_LINES and f"{name}:{cls}" not in ALLOWED_CLASSES
    ]
    return problems


def _largest() -> str:
    modules = _modules()
    module = max(modules, key=lambda name: _module_lines(modules[name]))
    classes = [(size, f"{name}:{cls}") for name, path in modules.items() for size, cls in _class_lines(path)]
    size, cls = max(classes)
    allowed = ", ".join(sorted(ALLOWED | ALLOWED_CLASSES))
    return (
        f"largest module: {module} ({_module_lines(modules[module])} lines); "
        f"largest class: {cls} ({size} lines); allowed while being split: {allowed}"
    )


def test_the_size_check_sees_modules_and_classes():
    """The walk finds the package and its classes (a wrong path would make the limits pass vacuously)."""
    modules = _modules()
    assert "sagedrop/manifest/__init__.py" in modules
    assert len(modules) > 30
    assert any(cls == "Manifest" for _, cls in _class_lines(modules["sagedrop/manifest/schema.py"]))


def test_no_module_over_600_lines_and_no_class_over_300():
    problems = [problem for name, path in _modules().items() if name not in ALLOWED for problem in _too_big(name, path)]
    assert not problems, "split these along their sections:\n  " + "\n  ".join(problems) + "\n" + _largest()


def test_every_allowed_module_is_still_too_big():
    """An allowed module within the limits has been split: its entry must go, so the list only shrinks."""
    modules = _modules()
    stale = sorted(name for name in ALLOWED if name not in modules or not _too_big(name, modules[name]))
    for entry in sorted(ALLOWED_CLASSES):
        name, cls = entry.split(":")
        sizes = {c: size for size, c in _class_lines(modules[name])} if name in modules else {}
        if sizes.get(cls, 0) <= MAX_CLASS_LINES:
            stale.append(entry)
    assert not stale, f"remove from ALLOWED (split done, or file gone): {', '.join(stale)}\n" + _largest()
