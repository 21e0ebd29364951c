"""Fixtures shared by every suite: fake AWS credentials, moto, the stack's resources, events, handlers."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

# urllib3 probes IPv6 support with a socket when first imported; import it before sockets are blocked.
import urllib3.util.connection  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
STACK = "sagedrop-test"


FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Sagedrop",
    "POWERTOOLS_SERVICE_NAME": "sagedrop",
    "POWERTOOLS_DEV": "false",
}
"""Fake credentials and a fixed region: nothing can touch a real account."""


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch a real account: fake credentials and a fixed region for every test."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


def load_event(*parts: str) -> dict[str, Any]:
    """A sample event from events/ (the same files `sam local invoke -e` takes)."""
    return json.loads(EVENTS.joinpath(*parts).read_text())


def load_function(name: str) -> ModuleType:
    """Import functions/<name>/app.py afresh (module state such as cached clients starts clean)."""
    module_name = f"sagedrop_function_{name}"
    sys.modules.pop(module_name, None)
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


class LambdaContext:
    """The parts of the Lambda context object Powertools reads."""

    function_name = "sagedrop-test-fn"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sagedrop-test-fn"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/sagedrop-test-fn"
    log_stream_name = "2026/11/26/[$LATEST]0000"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def aws() -> Iterator[None]:
    """moto for every AWS service, for the duration of a test."""
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def stack(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """This stack's resources on moto (shapes read from template.yaml) and the functions' environment."""
    from tests.support.stack import MotoStack

    deployed = MotoStack.create(STACK, REGION)
    for key, value in deployed.environment().items():
        monkeypatch.setenv(key, value)
    return deployed
