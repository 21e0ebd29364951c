"""Hosting on a real account (opt-in, SAGEDROP_E2E_STACK): what docs/operations.md lists as known differences
from AWS that could not be verified offline: a serverless endpoint (no network isolation), the
instances -> serverless switch (the endpoint is replaced: how long predictions pause), and a seq2seq
model served on a CPU instance (also SAGEDROP_E2E_GPU=1: it trains on a GPU instance).

Each test cleans up after itself (``new_drop``: training stopped, endpoint stopped, its folder deleted)
and every wait has a deadline (``e2e_support``).
"""

from __future__ import annotations

import json
import time

import numpy as np

from tests.e2e.e2e_support import (
    E2E_MARKS,
    GPU_MARK,
    GPU_TRAIN_AND_DEPLOY_S,
    GPU_TRAINING_INSTANCE,
    POLL_S,
    TRAIN_AND_DEPLOY_S,
    XGBOOST_MANIFEST,
    Binary,
    scores,
    top_level,
)

pytestmark = E2E_MARKS

SERVERLESS = {"memory_mb": 2048, "max_concurrency": 2}


def _accurate(answer, data: Binary) -> None:
    predicted = scores(answer)
    assert len(predicted) == len(data.held_out_labels)
    assert np.mean((predicted > 0.5) == data.held_out_labels) > 0.8


def test_serverless_xgboost_has_no_network_isolation(stack, new_drop):
    """A model served serverless is created without network isolation and its endpoint config has a
    ServerlessConfig. Network isolation is one of Serverless Inference's excluded features
    (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html, "Feature exclusions");
    DescribeModel reports it as EnableNetworkIsolation and DescribeEndpointConfig the variant's
    ServerlessConfig (MemorySizeInMB, MaxConcurrency)
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeModel.html,
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html)."""
    drop = new_drop("svl")
    data = Binary.make(seed=1)
    drop.put("train/train.csv", data.train)
    drop.put("validation/validation.csv", data.validation)
    drop.put_json("training.json", {**XGBOOST_MANIFEST, "deploy": {"serverless": SERVERLESS}})
    item = stack.wait_in_service(drop.model, TRAIN_AND_DEPLOY_S)

    started = time.monotonic()
    # request_waiting: a cold serverless endpoint may answer 503 + Retry-After first
    _accurate(stack.api.request_waiting("POST", f"/models/{drop.model}/predictions", data.held_out, "text/csv"), data)
    print(f"first serverless prediction answered after {time.monotonic() - started:.1f}s (cold start included)")

    assert item.get("serverless") is True
    described = stack.sagemaker.describe_model(ModelName=item["sagemaker_model"])
    assert not described.get("EnableNetworkIsolation"), described
    config = stack.endpoint_config(item["endpoint_config"])
    assert config["ProductionVariants"][0]["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 2}
    assert stack.live_config(item["endpoint"]) == item["endpoint_config"]


def test_instances_to_serverless_replaces_the_endpoint(stack, new_drop):
    """A retrain that asks for serverless while the endpoint serves on instances: SageMaker refuses that
    UpdateEndpoint ("You cannot convert your instance-based, real-time endpoint to a serverless endpoint",
    https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html, "Feature exclusions"), so
    sagedrop deletes and re-creates the endpoint (docs/deploy.md, "Updating a model that serves"). The new job's
    registry record names the replacement (``endpoint_replaced_at``, ``replaced_config``: the
    "endpoint replaced, predictions paused" notification is sent with it), the endpoint serves again
    from a serverless config, and the real gap without predictions is measured and printed, with what
    the API answered meanwhile (what InvokeEndpoint says while an endpoint is Deleting is unverified)."""
    from sagedrop_client.api import ApiError

    drop = new_drop("switch")
    data = Binary.make(seed=2)
    drop.put("train/train.csv", data.train)
    drop.put("validation/validation.csv", data.validation)
    drop.put_json("training.json", {**XGBOOST_MANIFEST, "deploy": {}})  # the stack's default instance
    first = stack.wait_in_service(drop.model, TRAIN_AND_DEPLOY_S)
    instance_config = first["endpoint_config"]
    assert "ServerlessConfig" not in stack.endpoint_config(instance_config)["ProductionVariants"][0]
    _accurate(stack.api.request_waiting("POST", f"/models/{drop.model}/predictions", data.held_out, "text/csv"), data)

    # The same model name, retrained to be served serverless (a new version of training.json is a new job).
    drop.put_json("training.json", {**XGBOOST_MANIFEST, "deploy": {"serverless": SERVERLESS}})
    path = f"/models/{drop.model}/predictions"
    deadline = time.monotonic() + TRAIN_AND_DEPLOY_S
    last_ok = first_failure = back_at = None
    refusals: dict[str, int] = {}
    summary: dict = {}
    while time.monotonic() < deadline:
        summary = stack.registry.get(drop.model, consistent=True) or {}
        switched = summary.get("status") == "in_service" and summary.get("serving_job") != first["serving_job"]
        if summary.get("status") in ("failed", "gate_failed"):
            break
        try:
            stack.api.request("POST", path, data.held_out, "text/csv")
        except ApiError as exc:
            key = f"{exc.status} {exc.code}"
            refusals[key] = refusals.get(key, 0) + 1
            if first_failure is None:
                first_failure = time.monotonic()
                print(f"first refusal during the switch: {key}: {exc.message}", flush=True)
        else:
            if switched:
                back_at = time.monotonic()
                break
            last_ok = time.monotonic()  # the old endpoint still answers (a refusal before this was transient)
        time.sleep(POLL_S / 3)
    assert back_at is not None, f"the model did not serve again through the switch: {summary}"
    assert not [k for k in refusals if k.startswith("500")], refusals  # a 500 is never an answer (issue 11)

    second = stack.wait_in_service(drop.model, 60, job=summary["serving_job"])
    job = stack.registry.get_job(drop.model, second["serving_job"]) or {}
    assert job.get("endpoint_replaced_at"), job
    assert job.get("replaced_config") == instance_config, job
    assert second.get("serverless") is True
    assert second["endpoint"] == first["endpoint"]  # same name: clients keep calling the same endpoint
    assert "ServerlessConfig" in stack.endpoint_config(stack.live_config(second["endpoint"]))["ProductionVariants"][0]
    _accurate(stack.api.request_waiting("POST", path, data.held_out, "text/csv"), data)

    gap = (back_at - last_ok) if last_ok is not None else float("nan")
    print(
        f"instances -> serverless: predictions paused for about {gap:.0f}s (the old endpoint's last answer to the "
        f"new one's first, probed every ~{POLL_S / 3:.0f}s); registry: replaced at {job['endpoint_replaced_at']}, "
        f"in service again at {second.get('deployed_at')}; answers meanwhile: {json.dumps(refusals)}",
        flush=True,
    )


@GPU_MARK
def test_seq2seq_trained_on_gpu_serves_on_cpu(stack, new_drop, tmp_path):
    """A seq2seq model served on a CPU instance (ml.m5.xlarge). The official en-de example hosts on
    ml.m4.xlarge (aws/amazon-sagemaker-examples @ a75d5f253ef1, introduction_to_amazon_algorithms/
    seq2seq_translation_en-de/SageMaker-Seq2Seq-Translation-English-German.ipynb); training needs a GPU
    (https://docs.aws.amazon.com/sagemaker/latest/dg/seq-2-seq.html, "EC2 instance recommendation").
    The data is what ``sagedrop prepare seq2seq`` writes from the local stack's synthetic corpus (the
    demo's own preparation, :func:`sagedrop_local.demo_seq2seq.prepare`), with the demo's small network.
    The archive's top-level names are printed: docs/bring-a-model.md lists them as known from community examples
    only; sagedrop's bring-your-own check asks for ``vocab.src.json`` and ``vocab.trg.json`` there, so a
    SageMaker-trained archive without them would be refused on re-upload (asserted after the print)."""
    from sagedrop_local.demo_seq2seq import MANIFEST, prepare

    folder, held_out = prepare(tmp_path)
    drop = new_drop("s2s")
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != "training.json":
            drop.put(path.relative_to(folder).as_posix(), path.read_bytes())
    drop.put_json(
        "training.json",
        {
            "algorithm": "seq2seq",
            "hyperparameters": MANIFEST["hyperparameters"],
            "training": {"instance_type": GPU_TRAINING_INSTANCE, "max_runtime_s": 3600},
            "deploy": {"instance_type": "ml.m5.xlarge"},
        },
    )
    item = stack.wait_in_service(drop.model, GPU_TRAIN_AND_DEPLOY_S)
    print(f"final metrics: {item.get('metrics')}")

    config = stack.endpoint_config(item["endpoint_config"])
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.m5.xlarge"

    sources = [source for source, _ in held_out[:5]]
    answer = stack.api.request_waiting(
        "POST",
        f"/models/{drop.model}/predictions",
        json.dumps({"instances": [{"data": s} for s in sources]}).encode(),
        "application/json",
    )
    targets = [p["target"] for p in answer["predictions"]]
    for (source, reference), target in zip(held_out[:5], targets, strict=True):
        print(f"{source!r} -> {target!r} (reference {reference!r})")
    assert len(targets) == 5 and all(isinstance(t, str) for t in targets)

    job = stack.registry.get_job(drop.model, item["serving_job"]) or {}
    names = stack.read_archive_names(job["model_data"])
    print(f"seq2seq model.tar.gz from SageMaker: top level {top_level(names)}; all members {names}")
    assert {"vocab.src.json", "vocab.trg.json"} <= set(top_level(names))
