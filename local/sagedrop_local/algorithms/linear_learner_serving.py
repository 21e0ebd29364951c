"""Linear learner inference: the request and response formats of the SageMaker developer guide.

Requests (LL-in-formats.html, cdf-inference.html "Common request formats for all algorithms"):
text/csv, application/json (``{"instances": [{"features": [...]}]}`` or the common
``{"data": {"features": {"values": [...]}}}`` form, dense or sparse ``keys``/``values``/``shape``),
application/jsonlines and application/x-recordio-protobuf (``features["values"]``, what the SDK's
``RecordSerializer`` writes). Answers ("Linear learner response formats",
https://docs.aws.amazon.com/sagemaker/latest/dg/LL-in-formats.html): JSON
``{"predictions": [{"score": 0.4, "predicted_label": 0}]}`` (a list of class scores for the
multiclass classifier, ``score`` only for the regressor), JSON Lines with one such object per line,
and RecordIO-protobuf with one record per prediction whose label map holds ``score`` and
``predicted_label`` as float32 tensors and whose features are empty. The real container is closed
source: its status codes for an unsupported type (415 here) or Accept (406 here) are not documented.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sagedrop_local.algorithms.common import (
    RECORDIO_PROTOBUF,
    DataError,
    InvokeError,
    base_content_type,
    dumps,
    load_json,
    parse_csv_rows,
    rows_to_matrix,
)
from sagedrop_local.algorithms.linear_learner_model import MODEL_FILE, LinearModel

ACCEPTS = ("application/json", "application/jsonlines", RECORDIO_PROTOBUF)


class LinearLearnerPredictor:
    def __init__(self, model: LinearModel) -> None:
        self.model = model

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        features = _request_features(body, content_type, self.model.feature_dim)
        if features.shape[0] and features.shape[1] != self.model.feature_dim:
            raise InvokeError(
                400,
                f"Invalid input: the model expects {self.model.feature_dim} features per record, "
                f"the request has {features.shape[1]}",
            )
        scores = self.model.scores(features) if features.shape[0] else np.empty(0)
        return _encode(self.model, scores, accept)


def _vector(value: Any, where: str, dim: int) -> list[float]:
    """``[..]`` or the common ``{"values": [..]}`` / sparse ``{"keys", "values", "shape"}`` feature forms."""
    if isinstance(value, Mapping):
        if "keys" in value:
            shape = value.get("shape") or [dim]
            dense = [0.0] * int(shape[0])
            for key, item in zip(value["keys"], value.get("values", []), strict=False):
                dense[int(key)] = float(item)
            return dense
        value = value.get("values")
    if not isinstance(value, list):
        raise InvokeError(400, f"{where}: features must be a list of numbers")
    try:
        return [float(item) for item in value]
    except (TypeError, ValueError):
        raise InvokeError(400, f"{where}: features must be a list of numbers") from None


def _instance_features(instance: Any, where: str, dim: int) -> list[float]:
    if isinstance(instance, list):
        return _vector(instance, where, dim)
    if isinstance(instance, Mapping):
        if "features" in instance:
            return _vector(instance["features"], where, dim)
        data = instance.get("data")
        if isinstance(data, Mapping) and "features" in data:
            return _vector(data["features"], where, dim)
    raise InvokeError(
        400, f'{where}: expected {{"features": [...]}} or {{"data": {{"features": {{"values": [...]}}}}}}'
    )


def _request_features(body: bytes, content_type: str | None, dim: int) -> np.ndarray:
    base = base_content_type(content_type) or "application/json"
    if base == "text/csv":
        try:
            rows = parse_csv_rows(body.decode("utf-8"), "request")
            matrix = rows_to_matrix(rows, "request")
        except (UnicodeDecodeError, DataError) as exc:
            raise InvokeError(400, f"Unable to parse the text/csv request: {exc}") from None
        if np.isnan(matrix).any():
            raise InvokeError(400, "Unable to parse the text/csv request: empty values are not allowed")
        return matrix.reshape(-1, dim) if matrix.size == 0 else matrix
    if base == "application/json":
        payload = load_json(body, "application/json")
        instances = payload.get("instances") if isinstance(payload, Mapping) else None
        if not isinstance(instances, list):
            raise InvokeError(400, 'The application/json request must be {"instances": [{"features": [...]}, ...]}')
        rows = [_instance_features(item, f"instances[{i}]", dim) for i, item in enumerate(instances)]
    elif base == "application/jsonlines":
        rows = []
        for number, line in enumerate(body.decode("utf-8", "replace").splitlines(), start=1):
            if line.strip():
                rows.append(
                    _instance_features(load_json(line.encode(), "application/jsonlines"), f"line {number}", dim)
                )
    elif base == RECORDIO_PROTOBUF:
        from sagedrop.recordio import RecordIOError, read_sparse

        try:
            sparse = read_sparse(body)
        except RecordIOError as exc:
            raise InvokeError(400, f"Unable to parse the RecordIO-protobuf request: {exc}") from None
        matrix = np.zeros(sparse.shape)
        for row in range(sparse.shape[0]):
            lo, hi = sparse.indptr[row], sparse.indptr[row + 1]
            matrix[row, sparse.indices[lo:hi]] = sparse.data[lo:hi]
        return matrix
    else:
        raise InvokeError(
            415,
            f"Content type {content_type} is not supported: use text/csv, application/json, "
            f"application/jsonlines or {RECORDIO_PROTOBUF}",
        )
    widths = {len(row) for row in rows}
    if len(widths) > 1:
        raise InvokeError(400, f"Invalid input: records have different feature counts {sorted(widths)}")
    return np.asarray(rows, dtype=np.float64) if rows else np.empty((0, dim))


def _prediction(model: LinearModel, score: Any) -> dict[str, Any]:
    if model.predictor_type == "regressor":
        return {"score": float(score)}
    if model.predictor_type == "multiclass_classifier":
        probabilities = [float(p) for p in score]
        return {"score": probabilities, "predicted_label": int(np.argmax(score))}
    return {"score": float(score), "predicted_label": int(score > model.threshold)}


def _encode(model: LinearModel, scores: np.ndarray, accept: str | None) -> tuple[bytes, str]:
    wanted = base_content_type(accept)
    if wanted in (None, "*/*"):
        wanted = "application/json"
    predictions = [_prediction(model, score) for score in scores]
    if wanted == "application/json":
        return dumps({"predictions": predictions}), "application/json"
    if wanted == "application/jsonlines":
        return "\n".join(json.dumps(p) for p in predictions).encode("utf-8"), "application/jsonlines"
    if wanted == RECORDIO_PROTOBUF:
        from sagedrop.recordio import encode_record, frame

        out = []
        for prediction in predictions:
            label: dict[str, Any] = {}
            for key, value in prediction.items():
                label[key] = np.asarray(value if isinstance(value, list) else [value], dtype=np.float32)
            out.append(frame(encode_record({}, label)))
        return b"".join(out), RECORDIO_PROTOBUF
    raise InvokeError(406, f"Accept type {accept} is not supported: use {', '.join(ACCEPTS)}")


def load(model_dir: Path) -> LinearLearnerPredictor:
    path = model_dir / MODEL_FILE
    if not path.is_file():
        found = ", ".join(sorted(p.name for p in model_dir.iterdir())) or "nothing"
        raise RuntimeError(f"model.tar.gz must hold {MODEL_FILE}; it holds {found}")
    return LinearLearnerPredictor(LinearModel.load(path))
