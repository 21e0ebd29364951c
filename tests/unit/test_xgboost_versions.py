"""XGBoost hyperparameters per image version, each fact read from the version's container branch.

Source of every fact here: github.com/aws/sagemaker-xgboost-container, branch = image version,
src/sagemaker_xgboost_container/algorithm_mode/hyperparameter_validation.py (names, ranges, dependency
validators), constants/xgb_constants.py (metrics) and src/sagemaker_algorithm_toolkit/
hyperparameter_validation.py (parsing and check order). A change to the tables that contradicts the
branch fails here with the fact that was read.
"""

from __future__ import annotations

from typing import Any

import pytest

from sagedrop import manifest
from sagedrop.algorithms import xgboost_hyperparameters as xhp
from sagedrop.algorithms.xgboost import ALGORITHM as XGB
from sagedrop.errors import ManifestError, Problem

HP = "$.hyperparameters"


def resolve(version: str, given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], list[Problem]]:
    return XGB.resolve_hyperparameters({"num_round": 10, **given}, HP, version=version)


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def declared(version: str) -> set[str]:
    return {h.name for h in XGB.hyperparameters_for(version)} - set(xhp.ALIASES)


# ------------------------------------------------------------------------------------ one table per version


def test_supported_versions_are_kept_and_each_has_a_table_with_its_commit() -> None:
    """sagedrop supported 1.7-1, 1.5-1, 1.3-1, 1.2-2, 1.2-1 and 1.0-1 before the tables (xgboost.html
    "Supported versions"); each table names the branch and the commit it was read at."""
    assert XGB.versions == ("1.7-1", "1.5-1", "1.3-1", "1.2-2", "1.2-1", "1.0-1")
    assert set(xhp.TABLES) == set(XGB.versions)
    for version, table in xhp.TABLES.items():
        assert table.branch == version
        assert len(table.commit) == 40
        assert f"branch {version} @ {table.commit[:12]}" in table.source


def test_table_1_0_1() -> None:
    """Branch 1.0-1 @ 0c7a3b8942f8cd75ea1c9e3c32bb83ea4b69b0a5: 46 declared names, one of them
    _tuning_objective_metric; "silent" is declared (dropped in 1.2-1); no aft_loss_distribution,
    single_precision_histogram or deterministic_histogram; tree_method has no gpu_hist and predictor only
    cpu_predictor ("GPU training is not supported yet"); objectives lack reg:pseudohubererror and
    survival:aft; eval_metric_dep_validator reads objective only for auc; 6 maximize and 13 minimize metrics."""
    names = declared("1.0-1")
    assert len(names) == 45 and xhp.TABLES["1.0-1"].internal == ("_tuning_objective_metric",)
    assert "silent" in names
    assert not names & {"aft_loss_distribution", "single_precision_histogram", "deterministic_histogram"}
    table = xhp.TABLES["1.0-1"]
    assert table.tree_methods == ("auto", "exact", "approx", "hist")
    assert table.predictors == ("cpu_predictor",)
    assert "reg:pseudohubererror" not in table.objectives and "survival:aft" not in table.objectives
    assert "grow_local_histmaker" in table.updaters
    assert table.eval_metric_reads_objective == "auc"
    assert (len(table.maximize_metrics), len(table.minimize_metrics)) == (6, 13)


def test_table_1_2_1() -> None:
    """Branch 1.2-1 @ 0d8f55de0bec7e7afe29923b217714a592ff5d77: "silent" removed; _nfold added (internal);
    aft_loss_distribution(_scale), single_precision_histogram, deterministic_histogram added; gpu_hist and
    auto/gpu_predictor allowed; objectives gain reg:pseudohubererror and survival:aft; eval_metric_dep_validator
    reads dependencies["objective"] for every eval_metric; metrics gain r2, aft-nloglik,
    interval-regression-accuracy and mphe (7 maximize, 16 minimize)."""
    names = declared("1.2-1")
    assert len(names) == 48 and "silent" not in names
    assert {"aft_loss_distribution", "single_precision_histogram", "deterministic_histogram"} <= names
    table = xhp.TABLES["1.2-1"]
    assert table.internal == ("_nfold", "_tuning_objective_metric")
    assert "gpu_hist" in table.tree_methods and table.predictors == ("auto", "cpu_predictor", "gpu_predictor")
    assert {"reg:pseudohubererror", "survival:aft"} <= set(table.objectives)
    assert table.eval_metric_reads_objective == "always"
    assert (len(table.maximize_metrics), len(table.minimize_metrics)) == (7, 16)


def test_table_1_2_2() -> None:
    """Branch 1.2-2 @ dd637a025b8e644ab356a182fab4cd628b123b97: same names as 1.2-1; _nfold replaced by
    _kfold and _num_cv_round; metrics gain f1_binary and f1_macro (9 maximize)."""
    assert declared("1.2-2") == declared("1.2-1")
    table = xhp.TABLES["1.2-2"]
    assert table.internal == ("_kfold", "_num_cv_round", "_tuning_objective_metric")
    assert {"f1_binary", "f1_macro"} <= set(table.maximize_metrics) and len(table.maximize_metrics) == 9


def test_table_1_3_1() -> None:
    """Branch 1.3-1 @ 07ece4c7b4984690560406ec66a68176820ee921: sampling_method and prob_buffer_row added
    (50 names); metrics gain balanced_accuracy, precision*, recall* (16 maximize) and mape (17 minimize)."""
    names = declared("1.3-1")
    assert len(names) == 50 and {"sampling_method", "prob_buffer_row"} <= names
    table = xhp.TABLES["1.3-1"]
    assert (len(table.maximize_metrics), len(table.minimize_metrics)) == (16, 17)
    assert "mape" in table.minimize_metrics and "balanced_accuracy" in table.maximize_metrics


def test_table_1_5_1() -> None:
    """Branch 1.5-1 @ 4eef773aab5c9e38a9ba945c8ad31c24d764d44a: use_dask_gpu_training added (51 names);
    single_precision_histogram and grow_local_histmaker still declared."""
    names = declared("1.5-1")
    assert len(names) == 51 and "use_dask_gpu_training" in names
    assert "single_precision_histogram" in names
    assert "grow_local_histmaker" in xhp.TABLES["1.5-1"].updaters


def test_table_1_7_1() -> None:
    """Branch 1.7-1 @ f7a93a21e50e44b4077f0889a7f676cad8c226f3: single_precision_histogram removed (50
    names); grow_local_histmaker removed from the updater range and from updater_validator's lists;
    grow_quantile_histmaker is in valid_tree_plugins but not in the range, so it is refused;
    reg:absoluteerror added to the objectives."""
    names = declared("1.7-1")
    assert len(names) == 50 and "single_precision_histogram" not in names
    table = xhp.TABLES["1.7-1"]
    assert "grow_local_histmaker" not in table.updaters + table.tree_updaters + table.grow_updaters
    assert "grow_quantile_histmaker" in table.tree_updaters and "grow_quantile_histmaker" not in table.updaters
    assert "reg:absoluteerror" in table.objectives
    assert table.internal == ("_kfold", "_num_cv_round", "_tuning_objective_metric")


def test_aft_loss_distribution_is_not_offered_as_an_objective() -> None:
    """From 1.2-1 the container lists "aft_loss_distribution" in objective's range, but it is a parameter
    (xgboost.readthedocs.io release_1.7.0 parameter.html, "Learning Task Parameters"), not an objective."""
    for table in xhp.TABLES.values():
        assert "aft_loss_distribution" not in table.objectives


# ------------------------------------------------------------------------------------ what 1.7-1 refuses


def test_1_7_1_refuses_single_precision_histogram_with_the_version_that_removed_it() -> None:
    """Declared 1.2-1..1.5-1, not in 1.7-1: the container would fail with "Extraneous hyperparameter found"."""
    problem = only(resolve("1.7-1", {"single_precision_histogram": True})[2])
    assert problem.path == "$.hyperparameters.single_precision_histogram"
    assert "removed in version 1.7-1 (last in 1.5-1)" in problem.message
    assert resolve("1.5-1", {"single_precision_histogram": True})[2] == []
    assert resolve("1.5-1", {"single_precision_histogram": True})[1]["single_precision_histogram"] == "true"


def test_1_7_1_refuses_grow_local_histmaker_and_every_version_refuses_grow_quantile_histmaker() -> None:
    """updater range: 1.0-1..1.5-1 include grow_local_histmaker, 1.7-1 does not; none includes
    grow_quantile_histmaker (the toolkit checks the range before updater_validator)."""
    problem = only(resolve("1.7-1", {"updater": "grow_local_histmaker"})[2])
    assert "'grow_local_histmaker' is removed in version 1.7-1 (last in 1.5-1)" in problem.hint
    assert resolve("1.5-1", {"updater": "grow_local_histmaker"})[2] == []
    for version in xhp.ORDER:
        problem = only(resolve(version, {"updater": "grow_quantile_histmaker"})[2])
        assert problem.path == "$.hyperparameters.updater" and problem.hint == ""


def test_reg_absoluteerror_is_available_from_1_7_1() -> None:
    """objective range: reg:absoluteerror only on branch 1.7-1."""
    typed, wire, problems = resolve("1.7-1", {"objective": "reg:absoluteerror"})
    assert problems == [] and wire["objective"] == "reg:absoluteerror"
    assert XGB.reported_metrics(typed) == ("train:mae", "validation:mae")
    problem = only(resolve("1.5-1", {"objective": "reg:absoluteerror"})[2])
    assert problem.hint == "'reg:absoluteerror' is available from version 1.7-1"


@pytest.mark.parametrize(
    ("version", "given", "words"),
    [
        ("1.3-1", {"use_dask_gpu_training": True, "tree_method": "gpu_hist"}, "available from version 1.5-1"),
        ("1.2-1", {"silent": 1}, "removed in version 1.2-1 (last in 1.0-1)"),
        ("1.0-1", {"sampling_method": "uniform"}, "available from version 1.3-1"),
    ],
)
def test_names_of_other_versions_say_where_they_are(version: str, given: dict[str, Any], words: str) -> None:
    """Names per branch: use_dask_gpu_training from 1.5-1, silent only in 1.0-1, sampling_method from 1.3-1."""
    problem = only(resolve(version, given)[2])
    assert words in problem.message
    assert f"branch {version} @" in problem.hint


def test_values_of_other_versions_say_where_they_are() -> None:
    """1.0-1: tree_method range without gpu_hist, predictor only cpu_predictor; eval_metric mape from 1.3-1."""
    assert only(resolve("1.0-1", {"tree_method": "gpu_hist"})[2]).hint == "'gpu_hist' is available from version 1.2-1"
    assert only(resolve("1.0-1", {"predictor": "auto"})[2]).hint == "'auto' is available from version 1.2-1"
    problem = only(resolve("1.2-2", {"eval_metric": "mape", "objective": "reg:squarederror"})[2])
    assert problem.hint == "'mape' is available from version 1.3-1"


def test_names_set_by_sagemaker_itself_are_refused() -> None:
    """_kfold, _num_cv_round and _tuning_objective_metric are declared (tunable=False), for cross-validation
    and automatic model tuning; sagedrop runs plain training jobs."""
    problem = only(resolve("1.7-1", {"_kfold": 5})[2])
    assert "set by SageMaker itself" in problem.message


def test_eval_metric_without_objective_fails_the_container_from_1_2_1() -> None:
    """eval_metric_dep_validator: 1.2-1 and later read dependencies["objective"] for every eval_metric, a
    KeyError when objective is not given (the dependencies dict only holds given names); 1.0-1 reads it
    only when auc is asked for."""
    problem = only(resolve("1.7-1", {"eval_metric": "rmse"})[2])
    assert problem.path == "$.hyperparameters.objective"
    assert "KeyError 'objective'" in problem.message
    assert resolve("1.7-1", {"eval_metric": "rmse", "objective": "reg:squarederror"})[2] == []
    assert resolve("1.0-1", {"eval_metric": "rmse"})[2] == []
    assert only(resolve("1.0-1", {"eval_metric": "auc"})[2]).path == "$.hyperparameters.eval_metric"


def test_updater_lists_go_without_spaces_and_follow_updater_validator() -> None:
    """CommaSeparatedListHyperparameter.parse is value.split(",") without strip: "a, b" is refused, so
    sagedrop sends "a,b". updater_validator: gblinear takes exactly one of shotgun/coord_descent;
    process_type update only refresh/prune; otherwise tree updaters, at most one grow plugin."""
    _, wire, problems = resolve("1.7-1", {"updater": "grow_colmaker, prune"})
    assert problems == [] and wire["updater"] == "grow_colmaker,prune"
    assert resolve("1.7-1", {"updater": ["shotgun"], "booster": "gblinear"})[2] == []
    assert (
        "exactly one updater" in only(resolve("1.7-1", {"updater": "shotgun,prune", "booster": "gblinear"})[2]).message
    )
    assert "linear updater" in only(resolve("1.7-1", {"updater": "shotgun"})[2]).message
    given = {"updater": "grow_colmaker", "process_type": "update"}
    assert "refresh and prune only" in only(resolve("1.7-1", given)[2]).message
    assert "only one tree grow updater" in only(resolve("1.7-1", {"updater": "grow_colmaker,distcol"})[2]).message


def test_constraint_lists_are_written_the_way_the_container_reads_them() -> None:
    """TupleHyperparameter.parse evals the string and iterates it: "(1)" is an int and fails, "(1,)" works.
    NestedListHyperparameter range Interval(min_closed=1): feature index 0 is refused."""
    _, wire, problems = resolve("1.7-1", {"monotone_constraints": [1], "tree_method": "hist"})
    assert problems == [] and wire["monotone_constraints"] == "(1,)"
    assert (
        resolve("1.7-1", {"monotone_constraints": "(1, 0,-1)", "tree_method": "hist"})[1]["monotone_constraints"]
        == "(1,0,-1)"
    )
    _, wire, problems = resolve("1.7-1", {"interaction_constraints": [[1, 2], [3]], "tree_method": "hist"})
    assert problems == [] and wire["interaction_constraints"] == "[[1,2],[3]]"
    problem = only(resolve("1.7-1", {"interaction_constraints": "[[0,1]]", "tree_method": "hist"})[2])
    assert "feature indices >= 1" in problem.message


def test_num_class_with_a_non_multi_objective_stays_refused() -> None:
    """Not ignored: the container accepts it (objective_validator refuses only a missing num_class) and
    xgboost 1.7.6 then fails the job, src/objective/regression_obj.cu:52 "Invalid shape of labels"
    (reproduced with xgboost 1.7.6 for binary:logistic, reg:squarederror and reg:absoluteerror)."""
    problem = only(resolve("1.7-1", {"num_class": 3, "objective": "binary:logistic"})[2])
    assert "Invalid shape of labels" in problem.message


def test_without_a_version_the_union_reads_recorded_jobs() -> None:
    """deploy and predict retype a recorded job's strings: a 1.5-1 job's single_precision_histogram is
    still readable (version None checks against what any version declares)."""
    typed, _, problems = XGB.resolve_hyperparameters({"num_round": "10", "single_precision_histogram": "true"})
    assert problems == [] and typed["single_precision_histogram"] is True


# ------------------------------------------------------------------------------------ through the manifest


def parse(data: dict[str, Any]) -> manifest.Manifest:
    return manifest.parse({"algorithm": "xgboost", **data}, default_name="m")


def messages(exc: pytest.ExceptionInfo[ManifestError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_manifest_checks_against_its_version() -> None:
    """The default is 1.7-1; "version" picks the table."""
    hps = {"num_round": 5, "single_precision_histogram": True}
    with pytest.raises(ManifestError) as exc:
        parse({"hyperparameters": hps})
    assert "removed in version 1.7-1" in messages(exc)[0]
    assert parse({"version": "1.5-1", "hyperparameters": hps}).wire_hyperparameters["single_precision_histogram"] == (
        "true"
    )


def test_gate_metrics_follow_the_version() -> None:
    """metrics.py defines validation:<name> for XGB_MAXIMIZE_METRICS + XGB_MINIMIZE_METRICS of the branch:
    balanced_accuracy from 1.3-1."""
    hps = {"num_round": 5, "objective": "binary:logistic", "eval_metric": "balanced_accuracy"}
    gate = {"gate": {"metric": "validation:balanced_accuracy", "min": 0.5}}
    assert parse({"version": "1.3-1", "hyperparameters": hps, "deploy": gate}).deploy.gate.better == "max"
    with pytest.raises(ManifestError) as exc:
        parse({"version": "1.2-2", "hyperparameters": {**hps, "eval_metric": "auc"}, "deploy": gate})
    assert "xgboost (version 1.2-2) does not emit 'validation:balanced_accuracy'" in messages(exc)[0]
    assert "other xgboost image versions emit it" in messages(exc)[0]
