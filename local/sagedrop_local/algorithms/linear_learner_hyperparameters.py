"""Linear learner's hyperparameters: every documented name, its range and its default, parsed as SageMaker does.

Source: https://docs.aws.amazon.com/sagemaker/latest/dg/ll_hyperparameters.html (names, ranges, defaults);
the losses per predictor type are the layer's facts (``sagedrop.algorithms.linear_learner``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sagedrop.algorithms.linear_learner import LOSSES_BY_PREDICTOR, PREDICTOR_TYPES
from sagedrop_local.algorithms.common import Log, client_error, is_auto, parse_bool, parse_float, parse_int

LOSSES = LOSSES_BY_PREDICTOR  # the documented losses per predictor_type (facts in the layer's module)
AUTO_LOSS = {"binary_classifier": "logistic", "multiclass_classifier": "softmax_loss", "regressor": "squared_loss"}
CRITERIA = ("accuracy", "f_beta", "precision_at_target_recall", "recall_at_target_precision", "loss_function")


def _bad_hyperparameter(detail: str) -> Exception:
    return client_error(f"Unable to initialize the algorithm. Failed to validate hyperparameters: {detail}")


@dataclass(frozen=True)
class _Spec:
    kind: str  # int, float, bool, choice
    default: Any = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    auto: bool = False
    choices: tuple[str, ...] = ()

    def parse(self, name: str, raw: str) -> Any:
        text = str(raw).strip()
        if self.auto and is_auto(text):
            return "auto"
        try:
            if self.kind == "choice":
                if text not in self.choices:
                    raise ValueError(f"one of {', '.join(self.choices)}")
                return text
            if self.kind == "bool":
                return parse_bool(text)
            value: float = parse_int(text) if self.kind == "int" else parse_float(text)
        except ValueError:
            raise _bad_hyperparameter(f"{name}={raw!r} is not {self.expected()}") from None
        if (self.low is not None and (value < self.low or (self.low_open and value == self.low))) or (
            self.high is not None and (value > self.high or (self.high_open and value == self.high))
        ):
            raise _bad_hyperparameter(f"{name}={raw!r} is not {self.expected()}")
        return value

    def expected(self) -> str:
        if self.kind == "choice":
            text = "one of " + ", ".join(self.choices)
        elif self.kind == "bool":
            text = "true or false"
        else:
            text = "an integer" if self.kind == "int" else "a number"
            bounds = []
            if self.low is not None:
                bounds.append(f"{'>' if self.low_open else '>='} {self.low:g}")
            if self.high is not None:
                bounds.append(f"{'<' if self.high_open else '<='} {self.high:g}")
            text += (" " + " and ".join(bounds)) if bounds else ""
        return text + (' or "auto"' if self.auto else "")


def _int(default: Any, low: float = 1, high: float | None = None, auto: bool = False) -> _Spec:
    return _Spec("int", default, low, high, auto=auto)


def _float(default: Any, low: float | None = 0, low_open: bool = False, high: float | None = None, **kw: Any) -> _Spec:
    return _Spec("float", default, low, high, low_open=low_open, **kw)


# ll_hyperparameters.html: every name, its range and its default
SPECS: dict[str, _Spec] = {
    "predictor_type": _Spec("choice", None, choices=PREDICTOR_TYPES),
    "feature_dim": _int("auto", auto=True),
    "num_classes": _int(None, low=3, high=1_000_000),
    "accuracy_top_k": _int(3),
    "balance_multiclass_weights": _Spec("bool", False),
    "beta_1": _float(0.9, high=1, high_open=True, auto=True),
    "beta_2": _float(0.999, high=1, high_open=True, auto=True),
    "bias_lr_mult": _float("auto", low_open=True, auto=True),
    "bias_wd_mult": _float("auto", auto=True),
    "binary_classifier_model_selection_criteria": _Spec("choice", "accuracy", choices=CRITERIA),
    "early_stopping_patience": _int(3),
    "early_stopping_tolerance": _float(0.001, low_open=True),
    "epochs": _int(15),
    "f_beta": _float(1.0, low_open=True),
    "huber_delta": _float(1.0, low_open=True),
    "init_bias": _float(0.0, low=None),
    "init_method": _Spec("choice", "uniform", choices=("uniform", "normal")),
    "init_scale": _float(0.07, low_open=True),
    "init_sigma": _float(0.01, low_open=True),
    "l1": _float("auto", auto=True),
    "learning_rate": _float("auto", low_open=True, auto=True),
    "loss": _Spec("choice", "auto", choices=tuple(dict.fromkeys(x for v in LOSSES.values() for x in v))),
    "loss_insensitivity": _float(0.01, low_open=True),
    "lr_scheduler_factor": _float("auto", low_open=True, high=1, auto=True),
    "lr_scheduler_minimum_lr": _float("auto", low_open=True, auto=True),
    "lr_scheduler_step": _int("auto", auto=True),
    "margin": _float(1.0, low_open=True),
    "mini_batch_size": _int(1000),
    "momentum": _float("auto", high=1, high_open=True, auto=True),
    "normalize_data": _Spec("bool", True, auto=True),
    "normalize_label": _Spec("bool", "auto", auto=True),
    "num_calibration_samples": _int("auto", auto=True),
    "num_models": _int("auto", auto=True),
    "num_point_for_scaler": _int(10_000),
    "optimizer": _Spec("choice", "auto", choices=("auto", "sgd", "adam", "rmsprop")),
    "positive_example_weight_mult": _Spec("float", 1.0, 0, None, low_open=True),
    "quantile": _float(0.5, low_open=True, high=1, high_open=True),
    "target_precision": _float(0.8, low_open=True, high=1, high_open=True),
    "target_recall": _float(0.8, low_open=True, high=1, high_open=True),
    "unbias_data": _Spec("bool", "auto", auto=True),
    "unbias_label": _Spec("bool", "auto", auto=True),
    "use_bias": _Spec("bool", True),
    "use_lr_scheduler": _Spec("bool", True),
    "wd": _float("auto", auto=True),
}


def parse_hyperparameters(given: Mapping[str, str], log: Log) -> dict[str, Any]:
    """Typed values with the documented defaults; a missing, unknown or bad value is a ClientError."""
    values: dict[str, Any] = {}
    for name, raw in given.items():
        if name.startswith("_"):  # SageMaker-internal names (_tuning_objective_metric, _kvstore, ...)
            log(f"hyperparameter {name} is ignored locally")
            continue
        spec = SPECS.get(name)
        if spec is None:
            raise _bad_hyperparameter(f"Additional properties are not allowed ({name!r} was unexpected)")
        if name == "positive_example_weight_mult" and str(raw).strip().lower() in ("auto", "balanced"):
            values[name] = str(raw).strip().lower()
            continue
        values[name] = spec.parse(name, raw)
    if "predictor_type" not in values:
        raise _bad_hyperparameter("'predictor_type' is a required property")
    for name, spec in SPECS.items():
        values.setdefault(name, spec.default)
    predictor = values["predictor_type"]
    if predictor == "multiclass_classifier" and values["num_classes"] is None:
        raise _bad_hyperparameter("num_classes is required when predictor_type is multiclass_classifier")
    if predictor != "multiclass_classifier" and "num_classes" in given:
        raise _bad_hyperparameter(f"num_classes applies to predictor_type multiclass_classifier only, not {predictor}")
    if values["loss"] not in LOSSES[predictor]:
        raise _bad_hyperparameter(
            f"loss {values['loss']} is not valid for predictor_type {predictor}: "
            f"use one of {', '.join(LOSSES[predictor])}"
        )
    return values
