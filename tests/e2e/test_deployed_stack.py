"""Against a deployed stack (opt-in): SAGEDROP_E2E_STACK=<stack name> make e2e.

Drops a small XGBoost model into the stack's data bucket, waits for the real SageMaker training
job and endpoint (this takes 10-20 minutes and costs a few cents), predicts over the HTTPS API
with the stack's AuthMode (AuthMode=iam: SigV4-signed with the deployer's own credentials, which
need the stack's AdminPolicyArn attached or an equivalent policy), checks that an unsigned request
is refused with API Gateway's "Missing Authentication Token", and hibernates the model again so
nothing keeps billing. Skipped unless SAGEDROP_E2E_STACK names a stack.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import numpy as np
import pytest

STACK = os.environ.get("SAGEDROP_E2E_STACK")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.enable_socket,
    pytest.mark.skipif(not STACK, reason="set SAGEDROP_E2E_STACK to the name of a deployed sagedrop stack"),
]


@pytest.fixture(scope="module")
def target():
    from sagedrop_cli.target import Target

    return Target.from_stack(STACK or "", os.environ.get("AWS_REGION"))


def test_drop_train_deploy_predict_and_hibernate(target):
    from sagedrop.registry import Registry
    from sagedrop_cli.api import Api, ApiError

    model = f"e2e-{uuid.uuid4().hex[:8]}"
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 600)
    features = labels[:, None] * 2.0 + rng.normal(0, 0.7, (600, 4))
    rows = [",".join([str(int(y))] + [f"{v:.4f}" for v in x]) for x, y in zip(features, labels, strict=True)]
    s3 = target.client("s3")
    s3.put_object(Bucket=target.bucket, Key=f"{model}/train/train.csv", Body=("\n".join(rows[:450]) + "\n").encode())
    s3.put_object(
        Bucket=target.bucket, Key=f"{model}/validation/validation.csv", Body=("\n".join(rows[450:550]) + "\n").encode()
    )
    manifest = {
        "algorithm": "xgboost",
        "hyperparameters": {"objective": "binary:logistic", "num_round": 20, "eval_metric": "error"},
        "deploy": {"gate": {"metric": "validation:error", "max": 0.2}},
    }
    s3.put_object(Bucket=target.bucket, Key=f"{model}/training.json", Body=json.dumps(manifest).encode())

    registry = Registry(target.table, target.client("dynamodb"))
    deadline = time.monotonic() + 40 * 60
    item = None
    while time.monotonic() < deadline:
        item = registry.get(model, consistent=True) or {}
        if item.get("status") in ("in_service", "failed", "rejected", "gate_failed", "deploy_failed"):
            break
        time.sleep(30)
    assert item and item.get("status") == "in_service", item

    api = target.api()  # signed with the deployer's credentials (AuthMode=iam)
    body = "\n".join(",".join(f"{v:.4f}" for v in x) for x in features[550:]).encode()
    answer = api.request_waiting("POST", f"/models/{model}/predictions", body, "text/csv")
    scores = np.array([p["score"] for p in answer["predictions"]])
    assert len(scores) == 50
    assert np.mean((scores > 0.5) == labels[550:]) > 0.8

    with pytest.raises(ApiError) as refused:
        Api(target.api_url).request("GET", "/models")  # unsigned, no key
    assert refused.value.status == 403
    if target.auth_mode == "iam":
        assert refused.value.message == "Missing Authentication Token"

    api.request("POST", f"/models/{model}/stop")
    if target.auth_mode == "iam":
        assert (registry.get(model, consistent=True) or {}).get("stopped_by", "").startswith("iam:arn:aws")
