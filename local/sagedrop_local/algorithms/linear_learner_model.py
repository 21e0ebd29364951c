"""Linear learner's model: the losses (value and gradient) and the saved parameters that train and serve.

The artifact is one file named ``model_algo-1`` as in the real model.tar.gz, but it holds a numpy
``.npz`` archive, not the real MXNet parameter zip: a model trained here serves here only.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sagedrop_local.algorithms.common import client_error

MODEL_FILE = "model_algo-1"
FORMAT = "sagedrop-local linear-learner 1"


# --------------------------------------------------------------------------------------------
# Losses: value per row and gradient with respect to the raw output z
# --------------------------------------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def loss_and_gradient(
    loss: str, z: np.ndarray, y: np.ndarray, values: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row loss and dLoss/dz (z: (n, k) raw outputs; y: (n,) labels in training units)."""
    if loss == "softmax_loss":
        p = _softmax(z)
        rows = np.arange(z.shape[0])
        picked = np.clip(p[rows, y.astype(np.int64)], 1e-15, 1.0)
        grad = p.copy()
        grad[rows, y.astype(np.int64)] -= 1.0
        return -np.log(picked), grad
    z1 = z[:, 0]
    if loss == "logistic":
        # log(1 + e^-z) for y=1, log(1 + e^z) for y=0, computed stably
        signed = np.where(y > 0.5, z1, -z1)
        value = np.logaddexp(0.0, -signed)
        grad = _sigmoid(z1) - y
    elif loss == "hinge_loss":
        sign = 2.0 * y - 1.0
        gap = values["margin"] - sign * z1
        value = np.maximum(gap, 0.0)
        grad = np.where(gap > 0, -sign, 0.0)
    else:
        r = z1 - y
        if loss == "squared_loss":
            value, grad = r * r, 2.0 * r
        elif loss == "absolute_loss":
            value, grad = np.abs(r), np.sign(r)
        elif loss == "eps_insensitive_squared_loss":
            excess = np.maximum(np.abs(r) - values["loss_insensitivity"], 0.0)
            value, grad = excess * excess, 2.0 * excess * np.sign(r)
        elif loss == "eps_insensitive_absolute_loss":
            excess = np.abs(r) - values["loss_insensitivity"]
            value, grad = np.maximum(excess, 0.0), np.where(excess > 0, np.sign(r), 0.0)
        elif loss == "quantile_loss":
            q = values["quantile"]
            value = np.where(r < 0, -q * r, (1 - q) * r)
            grad = np.where(r < 0, -q, 1 - q)
        elif loss == "huber_loss":
            delta = values["huber_delta"]
            small = np.abs(r) <= delta
            value = np.where(small, 0.5 * r * r, delta * (np.abs(r) - 0.5 * delta))
            grad = np.where(small, r, delta * np.sign(r))
        else:  # pragma: no cover - parse_hyperparameters admits only the losses above
            raise client_error(f"loss {loss} is not implemented locally")
    return value, grad[:, None]


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


@dataclass
class LinearModel:
    predictor_type: str
    loss: str
    weights: np.ndarray  # (features, outputs) in scaled feature space
    bias: np.ndarray  # (outputs,)
    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: float = 0.0
    y_scale: float = 1.0
    threshold: float = 0.5
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_dim(self) -> int:
        return int(self.weights.shape[0])

    def raw(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.x_mean) / self.x_scale) @ self.weights + self.bias

    def scores(self, features: np.ndarray) -> np.ndarray:
        """binary: probability (logistic) or margin (hinge); multiclass: (n, k) probabilities; regressor: value."""
        z = self.raw(features)
        if self.predictor_type == "multiclass_classifier":
            return _softmax(z)
        if self.predictor_type == "binary_classifier":
            return _sigmoid(z[:, 0]) if self.loss == "logistic" else z[:, 0]
        return z[:, 0] * self.y_scale + self.y_mean

    def labels(self, scores: np.ndarray) -> np.ndarray:
        if self.predictor_type == "multiclass_classifier":
            return np.argmax(scores, axis=1)
        return (scores > self.threshold).astype(np.int64)

    def objective_loss(self, features: np.ndarray, labels: np.ndarray) -> float:
        z = self.raw(features)
        if self.predictor_type == "regressor":
            z = z * self.y_scale + self.y_mean
        value, _ = loss_and_gradient(self.loss, z, labels, self.options)
        return float(np.mean(value)) if value.size else 0.0

    def save(self, path: Path) -> None:
        meta = {
            "format": FORMAT,
            "predictor_type": self.predictor_type,
            "loss": self.loss,
            "y_mean": self.y_mean,
            "y_scale": self.y_scale,
            "threshold": self.threshold,
            "options": self.options,
        }
        buffer = io.BytesIO()
        np.savez(
            buffer,
            meta=np.array(json.dumps(meta)),
            weights=self.weights,
            bias=self.bias,
            x_mean=self.x_mean,
            x_scale=self.x_scale,
        )
        path.write_bytes(buffer.getvalue())  # np.savez(path) would append ".npz" to the name

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        try:
            with np.load(path, allow_pickle=False) as arrays:
                meta = json.loads(str(arrays["meta"]))
                if meta.get("format") != FORMAT:
                    raise ValueError(f"format {meta.get('format')!r}")
                return cls(
                    meta["predictor_type"],
                    meta["loss"],
                    arrays["weights"],
                    arrays["bias"],
                    arrays["x_mean"],
                    arrays["x_scale"],
                    float(meta["y_mean"]),
                    float(meta["y_scale"]),
                    float(meta["threshold"]),
                    dict(meta["options"]),
                )
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise RuntimeError(
                f"{path.name} is not a model written by the local linear learner ({exc}); a model trained by "
                "SageMaker's linear learner (an MXNet archive) cannot be served locally"
            ) from None
