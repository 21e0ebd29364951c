"""What the opt-in e2e tests share: drops into a deployed stack's data bucket, registry polling with a
deadline, the SageMaker descriptions behind a model, and the cleanup that keeps nothing billing.

Every wait has a deadline (a test never hangs on a stuck job or endpoint) and prints each status change,
so a person running ``make e2e`` sees where the time goes. Nothing here runs without
``SAGEDROP_E2E_STACK``: the fixtures in ``conftest.py`` build it from the stack's outputs.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

STACK = os.environ.get("SAGEDROP_E2E_STACK")
GPU = os.environ.get("SAGEDROP_E2E_GPU") == "1"
GPU_TRAINING_INSTANCE = os.environ.get("SAGEDROP_E2E_GPU_INSTANCE", "ml.g5.xlarge")

E2E_MARKS = [
    pytest.mark.e2e,
    pytest.mark.enable_socket,
    pytest.mark.skipif(not STACK, reason="set SAGEDROP_E2E_STACK to the name of a deployed sagedrop stack"),
]
GPU_MARK = pytest.mark.skipif(
    not GPU, reason="set SAGEDROP_E2E_GPU=1 too: trains on a GPU instance (needs GPU training quota)"
)

# Deadlines. A small XGBoost job takes about 5 minutes (instance start, image pull), an instance
# endpoint 5-10, a serverless one a few: 40 minutes is generous but bounded.
TRAIN_AND_DEPLOY_S = 40 * 60
GPU_TRAIN_AND_DEPLOY_S = 90 * 60
DEPLOY_ONLY_S = 25 * 60
REJECTION_S = 5 * 60
STOP_S = 30 * 60
POLL_S = 15.0

# Summary statuses after which a model will not reach in_service without a new drop
# (layers/sagedrop/sagedrop/registry.py).
DEAD_ENDS = ("failed", "rejected", "gate_failed", "stopped", "trained")

XGBOOST_MANIFEST: dict[str, Any] = {
    "algorithm": "xgboost",
    "hyperparameters": {"objective": "binary:logistic", "num_round": 20, "eval_metric": "error"},
}
"""A small binary classifier (each drop adds its own ``deploy`` section)."""


def model_name(kind: str) -> str:
    """A fresh model name per test (letters, digits, hyphens, at most 40 characters: docs/bring-a-model.md)."""
    return f"e2e-{kind}-{uuid.uuid4().hex[:8]}"


# ---- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Binary:
    """Two separable classes over 4 features: ``rows`` (label first, CSV) train; ``held_out`` is scored."""

    features: np.ndarray
    labels: np.ndarray

    @classmethod
    def make(cls, seed: int = 0, n: int = 600) -> Binary:
        rng = np.random.default_rng(seed)
        labels = rng.integers(0, 2, n)
        return cls(labels[:, None] * 2.0 + rng.normal(0, 0.7, (n, 4)), labels)

    def csv(self, start: int, stop: int, *, labelled: bool = True) -> bytes:
        lines = []
        for x, y in zip(self.features[start:stop], self.labels[start:stop], strict=True):
            values = [f"{v:.4f}" for v in x]
            lines.append(",".join([str(int(y)), *values] if labelled else values))
        return ("\n".join(lines) + "\n").encode()

    @property
    def train(self) -> bytes:
        return self.csv(0, 450)

    @property
    def validation(self) -> bytes:
        return self.csv(450, 550)

    @property
    def held_out(self) -> bytes:
        return self.csv(550, len(self.labels), labelled=False)

    @property
    def held_out_labels(self) -> np.ndarray:
        return self.labels[550:]


def scores(answer: dict[str, Any]) -> np.ndarray:
    """The scores of an XGBoost prediction answer (``{"predictions": [{"score": ...}, ...]}``, docs/api.md)."""
    return np.array([p["score"] for p in answer["predictions"]], dtype=float)


def tar_gz(folder: Path) -> bytes:
    """``tar -czf model.tar.gz -C folder .``: the folder's files at the archive's top level."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=path.name)
    return buffer.getvalue()


# ---- the stack -------------------------------------------------------------------------------


@dataclass
class E2EStack:
    """A deployed stack as the tests use it: the CLI's Target, the registry, the signed API."""

    target: Any
    registry: Any
    api: Any

    @property
    def s3(self) -> Any:
        return self.target.client("s3")

    @property
    def sagemaker(self) -> Any:
        return self.target.client("sagemaker")

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.target.bucket, Key=key, Body=body)

    def wait(
        self,
        model: str,
        done: Callable[[dict[str, Any]], bool],
        timeout_s: float,
        *,
        what: str,
    ) -> dict[str, Any]:
        """Poll the model's registry summary until ``done(item)``; fail at a dead end or the deadline."""
        deadline = time.monotonic() + timeout_s
        started = time.monotonic()
        seen = None
        item: dict[str, Any] = {}
        while True:
            item = self.registry.get(model, consistent=True) or {}
            status = item.get("status")
            if status != seen:
                print(f"[{time.monotonic() - started:6.0f}s] {model}: {status}", flush=True)
                seen = status
            if done(item):
                return item
            if status in DEAD_ENDS:
                pytest.fail(f"{model} ended {status} while waiting for {what}: {item.get('last_error')}")
            if time.monotonic() > deadline:
                pytest.fail(f"{model}: no {what} after {timeout_s / 60:.0f} minutes (status {status}): {item}")
            time.sleep(POLL_S)

    def wait_in_service(self, model: str, timeout_s: float, job: str | None = None) -> dict[str, Any]:
        """Until the model is in_service (and, given ``job``, served by that job)."""
        return self.wait(
            model,
            lambda item: item.get("status") == "in_service" and (job is None or item.get("serving_job") == job),
            timeout_s,
            what=f"in_service{f' with {job}' if job else ''}",
        )

    def endpoint_config(self, name: str) -> dict[str, Any]:
        return self.sagemaker.describe_endpoint_config(EndpointConfigName=name)

    def live_config(self, endpoint: str) -> str:
        return self.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]

    def read_archive_names(self, s3_uri: str) -> list[str]:
        """The member names of a ``model.tar.gz`` in S3 (streamed; the deployer reads the artifact bucket)."""
        bucket, _, key = s3_uri.removeprefix("s3://").partition("/")
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
        with tarfile.open(fileobj=body, mode="r|gz") as tar:
            return [member.name for member in tar]


def top_level(names: Iterable[str]) -> list[str]:
    """Top-level file names of an archive listing (``./a`` and ``a`` alike; folders end in ``/``)."""
    found = set()
    for name in names:
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if parts:
            found.add(parts[0] + ("/" if len(parts) > 1 else ""))
    return sorted(found)


# ---- cleanup ---------------------------------------------------------------------------------


@dataclass
class Drop:
    """One model's folder in the data bucket; ``cleanup`` leaves nothing billing and removes the folder."""

    stack: E2EStack
    model: str
    keys: list[str] = field(default_factory=list)

    def put(self, relative: str, body: bytes) -> None:
        key = f"{self.model}/{relative}"
        self.stack.put(key, body)
        self.keys.append(key)

    def put_json(self, relative: str, document: dict[str, Any]) -> None:
        self.put(relative, json.dumps(document).encode())

    def cleanup(self) -> None:
        """Stop running training jobs, stop the endpoint (the API's stop; SageMaker's DeleteEndpoint if
        that cannot), and delete every version of the model's folder in the data bucket. The endpoint
        config, the SageMaker model and the artifacts stay, as after any stop (docs/cleanup.md, "Stop and start
        a model by hand"); they cost nothing."""
        problems = []
        for step in (self._await_registry, self._stop_training, self._stop_endpoint, self._delete_folder):
            try:
                step()
            except Exception as exc:  # every step runs; report them all
                problems.append(f"{step.__name__}: {exc}")
        if problems:
            print(f"cleanup of {self.model} was incomplete (check the account by hand): {problems}", flush=True)

    def _await_registry(self) -> None:
        """A drop whose S3 event is not handled yet (a test that failed right after its upload) would start a
        job and an endpoint after the cleanup: wait until the registry knows the model first."""
        if not any(key.endswith(("/training.json", "/deploy.json")) for key in self.keys):
            return
        deadline = time.monotonic() + REJECTION_S
        while not (self.stack.registry.get(self.model, consistent=True) or {}).get("status"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the registry never recorded {self.model}: check the train function's logs")
            time.sleep(5)

    def _stop_training(self) -> None:
        for job in self.stack.registry.jobs(self.model):
            if job.get("status") == "training":
                try:
                    self.stack.sagemaker.stop_training_job(TrainingJobName=job["job"])
                    print(f"stopped training job {job['job']}", flush=True)
                except Exception as exc:  # already ended: nothing bills
                    print(f"stop_training_job {job['job']}: {exc}", flush=True)

    def _stop_endpoint(self) -> None:
        from sagedrop_client.api import ApiError

        deadline = time.monotonic() + STOP_S
        while True:
            try:
                self.stack.api.request("POST", f"/models/{self.model}/stop")
                print(f"stopped {self.model}", flush=True)
                break
            except ApiError as exc:
                on_its_way = exc.code == "not_deployed" and self._first_deploy_in_flight()
                if exc.status == 404 or (exc.code == "not_deployed" and not on_its_way):
                    break  # nothing was deployed (or it is already stopped)
                if exc.code not in ("busy", "not_deployed") or time.monotonic() > deadline:
                    print(f"stop through the API failed ({exc}); deleting the endpoint directly", flush=True)
                    self._delete_endpoint(deadline)
                    break
                time.sleep(30)  # a deploy or wake in progress: stop answers 409 busy until it ends

    def _first_deploy_in_flight(self) -> bool:
        """A first endpoint is being created (stop answers 409 not_deployed until it serves): wait for it,
        or it would come up after the test and bill."""
        summary = self.stack.registry.get(self.model, consistent=True) or {}
        jobs = self.stack.registry.jobs(self.model)
        return summary.get("status") in ("deploying", "waking") or any(
            job.get("status") in ("completed", "pending", "deploying") for job in jobs
        )

    def _delete_endpoint(self, deadline: float) -> None:
        sagemaker = self.stack.sagemaker
        endpoint = (self.stack.registry.get(self.model, consistent=True) or {}).get("endpoint") or self.model
        status = "unknown"
        while time.monotonic() < deadline + 10 * 60:
            try:
                status = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
            except sagemaker.exceptions.ClientError:
                return  # no endpoint: nothing bills
            if status not in ("Creating", "Updating", "SystemUpdating", "RollingBack"):
                sagemaker.delete_endpoint(EndpointName=endpoint)
                print(f"deleted endpoint {endpoint}", flush=True)
                return
            time.sleep(30)
        raise RuntimeError(f"endpoint {endpoint} is still {status}: delete it by hand")

    def _delete_folder(self) -> None:
        """Every version and delete marker under ``<model>/`` (the data bucket is versioned)."""
        s3, bucket = self.stack.s3, self.stack.target.bucket
        paginator = s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=bucket, Prefix=f"{self.model}/"):
            objects = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if objects:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
