"""The suite collects every test folder: a folder the collector skips is a check that never runs."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("folder", sorted(p.name for p in TESTS.iterdir() if p.is_dir() and p.name[0] not in "._"))
def test_no_test_folder_is_skipped_by_norecursedirs(pytestconfig: pytest.Config, folder: str):
    """pytest's default ``norecursedirs`` holds ``build``, which silently dropped tests/build once."""
    skipped = [pattern for pattern in pytestconfig.getini("norecursedirs") if fnmatch(folder, pattern)]
    assert not skipped, f"tests/{folder} is never collected: norecursedirs matches {skipped}"
