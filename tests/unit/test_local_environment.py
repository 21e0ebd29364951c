"""The local stack gives each function the environment template.yaml wires, not one built by hand.

``Wiring.load`` reads Globals + each function's ``Environment`` from template.yaml and resolves Refs and
GetAtts to the local resources; ``LambdaRunner`` runs the handler with exactly that environment.
"""

from __future__ import annotations

import dataclasses
import os

from sagedrop_local.runner import LambdaRunner
from sagedrop_local.wiring import Wiring
from tests.support.template import load_template

PARAMETERS = {
    "IdleMinutes": "45",
    "CleanupDryRun": "true",
    "AuthMode": "cognito",
    "HostingInstanceType": "ml.c5.xlarge",
}


def test_each_function_gets_the_template_variables_resolved_to_the_local_resources():
    template = load_template()
    wiring = Wiring.load("sagedrop-x", "eu-west-1", PARAMETERS)
    account, physical = wiring.account, wiring.physical
    globals_ = template["Globals"]["Function"]["Environment"]["Variables"]
    resolved = {
        "SAGEDROP_STACK": "sagedrop-x",
        "REGISTRY_TABLE": physical["RegistryTable"],
        "NOTIFICATION_TOPIC_ARN": f"arn:aws:sns:eu-west-1:{account}:{physical['NotificationTopic']}",
        "SAGEMAKER_ROLE_ARN": f"arn:aws:iam::{account}:role/{physical['SageMakerExecutionRole']}",
        "ARTIFACT_BUCKET": physical["ArtifactBucket"],
        "IDLE_MINUTES": "45",
        "DRY_RUN": "true",
        "AUTH_MODE": "cognito",
        "DEFAULT_HOSTING_INSTANCE_TYPE": "ml.c5.xlarge",
        "POWERTOOLS_TRACE_DISABLED": "true",  # EnableTracing defaults to false
    }
    seen = set()
    for logical_id, spec in wiring.functions.items():
        own = template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {})
        assert set(spec.environment) == set(globals_) | set(own), logical_id
        for name, value in spec.environment.items():
            if name in resolved:
                assert value == resolved[name], (logical_id, name)
                seen.add(name)
            elif isinstance(own.get(name, globals_.get(name)), str):
                assert value == own.get(name, globals_.get(name)), (logical_id, name)  # literals pass through
    assert seen == set(resolved), "every resolved variable is set for some function"


def test_the_runner_invokes_a_handler_with_exactly_the_wired_environment(tmp_path, monkeypatch):
    wiring = Wiring.load("sagedrop-x", "eu-west-1")
    spec = wiring.functions["CleanupFunction"]
    (tmp_path / "app.py").write_text(
        "import os\n\ndef handler(event, context):\n    return {k: os.environ.get(k) for k in event['names']}\n"
    )
    wiring.functions["CleanupFunction"] = dataclasses.replace(spec, code_dir=tmp_path)
    monkeypatch.delenv("IDLE_MINUTES", raising=False)
    runner = LambdaRunner(wiring, {"AWS_REGION": "eu-west-1"}, log=lambda _: None)
    names = [*spec.environment, "AWS_REGION"]
    got = runner.invoke("CleanupFunction", {"names": names})
    assert got == {**spec.environment, "AWS_REGION": "eu-west-1"}
    runner.stop()
    assert "IDLE_MINUTES" not in os.environ  # restored when the runner stops
