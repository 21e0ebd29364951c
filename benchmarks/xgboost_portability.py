"""Do models trained by the local XGBoost load, and predict the same, in the 1.7-1 container's xgboost?

    python benchmarks/xgboost_portability.py [--venv DIR] [--xgboost 1.7.4]

Not part of ``make test`` or ``make bench``: it installs xgboost 1.7.4 (the version of the 1.7-1
image: docker/1.7-1/base/Dockerfile.cpu ``XGBOOST_VERSION=1.7.4`` in aws/sagemaker-xgboost-container
at f7a93a21e50e44b4077f0889a7f676cad8c226f3; a 194 MB wheel) with ``numpy<2`` and scipy into a
throwaway virtualenv (or ``--venv``, reused when it already has them), which needs the package
index.

It trains small models with the local algorithm (``sagedrop_local.algorithms.xgboost``, which runs
the xgboost of this environment, 3.x), then, in the old xgboost, loads each ``xgboost-model`` the
way the container's ``serve_utils.get_loaded_booster`` does (``pickle.load``, then
``Booster.load_model(path)``) and predicts the way ``serve_utils.predict`` does
(``ntree_limit=getattr(booster, "best_ntree_limit", 0)``), and compares with what the local endpoint
answers. It also shows why the artifact is not a pickle or the raw ``save_model`` output: both
load in 1.7.4 without an error and predict other numbers (the intercept).
Exit status 1 if a local artifact's predictions differ by more than 1e-6.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "sagedrop"), str(ROOT / "local")]

from sagedrop_local import algorithms  # noqa: E402

CASES = {
    "binary-logistic": {"num_round": "20", "objective": "binary:logistic", "max_depth": "3"},
    "regression": {"num_round": "20", "objective": "reg:squarederror"},
    "softprob-early-stop": {
        "num_round": "200",
        "objective": "multi:softprob",
        "num_class": "3",
        "early_stopping_rounds": "3",
        "eta": "0.5",
    },
    "softmax": {"num_round": "10", "objective": "multi:softmax", "num_class": "3"},
    "gblinear": {"num_round": "10", "booster": "gblinear", "objective": "reg:squarederror"},
}

OLD_SIDE = r"""
import glob, json, os, pickle, sys
import numpy as np, xgboost as xgb
root = sys.argv[1]
out = {"xgboost": xgb.__version__}
features = np.load(os.path.join(root, "features.npy"))
for case in sorted(os.listdir(root)):
    model_dir = os.path.join(root, case)
    if not os.path.isdir(model_dir):
        continue
    for path in sorted(glob.glob(os.path.join(model_dir, "*"))):
        try:
            booster = pickle.load(open(path, "rb")); how = "pickle"
        except Exception:
            try:
                booster = xgb.Booster(); booster.load_model(path); how = "load_model"
            except Exception as exc:
                out[case + "/" + os.path.basename(path)] = {"error": str(exc).splitlines()[0]}; continue
        preds = booster.predict(xgb.DMatrix(features), ntree_limit=getattr(booster, "best_ntree_limit", 0))
        out[case + "/" + os.path.basename(path)] = {"loaded_by": how, "preds": preds.tolist()}
print(json.dumps(out))
"""


def old_python(venv: Path, version: str) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run([str(python), "-c", "import xgboost; print(xgboost.__version__)"], capture_output=True)
    if probe.stdout.decode().strip() != version:
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"xgboost=={version}", "numpy<2", "scipy"], check=True
        )
    return python


def run_old(python: Path, root: Path) -> dict:
    done = subprocess.run([str(python), "-c", OLD_SIDE, str(root)], capture_output=True, check=True)
    return json.loads(done.stdout.decode().strip().splitlines()[-1])  # xgboost 1.7 logs warnings to stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, help="virtualenv for the old xgboost (default: a temporary one)")
    parser.add_argument("--xgboost", default="1.7.4", help="old xgboost version (default: the 1.7-1 image's)")
    args = parser.parse_args()
    import xgboost as xgb

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 5))
    labels = {
        "binary-logistic": (x[:, 0] + x[:, 1] > 0.5).astype(float),
        "regression": 3 * x[:, 0] - x[:, 2] + rng.normal(0, 0.1, 600),
        "softprob-early-stop": np.digitize(x[:, 0] + 0.5 * x[:, 3], [-0.5, 0.5]).astype(float),
        "softmax": np.digitize(x[:, 1], [-0.3, 0.6]).astype(float),
        "gblinear": 2 * x[:, 1] + 1.0,
    }
    features = x[500:510]
    with tempfile.TemporaryDirectory(prefix="xgb-portability-") as tmp:
        root = Path(tmp) / "models"
        root.mkdir()
        np.save(root / "features.npy", features)
        local: dict[str, list] = {}
        expected: dict[str, list] = {}
        for case, hyperparameters in CASES.items():
            local[case] = train_locally(Path(tmp), case, hyperparameters, x, labels[case], features)
            if case in ("binary-logistic", "regression", "softprob-early-stop"):
                expected[case] = save_plain(Path(tmp) / "shown" / case, hyperparameters, x, labels[case], features)
        python = old_python(args.venv or Path(tmp) / "venv", args.xgboost)
        result = run_old(python, root)
        shown_result = run_old(python, Path(tmp) / "shown")
    print(f"local xgboost {xgb.__version__} -> container xgboost {result.pop('xgboost')}")
    failed = report_portable(result, local)
    shown_result.pop("xgboost")
    report_plain(shown_result, expected)
    return 1 if failed else 0


def train_locally(
    tmp: Path, case: str, hyperparameters: dict, x: np.ndarray, y: np.ndarray, features: np.ndarray
) -> list:
    """Train ``case`` with the local stack's xgboost into ``tmp/models/case``: the local endpoint's answers."""
    data = tmp / "data" / case
    for channel, rows in (("train", slice(0, 400)), ("validation", slice(400, 500))):
        (data / channel).mkdir(parents=True)
        table = np.column_stack([y[rows], x[rows]])
        (data / channel / "part.csv").write_text("\n".join(",".join(f"{v:.6g}" for v in r) for r in table))
    model_dir = tmp / "models" / case
    channels = {"train": data / "train", "validation": data / "validation"}
    types = dict.fromkeys(channels, "text/csv")
    algorithms.train("xgboost", hyperparameters, channels, types, model_dir, log=lambda _line: None)
    answer, _ = algorithms.load("xgboost", model_dir).invoke(
        "\n".join(",".join(repr(float(v)) for v in row) for row in features).encode(), "text/csv", None
    )
    return [[float(v) for v in line.split(",")] for line in answer.decode().splitlines()]


def save_plain(shown: Path, hyperparameters: dict, x: np.ndarray, y: np.ndarray, features: np.ndarray) -> list:
    """The same data trained by xgboost 3 as is (estimated intercept), kept as a pickle and as the raw
    save_model output (what a naive local artifact would be): xgboost 3's own predictions."""
    import xgboost as xgb

    params = {k: v for k, v in hyperparameters.items() if k in ("objective", "num_class")}
    plain = xgb.train({**params, "nthread": 1}, xgb.DMatrix(x[:400], label=y[:400]), 10)
    shown.mkdir(parents=True)
    np.save(shown.parent / "features.npy", features)
    (shown / "pickled").write_bytes(pickle.dumps(plain))
    (shown / "save_raw-json").write_bytes(bytes(plain.save_raw("json")))
    return plain.predict(xgb.DMatrix(features)).reshape(len(features), -1).tolist()


def report_portable(result: dict, local: dict[str, list]) -> bool:
    """Each case's portable model as the old xgboost predicts it vs the local endpoint; True when one fails."""
    failed = False
    for case in CASES:
        entry = result[f"{case}/xgboost-model"]
        if "error" in entry:
            print(f"  {case:22s} FAILED to load: {entry['error']}")
            failed = True
            continue
        old = np.asarray(entry["preds"], dtype=float).reshape(len(local[case]), -1)
        diff = float(np.max(np.abs(old - np.asarray(local[case]))))
        failed |= diff > 1e-6
        print(f"  {case:22s} loaded by {entry['loaded_by']:10s} max |diff| vs the local endpoint {diff:.2e}")
    return failed


def report_plain(shown_result: dict, expected: dict[str, list]) -> None:
    print("without portable_model (xgboost 3 output as is; 3.x's own predictions as the reference):")
    for name, entry in sorted(shown_result.items()):
        case = name.split("/")[0]
        if "error" in entry:
            print(f"  {name:38s} FAILED to load: {entry['error']}")
            continue
        old = np.asarray(entry["preds"], dtype=float).reshape(len(expected[case]), -1)
        diff = float(np.max(np.abs(old - expected[case])))
        print(f"  {name:38s} loaded by {entry['loaded_by']:10s} max |diff| {diff:.2e}")


if __name__ == "__main__":
    sys.exit(main())
