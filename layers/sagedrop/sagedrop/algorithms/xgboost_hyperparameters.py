"""What each SageMaker XGBoost image version accepts as hyperparameters: one table per version.

The container validates every hyperparameter before training and fails the job (already billed) on
any name it does not declare ("Extraneous hyperparameter found"), on a value outside the declared
range, and on a broken dependency. The declarations differ per image version, so sagedrop keeps one
table per version, read from the version's branch of github.com/aws/sagemaker-xgboost-container:

* ``src/sagemaker_xgboost_container/algorithm_mode/hyperparameter_validation.py``: names, types,
  ranges, enum values, dependency validators, aliases;
* ``src/sagemaker_xgboost_container/constants/xgb_constants.py``: ``XGB_MAXIMIZE_METRICS`` and
  ``XGB_MINIMIZE_METRICS`` (the eval_metric range and the ``validation:*`` metrics of
  ``algorithm_mode/metrics.py``);
* ``src/sagemaker_algorithm_toolkit/hyperparameter_validation.py``: how a value is parsed (a
  comma-separated list is ``value.split(",")``, not stripped; an integer is ``int(value)``) and the
  order of the checks (required, extraneous, parse, range, dependencies).

Each :class:`VersionTable` records the branch and the commit it was read at. The tables are data; the
types that are the same in every version (checked by diffing the branches) live once in ``_COMMON``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from sagedrop.algorithms.base import Bool, Choice, Float, HyperParameter, Int, ParamType
from sagedrop.errors import Problem

REPOSITORY = "github.com/aws/sagemaker-xgboost-container"
VALIDATION_FILE = "src/sagemaker_xgboost_container/algorithm_mode/hyperparameter_validation.py"
ORDER: tuple[str, ...] = ("1.0-1", "1.2-1", "1.2-2", "1.3-1", "1.5-1", "1.7-1")
"""Image versions, oldest first (for "available from" / "removed in")."""

LINEAR_UPDATERS = ("shotgun", "coord_descent")
PROCESS_UPDATE_UPDATERS = ("refresh", "prune")


@dataclass(frozen=True)
class VersionTable:
    """One image version's declarations, as read from its branch."""

    version: str
    branch: str
    commit: str
    names: tuple[str, ...]
    """Every user-settable hyperparameter the version declares (the ``_``-prefixed ones are in ``internal``)."""
    internal: tuple[str, ...]
    """Declared, but set by SageMaker itself (automatic model tuning, cross-validation)."""
    objectives: tuple[str, ...]
    tree_methods: tuple[str, ...]
    predictors: tuple[str, ...]
    updaters: tuple[str, ...]
    """The ``updater`` range (CommaSeparatedListHyperparameter): every name must be in it."""
    tree_updaters: tuple[str, ...]
    """``updater_validator``'s ``valid_tree_plugins`` (booster not gblinear, process_type not update)."""
    grow_updaters: tuple[str, ...]
    """``valid_tree_build_plugins``: at most one of them in one updater list."""
    maximize_metrics: tuple[str, ...]
    minimize_metrics: tuple[str, ...]
    eval_metric_reads_objective: str
    """``eval_metric_dep_validator`` reads ``dependencies["objective"]``: ``"always"``, or ``"auc"`` (only
    when auc is asked for). Without an objective that is a KeyError, and the job fails."""

    @property
    def source(self) -> str:
        return f"{REPOSITORY} branch {self.branch} @ {self.commit[:12]}, {VALIDATION_FILE}"


_NAMES_1_0 = (
    "alpha", "base_score", "booster", "colsample_bylevel", "colsample_bynode", "colsample_bytree", "csv_weights",
    "dsplit", "early_stopping_rounds", "eta", "eval_metric", "gamma", "grow_policy", "interaction_constraints",
    "lambda", "lambda_bias", "max_bin", "max_delta_step", "max_depth", "max_leaves", "min_child_weight",
    "monotone_constraints", "normalize_type", "nthread", "num_class", "num_parallel_tree", "num_round", "objective",
    "one_drop", "predictor", "process_type", "rate_drop", "refresh_leaf", "sample_type", "save_model_on_termination",
    "scale_pos_weight", "seed", "silent", "sketch_eps", "skip_drop", "subsample", "tree_method",
    "tweedie_variance_power", "updater", "verbosity",
)  # fmt: skip
_NAMES_1_2 = (
    "aft_loss_distribution", "aft_loss_distribution_scale", "alpha", "base_score", "booster", "colsample_bylevel",
    "colsample_bynode", "colsample_bytree", "csv_weights", "deterministic_histogram", "dsplit",
    "early_stopping_rounds", "eta", "eval_metric", "gamma", "grow_policy", "interaction_constraints", "lambda",
    "lambda_bias", "max_bin", "max_delta_step", "max_depth", "max_leaves", "min_child_weight", "monotone_constraints",
    "normalize_type", "nthread", "num_class", "num_parallel_tree", "num_round", "objective", "one_drop", "predictor",
    "process_type", "rate_drop", "refresh_leaf", "sample_type", "save_model_on_termination", "scale_pos_weight",
    "seed", "single_precision_histogram", "sketch_eps", "skip_drop", "subsample", "tree_method",
    "tweedie_variance_power", "updater", "verbosity",
)  # fmt: skip
_NAMES_1_3 = (
    "aft_loss_distribution", "aft_loss_distribution_scale", "alpha", "base_score", "booster", "colsample_bylevel",
    "colsample_bynode", "colsample_bytree", "csv_weights", "deterministic_histogram", "dsplit",
    "early_stopping_rounds", "eta", "eval_metric", "gamma", "grow_policy", "interaction_constraints", "lambda",
    "lambda_bias", "max_bin", "max_delta_step", "max_depth", "max_leaves", "min_child_weight", "monotone_constraints",
    "normalize_type", "nthread", "num_class", "num_parallel_tree", "num_round", "objective", "one_drop", "predictor",
    "prob_buffer_row", "process_type", "rate_drop", "refresh_leaf", "sample_type", "sampling_method",
    "save_model_on_termination", "scale_pos_weight", "seed", "single_precision_histogram", "sketch_eps", "skip_drop",
    "subsample", "tree_method", "tweedie_variance_power", "updater", "verbosity",
)  # fmt: skip
_NAMES_1_5 = (
    "aft_loss_distribution", "aft_loss_distribution_scale", "alpha", "base_score", "booster", "colsample_bylevel",
    "colsample_bynode", "colsample_bytree", "csv_weights", "deterministic_histogram", "dsplit",
    "early_stopping_rounds", "eta", "eval_metric", "gamma", "grow_policy", "interaction_constraints", "lambda",
    "lambda_bias", "max_bin", "max_delta_step", "max_depth", "max_leaves", "min_child_weight", "monotone_constraints",
    "normalize_type", "nthread", "num_class", "num_parallel_tree", "num_round", "objective", "one_drop", "predictor",
    "prob_buffer_row", "process_type", "rate_drop", "refresh_leaf", "sample_type", "sampling_method",
    "save_model_on_termination", "scale_pos_weight", "seed", "single_precision_histogram", "sketch_eps", "skip_drop",
    "subsample", "tree_method", "tweedie_variance_power", "updater", "use_dask_gpu_training", "verbosity",
)  # fmt: skip
_NAMES_1_7 = (
    "aft_loss_distribution", "aft_loss_distribution_scale", "alpha", "base_score", "booster", "colsample_bylevel",
    "colsample_bynode", "colsample_bytree", "csv_weights", "deterministic_histogram", "dsplit",
    "early_stopping_rounds", "eta", "eval_metric", "gamma", "grow_policy", "interaction_constraints", "lambda",
    "lambda_bias", "max_bin", "max_delta_step", "max_depth", "max_leaves", "min_child_weight", "monotone_constraints",
    "normalize_type", "nthread", "num_class", "num_parallel_tree", "num_round", "objective", "one_drop", "predictor",
    "prob_buffer_row", "process_type", "rate_drop", "refresh_leaf", "sample_type", "sampling_method",
    "save_model_on_termination", "scale_pos_weight", "seed", "sketch_eps", "skip_drop", "subsample", "tree_method",
    "tweedie_variance_power", "updater", "use_dask_gpu_training", "verbosity",
)  # fmt: skip

# The objective range. From 1.2-1 the container also lists "aft_loss_distribution" there, which is a
# parameter, not an XGBoost objective (https://xgboost.readthedocs.io/en/release_1.7.0/parameter.html,
# "Learning Task Parameters"): XGBoost would fail the job on it, so sagedrop leaves it out.
_OBJECTIVES_1_0 = (
    "binary:hinge", "binary:logistic", "binary:logitraw", "count:poisson", "multi:softmax", "multi:softprob",
    "rank:map", "rank:ndcg", "rank:pairwise", "reg:gamma", "reg:linear", "reg:logistic", "reg:squarederror",
    "reg:squaredlogerror", "reg:tweedie", "survival:cox",
)  # fmt: skip
_OBJECTIVES_1_2 = (*_OBJECTIVES_1_0, "reg:pseudohubererror", "survival:aft")
_OBJECTIVES_1_7 = (*_OBJECTIVES_1_2, "reg:absoluteerror")

# The updater range and updater_validator's lists. grow_quantile_histmaker is in valid_tree_plugins
# but never in the range, which the toolkit checks first: every version refuses it.
_UPDATERS_1_0 = (
    "coord_descent", "distcol", "grow_colmaker", "grow_histmaker", "grow_local_histmaker", "grow_skmaker", "prune",
    "refresh", "shotgun", "sync",
)  # fmt: skip
_UPDATERS_1_7 = tuple(u for u in _UPDATERS_1_0 if u != "grow_local_histmaker")
_TREE_UPDATERS_1_0 = (
    "grow_colmaker", "distcol", "grow_histmaker", "grow_local_histmaker", "grow_skmaker", "sync", "refresh", "prune",
    "grow_quantile_histmaker",
)  # fmt: skip
_TREE_UPDATERS_1_7 = tuple(u for u in _TREE_UPDATERS_1_0 if u != "grow_local_histmaker")
_GROW_UPDATERS_1_0 = ("grow_colmaker", "distcol", "grow_histmaker", "grow_local_histmaker", "grow_quantile_histmaker")
_GROW_UPDATERS_1_7 = ("grow_colmaker", "distcol", "grow_histmaker", "grow_quantile_histmaker")

# constants/xgb_constants.py per branch.
_MAX_1_0 = ("accuracy", "auc", "aucpr", "f1", "map", "ndcg")
_MAX_1_2_1 = (*_MAX_1_0, "r2")
_MAX_1_2_2 = (*_MAX_1_2_1, "f1_binary", "f1_macro")
_MAX_1_3 = (
    *_MAX_1_2_2, "balanced_accuracy", "precision", "precision_macro", "precision_micro", "recall", "recall_macro",
    "recall_micro",
)  # fmt: skip
_MIN_1_0 = (
    "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik", "logloss", "mae", "merror", "mlogloss", "mse",
    "poisson-nloglik", "rmse", "rmsle", "tweedie-nloglik",
)  # fmt: skip
_MIN_1_2 = (*_MIN_1_0, "aft-nloglik", "interval-regression-accuracy", "mphe")
_MIN_1_3 = (*_MIN_1_2, "mape")

_TREE_METHODS = ("auto", "exact", "approx", "hist", "gpu_hist")
_PREDICTORS = ("auto", "cpu_predictor", "gpu_predictor")

TABLES: dict[str, VersionTable] = {
    "1.0-1": VersionTable(
        "1.0-1", "1.0-1", "0c7a3b8942f8cd75ea1c9e3c32bb83ea4b69b0a5", _NAMES_1_0, ("_tuning_objective_metric",),
        _OBJECTIVES_1_0, _TREE_METHODS[:4], ("cpu_predictor",), _UPDATERS_1_0, _TREE_UPDATERS_1_0,
        _GROW_UPDATERS_1_0, _MAX_1_0, _MIN_1_0, "auc",
    ),
    "1.2-1": VersionTable(
        "1.2-1", "1.2-1", "0d8f55de0bec7e7afe29923b217714a592ff5d77", _NAMES_1_2,
        ("_nfold", "_tuning_objective_metric"), _OBJECTIVES_1_2, _TREE_METHODS, _PREDICTORS, _UPDATERS_1_0,
        _TREE_UPDATERS_1_0, _GROW_UPDATERS_1_0, _MAX_1_2_1, _MIN_1_2, "always",
    ),
    "1.2-2": VersionTable(
        "1.2-2", "1.2-2", "dd637a025b8e644ab356a182fab4cd628b123b97", _NAMES_1_2,
        ("_kfold", "_num_cv_round", "_tuning_objective_metric"), _OBJECTIVES_1_2, _TREE_METHODS, _PREDICTORS,
        _UPDATERS_1_0, _TREE_UPDATERS_1_0, _GROW_UPDATERS_1_0, _MAX_1_2_2, _MIN_1_2, "always",
    ),
    "1.3-1": VersionTable(
        "1.3-1", "1.3-1", "07ece4c7b4984690560406ec66a68176820ee921", _NAMES_1_3,
        ("_kfold", "_num_cv_round", "_tuning_objective_metric"), _OBJECTIVES_1_2, _TREE_METHODS, _PREDICTORS,
        _UPDATERS_1_0, _TREE_UPDATERS_1_0, _GROW_UPDATERS_1_0, _MAX_1_3, _MIN_1_3, "always",
    ),
    "1.5-1": VersionTable(
        "1.5-1", "1.5-1", "4eef773aab5c9e38a9ba945c8ad31c24d764d44a", _NAMES_1_5,
        ("_kfold", "_num_cv_round", "_tuning_objective_metric"), _OBJECTIVES_1_2, _TREE_METHODS, _PREDICTORS,
        _UPDATERS_1_0, _TREE_UPDATERS_1_0, _GROW_UPDATERS_1_0, _MAX_1_3, _MIN_1_3, "always",
    ),
    "1.7-1": VersionTable(
        "1.7-1", "1.7-1", "f7a93a21e50e44b4077f0889a7f676cad8c226f3", _NAMES_1_7,
        ("_kfold", "_num_cv_round", "_tuning_objective_metric"), _OBJECTIVES_1_7, _TREE_METHODS, _PREDICTORS,
        _UPDATERS_1_7, _TREE_UPDATERS_1_7, _GROW_UPDATERS_1_7, _MAX_1_3, _MIN_1_3, "always",
    ),
}  # fmt: skip

ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda", "reg_alpha": "alpha"}
"""``declare_alias`` in every version: the container renames the alias to the key before validating."""


# --------------------------------------------------------------------------------------------
# Value types for the list-shaped hyperparameters
# --------------------------------------------------------------------------------------------


def _items(value: Any) -> list[str] | None:
    if isinstance(value, list):
        return [str(item).strip() for item in value]
    if isinstance(value, str):
        return [item.strip() for item in value.split(",")]
    return None


@dataclass(frozen=True)
class NameList(ParamType):
    """Comma-separated names from a fixed set (``updater``). Sent without spaces: the container splits
    on "," and does not strip, so "a, b" would be refused."""

    options: tuple[str, ...] = ()

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "comma-separated names from " + ", ".join(self.options)

    def convert(self, value: Any) -> tuple[Any, str]:
        items = _items(value)
        if not items or any(not item for item in items):
            raise ValueError(f"got {value!r}")
        wrong = [item for item in items if item not in self.options]
        if wrong:
            raise ValueError(f"got {', '.join(repr(w) for w in wrong)}")
        return tuple(items), ",".join(items)


@dataclass(frozen=True)
class EvalMetrics(ParamType):
    """Comma-separated eval_metric names; ``error``, ``ndcg`` and ``map`` take an ``@<number>`` threshold
    (eval_metric_range_validator)."""

    names: tuple[str, ...] = ()

    @property
    def expected(self) -> str:  # type: ignore[override]
        return 'comma-separated XGBoost metric names (e.g. "auc" or "error@0.7,logloss")'

    def convert(self, value: Any) -> tuple[Any, str]:
        items = _items(value)
        if not items:
            raise ValueError(f"got {value!r}")
        for item in items:
            name, at, threshold = item.partition("@")
            if at:
                if name.strip() not in ("error", "ndcg", "map"):
                    raise ValueError(f"got {item!r}; only error, ndcg and map take an @threshold")
                if not re.fullmatch(r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*", threshold):
                    raise ValueError(f"got {item!r}; the threshold after @ must be a number")
            elif name not in self.names:
                raise ValueError(f"got {item!r}")
        return tuple(items), ",".join(items)


@dataclass(frozen=True)
class MonotoneConstraints(ParamType):
    """A tuple of -1, 0 and 1 (TupleHyperparameter, range [-1, 0, 1]): the container ``eval``s the
    string and iterates it, so one constraint must be written ``(1,)``; sagedrop writes it so."""

    @property
    def expected(self) -> str:  # type: ignore[override]
        return 'a list of -1, 0 and 1, e.g. [0, 1, -1] or "(0,1,-1)"'

    def convert(self, value: Any) -> tuple[Any, str]:
        if isinstance(value, str):
            text = value.strip()
            if not (text.startswith("(") and text.endswith(")")):
                raise ValueError(f"got {value!r}")
            parts = [part.strip() for part in text[1:-1].split(",")]
            parts = parts[:-1] if parts and parts[-1] == "" else parts
        elif isinstance(value, list):
            parts = [str(item) if not isinstance(item, bool) else "x" for item in value]
        else:
            raise ValueError(f"got {value!r}")
        if not parts or any(part not in ("-1", "0", "1") for part in parts):
            raise ValueError(f"got {value!r}")
        numbers = tuple(int(part) for part in parts)
        return numbers, "(" + ",".join(parts) + ("," if len(parts) == 1 else "") + ")"


@dataclass(frozen=True)
class InteractionConstraints(ParamType):
    """Lists of feature indices (NestedListHyperparameter, range Interval(min_closed=1): every index
    must be at least 1, so feature 0 cannot appear)."""

    @property
    def expected(self) -> str:  # type: ignore[override]
        return 'a list of lists of feature indices >= 1, e.g. [[1, 2], [3, 4, 5]] or "[[1,2],[3,4,5]]"'

    def convert(self, value: Any) -> tuple[Any, str]:
        parsed = value
        if isinstance(value, str):
            try:
                parsed = json.loads(value)
            except ValueError:
                raise ValueError(f"got {value!r}") from None
        ok = isinstance(parsed, list) and parsed
        ok = ok and all(isinstance(group, list) and group for group in parsed)
        ok = ok and all(type(i) is int and i >= 1 for group in parsed for i in group)
        if not ok:
            raise ValueError(f"got {value!r}")
        groups = tuple(tuple(group) for group in parsed)
        return groups, json.dumps([list(group) for group in groups], separators=(",", ":"))


def _unit(min_open: bool = False) -> Float:
    return Float(minimum=0, maximum=1, min_open=min_open)


# Types that are the same in every version that declares the name (the ranges were compared across
# the six branches). Integer 0/1 flags go as 1/0 (Bool numeric); Categorical ["true", "false"] as
# true/false (Bool lower).
_COMMON: dict[str, ParamType] = {
    "num_round": Int(minimum=1),
    "num_class": Int(minimum=2),
    "alpha": Float(minimum=0),
    "aft_loss_distribution": Choice(("normal", "logistic", "extreme")),
    "aft_loss_distribution_scale": Float(minimum=0),
    "base_score": Float(minimum=0),
    "booster": Choice(("gbtree", "gblinear", "dart")),
    "colsample_bylevel": _unit(min_open=True),
    "colsample_bynode": _unit(min_open=True),
    "colsample_bytree": _unit(min_open=True),
    "csv_weights": Bool(style="numeric"),
    "deterministic_histogram": Bool(),
    "dsplit": Choice(("row", "col")),
    "early_stopping_rounds": Int(minimum=1),
    "eta": _unit(),
    "gamma": Float(minimum=0),
    "grow_policy": Choice(("depthwise", "lossguide")),
    "interaction_constraints": InteractionConstraints(),
    "lambda": Float(minimum=0),
    "lambda_bias": _unit(),
    "max_bin": Int(minimum=0),
    "max_delta_step": Float(minimum=0),
    "max_depth": Int(minimum=0),
    "max_leaves": Int(minimum=0),
    "min_child_weight": Float(minimum=0),
    "monotone_constraints": MonotoneConstraints(),
    "normalize_type": Choice(("tree", "forest")),
    "nthread": Int(minimum=1),
    "num_parallel_tree": Int(minimum=1),
    "one_drop": Bool(style="numeric"),
    "prob_buffer_row": Int(minimum=2),  # Interval(min_open=1.0)
    "process_type": Choice(("default", "update")),
    "rate_drop": _unit(),
    "refresh_leaf": Bool(style="numeric"),
    "sample_type": Choice(("uniform", "weighted")),
    "sampling_method": Choice(("uniform", "gradient_based")),
    "save_model_on_termination": Bool(),
    "scale_pos_weight": Float(minimum=0, min_open=True),
    "seed": Int(minimum=-(2**31) + 1, maximum=2**31 - 2),  # Interval(min_open=-2**31, max_open=2**31-1)
    "silent": Bool(style="numeric"),
    "single_precision_histogram": Bool(),
    "sketch_eps": Float(minimum=0, maximum=1, min_open=True, max_open=True),
    "skip_drop": _unit(),
    "subsample": _unit(min_open=True),
    "tweedie_variance_power": Float(minimum=1, maximum=2, min_open=True, max_open=True),
    "use_dask_gpu_training": Bool(),
    "verbosity": Int(minimum=0, maximum=3),
}


def _type(name: str, table: VersionTable) -> ParamType:
    if name == "objective":
        return Choice(table.objectives)
    if name == "tree_method":
        return Choice(table.tree_methods)
    if name == "predictor":
        return Choice(table.predictors)
    if name == "updater":
        return NameList(table.updaters)
    if name == "eval_metric":
        return EvalMetrics(table.maximize_metrics + table.minimize_metrics)
    return _COMMON[name]


def _specs(table: VersionTable) -> tuple[HyperParameter, ...]:
    """The table's names (num_round first), then the aliases with their key's type."""
    names = ("num_round", *sorted(n for n in table.names if n != "num_round"))
    specs = [HyperParameter(name, _type(name, table), required=name == "num_round") for name in names]
    specs.extend(HyperParameter(alias, _type(key, table)) for alias, key in ALIASES.items())
    return tuple(specs)


@cache
def hyperparameters_for(version: str | None) -> tuple[HyperParameter, ...]:
    """The hyperparameters ``version`` declares; None: the union over every version (to read records)."""
    if version is not None:
        return _specs(TABLES[version])
    union = VersionTable(
        "any", "any", "", tuple(sorted({n for t in TABLES.values() for n in t.names})), (),
        *(tuple(dict.fromkeys(x for t in TABLES.values() for x in getattr(t, f))) for f in (
            "objectives", "tree_methods", "predictors", "updaters", "tree_updaters", "grow_updaters",
            "maximize_metrics", "minimize_metrics",
        )),
        "always",
    )  # fmt: skip
    return _specs(union)


def spec(name: str, version: str | None) -> HyperParameter | None:
    return next((h for h in hyperparameters_for(version) if h.name == name), None)


# --------------------------------------------------------------------------------------------
# "available from version X" / "removed in X"
# --------------------------------------------------------------------------------------------


def _span(accepting: list[str], version: str) -> str:
    """Where the versions in ``accepting`` lie relative to ``version``, in words."""
    if not accepting:
        return ""
    here = ORDER.index(version)
    positions = [ORDER.index(v) for v in accepting]
    if min(positions) > here:
        return f"available from version {accepting[0]}"
    if max(positions) < here:
        removed = ORDER[max(positions) + 1]
        return f"removed in version {removed} (last in {accepting[-1]})"
    return "accepted by versions " + ", ".join(accepting)


def name_availability(name: str, version: str) -> str:
    """Why ``name`` is refused by ``version`` when another version declares it ("" when none does)."""
    canonical = ALIASES.get(name, name)
    if any(canonical in TABLES[v].internal for v in ORDER):
        return "internal"
    return _span([v for v in ORDER if v != version and canonical in TABLES[v].names], version)


def value_availability(name: str, value: Any, version: str) -> str:
    """For a value ``version`` refuses: which other versions take it ("" when none does)."""
    accepting = []
    for other in ORDER:
        other_spec = spec(name, other) if other != version else None
        if other_spec is None:
            continue
        try:
            other_spec.type.convert(value)
        except ValueError:
            continue
        accepting.append(other)
    return _span(accepting, version)


# --------------------------------------------------------------------------------------------
# Dependency validators that differ per version
# --------------------------------------------------------------------------------------------


def dependency_problems(values: Mapping[str, Any], path: str, version: str) -> list[Problem]:
    """``eval_metric_dep_validator`` and ``updater_validator`` of ``version``."""
    table = TABLES[version]
    problems: list[Problem] = []
    metrics = values.get("eval_metric") or ()
    reads_objective = table.eval_metric_reads_objective == "always" or "auc" in metrics
    if metrics and reads_objective and "objective" not in values:
        asked = "eval_metric" if table.eval_metric_reads_objective == "always" else "eval_metric auc"
        problems.append(
            Problem(
                f"{path}.objective",
                f"the xgboost {version} container reads objective to check {asked} and fails the job "
                "(KeyError 'objective') when it is not set",
                'add "objective", e.g. "reg:squarederror" (XGBoost\'s default) or "binary:logistic"',
            )
        )
    updaters = values.get("updater")
    if updaters:
        problems.extend(_updater_problems(tuple(updaters), values, f"{path}.updater", table))
    return problems


def _updater_problems(updaters: tuple[str, ...], values: Mapping[str, Any], path: str, table: VersionTable):
    if values.get("booster") == "gblinear":
        if len(updaters) != 1 or updaters[0] not in LINEAR_UPDATERS:
            return [Problem(path, "booster gblinear takes exactly one updater", "use shotgun or coord_descent")]
        return []
    if values.get("process_type") == "update":
        if any(u not in PROCESS_UPDATE_UPDATERS for u in updaters):
            return [Problem(path, "process_type update takes the updaters refresh and prune only", "use refresh,prune")]
        return []
    usable = [u for u in table.tree_updaters if u in table.updaters]
    wrong = [u for u in updaters if u not in table.tree_updaters]
    if wrong:
        return [
            Problem(
                path,
                f"{', '.join(wrong)} {'is a linear updater' if len(wrong) == 1 else 'are linear updaters'} "
                "and the booster is a tree booster",
                f'set "booster": "gblinear", or use tree updaters: {", ".join(usable)}',
            )
        ]
    grow = [u for u in updaters if u in table.grow_updaters]
    if len(grow) > 1:
        return [Problem(path, f"only one tree grow updater may be given, got {', '.join(grow)}", "keep one of them")]
    return []
