"""`make demo`: the whole pipeline on the local stack, on real data, in under two minutes.

1. Start the local stack (emulated AWS, the same four handlers, template.yaml's wiring).
2. Data: scikit-learn's diabetes set (442 patients, 10 features, shipped with the package).
   The target is binned into 4 equal-width classes, as the classic Big Mart tutorial does with
   ``pandas.cut(y, 4)``; 70% train, 15% validation, 15% held out.
3. Drop three models into the data bucket: an XGBoost ``multi:softmax`` classifier (the tutorial's
   settings), a linear-learner multiclass classifier, and a linear-learner regressor on the raw
   target; and an image classifier (ResNet-20) on scikit-learn's digits packed as MXNet ``.rec``
   files (``demo_images``). Each is validated, trained for real, gated and deployed by the same
   functions as on AWS. Plus Seq2Seq on the synthetic English -> German corpus shipped
   in the repo (``demo_seq2seq``).
4. Send the held-out rows to the local HTTP API, signed; print weighted precision, recall and F1
   for the classifiers and RMSE for the regressor; show that a wrong key is refused.
5. Run cleanup with the emulated clock moved past the idle window: the endpoints nobody called
   since are hibernated; one more prediction wakes one again.

Any step that fails stops the demo with a non-zero exit and says which step.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from sagedrop_local import demo_images, demo_seq2seq
from sagedrop_local.stack import LocalStack

LABELS = ["low", "medium", "high", "very high"]
SEED = 7


class DemoFailure(RuntimeError):
    pass


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def log(line: str) -> None:
    print(f"   {line}", flush=True)


def load_data() -> dict[str, Any]:
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    x = np.asarray(data.data, dtype=np.float64)
    y = np.asarray(data.target, dtype=np.float64)
    low, high = float(y.min()), float(y.max())
    edges = np.linspace(low, high, 5)
    edges[0] = low - (high - low) * 0.001  # pandas.cut's extended lowest edge
    classes = np.searchsorted(edges[1:-1], y, side="left")
    order = np.random.default_rng(SEED).permutation(len(y))
    n_train, n_val = int(0.7 * len(y)), int(0.15 * len(y))
    parts = {"train": order[:n_train], "validation": order[n_train : n_train + n_val], "test": order[n_train + n_val :]}
    return {"x": x, "y": y, "classes": classes, "parts": parts, "edges": edges}


def csv_text(labels: np.ndarray | None, features: np.ndarray) -> str:
    rows = []
    for i in range(len(features)):
        cells = ([repr(float(labels[i]))] if labels is not None else []) + [f"{v:.6f}" for v in features[i]]
        rows.append(",".join(cells))
    return "\n".join(rows) + "\n"


def weighted_scores(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    """Weighted precision, recall and F1 (each class weighted by its support), as scikit-learn defines them."""
    precision = recall = f1 = 0.0
    for cls in np.unique(truth):
        support = float(np.sum(truth == cls))
        tp = float(np.sum((predicted == cls) & (truth == cls)))
        p = tp / max(float(np.sum(predicted == cls)), 1.0)
        r = tp / support
        precision += support * p
        recall += support * r
        f1 += support * (2 * p * r / (p + r) if p + r else 0.0)
    n = float(len(truth))
    return precision / n, recall / n, f1 / n


def manifests() -> dict[str, dict[str, Any]]:
    return {
        "diabetes-xgboost": {
            "algorithm": "xgboost",
            "hyperparameters": {
                "objective": "multi:softmax",
                "num_class": 4,
                "max_depth": 5,
                "eta": 0.2,
                "gamma": 4,
                "min_child_weight": 6,
                "subsample": 0.7,
                "num_round": 50,
                "eval_metric": "merror",
            },
            "labels": LABELS,
            "deploy": {"gate": {"metric": "validation:merror", "max": 0.7}},
        },
        "diabetes-linear": {
            "algorithm": "linear-learner",
            "hyperparameters": {
                "feature_dim": 10,
                "predictor_type": "multiclass_classifier",
                "num_classes": 4,
                "mini_batch_size": 100,
                "epochs": 30,
            },
            "labels": LABELS,
            "deploy": {"gate": {"metric": "validation:multiclass_accuracy", "min": 0.3}},
        },
        "diabetes-regressor": {
            "algorithm": "linear-learner",
            "hyperparameters": {"feature_dim": 10, "predictor_type": "regressor", "mini_batch_size": 100, "epochs": 30},
        },
    }


def wait_all(stack: LocalStack, models: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    seen: dict[str, str] = {}
    done: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline and len(done) < len(models):
        for model in models:
            if model in done:
                continue
            item = stack.registry_item(model) or {}
            status = item.get("status", "waiting for the train function")
            if seen.get(model) != status:
                seen[model] = status
                extra = f" ({item.get('last_error').splitlines()[0]})" if item.get("last_error") else ""
                log(f"{model:20s} {status}{extra}")
            if status == "in_service":
                done[model] = item
            elif status in ("failed", "rejected", "gate_failed", "stopped"):
                raise DemoFailure(f"{model} ended {status}: {item.get('last_error')}")
        time.sleep(0.3)
    missing = [m for m in models if m not in done]
    if missing:
        raise DemoFailure(f"not in service after {timeout:.0f} s: {', '.join(missing)} (last: {seen})")
    return done


def api_call(
    stack: LocalStack,
    method: str,
    path: str,
    body: bytes | None,
    content_type: str | None,
    principal: str | None = "predictor",
) -> tuple[int, Any]:
    """One call to the local API, SigV4-signed as a local principal (``predictor``/``admin``; None: unsigned)."""
    from botocore.credentials import Credentials

    from sagedrop_client.api import Api, ApiError

    credentials = None
    if principal is not None:
        keys = stack.credentials(principal)
        credentials = Credentials(keys["access_key"], keys["secret_key"])
    api = Api(stack.api_url, credentials=credentials, region=stack.wiring.region)
    try:
        return 200, api.request(method, path, body, content_type)
    except ApiError as exc:
        return exc.status, {"error": {"code": exc.code, "message": exc.message}}


def predict_rows(stack: LocalStack, model: str, features: np.ndarray) -> list[dict[str, Any]]:
    status, answer = api_call(
        stack, "POST", f"/models/{model}/predictions", csv_text(None, features).encode(), "text/csv"
    )
    if status != 200:
        raise DemoFailure(f"prediction for {model} failed: HTTP {status} {answer}")
    predictions = answer["predictions"]
    if len(predictions) != len(features):
        raise DemoFailure(f"{model}: {len(predictions)} predictions for {len(features)} rows")
    return predictions


def run(print_step: Callable[[str], None] = step) -> None:
    started = time.monotonic()
    print_step("1/5 starting the local stack (emulated AWS + the template's wiring)")
    # The functions' own warnings (e.g. the 503 of a waking model) are JSON for CloudWatch; the demo says each
    # outcome in a sentence instead, so only their errors show.
    with LocalStack(api_port=0, endpoint_delay=0.5, log=lambda line: log(line), function_log_level="ERROR") as stack:
        log(f"API {stack.api_url}")

        print_step("2/5 uploading data: scikit-learn's diabetes set, target binned into 4 classes (pandas.cut style)")
        held_images = demo_images.drop(stack, log)  # first: the slowest job starts first
        data = load_data()
        s2s_test = _drop_tabular_and_seq2seq(stack, data)

        print_step("3/5 training, gating and deploying")
        models = [*manifests(), demo_images.MODEL, demo_seq2seq.MODEL]
        items = wait_all(stack, models, timeout=180)
        for model, item in items.items():
            metrics = ", ".join(f"{k}={v:.3f}" for k, v in sorted((item.get("metrics") or {}).items()))
            log(f"{model:20s} in service at endpoint {item.get('endpoint')}  [{metrics}]")

        print_step("4/5 predicting the held-out rows over HTTP, SigV4-signed as the local 'predictor' principal")
        _predict_held_out(stack, data, held_images, s2s_test)
        _check_principals(stack)

        print_step("5/5 idle cleanup: the clock moves past the idle window; a prediction wakes a model again")
        _hibernate_and_wake(stack, models, data)
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s", flush=True)


def _drop_tabular_and_seq2seq(stack: LocalStack, data: dict[str, Any]) -> list[tuple[str, str]]:
    """The diabetes CSVs and manifests, then the seq2seq drop; the seq2seq test sentences."""
    s3 = stack.client("s3")
    for model, manifest in manifests().items():
        regressor = manifest["hyperparameters"].get("predictor_type") == "regressor"
        for part in ("train", "validation"):
            index = data["parts"][part]
            labels = data["y"][index] if regressor else data["classes"][index]
            s3.put_object(
                Bucket=stack.data_bucket,
                Key=f"demo/{model}/{part}/{part}.csv",
                Body=csv_text(labels, data["x"][index]).encode(),
            )
    for model, manifest in manifests().items():
        s3.put_object(
            Bucket=stack.data_bucket,
            Key=f"demo/{model}/training.json",
            Body=json.dumps(manifest, indent=2).encode(),
        )
        log(f"dropped s3://{stack.data_bucket}/demo/{model}/training.json")
    s2s_folder, s2s_test = demo_seq2seq.run_in()  # the shipped synthetic en->de corpus, `sagedrop prepare seq2seq`
    demo_seq2seq.drop(s3, stack.data_bucket, "demo", s2s_folder)
    log(f"dropped s3://{stack.data_bucket}/demo/{demo_seq2seq.MODEL}/training.json (seq2seq)")
    return s2s_test


def _predict_held_out(
    stack: LocalStack, data: dict[str, Any], held_images: list[tuple[bytes, int]], s2s_test: list[tuple[str, str]]
) -> None:
    """Every model answers the rows (sentences, images) it did not train on; the scores say how well."""
    test = data["parts"]["test"]
    truth = data["classes"][test]
    for model in ("diabetes-xgboost", "diabetes-linear"):
        predictions = predict_rows(stack, model, data["x"][test])
        predicted = np.array([int(p["predicted_label"]) for p in predictions])
        precision, recall, f1 = weighted_scores(truth, predicted)
        named = predictions[0].get("label")
        log(
            f"{model:20s} weighted precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}  "
            f"(first row: class {predicted[0]} = {named!r}, truth {LABELS[truth[0]]!r})"
        )
    predictions = predict_rows(stack, "diabetes-regressor", data["x"][test])
    scores = np.array([float(p["score"]) for p in predictions])
    rmse = float(np.sqrt(np.mean((scores - data["y"][test]) ** 2)))
    log(f"{'diabetes-regressor':20s} RMSE {rmse:.1f} (target range {data['y'].min():.0f}..{data['y'].max():.0f})")
    path = f"/models/{demo_seq2seq.MODEL}/predictions"
    demo_seq2seq.report(lambda body: api_call(stack, "POST", path, body, "application/json"), s2s_test, log)
    demo_images.report(held_images, lambda *request: api_call(stack, *request), log)
    from sagedrop_local.demo_batch import score_held_out  # batch scoring: the same rows as a file, no endpoint

    score_held_out(stack, "diabetes-xgboost", csv_text(None, data["x"][test]), truth, weighted_scores, log)


def _check_principals(stack: LocalStack) -> None:
    """Unsigned requests are refused, the predictor may not stop a model, the admin may."""
    status, answer = api_call(stack, "GET", "/models", None, None, principal=None)
    if status != 403:
        raise DemoFailure(f"an unsigned request got HTTP {status}, expected 403")
    log(f"an unsigned request is refused: HTTP {status} {answer['error']['message']}")
    status, answer = api_call(stack, "POST", "/models/diabetes-regressor/stop", None, None)
    if status != 403:
        raise DemoFailure(f"the predictor principal stopping a model got HTTP {status}, expected 403")
    log(f"the predictor may not stop a model: HTTP {status} {answer['error']['message'][:110]}...")
    status, answer = api_call(stack, "POST", "/models/diabetes-regressor/stop", None, None, principal="admin")
    if status != 200:
        raise DemoFailure(f"the admin principal could not stop a model: HTTP {status} {answer}")
    stopped_by = (stack.registry_item("diabetes-regressor") or {}).get("stopped_by")
    log(f"the admin stops diabetes-regressor: HTTP {status}; the registry says stopped_by={stopped_by}")


def _hibernate_and_wake(stack: LocalStack, models: list[str], data: dict[str, Any]) -> None:
    """Past the idle window cleanup hibernates the models; a prediction wakes one again."""
    test = data["parts"]["test"]
    stack.aws.advance_clock(minutes=180)
    result = stack.run_schedule_now()
    log(
        f"cleanup looked at {result.get('scanned', 0)} endpoint(s) and hibernated "
        f"{len(result.get('hibernated') or [])} that nobody called in the idle window"
    )
    hibernated = [m for m in models if (stack.registry_item(m) or {}).get("status") == "hibernated"]
    if not hibernated:
        raise DemoFailure("cleanup hibernated nothing although no model was called within the idle window")
    log(f"hibernated: {', '.join(hibernated)} (endpoint deleted; endpoint config and model kept)")
    model = hibernated[0]
    status, answer = api_call(
        stack, "POST", f"/models/{model}/predictions", csv_text(None, data["x"][test[:1]]).encode(), "text/csv"
    )
    log(f"first call to {model}: HTTP {status} {answer.get('error', {}).get('message', '')}")
    woken = stack.wait_for_status(model, ("in_service",), timeout=30)
    predictions = predict_rows(stack, model, data["x"][test[:3]])
    log(f"{model} is back at endpoint {woken.get('endpoint')}: {predictions}")


def main() -> int:
    try:
        run()
    except DemoFailure as exc:
        print(f"\nDEMO FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
