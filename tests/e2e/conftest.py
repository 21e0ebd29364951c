"""Fixtures of the opt-in e2e suite (SAGEDROP_E2E_STACK=<stack> make e2e); helpers in ``e2e_support``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.e2e.e2e_support import STACK, Drop, E2EStack, model_name


@pytest.fixture(autouse=True)
def _aws_environment() -> None:
    """Overrides tests/conftest.py's fixture of the same name, which swaps in fake credentials and a
    fixed region for every other test: these tests must reach the real account with the caller's own
    credentials (environment, profile or role), so the environment is left as it is."""


@pytest.fixture(scope="session")
def stack() -> E2EStack:
    from sagedrop.registry import Registry
    from sagedrop_cli.target import Target

    target = Target.from_stack(STACK or "", os.environ.get("AWS_REGION"))
    # api(): signed with the deployer's credentials (AuthMode=iam), which need the stack's AdminPolicyArn
    return E2EStack(target, Registry(target.table, target.client("dynamodb")), target.api())


@pytest.fixture
def target(stack: E2EStack):
    return stack.target


@pytest.fixture
def new_drop(stack: E2EStack) -> Iterator[Callable[[str], Drop]]:
    """``new_drop(kind)``: a fresh model folder; at the end of the test, whatever happened, its training
    jobs and endpoint are stopped and its files deleted (``Drop.cleanup``)."""
    drops: list[Drop] = []

    def make(kind: str) -> Drop:
        drop = Drop(stack, model_name(kind))
        drops.append(drop)
        print(f"model {drop.model}", flush=True)
        return drop

    yield make
    for drop in drops:
        drop.cleanup()
