"""Bring-your-own models on a real account (opt-in, SAGEDROP_E2E_STACK): ``model.tar.gz`` + ``deploy.json``.

- An XGBoost model trained by the local stack's trainer, served by SageMaker's 1.7-1 container, scores
  exactly as it does locally (docs/local-stack.md's "Which artifacts are interchangeable" claims so from a
  measurement with xgboost 1.7.4; this checks it against the container itself).
- A truncated ``model.tar.gz`` is refused before anything is created.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.e2e.e2e_support import DEPLOY_ONLY_S, E2E_MARKS, REJECTION_S, Binary, scores, tar_gz

pytestmark = E2E_MARKS


def _train_locally(tmp_path: Path, data: Binary) -> Path:
    """The local stack's XGBoost trainer (what a local training job runs): writes ``xgboost-model``."""
    from sagedrop_local.algorithms import xgboost as local_xgboost

    channels = {}
    for name, body in (("train", data.train), ("validation", data.validation)):
        channels[name] = tmp_path / name
        channels[name].mkdir()
        (channels[name] / f"{name}.csv").write_bytes(body)
    model_dir = tmp_path / "model"
    local_xgboost.train(
        {"objective": "binary:logistic", "num_round": "20", "eval_metric": "error", "max_depth": "3"},
        channels,
        {"train": "text/csv", "validation": "text/csv"},
        model_dir,
        lambda line: None,
    )
    return model_dir


def test_local_xgboost_model_scores_the_same_on_sagemaker(stack, new_drop, tmp_path):
    """A local 1.7-1 artifact deployed to the real stack predicts what the local container predicts. The
    1.7-1 container loads every top-level file with ``pickle.load``, else ``Booster.load_model``
    (aws/sagemaker-xgboost-container @ f7a93a2, src/sagemaker_xgboost_container/algorithm_mode/
    serve_utils.py ``get_loaded_booster``), and runs xgboost 1.7.4 (docker/1.7-1/base/Dockerfile.cpu);
    the local trainer writes XGBoost JSON that version reads (``portable_model``)."""
    from sagedrop_local.algorithms import xgboost as local_xgboost

    data = Binary.make(seed=4)
    model_dir = _train_locally(tmp_path, data)
    local_body, _ = local_xgboost.load(model_dir).invoke(data.held_out, "text/csv", "text/csv")
    local_scores = np.array([float(v) for v in local_body.decode().replace("\n", ",").split(",") if v.strip()])
    assert len(local_scores) == len(data.held_out_labels)

    drop = new_drop("byo")
    drop.put("model.tar.gz", tar_gz(model_dir))
    drop.put_json(
        "deploy.json",
        {
            "algorithm": "xgboost",
            "version": "1.7-1",
            "hyperparameters": {"objective": "binary:logistic"},
            "feature_count": 4,
            "description": "e2e: trained by the local stack",
        },
    )
    stack.wait_in_service(drop.model, DEPLOY_ONLY_S)
    answer = stack.api.request_waiting("POST", f"/models/{drop.model}/predictions", data.held_out, "text/csv")
    remote_scores = scores(answer)
    difference = float(np.max(np.abs(remote_scores - local_scores)))
    print(f"local vs SageMaker 1.7-1 scores: max difference {difference:.3g} over {len(local_scores)} rows")
    assert np.allclose(remote_scores, local_scores, rtol=0, atol=1e-6), (remote_scores, local_scores)


def test_truncated_archive_is_refused_before_anything_is_created(stack, new_drop, tmp_path):
    """A ``model.tar.gz`` cut short is refused by the deploy function's full read of the gzip stream
    (sagedrop/archive.py: "the gzip data ends early"): the registry says rejected, and no SageMaker model,
    endpoint config or endpoint exists under the model's name. Without that check SageMaker's endpoint
    fails later with "Compressed file ended before the end-of-stream marker" (issue 11, 1.9)."""
    data = Binary.make(seed=5)
    archive = tar_gz(_train_locally(tmp_path, data))
    cut = archive[: len(archive) * 2 // 3]

    drop = new_drop("cut")
    drop.put("model.tar.gz", cut)
    drop.put_json("deploy.json", {"algorithm": "xgboost", "hyperparameters": {"objective": "binary:logistic"}})
    # done() is checked before the dead ends, so "rejected" ends this wait
    item = stack.wait(drop.model, lambda item: item.get("status") == "rejected", REJECTION_S, what="the rejection")
    print(f"rejection: {item.get('last_error')}")
    assert "ends early" in (item.get("last_error") or ""), item

    sagemaker = stack.sagemaker
    assert sagemaker.list_models(NameContains=drop.model)["Models"] == []
    assert sagemaker.list_endpoint_configs(NameContains=drop.model)["EndpointConfigs"] == []
    assert sagemaker.list_endpoints(NameContains=drop.model)["Endpoints"] == []
    jobs = stack.registry.jobs(drop.model)
    assert not any(job.get("status") in ("deploying", "deployed") for job in jobs), json.dumps(jobs, default=str)
