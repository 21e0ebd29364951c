"""One settings module: what template.yaml sets for each function is exactly what the function reads.

Sources of the variables nobody in template.yaml sets:
- Lambda's reserved ("defined runtime") environment variables, AWS_REGION, AWS_DEFAULT_REGION and
  LAMBDA_TASK_ROOT among them: https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html
  (section "Defined runtime environment variables").
- Powertools for AWS Lambda (Python) reads POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE,
  POWERTOOLS_LOG_LEVEL and POWERTOOLS_TRACE_DISABLED itself:
  https://docs.powertools.aws.dev/lambda/python/latest/#environment-variables
"""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from sagedrop import settings
from sagedrop.settings import (
    AUTH_MODES,
    MAX_IDLE_MINUTES,
    MIN_IDLE_MINUTES,
    VARIABLES,
    AuthSettings,
    CleanupKnobs,
    PredictSettings,
    SettingsError,
    TrainFunctionSettings,
)
from sagedrop_local.wiring import Wiring
from tests.conftest import ROOT, load_function
from tests.support.template import load_template

POWERTOOLS_READS = frozenset(
    {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_TRACE_DISABLED"}
)
"""Read by the Powertools library (its docs' environment variables table, in the module docstring)."""

LAMBDA_SETS = frozenset({"AWS_REGION", "AWS_DEFAULT_REGION", "LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"})
"""Set by Lambda in every function (the reserved variables page, in the module docstring)."""

DOMAIN = ROOT / "layers" / "sagedrop" / "sagedrop"


class RecordingEnv(Mapping[str, str]):
    """An environment that remembers every name read from it."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self._values[name]

    def get(self, name: str, default: Any = None) -> Any:
        self.read.add(name)
        return self._values.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r.get("Type") == "AWS::Serverless::Function"}


def template_sets(template: dict[str, Any], function: str) -> dict[str, Any]:
    """The variables template.yaml sets for one function: Globals, then the function's own (unresolved)."""
    globals_ = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    own = template["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
    return {**globals_, **own}


def settings_functions(app: Path) -> list[str]:
    """The handler module's functions that build its settings (by convention, their names end in settings)."""
    tree = ast.parse(app.read_text())
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.endswith("settings")]


def code_reads(template: dict[str, Any], function: str, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """What the function's code reads, run against the environment the local stack gives it.

    The handler's ``*settings()`` functions run with a recording environment; every handler also reads
    the region (``sagedrop.aws.Clients``) and whether to trace (``sagedrop.observability``), which
    :func:`test_handlers_build_settings_only_in_settings_functions` checks they import.
    """
    wiring = Wiring.load("sagedrop-test", "us-east-1", template=template)
    spec = wiring.functions[function]
    env = RecordingEnv({**spec.environment, "AWS_REGION": "us-east-1", "LAMBDA_TASK_ROOT": "/var/task"})
    monkeypatch.setattr(settings, "environ", lambda: env)
    module = load_function(spec.code_dir.name)
    names = settings_functions(spec.code_dir / "app.py")
    assert names, f"{spec.code_dir}/app.py has no *settings() function"
    for name in names:
        getattr(module, name)()
    settings.region()
    settings.tracing_enabled()
    return env.read


def mismatches(template: dict[str, Any], function: str, monkeypatch: pytest.MonkeyPatch) -> tuple[set, set]:
    """(set by the template but read by nobody, read by the code but set by nobody) for one function."""
    sets = set(template_sets(template, function))
    reads = code_reads(template, function, monkeypatch)
    return sets - reads - POWERTOOLS_READS, reads - sets - LAMBDA_SETS


@pytest.mark.parametrize("function", sorted(functions(load_template())))
def test_each_function_reads_what_the_template_sets(function, monkeypatch):
    unread, unset = mismatches(load_template(), function, monkeypatch)
    assert not unread, f"{function}: template.yaml sets {sorted(unread)} but the function never reads them"
    assert not unset, f"{function}: the code reads {sorted(unset)} but template.yaml never sets them"


def test_the_comparison_catches_a_bogus_and_a_missing_variable(monkeypatch):
    template = copy.deepcopy(load_template())
    cleanup = template["Resources"]["CleanupFunction"]["Properties"]["Environment"]["Variables"]
    cleanup["SAGEDROP_BOGUS"] = "1"
    del cleanup["ORPHAN_RETENTION_DAYS"]
    unread, unset = mismatches(template, "CleanupFunction", monkeypatch)
    assert unread == {"SAGEDROP_BOGUS"} and unset == {"ORPHAN_RETENTION_DAYS"}


def test_lambda_reserved_names_are_what_settings_declares():
    assert settings.LAMBDA_RESERVED == LAMBDA_SETS
    for function in functions(load_template()):
        assert not set(template_sets(load_template(), function)) & LAMBDA_SETS, "reserved: Lambda refuses them"


def test_every_declared_variable_names_what_sets_it_in_the_template():
    """The fix an error message gives ("set the IdleMinutes parameter") names the template's real source."""
    template = load_template()
    set_anywhere: dict[str, Any] = {}
    for function in functions(template):
        set_anywhere.update(template_sets(template, function))
    for name, variable in VARIABLES.items():
        if variable.kind == settings.LAMBDA:
            continue
        assert name in set_anywhere, f"{name} is declared in sagedrop.settings but template.yaml never sets it"
        value = set_anywhere[name]
        if variable.kind == settings.LITERAL:
            assert isinstance(value, str | int | float), f"{name} should be a literal in template.yaml"
            continue
        text = json.dumps(value)
        if "Fn::If" in text:  # a condition on a parameter
            text += json.dumps(template["Conditions"][value["Fn::If"][0]])
        assert variable.source in text, f"{name}: {variable.source} does not set it ({text})"


def test_ranges_and_literals_match_the_template():
    params = load_template()["Parameters"]
    assert (params["IdleMinutes"]["MinValue"], params["IdleMinutes"]["MaxValue"]) == (
        MIN_IDLE_MINUTES,
        MAX_IDLE_MINUTES,
    )
    assert params["OrphanRetentionDays"]["MinValue"] == 0
    assert tuple(params["AuthMode"]["AllowedValues"]) == AUTH_MODES
    assert params["AuthMode"]["Default"] == AuthSettings().mode
    assert params["IdleMinutes"]["Default"] == CleanupKnobs().idle_minutes
    predict = template_sets(load_template(), "PredictFunction")
    literals = {k: str(v) for k, v in predict.items() if k.startswith("PREDICT_")}
    required = {"SAGEDROP_STACK": "s", "REGISTRY_TABLE": "t"}
    assert PredictSettings.from_env({**required, **literals}) == PredictSettings.from_env(required)


def _violations(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv"):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [f"{path.relative_to(ROOT)}:{node.lineno}" for a in node.names if a.name in ("environ", "getenv")]
    return found


def test_only_the_settings_module_reads_the_environment():
    files = [*DOMAIN.rglob("*.py"), *(ROOT / "functions").glob("*/app.py")]
    violations = [v for f in files if f.name != "settings.py" or f.parent != DOMAIN for v in _violations(f)]
    assert not violations, f"read the environment through sagedrop.settings: {violations}"
    assert _violations(DOMAIN / "settings.py"), "the scan finds os.environ where it is"


def test_handlers_build_settings_only_in_settings_functions():
    for app in (ROOT / "functions").glob("*/app.py"):
        tree = ast.parse(app.read_text())
        imports = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        assert {"logger", "tracer"} <= imports, f"{app}: observability reads POWERTOOLS_TRACE_DISABLED"
        assert imports & {"Clients", "PredictClients"}, f"{app}: Clients reads AWS_REGION"
        for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.endswith("settings")):
            calls = [c for c in ast.walk(fn) if isinstance(c, ast.Attribute) and c.attr == "from_env"]
            assert not calls, f"{app}: {fn.name} reads the environment outside a *settings() function"


# ---- the parser's messages ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "environment variable SAGEDROP_STACK is not set; deploy the function with template.yaml"),
        (
            {"SAGEDROP_STACK": "s", "REGISTRY_TABLE": "t", "PREDICT_CONCURRENCY": "0"},
            "PREDICT_CONCURRENCY must be at least 1, got 0; set it in PredictFunction's Environment in template.yaml",
        ),
        (
            {"SAGEDROP_STACK": "s", "REGISTRY_TABLE": "t", "PREDICT_TIMEOUT_S": "soon"},
            "PREDICT_TIMEOUT_S must be a number, got 'soon'",
        ),
    ],
)
def test_predict_settings_errors_name_the_variable_and_the_fix(env, message):
    with pytest.raises(SettingsError, match=message):
        PredictSettings.from_env(env)


def test_train_settings_check_idle_minutes_as_cleanup_does():
    env = {"SAGEDROP_STACK": "s", "REGISTRY_TABLE": "t", "IDLE_MINUTES": "3"}
    with pytest.raises(SettingsError, match="IDLE_MINUTES must be between 5 and 43200, got 3; set the IdleMinutes"):
        TrainFunctionSettings.from_env(env)
    got = TrainFunctionSettings.from_env({**env, "IDLE_MINUTES": "60", "DEFAULT_HOSTING_INSTANCE_TYPE": "ml.c5.large"})
    assert got.defaults.idle_minutes == 60 and got.defaults.hosting_instance_type == "ml.c5.large"
    assert got.defaults.training_instance_type == "ml.m5.xlarge"  # the manifest's Defaults when unset


def test_auth_mode_is_one_of_the_template_values():
    with pytest.raises(
        SettingsError, match="AUTH_MODE must be one of iam, cognito, apikey, got 'ldap'; set the AuthMode"
    ):
        AuthSettings.from_env({"AUTH_MODE": "ldap"})


@pytest.mark.parametrize(("raw", "expected"), [("true", False), ("FALSE", True), ("", False), ("off", True)])
def test_tracing_follows_powertools_spelling(raw, expected):
    assert settings.tracing_enabled({"POWERTOOLS_TRACE_DISABLED": raw, "LAMBDA_TASK_ROOT": "/var/task"}) is expected
    assert settings.tracing_enabled({"POWERTOOLS_TRACE_DISABLED": raw}) is False  # outside Lambda: never


def test_region_prefers_lambdas_variable():
    assert settings.region({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-west-2"}) == "eu-west-1"
    assert settings.region({"AWS_DEFAULT_REGION": "us-west-2"}) == "us-west-2"
    assert settings.region({}) == "us-east-1"
