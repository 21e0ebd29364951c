"""Mutation testing of the domain package (`make mutation`): mutmut on chosen modules, each with its fast tests.

For every module, a scratch copy of the repository is laid out the way mutmut expects (the package under
`src/`, so `sagedrop.x` is both the import name and mutmut's name for the file), mutmut runs there with
only that module's tests (`TESTS_BY_MODULE`), and the report says per module how many mutants were
generated, killed, survived or timed out, the score, and each survivor as file:line with its diff, so a
missing test can be written against it. Nothing in the worktree is touched but `.mutation/`.

    .venv-mutation/bin/python scripts/mutation.py [MODULE ...] [--jobs N] [--report PATH]

A MODULE is a path under `layers/sagedrop/sagedrop` without `.py` (`naming`, `recordio`, `recordio/decode`,
`algorithms/xgboost`); a folder means every file in it. Score = (killed + timeout) / (generated - skipped),
mutmut's own formula (`mutmut badge`): a mutant no selected test runs counts as not killed.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "layers" / "sagedrop" / "sagedrop"
WORK = ROOT / ".mutation"
UNIT = "tests/unit/"

# Modules not being restructured, whose unit tests take seconds: the default run (about 18 minutes on two
# cores shared with other work; codecs adds about 12, recordio more). Others: `make mutation MODULES="codecs recordio"`.
DEFAULT_MODULES = ("naming", "pricing", "batch_labels", "archive", "datacheck", "convert")

# module -> the fast tests that exercise it (mutmut then runs, for each mutant, only those of them that
# call the mutated function). A module not listed gets the unit test files that import it.
TESTS_BY_MODULE: dict[str, tuple[str, ...]] = {
    "naming": ("test_naming.py", "test_batch.py", "test_pretrained.py"),
    "pricing": ("test_pricing.py", "test_cleanup_rules.py"),
    "batch_labels": ("test_batch_labels.py", "test_batch.py"),
    "archive": ("test_archive.py",),
    "datacheck": ("test_datacheck.py", "test_feature_count.py"),
    "convert": ("test_convert.py",),
    "codecs": ("test_codecs.py", "test_algorithm_wire_formats.py"),
    "recordio": ("test_recordio.py", "test_convert.py", "test_feature_count.py"),
    "registry": ("test_registry_codec.py", "test_cleanup_rules.py"),
}

# What the tests read besides the package and tests/ (sagedrop_local.wiring reads template.yaml, the
# conftest reads events/ and functions/). The layer itself is NOT copied: only the mutated copy is importable.
ALSO_COPY = ("local", "cli", "events", "functions", "template.yaml")
# Tests that time the code: the mutated copy runs through mutmut's trampolines, so they would fail on
# speed, not on a mutant.
TIMED_TESTS = ("tests/unit/test_archive.py::test_the_documented_throughput_holds_here",)
COUNTED = ("killed", "survived", "timeout", "no tests", "skipped")


@dataclass
class ModuleResult:
    module: str
    tests: list[str]
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    survivors: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""

    @property
    def generated(self) -> int:
        return sum(self.counts.values())

    @property
    def score(self) -> float | None:
        tested = self.generated - self.counts.get("skipped", 0)
        caught = self.counts.get("killed", 0) + self.counts.get("timeout", 0)
        return 100.0 * caught / tested if tested else None


def module_files(module: str) -> list[Path]:
    """The source files of MODULE (a file or a folder of the package), or SystemExit naming the choices."""
    path = PACKAGE / module
    if path.is_dir():
        return sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
    if path.with_suffix(".py").is_file():
        return [path.with_suffix(".py")]
    choices = sorted(str(p.relative_to(PACKAGE).with_suffix("")) for p in PACKAGE.rglob("*.py"))
    raise SystemExit(f"no module {module!r} in {PACKAGE.relative_to(ROOT)}; choose from: {' '.join(choices)}")


def tests_for(module: str) -> list[str]:
    """The test files to run for MODULE: its entry in TESTS_BY_MODULE, else the unit tests that import it."""
    listed = TESTS_BY_MODULE.get(module)
    if listed is not None:
        missing = [name for name in listed if not (ROOT / UNIT / name).is_file()]
        if missing:
            raise SystemExit(f"TESTS_BY_MODULE[{module!r}] names missing files {missing}: update scripts/mutation.py")
        return [UNIT + name for name in listed]
    dotted = "sagedrop." + module.replace("/", ".")
    parent, _, leaf = dotted.rpartition(".")
    pattern = re.compile(rf"\b{re.escape(dotted)}\b|from {re.escape(parent)} import [^\n]*\b{re.escape(leaf)}\b")
    found = sorted(UNIT + p.name for p in (ROOT / UNIT).glob("test_*.py") if pattern.search(p.read_text()))
    return found or [UNIT]


def toml_value(value: Any) -> str:
    """A TOML literal for the plain values the generated config holds (str, bool, int, lists of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


def scratch_config(files: list[Path], tests: list[str]) -> str:
    """pyproject.toml of the scratch copy: mutmut's settings and the repository's pytest settings, whose
    `pythonpath` loses the layer folder (the scratch copy has the package under src/, which mutmut puts
    first on sys.path as the mutated copy)."""
    pytest_options = dict(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"])
    pytest_options["pythonpath"] = [p for p in pytest_options.get("pythonpath", []) if not p.startswith("layers")]
    mutmut = {
        "source_paths": ["src/"],
        "only_mutate": ["src/sagedrop/" + str(f.relative_to(PACKAGE)) for f in files],
        "pytest_add_cli_args_test_selection": [*tests, *(f"--deselect={t}" for t in TIMED_TESTS)],
        "also_copy": list(ALSO_COPY),
        "use_git_change_detection": False,
    }
    lines = ["[tool.mutmut]", *(f"{k} = {toml_value(v)}" for k, v in mutmut.items()), ""]
    lines += ["[tool.pytest.ini_options]", *(f"{k} = {toml_value(v)}" for k, v in pytest_options.items())]
    return "\n".join(lines) + "\n"


def lay_out(scratch: Path, files: list[Path], tests: list[str]) -> None:
    """A fresh scratch copy: src/sagedrop, tests/, what the tests read, and the generated config."""
    if scratch.exists():
        shutil.rmtree(scratch)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(PACKAGE, scratch / "src" / "sagedrop", ignore=ignore)
    shutil.copytree(ROOT / "tests", scratch / "tests", ignore=ignore)
    for name in ALSO_COPY:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, scratch / name, ignore=ignore)
        else:
            shutil.copy2(source, scratch / name)
    (scratch / "pyproject.toml").write_text(scratch_config(files, tests))


def first_change(diff: str) -> tuple[int, str]:
    """(0-based line in the original function, its text) of a unified diff's first changed line (for a
    pure insertion, the line before it)."""
    index, text = 0, ""
    for line in diff.splitlines():
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            index = int(re.match(r"@@ -(\d+)", line).group(1)) - 1
        elif line.startswith("-"):
            return index, line[1:]
        elif line.startswith("+"):
            return index - 1, text
        else:
            index, text = index + 1, line[1:]
    return index, text


def function_span(path: Path, function: str, class_name: str | None) -> tuple[int, int]:
    """1-based first (decorators included) and last line of a top-level function or a method."""
    tree = ast.parse(path.read_text())
    scopes = [tree.body]
    if class_name:
        scopes = [n.body for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name]
    for body in scopes:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
                return min([node.lineno] + [d.lineno for d in node.decorator_list]), node.end_lineno or node.lineno
    return 0, 0


def source_line(path: Path, mutant: dict[str, Any]) -> int:
    """The line of PATH a mutant changes. mutmut diffs the function, not the file: the changed line is
    looked up in the function's span, nearest to where the diff's line numbers put it."""
    first, last = function_span(path, mutant["function"], mutant["class"])
    if not first:
        return 0
    index, text = first_change(mutant["diff"])
    lines = path.read_text().splitlines()
    matches = [n for n in range(first, last + 1) if lines[n - 1].strip() == text.strip()]
    return min(matches, key=lambda n: abs(n - (first + index))) if matches else first


def collect(scratch: Path) -> list[dict[str, Any]]:
    """Every mutant of the run in SCRATCH: name, status, function, diff (read with mutmut's own code,
    in a child process whose working directory is the scratch copy: mutmut reads its config from there)."""
    command = [sys.executable, __file__, "--collect"]  # our own interpreter and file: nothing from outside
    out = subprocess.run(command, cwd=scratch, check=True, capture_output=True, text=True).stdout  # noqa: S603
    return json.loads(out)


def collect_here() -> None:
    """The --collect child: print the mutants of the run in the working directory as JSON."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files
    from mutmut.utils.format_utils import orig_function_and_class_names_from_key

    mutants = []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        for name, exit_code in data.exit_code_by_key.items():
            status = status_by_exit_code[exit_code]
            function, class_name = orig_function_and_class_names_from_key(name)
            interesting = status in ("survived", "no tests")
            mutants.append(
                {
                    "name": name,
                    "path": str(path),
                    "status": status,
                    "function": function,
                    "class": class_name,
                    "diff": get_diff_for_mutant(name, path=path) if interesting else "",
                }
            )
    json.dump(mutants, sys.stdout)


def run_module(module: str, jobs: int) -> ModuleResult:
    files, tests = module_files(module), tests_for(module)
    scratch = WORK / "runs" / module.replace("/", "-")
    lay_out(scratch, files, tests)
    started = time.monotonic()
    with (scratch / "mutmut.log").open("w") as log:
        # the mutmut beside this interpreter (the mutation venv's), an int: nothing from outside
        mutmut = [str(Path(sys.executable).with_name("mutmut")), "run", "--max-children", str(jobs)]
        run = subprocess.run(mutmut, cwd=scratch, stdout=log, stderr=subprocess.STDOUT, check=False)  # noqa: S603
        code = run.returncode
    result = ModuleResult(module, tests, time.monotonic() - started)
    if code != 0:
        result.error = f"mutmut exited {code}: see {(scratch / 'mutmut.log').relative_to(ROOT)}"
        return result
    for mutant in collect(scratch):
        result.counts[mutant["status"]] = result.counts.get(mutant["status"], 0) + 1
        if mutant["diff"]:
            source = PACKAGE / Path(mutant["path"]).relative_to("src/sagedrop")
            line = source_line(source, mutant)
            mutant["where"] = f"{source.relative_to(ROOT)}:{line}"
            result.survivors.append(mutant)
    return result


def row(r: ModuleResult) -> list[str]:
    other = r.generated - sum(r.counts.get(k, 0) for k in COUNTED)
    counts = [str(r.counts.get(k, 0)) for k in COUNTED]
    score = "-" if r.score is None else f"{r.score:.1f}%"
    return [r.module, str(r.generated), *counts, str(other), score, f"{r.seconds:.0f}s", r.error]


HEADER = ["module", "generated", "killed", "survived", "timeout", "no tests", "skipped", "other", "score", "time", ""]


def table(results: list[ModuleResult]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row(r)) + " |" for r in results]
    total = ModuleResult("**all**", [], sum(r.seconds for r in results))
    for r in results:
        for status, n in r.counts.items():
            total.counts[status] = total.counts.get(status, 0) + n
    return "\n".join([*lines, "| " + " | ".join(row(total)) + " |"])


def report(results: list[ModuleResult], version: str) -> str:
    out = [f"# Mutation report (mutmut {version}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", ""]
    modules = " ".join(r.module for r in results)
    out += [f'Command: `make mutation MODULES="{modules}"`. Score = (killed + timeout) / (generated - skipped).']
    out += ["", table(results), "", "## Tests run", ""]
    out += [f"- `{r.module}`: {' '.join(r.tests)}" for r in results]
    out += ["", "## Surviving mutants (no selected test fails on them)", ""]
    for r in results:
        for m in r.survivors:
            out += [f"### {m['where']} ({m['status']}) `{m['name']}`", "", "```diff", m["diff"], "```", ""]
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"default: {' '.join(DEFAULT_MODULES)}")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--report", type=Path, default=WORK / "report.md")
    parser.add_argument("--collect", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.collect:
        collect_here()
        return 0
    from importlib.metadata import version

    modules = args.modules or list(DEFAULT_MODULES)
    for module in modules:
        module_files(module)  # fail on a misspelt name before any run
    results = []
    for module in modules:
        print(f"== {module}: {' '.join(tests_for(module))}", flush=True)
        results.append(run_module(module, args.jobs))
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(report(results, version("mutmut")))
    print(table(results))
    print(f"{sum(len(r.survivors) for r in results)} surviving mutants, each with file:line and diff: {args.report}")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
