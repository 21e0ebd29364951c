"""XGBoost inference exactly as the SageMaker XGBoost container's algorithm mode serves it.

Sources: github.com/aws/sagemaker-xgboost-container, branch ``1.7-1`` at commit
f7a93a21e50e44b4077f0889a7f676cad8c226f3 (``CONTAINER``), and the ``sagemaker-containers`` library
it pins (requirements.txt: ``sagemaker-containers==2.8.6.post2``, github.com/aws/sagemaker-containers
tag v2.8.6.post2, commit 150ff4674b268a4c6f9518aefa767892c50e1e94).

* Loading (``algorithm_mode/serve_utils.py`` ``get_loaded_booster``): every top-level file of the
  model directory that is not a dotfile is a model (an ensemble unless
  ``SAGEMAKER_INFERENCE_ENSEMBLE`` is not ``true``); each is tried with ``pickle.load`` first
  ("pkl_format"), then ``Booster.load_model`` ("xgb_format").
* ``/invocations`` (``algorithm_mode/serve.py`` ``invocations``), in its order: an empty body is
  204; the request content type is parsed (``serve_utils.parse_content_data``; any failure is
  415); the prediction runs (any failure is 400 ``Unable to evaluate payload provided: ...``;
  the feature-count check of ``serve_utils.predict`` applies to pickled models only); then the
  Accept header is parsed (``_parse_accept``: empty or ``*/*`` means
  ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``, default ``text/csv``; anything outside the four
  supported types is 406).
* Answers: ``application/json`` is ``{"predictions": [{"score": ...}, ...]}``
  (``serve_utils.encode_predictions_as_json``); ``text/csv`` goes through sagemaker-containers'
  ``_encoders.array_to_csv``, which writes a 1-D array as a column: **one value per line, each
  line ending in "\\n"** (a ``multi:softprob`` row is one line of comma-joined probabilities).
  ``application/jsonlines`` and ``application/x-recordio-protobuf`` have no encoder in
  sagemaker-containers (``_encoders_map`` holds NPY, CSV and JSON only): ``encoders.encode``
  raises ``UnsupportedFormatError``, which ``invocations`` does not catch, so the container
  answers HTTP 500. Those two types work only with selectable inference output
  (``SAGEMAKER_INFERENCE_OUTPUT``, ``serve_utils.encode_selected_predictions``), emulated here too.
* Image tags 0.90-x, 1.0-1 and 1.2-1 predate aws/sagemaker-xgboost-container PR #269/#270/#271
  ("Add accept encodings to alg_mode"): their ``serve.py`` answers
  ``",".join(map(str, preds.tolist()))`` as text/csv whatever the (valid) Accept.
"""

from __future__ import annotations

import csv
import io
import json
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sagedrop_local.algorithms.common import InvokeError, Serving

CONTAINER = "aws/sagemaker-xgboost-container@f7a93a21e50e44b4077f0889a7f676cad8c226f3 (branch 1.7-1)"
MODEL_FILE = "xgboost-model"  # constants/xgb_constants.py MODEL_NAME
PKL_FORMAT, XGB_FORMAT = "pkl_format", "xgb_format"  # serve_utils.py

SUPPORTED_ACCEPTS = ("application/json", "application/jsonlines", "application/x-recordio-protobuf", "text/csv")
# data_utils.py VALID_CONTENT_TYPES, in its order (part of the 415 message)
VALID_CONTENT_TYPES = (
    "csv",
    "libsvm",
    "parquet",
    "recordio-protobuf",
    "text/csv",
    "text/libsvm",
    "text/x-libsvm",
    "application/x-parquet",
    "application/x-recordio-protobuf",
)
LEGACY_CSV_TAGS = ("0.90-1", "0.90-2", "1.0-1", "1.2-1")
"""Image tags whose serve.py answers comma-joined text/csv only (before PR #269/#270/#271)."""

# serve_utils.py VALID_OBJECTIVES: the selectable inference keys each objective can answer
_REGRESSION_KEYS = ("predicted_score",)
_VALID_KEYS = {
    **dict.fromkeys(
        ("reg:squarederror", "reg:logistic", "reg:gamma", "reg:absoluteerror", "reg:tweedie"), _REGRESSION_KEYS
    ),
    "binary:logistic": ("predicted_label", "labels", "probability", "probabilities", "raw_score", "raw_scores"),
    "binary:logitraw": ("predicted_label", "labels", "raw_score", "raw_scores"),
    "binary:hinge": ("predicted_label", "labels", "raw_score", "raw_scores"),
    "multi:softmax": ("predicted_label", "labels", "raw_score", "raw_scores"),
    "multi:softprob": ("predicted_label", "labels", "probability", "probabilities", "raw_score", "raw_scores"),
}


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _old_binary_message(path: Path) -> str:
    return (
        f"Model {path.name} is in XGBoost's old binary format, which the 1.3-1 to 1.7-1 containers write "
        "(train.py: bst.save_model('xgboost-model')) and which xgboost 3.1 and later cannot read (\"The binary "
        'format has been deprecated in 1.6 and removed in 3.1"). Re-save it as JSON with the xgboost that '
        "wrote it (booster.save_model('xgboost-model.json'), then rename it to xgboost-model) to serve it locally"
    )


def _load_one(path: Path) -> tuple[Any, str]:
    """serve_utils.get_loaded_booster for one file: pickle first, then Booster.load_model."""
    import xgboost as xgb

    try:
        with open(path, "rb") as handle:
            booster = pickle.load(handle)  # noqa: S301 - the model archive, loaded as the container loads it
        if not isinstance(booster, xgb.Booster):
            raise TypeError(f"{type(booster).__name__} is not an xgboost Booster")
        return booster, PKL_FORMAT
    except Exception as exc_pkl:
        with open(path, "rb") as handle:
            if handle.read(4) == b"binf":
                raise RuntimeError(_old_binary_message(path)) from None
        try:
            booster = xgb.Booster()
            # the bytes, not the path: xgboost 3 guesses the format of a name without an extension with
            # a warning; from a buffer it reads JSON ("{") and UBJSON alike, as 1.7 does from the file
            booster.load_model(bytearray(path.read_bytes()))
            return booster, XGB_FORMAT
        except Exception as exc_xgb:
            detail = str(exc_xgb).split("\nStack trace:", 1)[0].strip()
            raise RuntimeError(
                f"Model {path.name} cannot be loaded:\nPickle load error={exc_pkl}\nXGB load model error={detail}"
            ) from None


@dataclass
class _Model:
    boosters: list[Any]
    formats: list[str]
    objective: str
    num_class: str


def booster_config(booster: Any) -> tuple[str, str, int]:
    """Objective, num_class and num_parallel_tree from the booster's configuration (save_config)."""
    learner = json.loads(booster.save_config())["learner"]
    objective = learner["objective"]["name"]
    num_class = learner["learner_model_param"].get("num_class", "")
    booster_config = learner.get("gradient_booster", {})
    model_param = booster_config.get("gbtree_model_param") or booster_config.get("gbtree", {}).get(
        "gbtree_model_param", {}
    )
    return objective, num_class, int(model_param.get("num_parallel_tree", 1))


def load_model_dir(model_dir: Path, environment: Mapping[str, str]) -> _Model:
    files = sorted(p for p in model_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise RuntimeError(f"no model file in {model_dir}: model.tar.gz must hold {MODEL_FILE}")
    if environment.get("SAGEMAKER_INFERENCE_ENSEMBLE", "true") != "true":  # serve_utils.is_ensemble_enabled
        files = files[:1]
    boosters, formats = [], []
    for path in files:
        booster, model_format = _load_one(path)
        booster.set_param("nthread", 1)
        boosters.append(booster)
        formats.append(model_format)
    objective, num_class, _ = booster_config(boosters[0])
    return _Model(boosters, formats, objective, num_class)


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def _parse_header(value: str) -> tuple[str, dict[str, str]]:
    """``cgi.parse_header``: the value before the first ``;`` and its ``key=value`` parameters."""
    head, *rest = value.split(";")
    params = {}
    for part in rest:
        key, sep, item = part.partition("=")
        if sep:
            params[key.strip().lower()] = item.strip().strip('"')
    return head.strip(), params


def content_kind(content_type: str | None) -> str:
    """data_utils.get_content_type: csv, libsvm, parquet or recordio-protobuf (415 otherwise)."""
    if content_type is None:
        return "libsvm"
    base, params = _parse_header(content_type.lower())
    if base in ("csv", "text/csv"):
        if params.get("label_size", "1") != "1":
            raise InvokeError(
                415,
                f"{content_type} is not an accepted csv ContentType. Optional parameter label_size must be equal to 1",
            )
        return "csv"
    if base in ("libsvm", "text/libsvm", "text/x-libsvm"):
        return "libsvm"
    if base in ("parquet", "application/x-parquet"):
        return "parquet"
    if base in ("recordio-protobuf", "application/x-recordio-protobuf"):
        return "recordio-protobuf"
    raise InvokeError(415, f"{content_type} is not an accepted ContentType: {', '.join(VALID_CONTENT_TYPES)}.")


def _csv_matrix(text: str) -> np.ndarray:
    """encoder.csv_to_dmatrix: the delimiter sniffed from the first line; empty fields are NaN."""
    delimiter = csv.Sniffer().sniff(text.split("\n")[0][:512]).delimiter
    delimiter = "," if delimiter.isalnum() else delimiter
    rows = [["nan" if cell == "" else cell for cell in line.split(delimiter)] for line in text.split("\n")]
    return np.array(rows).astype(float)


def _libsvm_matrix(text: str) -> Any:
    """serve_utils._get_sparse_matrix_from_libsvm: ``index:value`` items; other tokens (labels) ignored."""
    from scipy.sparse import csr_matrix

    row, col, data = [], [], []
    for row_index, line in enumerate(text.split("\n")):
        for item in line.split(" "):
            if ":" in item:
                index, value = item.split(":")[0], item.split(":")[1]
                row.append(row_index)
                col.append(index)
                data.append(value)
    return csr_matrix((np.array(data).astype(float), (np.array(row), np.array(col).astype(int))))


def _recordio_matrix(body: bytes) -> Any:
    """encoder.recordio_protobuf_to_dmatrix: features["values"] of each record; labels ignored."""
    from scipy.sparse import csr_matrix

    from sagedrop.recordio import Tensor, read_records, read_sparse

    first = next(read_records(body), None)
    values = first.features.get("values") if first is not None else None
    rows = read_sparse(body)
    matrix = csr_matrix((rows.data, rows.indices, rows.indptr), shape=rows.shape)
    # mlio gives a DenseTensor (np.vstack of rows) or a sparse one (CSR), by the first record
    return matrix if isinstance(values, Tensor) and values.is_sparse else matrix.toarray()


def parse_request(body: bytes, content_type: str | None) -> tuple[Any, str]:
    """serve_utils.parse_content_data: the feature matrix and the content kind; InvokeError(415) on failure."""
    kind = content_kind(content_type)
    try:
        if kind == "csv":
            return _csv_matrix(body.strip().decode("utf-8")), kind
        if kind == "libsvm":
            return _libsvm_matrix(body.strip().decode("utf-8")), kind
        if kind == "recordio-protobuf":
            return _recordio_matrix(body), kind
    except Exception as exc:  # the three messages of parse_content_data
        layout = ": {} {}" if kind == "recordio-protobuf" else ":\n {}\n {}"
        raise InvokeError(
            415,
            f"Loading {kind} data failed with Exception, please ensure data is in {kind} format"
            + layout.format(type(exc), exc),
        ) from None
    raise InvokeError(415, f"Content-type {content_type} is not supported.")


# --------------------------------------------------------------------------------------------
# Prediction
# --------------------------------------------------------------------------------------------


def _check_features(booster: Any, columns: int, kind: str) -> None:
    """serve_utils.predict's check, done for pickled models only ("pkl_format")."""
    expected = booster.num_features()
    if kind == "libsvm" and columns > expected + 1:
        raise ValueError(
            f"Feature size of libsvm inference data {columns} is larger than feature size of trained model {expected}."
        )
    if kind != "libsvm" and expected not in (columns, columns + 1):
        raise ValueError(
            f"Feature size of {kind} inference data {columns} is not consistent with feature size of trained "
            f"model {expected}."
        )


def _predict_one(booster: Any, dtest: Any) -> np.ndarray:
    """``booster.predict(dtest, ntree_limit=getattr(booster, "best_ntree_limit", 0))``.

    xgboost 1.7 restores ``best_ntree_limit`` from the model's attribute of that name when it
    loads a model (python-package/xgboost/core.py ``load_model``); ntree_limit n means the first
    n // num_parallel_tree boosting rounds.
    """
    limit = int(booster.attr("best_ntree_limit") or 0)
    rounds = limit // booster_config(booster)[2] if limit else 0
    return booster.predict(dtest, iteration_range=(0, rounds), validate_features=False)


def predict(model: _Model, features: Any, kind: str) -> np.ndarray:
    import xgboost as xgb

    try:
        dtest = xgb.DMatrix(features)
        if model.formats[0] == PKL_FORMAT:
            _check_features(model.boosters[0], dtest.num_col(), kind)
        outputs = [_predict_one(booster, dtest) for booster in model.boosters]
    except Exception as exc:
        detail = str(exc).split("\nStack trace:", 1)[0].strip()
        raise InvokeError(400, f"Unable to evaluate payload provided: {detail}") from None
    if len(outputs) == 1:
        return outputs[0]
    if model.objective in ("multi:softmax", "binary:hinge"):  # a vote: scipy.stats.mode over the models
        from scipy import stats

        return np.asarray(stats.mode(np.asarray(outputs), axis=0, keepdims=False).mode)
    return np.mean(outputs, axis=0)


# --------------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------------


def parse_accept(accept: str | None, environment: Mapping[str, str]) -> str:
    """serve.py _parse_accept: InvokeError(406) for an Accept type the container does not answer."""
    base, _ = _parse_header(accept or "")
    if not base or base == "*/*":
        return environment.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "text/csv")
    if base.lower() not in SUPPORTED_ACCEPTS:
        raise InvokeError(
            406,
            f"Accept type {base} is not supported. Please use supported accept types: {list(SUPPORTED_ACCEPTS)}.",
        )
    return base.lower()


def array_to_csv(values: Any) -> str:
    """sagemaker-containers ``_encoders.array_to_csv``: a 1-D array becomes a column (one value per line)."""
    array = np.array(values)
    if array.ndim == 1:
        array = array.reshape(array.shape[0], 1)
    stream = io.StringIO()
    csv.writer(stream, lineterminator="\n", delimiter=",", quotechar='"', doublequote=True, strict=True).writerows(
        array
    )
    return stream.getvalue()


def encode(preds: np.ndarray, accept: str, image_tag: str | None) -> bytes:
    values = preds.tolist()
    if image_tag in LEGACY_CSV_TAGS:
        return ",".join(map(str, values)).encode("utf-8")
    if accept == "application/json":
        return json.dumps({"predictions": [{"score": value} for value in values]}).encode("utf-8")
    if accept == "text/csv":
        return array_to_csv(values).encode("utf-8")
    raise InvokeError(
        500,
        f"Internal Server Error: the {image_tag or '1.7-1'} container cannot encode predictions as {accept} "
        f'(sagemaker-containers encoders.encode raises UnsupportedFormatError "Content type {accept} is not '
        'supported by this framework."); ask for text/csv or application/json, or set SAGEMAKER_INFERENCE_OUTPUT '
        "in the model's environment for selectable inference output",
    )


def _selected(preds: np.ndarray, keys: list[str], objective: str, num_class: str) -> list[dict[str, Any]]:
    """serve_utils.get_selected_predictions: the selected keys per prediction (NaN where they do not apply)."""
    if objective not in _VALID_KEYS:
        raise InvokeError(500, f"Objective `{objective}` unsupported for selectable inference predictions.")
    valid = set(keys) & set(_VALID_KEYS[objective])
    invalid = set(keys) - set(_VALID_KEYS[objective])
    answers = []
    for raw in preds:
        value = np.asarray(raw)
        vector = value.ndim > 0
        item: dict[str, Any] = {}
        if "predicted_label" in valid:
            if objective == "binary:logistic":
                item["predicted_label"] = int(value > 0.5)
            elif objective == "binary:logitraw":
                item["predicted_label"] = int(value > 0)
            elif objective == "multi:softprob":
                item["predicted_label"] = int(np.argmax(value))
            else:
                item["predicted_label"] = value.item()
        if "labels" in valid:
            item["labels"] = [0, 1] if objective.startswith("binary:") else list(range(int(num_class or 0)))
        if "probability" in valid:
            item["probability"] = float(value.max()) if vector else value.item()
        if "probabilities" in valid:
            item["probabilities"] = value.tolist() if vector else [1.0 - value.item(), value.item()]
        if "raw_score" in valid:
            item["raw_score"] = float(value.max()) if vector else value.item()
        if "raw_scores" in valid:
            item["raw_scores"] = value.tolist() if vector else [1.0 - value.item(), value.item()]
        if "predicted_score" in valid:
            item["predicted_score"] = value.item()
        for key in invalid:
            item[key] = float("nan")
        answers.append(item)
    return answers


def encode_selected(preds: np.ndarray, keys: list[str], model: _Model, accept: str) -> bytes:
    """serve_utils.encode_selected_predictions for the four Accept types."""
    items = _selected(preds, keys, model.objective, model.num_class)
    if accept == "application/json":
        return json.dumps({"predictions": items}).encode("utf-8")
    if accept == "application/jsonlines":  # encoder.json_to_jsonlines: one JSON object per line, each + "\n"
        return "".join(json.dumps(item) + "\n" for item in items).encode("utf-8")
    if accept == "text/csv":  # lists quoted as '"[0.1, 0.9]"', rows joined by "\n" (no final newline)
        return "\n".join(
            ",".join(f'"{item[key]}"' if isinstance(item[key], list) else str(item[key]) for key in keys)
            for item in items
        ).encode("utf-8")
    from sagedrop.recordio import encode_record, frame

    # _encode_selected_predictions_recordio_protobuf never empties its record buffer: frame n holds
    # records 1..n concatenated (a protobuf parser merges them; map keys keep the last value).
    written = bytearray()
    out = bytearray()
    for item in items:
        label = {
            key: np.asarray(value if isinstance(value, list) else [value], dtype=np.float32)
            for key, value in item.items()
        }
        written += encode_record({}, label)
        out += frame(bytes(written))
    return bytes(out)


class XGBoostPredictor:
    """The container's ``/invocations`` for the booster(s) of one model directory."""

    def __init__(self, model: _Model, serving: Serving) -> None:
        self.model = model
        self.serving = serving
        self.boosters = model.boosters

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        if not body:
            return b"", "text/csv"  # the container answers 204 No Content to an empty body
        features, kind = parse_request(body, content_type)
        preds = predict(self.model, features, kind)
        wanted = parse_accept(accept, self.serving.environment)
        selected = self.serving.environment.get("SAGEMAKER_INFERENCE_OUTPUT")
        if selected is not None:  # serve_utils.get_selected_output_keys
            keys = selected.replace(" ", "").lower().split(",")
            return encode_selected(preds, keys, self.model, wanted), wanted
        if self.serving.image_tag in LEGACY_CSV_TAGS:
            return encode(preds, wanted, self.serving.image_tag), "text/csv"
        return encode(preds, wanted, self.serving.image_tag), wanted


def load(model_dir: Path, serving: Serving | None = None) -> XGBoostPredictor:
    serving = serving or Serving()
    return XGBoostPredictor(load_model_dir(model_dir, serving.environment), serving)
