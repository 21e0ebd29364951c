"""The documentation stays a short front door plus pages whose links and code paths resolve.

`make docs` (mkdocs build --strict, run by `make test`) catches broken links between the site's pages;
these tests cover what mkdocs does not see: the README and CONTRIBUTING.md (outside docs/), the
repository paths each page names as the code that implements it, anchors that must work both on
GitHub and in mkdocs (two slug rules), and the generated API reference page.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
README_MAX_BYTES = 15 * 1024  # issue 13: "the README keeps the pitch, ... and links, at most ~15 KB"
FRONT_FILES = (README, ROOT / "CONTRIBUTING.md")
PAGES = sorted(DOCS.glob("*.md"))

_FENCE = re.compile(r"^(```|~~~)")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_TOP_LEVEL_DIRS = ("layers/", "functions/", "local/", "cli/", "tests/", "scripts/", "benchmarks/", "events/", "docs/")
_TOP_LEVEL_FILES = {
    "template.yaml",
    "samconfig.toml",
    "Makefile",
    "pyproject.toml",
    "requirements-dev.txt",
    "mkdocs.yml",
    "CONTRIBUTING.md",
    "README.md",
}


def prose_lines(path: Path) -> list[str]:
    """The lines of a markdown file outside fenced code blocks."""
    lines, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def links(path: Path) -> list[str]:
    """Markdown link targets of a file, outside code blocks and code spans."""
    return [target for line in prose_lines(path) for target in _LINK.findall(_CODE_SPAN.sub("", line))]


def github_slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, each space a hyphen."""
    text = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower())
    return text.replace(" ", "-")


def mkdocs_slug(heading: str) -> str:
    """Python-Markdown's toc.slugify (what mkdocs uses): ASCII, punctuation dropped, runs of - and space one -."""
    text = unicodedata.normalize("NFKD", heading.replace("`", "")).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(path: Path) -> tuple[set[str], set[str]]:
    headings = [line.lstrip("#").strip() for line in prose_lines(path) if re.match(r"#{1,6} ", line)]
    return {github_slug(h) for h in headings}, {mkdocs_slug(h) for h in headings}


def link_problem(source: Path, target: str) -> str | None:
    """Why a relative link of ``source`` does not resolve, or None."""
    if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
        return None
    path_part, _, fragment = target.partition("#")
    resolved = (source.parent / path_part).resolve() if path_part else source
    if not resolved.exists():
        return f"{target}: no file {resolved.relative_to(ROOT) if resolved.is_relative_to(ROOT) else resolved}"
    if fragment and resolved.suffix == ".md":
        on_github, in_mkdocs = anchors(resolved)
        if fragment not in on_github or fragment not in in_mkdocs:
            return f"{target}: no heading with the anchor #{fragment} (GitHub and mkdocs slugs) in {resolved.name}"
    return None


def repository_paths(path: Path) -> list[str]:
    """Code spans of a page that name a file or folder of the repository (no placeholders)."""
    names = []
    for line in prose_lines(path):
        for span in _CODE_SPAN.findall(line):
            candidate = span.strip()
            if " " in candidate or "<" in candidate or "{" in candidate:
                continue
            if candidate.startswith(_TOP_LEVEL_DIRS) or candidate in _TOP_LEVEL_FILES:
                names.append(candidate)
    return names


def path_exists(name: str) -> bool:
    """A named path exists; a glob matches something; ``pkg/mod.py`` may have become a package ``pkg/mod/``;
    ``tests/x.py::test_y`` names a test that the file defines."""
    if "::" in name:
        path, _, test = name.partition("::")
        target = ROOT / path
        return target.is_file() and f"def {test.split('[')[0]}(" in target.read_text(encoding="utf-8")
    if "*" in name:
        return any(ROOT.glob(name))
    target = ROOT / name
    if target.exists():
        return True
    return target.suffix == ".py" and (target.with_suffix("") / "__init__.py").exists()


def test_readme_is_a_front_door_of_at_most_15_kb():
    size = README.stat().st_size
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes; move reference text to a page in docs/"


@pytest.mark.parametrize("source", [*FRONT_FILES, *PAGES], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(source):
    problems = [problem for target in links(source) if (problem := link_problem(source, target))]
    assert not problems, f"{source.relative_to(ROOT)}: " + "; ".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_repository_path_a_page_names_exists(page):
    missing = [name for name in repository_paths(page) if not path_exists(name)]
    assert not missing, f"docs/{page.name} names paths that are not in the repository: {missing}"


BEHAVIOUR_PAGES = [p for p in PAGES if p.name not in {"index.md", "adding-an-algorithm.md"}]


@pytest.mark.parametrize("page", BEHAVIOUR_PAGES, ids=lambda p: p.name)
def test_every_behaviour_page_names_the_code_that_implements_it(page):
    """Issue 13: a reader goes from the README to a behaviour's page, and from the page to the file."""
    head = page.read_text(encoding="utf-8")[:3000]
    assert "**Implemented in**" in head or "Generated from docs/openapi.json" in head, page.name


def test_the_readme_links_every_page_of_the_site():
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in links(README)}
    missing = [page.name for page in PAGES if page.resolve() not in linked and page.name != "index.md"]
    assert not missing, f"README.md does not link: {missing}"


def test_the_api_reference_page_is_the_rendering_of_openapi_json():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import openapi_markdown
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    expected = openapi_markdown.render_file(DOCS / "openapi.json")
    assert (DOCS / "api-reference.md").read_text(encoding="utf-8") == expected, (
        "docs/api-reference.md is out of date: run python scripts/openapi.py (make openapi)"
    )


def test_the_checks_catch_what_they_claim(tmp_path):
    """The link, anchor and path checks fail on a broken target (so the tests above can fail)."""
    page = tmp_path / "page.md"
    page.write_text("# A page\n\n## Known: `make e2e`\n\n[ok](#known-make-e2e) [bad](#nope) [gone](missing.md)\n")
    targets = links(page)
    assert link_problem(page, targets[0]) is None
    assert "no heading" in link_problem(page, targets[1])
    assert "no file" in link_problem(page, targets[2])
    assert not path_exists("layers/sagedrop/sagedrop/no_such_module.py")
    assert path_exists("layers/sagedrop/sagedrop/recordio.py")  # a module split into a package still resolves
    assert github_slug("CSV -> RecordIO") != mkdocs_slug("CSV -> RecordIO")  # why both rules are checked
