"""A label_bins model shows its class edges in GET /models/{model} (and so in `sagedrop status MODEL`)."""

from __future__ import annotations

import copy
import json

import pytest

from tests.conftest import load_event, load_function
from tests.support.sagemaker_moto import install


@pytest.fixture
def hosting(stack, monkeypatch):
    return install(stack, monkeypatch)


def test_the_bin_edges_are_in_the_models_status(stack, hosting, lambda_context, monkeypatch):
    rows = [f"{(i * 37) % 200 + 0.5},{i % 7},{i % 5}" for i in range(120)]
    stack.put("bins/train/train.csv", "\n".join(rows[:100]) + "\n")
    stack.put("bins/validation/validation.csv", "\n".join(rows[100:]) + "\n")
    manifest = {
        "algorithm": "xgboost",
        "hyperparameters": {"objective": "multi:softmax", "num_class": 3, "num_round": 5},
        "label_bins": 3,
    }
    (started,) = load_function("train").handler(stack.drop_manifest("bins", manifest), lambda_context)["results"]
    assert started["status"] == "started", started
    hosting.set_job(started["job"], metrics={"validation:merror": 0.2})
    assert load_function("deploy").handler(hosting.training_event(started["job"]), lambda_context)["status"] == (
        "in_service"
    )

    event = copy.deepcopy(load_event("predict", "get-model.json"))
    event["path"], event["pathParameters"] = "/models/bins", {"model": "bins"}
    response = load_function("predict").handler(event, lambda_context)
    assert response["statusCode"] == 200
    bins = json.loads(response["body"])["label_bins"]
    raw = [float(r.split(",")[0]) for r in rows[:100]]
    assert len(bins["edges"]) == 4 and bins["edges"][-1] == pytest.approx(max(raw))
    assert bins["names"][0].startswith("(") and len(bins["names"]) == 3
