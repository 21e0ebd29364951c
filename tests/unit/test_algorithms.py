"""The five algorithm modules: images, hyperparameters, combination rules, channels, instances, labels, metrics.

Expected image URIs are written out by hand from the SageMaker docs' registry tables and the SDK's
image_uri_config files, not computed from the module under test.
"""

from __future__ import annotations

from typing import Any

import pytest

from sagedrop import algorithms
from sagedrop.algorithms.base import Algorithm
from sagedrop.algorithms.blazingtext import ALGORITHM as BT
from sagedrop.algorithms.image_classification import ALGORITHM as IC
from sagedrop.algorithms.linear_learner import ALGORITHM as LL
from sagedrop.algorithms.seq2seq import ALGORITHM as S2S
from sagedrop.algorithms.xgboost import ALGORITHM as XGB
from sagedrop.errors import Problem

HP = "$.hyperparameters"
CH = "$.channels"


def resolve(algorithm: Algorithm, given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], list[Problem]]:
    return algorithm.resolve_hyperparameters(given, HP)


def paths(problems: list[Problem]) -> list[str]:
    return [p.path for p in problems]


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


# ---------------------------------------------------------------------------------------------
# Registry and images
# ---------------------------------------------------------------------------------------------


def test_registry_returns_each_module() -> None:
    assert [a.name for a in algorithms.all_algorithms()] == [
        "linear-learner",
        "xgboost",
        "blazingtext",
        "image-classification",
        "seq2seq",
    ]
    assert algorithms.get("xgboost") is XGB
    assert algorithms.get("seq2seq") is S2S


@pytest.mark.parametrize(
    ("algorithm", "region", "version", "uri"),
    [
        (LL, "us-east-1", None, "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"),
        (LL, "ap-southeast-2", None, "712309505854.dkr.ecr.ap-southeast-2.amazonaws.com/linear-learner:1"),
        (LL, "cn-north-1", None, "390948362332.dkr.ecr.cn-north-1.amazonaws.com.cn/linear-learner:1"),
        (BT, "us-east-1", None, "811284229777.dkr.ecr.us-east-1.amazonaws.com/blazingtext:1"),
        (BT, "eu-west-1", None, "685385470294.dkr.ecr.eu-west-1.amazonaws.com/blazingtext:1"),
        (IC, "cn-north-1", None, "390948362332.dkr.ecr.cn-north-1.amazonaws.com.cn/image-classification:1"),
        (IC, "us-west-2", None, "433757028032.dkr.ecr.us-west-2.amazonaws.com/image-classification:1"),
        (S2S, "eu-west-1", None, "685385470294.dkr.ecr.eu-west-1.amazonaws.com/seq2seq:1"),
        (S2S, "us-gov-west-1", None, "226302683700.dkr.ecr.us-gov-west-1.amazonaws.com/seq2seq:1"),
        (XGB, "us-east-1", None, "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"),
        (XGB, "us-west-2", "1.5-1", "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.5-1"),
        (XGB, "eu-west-1", "1.0-1", "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.0-1-cpu-py3"),
        (
            XGB,
            "cn-northwest-1",
            None,
            "451049120500.dkr.ecr.cn-northwest-1.amazonaws.com.cn/sagemaker-xgboost:1.7-1",
        ),
    ],
)
def test_image_uri(algorithm: Algorithm, region: str, version: str | None, uri: str) -> None:
    assert algorithm.image_uri(region, version) == uri
    assert algorithm.inference_image_uri(region, version) == uri


def test_linear_learner_account_differs_from_blazingtext_in_us_east_1() -> None:
    ll = LL.image_uri("us-east-1").split(".", 1)[0]
    bt = BT.image_uri("us-east-1").split(".", 1)[0]
    assert (ll, bt) == ("382416733822", "811284229777")


@pytest.mark.parametrize("algorithm", [LL, XGB, BT, IC, S2S], ids=lambda a: a.name)
def test_unknown_region_raises_key_error_naming_the_regions(algorithm: Algorithm) -> None:
    with pytest.raises(KeyError) as info:
        algorithm.image_uri("mars-north-1")
    text = str(info.value)
    assert "mars-north-1" in text
    assert "us-east-1" in text
    assert "eu-west-1" in text
    assert "37 regions" in text


def test_every_algorithm_is_in_37_regions() -> None:
    assert {a.name: len(a.regions()) for a in algorithms.all_algorithms()} == {
        "linear-learner": 37,
        "xgboost": 37,
        "blazingtext": 37,
        "image-classification": 37,
        "seq2seq": 37,
    }


def test_versions_and_defaults() -> None:
    assert XGB.default_version == "1.7-1"
    assert XGB.versions == ("1.7-1", "1.5-1", "1.3-1", "1.2-2", "1.2-1", "1.0-1")
    for algorithm in (LL, BT, IC, S2S):
        assert (algorithm.default_version, algorithm.versions) == ("1", ("1",))


@pytest.mark.parametrize("version", ["0.90-1", "0.72", "3.0-5", "1"])
def test_xgboost_rejects_unsupported_versions(version: str) -> None:
    with pytest.raises(KeyError, match="has no version"):
        XGB.image_uri("us-east-1", version)


def test_names_titles_repositories() -> None:
    assert [(a.name, a.repository) for a in (LL, XGB, BT, IC, S2S)] == [
        ("linear-learner", "linear-learner"),
        ("xgboost", "sagemaker-xgboost"),
        ("blazingtext", "blazingtext"),
        ("image-classification", "image-classification"),
        ("seq2seq", "seq2seq"),
    ]
    assert all(a.title for a in (LL, XGB, BT, IC, S2S))


# ---------------------------------------------------------------------------------------------
# Linear learner
# ---------------------------------------------------------------------------------------------


def test_ll_predictor_type_is_required_without_default() -> None:
    _, _, problems = resolve(LL, {})
    problem = only(problems)
    assert problem.path == "$.hyperparameters.predictor_type"
    assert "requires 'predictor_type'" in problem.message
    assert "binary_classifier" in problem.hint


def test_ll_feature_dim_is_optional_and_auto() -> None:
    typed, wire, problems = resolve(LL, {"predictor_type": "regressor"})
    assert problems == []
    assert wire == {"predictor_type": "regressor"}
    assert LL.expected_feature_count(typed) is None
    typed, wire, problems = resolve(LL, {"predictor_type": "regressor", "feature_dim": "auto"})
    assert (problems, wire["feature_dim"], LL.expected_feature_count(typed)) == ([], "auto", None)
    typed, wire, problems = resolve(LL, {"predictor_type": "regressor", "feature_dim": 13})
    assert (problems, wire["feature_dim"], LL.expected_feature_count(typed)) == ([], "13", 13)


def test_ll_wire_values() -> None:
    _, wire, problems = resolve(
        LL,
        {
            "predictor_type": "binary_classifier",
            "epochs": 20,
            "use_bias": False,
            "normalize_data": "auto",
            "learning_rate": 0.01,
            "positive_example_weight_mult": "balanced",
            "target_recall": 0.9,
        },
    )
    assert problems == []
    assert wire == {
        "predictor_type": "binary_classifier",
        "epochs": "20",
        "use_bias": "false",
        "normalize_data": "auto",
        "learning_rate": "0.01",
        "positive_example_weight_mult": "balanced",
        "target_recall": "0.9",
    }


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("epochs", 0, "expected an integer >= 1, got 0"),
        ("epochs", "many", "expected an integer >= 1, got 'many'"),
        ("epochs", 2.5, "not a whole number"),
        ("num_classes", 2, "expected an integer >= 3 and <= 1e+06, got 2"),
        ("target_precision", 1, "expected a number > 0 and < 1, got 1"),
        ("positive_example_weight_mult", -1, 'expected a number > 0 or "auto" or "balanced"'),
        ("positive_example_weight_mult", "heavy", "got 'heavy'"),
        ("optimizer", "adagrad", "expected one of auto, sgd, adam, rmsprop"),
        ("use_bias", "yes", "expected true or false"),
        ("wd", -0.1, "got -0.1"),
    ],
)
def test_ll_type_and_range_errors_carry_the_json_path(name: str, value: Any, expected: str) -> None:
    _, _, problems = resolve(LL, {"predictor_type": "regressor", name: value})
    problem = only(problems)
    assert problem.path == f"$.hyperparameters.{name}"
    assert expected in problem.message


def test_ll_unknown_hyperparameter_says_did_you_mean() -> None:
    problem = only(resolve(LL, {"predictor_type": "regressor", "epoch": 5})[2])
    assert problem.path == "$.hyperparameters.epoch"
    assert problem.message == "linear-learner has no hyperparameter 'epoch'"
    assert problem.hint == "did you mean 'epochs'?"


def test_ll_multiclass_needs_num_classes() -> None:
    problem = only(resolve(LL, {"predictor_type": "multiclass_classifier"})[2])
    assert problem.path == "$.hyperparameters.num_classes"
    assert "requires num_classes" in problem.message
    typed, wire, problems = resolve(LL, {"predictor_type": "multiclass_classifier", "num_classes": 3})
    assert problems == []
    assert wire["num_classes"] == "3"
    assert LL.class_count(typed) == 3


@pytest.mark.parametrize("predictor", ["binary_classifier", "regressor"])
def test_ll_num_classes_outside_multiclass_is_a_warning_not_a_refusal(predictor: str) -> None:
    """https://docs.aws.amazon.com/sagemaker/latest/dg/ll_hyperparameters.html, num_classes: "Required
    when predictor_type is multiclass_classifier. Otherwise, the algorithm ignores it." """
    typed, _, problems = resolve(LL, {"predictor_type": predictor, "num_classes": 4})
    assert problems == []
    warning = only(LL.hyperparameter_warnings(typed, HP))
    assert warning.path == "$.hyperparameters.num_classes"
    assert f"ignored for predictor_type {predictor}" in warning.message
    assert LL.hyperparameter_warnings({"predictor_type": "multiclass_classifier", "num_classes": 4}, HP) == []


@pytest.mark.parametrize(
    ("predictor", "loss", "ok"),
    [
        ("binary_classifier", "logistic", True),
        ("binary_classifier", "hinge_loss", True),
        ("binary_classifier", "squared_loss", False),
        ("regressor", "huber_loss", True),
        ("regressor", "hinge_loss", False),
        ("regressor", "auto", True),
        ("multiclass_classifier", "softmax_loss", True),
        ("multiclass_classifier", "logistic", False),
    ],
)
def test_ll_loss_must_suit_predictor_type(predictor: str, loss: str, ok: bool) -> None:
    given: dict[str, Any] = {"predictor_type": predictor, "loss": loss}
    if predictor == "multiclass_classifier":
        given["num_classes"] = 5
    problems = resolve(LL, given)[2]
    if ok:
        assert problems == []
    else:
        assert paths(problems) == ["$.hyperparameters.loss"]
        assert f"does not apply to predictor_type {predictor}" in problems[0].message


@pytest.mark.parametrize(
    ("values", "label", "reason"),
    [
        ({"predictor_type": "binary_classifier"}, 0.0, None),
        ({"predictor_type": "binary_classifier"}, 1.0, None),
        ({"predictor_type": "binary_classifier"}, 2.0, "must be 0 or 1 for a binary_classifier"),
        ({"predictor_type": "binary_classifier"}, 0.5, "must be 0 or 1 for a binary_classifier"),
        ({"predictor_type": "multiclass_classifier", "num_classes": 3}, 2.0, None),
        (
            {"predictor_type": "multiclass_classifier", "num_classes": 3},
            3.0,
            "must be an integer from 0 to 2 for a multiclass_classifier",
        ),
        (
            {"predictor_type": "multiclass_classifier", "num_classes": 3},
            1.5,
            "must be an integer from 0 to 2 for a multiclass_classifier",
        ),
        (
            {"predictor_type": "multiclass_classifier", "num_classes": 3},
            -1.0,
            "must be an integer from 0 to 2 for a multiclass_classifier",
        ),
        ({"predictor_type": "regressor"}, -7.25, None),
    ],
)
def test_ll_labels(values: dict[str, Any], label: float, reason: str | None) -> None:
    assert LL.check_label(label, values) == reason


def test_ll_class_count() -> None:
    assert LL.class_count({"predictor_type": "binary_classifier"}) == 2
    assert LL.class_count({"predictor_type": "regressor"}) is None


def test_ll_metrics() -> None:
    """https://docs.aws.amazon.com/sagemaker/latest/dg/linear-learner-tuning.html ("Metrics computed by the
    linear learner algorithm"): 14 test:* and 15 validation:* metrics; validation:rmse ("only valid for
    regression", Minimize) has no test:rmse counterpart (also in awsdocs/amazon-sagemaker-developer-guide
    @ a869fa5c9bd1, doc_source/linear-learner-tuning.md)."""
    assert len(LL.metrics) == 29
    assert LL.metric("validation:rmse").better == "min"
    assert LL.metric("test:rmse") is None
    assert LL.metric("validation:objective_loss").better == "min"
    assert LL.metric("test:binary_f_beta").better == "max"
    assert LL.metric("validation:mse").better == "min"
    assert LL.metric("validation:roc_auc_score").better == "max"
    assert LL.metric("test:absolute_loss").better == "min"
    assert LL.metric("train:objective_loss") is None


def test_ll_channels() -> None:
    assert LL.channel_names == ("train", "validation", "test")
    assert [c.required for c in LL.channels] == [True, False, False]
    assert LL.check_channels({"train": "text/csv", "validation": "text/csv", "test": "text/csv"}, {}, CH) == []
    assert paths(LL.check_channels({"validation": "text/csv"}, {}, CH)) == ["$.channels.train"]
    problem = only(LL.check_channels({"train": "application/json"}, {}, CH))
    assert problem.path == "$.channels.train.content_type"
    assert "text/csv, application/x-recordio-protobuf" in problem.hint
    problem = only(LL.check_channels({"train": "text/csv", "vocab": None}, {}, CH))
    assert problem.path == "$.channels.vocab"
    train = LL.channel("train")
    assert train.content_type_for("data/train/part-0.csv") == "text/csv"
    assert train.content_type_for("data/train/part-0.pbr") == "application/x-recordio-protobuf"
    assert train.content_type_for("data/train/part-0") == "text/csv"


def test_ll_instances() -> None:
    assert LL.instance_problems("ml.m5.xlarge", "training", "$.training.instance_type") == []
    assert LL.instance_problems("ml.g5.xlarge", "hosting", "$.deploy.instance_type") == []
    assert LL.check_instance_count(4, {}, "$.training.instance_count") == []
    assert (LL.supports_distributed, LL.supports_serverless, LL.input_modes) == (True, True, ("File", "Pipe"))
    problem = only(LL.instance_problems("m5.xlarge", "training", "$.training.instance_type"))
    assert "is not a SageMaker instance type" in problem.message


# ---------------------------------------------------------------------------------------------
# XGBoost
# ---------------------------------------------------------------------------------------------


def test_xgb_num_round_is_required_without_default() -> None:
    problem = only(resolve(XGB, {})[2])
    assert problem.path == "$.hyperparameters.num_round"
    assert "requires 'num_round'" in problem.message
    assert XGB.hyperparameter("num_round").default is None


def test_xgb_wire_values() -> None:
    _, wire, problems = resolve(
        XGB,
        {
            "num_round": 100,
            "objective": "binary:logistic",
            "eta": 0.2,
            "csv_weights": True,
            "deterministic_histogram": False,
            "eval_metric": "error@0.7, logloss",
            "monotone_constraints": "(1,-1)",
            "tree_method": "hist",
        },
    )
    assert problems == []
    assert wire == {
        "num_round": "100",
        "objective": "binary:logistic",
        "eta": "0.2",
        "csv_weights": "1",
        "deterministic_histogram": "false",
        "eval_metric": "error@0.7,logloss",
        "monotone_constraints": "(1,-1)",
        "tree_method": "hist",
    }


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("num_round", 0, "expected an integer >= 1, got 0"),
        ("subsample", 0, "expected a number > 0 and <= 1, got 0"),
        ("eta", 1.5, "got 1.5"),
        ("tweedie_variance_power", 2, "expected a number > 1 and < 2"),
        ("verbosity", 4, "expected an integer >= 0 and <= 3"),
        ("objective", "binary:logistc", "did you mean 'binary:logistic'?"),
        ("tree_method", "gpu", "expected one of auto, exact, approx, hist, gpu_hist"),
        ("eval_metric", "accuracy,foo", "got 'foo'"),
        ("eval_metric", "rmse@0.5", "only error, ndcg and map take an @threshold"),
        ("eval_metric", "error@high", "the threshold after @ must be a number"),
        ("monotone_constraints", "(2,1)", "a list of -1, 0 and 1"),
        ("csv_weights", 2, "expected true or false (or 1/0)"),
    ],
)
def test_xgb_type_and_range_errors(name: str, value: Any, expected: str) -> None:
    given = {"num_round": 10, name: value} if name != "num_round" else {name: value}
    problem = only(resolve(XGB, given)[2])
    assert problem.path == f"$.hyperparameters.{name}"
    assert expected in problem.message


def test_xgb_unknown_hyperparameter_says_did_you_mean() -> None:
    problem = only(resolve(XGB, {"num_round": 10, "max_dept": 4})[2])
    assert (problem.path, problem.hint) == ("$.hyperparameters.max_dept", "did you mean 'max_depth'?")


@pytest.mark.parametrize("objective", ["multi:softmax", "multi:softprob"])
def test_xgb_multi_objectives_need_num_class(objective: str) -> None:
    problem = only(resolve(XGB, {"num_round": 10, "objective": objective})[2])
    assert problem.path == "$.hyperparameters.num_class"
    assert f"objective {objective} requires num_class" == problem.message
    typed, wire, problems = resolve(XGB, {"num_round": 10, "objective": objective, "num_class": 4})
    assert problems == []
    assert wire["num_class"] == "4"
    assert XGB.class_count(typed) == 4


@pytest.mark.parametrize("given", [{"objective": "binary:logistic"}, {}])
def test_xgb_num_class_only_for_multi_objectives(given: dict[str, Any]) -> None:
    problem = only(resolve(XGB, {"num_round": 10, "num_class": 3, **given})[2])
    assert problem.path == "$.hyperparameters.num_class"
    assert "multi:softmax and multi:softprob only" in problem.message


def test_xgb_auc_needs_a_classification_or_ranking_objective() -> None:
    problem = only(resolve(XGB, {"num_round": 10, "eval_metric": "auc"})[2])
    assert problem.path == "$.hyperparameters.eval_metric"
    assert resolve(XGB, {"num_round": 10, "eval_metric": "auc", "objective": "binary:logistic"})[2] == []
    assert resolve(XGB, {"num_round": 10, "eval_metric": "auc", "objective": "rank:pairwise"})[2] == []


def test_xgb_constraints_need_the_right_tree_method() -> None:
    problem = only(resolve(XGB, {"num_round": 10, "monotone_constraints": "(1,0)"})[2])
    assert problem.path == "$.hyperparameters.monotone_constraints"
    assert "tree_method is auto" in problem.message
    assert resolve(XGB, {"num_round": 10, "monotone_constraints": "(1,0)", "tree_method": "exact"})[2] == []
    given = {"num_round": 10, "interaction_constraints": "[[1,2],[3,4,5]]"}
    assert paths(resolve(XGB, given)[2]) == ["$.hyperparameters.interaction_constraints"]
    assert resolve(XGB, {**given, "tree_method": "approx"})[2] == []
    assert paths(resolve(XGB, {"num_round": 10, "grow_policy": "lossguide"})[2]) == ["$.hyperparameters.grow_policy"]
    assert resolve(XGB, {"num_round": 10, "grow_policy": "lossguide", "tree_method": "hist"})[2] == []


def test_xgb_dask_needs_gpu_hist_and_csv_or_parquet() -> None:
    problem = only(resolve(XGB, {"num_round": 10, "use_dask_gpu_training": True})[2])
    assert problem.path == "$.hyperparameters.use_dask_gpu_training"
    typed, wire, problems = resolve(XGB, {"num_round": 10, "use_dask_gpu_training": "true", "tree_method": "gpu_hist"})
    assert problems == []
    assert wire["use_dask_gpu_training"] == "true"
    assert XGB.check_channels({"train": "application/x-parquet", "validation": "text/csv"}, typed, CH) == []
    problem = only(XGB.check_channels({"train": "text/libsvm"}, typed, CH))
    assert problem.path == "$.channels.train.content_type"
    assert "CSV or Parquet" in problem.message
    assert XGB.check_channels({"train": "text/libsvm"}, {}, CH) == []


def test_xgb_alias_and_canonical_name_together_is_an_error() -> None:
    problem = only(resolve(XGB, {"num_round": 10, "eta": 0.1, "learning_rate": 0.2})[2])
    assert problem.path == "$.hyperparameters.learning_rate"
    assert resolve(XGB, {"num_round": 10, "learning_rate": 0.2})[2] == []


@pytest.mark.parametrize(
    ("values", "label", "reason"),
    [
        ({}, -1234.5, None),
        ({"objective": "reg:squarederror"}, 99.0, None),
        ({"objective": "binary:logistic"}, 0.0, None),
        ({"objective": "binary:logistic"}, 0.25, None),
        ({"objective": "binary:logistic"}, 1.5, "must be in [0, 1] for binary:logistic"),
        ({"objective": "reg:logistic"}, -0.1, "must be in [0, 1] for reg:logistic"),
        ({"objective": "multi:softmax", "num_class": 3}, 2.0, None),
        ({"objective": "multi:softmax", "num_class": 3}, 3.0, "must be an integer from 0 to 2 for multi:softmax"),
        ({"objective": "multi:softprob", "num_class": 3}, 0.5, "must be an integer from 0 to 2 for multi:softprob"),
        ({"objective": "count:poisson"}, -1.0, "must not be negative for count:poisson"),
        ({"objective": "reg:gamma"}, 0.0, "must be positive for reg:gamma"),
    ],
)
def test_xgb_labels(values: dict[str, Any], label: float, reason: str | None) -> None:
    assert XGB.check_label(label, values) == reason


def test_xgb_class_count() -> None:
    assert XGB.class_count({"objective": "binary:logistic"}) == 2
    assert XGB.class_count({"objective": "reg:squarederror"}) is None
    assert XGB.class_count({}) is None


def test_xgb_metrics() -> None:
    """aws/sagemaker-xgboost-container branch 1.7-1 @ f7a93a21e50e, constants/xgb_constants.py
    (XGB_MAXIMIZE_METRICS, XGB_MINIMIZE_METRICS) turned into validation:/train: metrics by
    algorithm_mode/metrics.py; directions as https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost-tuning.html."""
    assert XGB.metric("validation:rmse").better == "min"
    assert XGB.metric("validation:merror").better == "min"
    assert XGB.metric("validation:auc").better == "max"
    assert XGB.metric("validation:f1").better == "max"
    assert XGB.metric("validation:logloss").better == "min"
    assert XGB.metric("validation:ndcg").better == "max"
    assert len(XGB.metrics) == 33


def test_xgb_channels_and_instances() -> None:
    assert XGB.channel_names == ("train", "validation")
    train = XGB.channel("train")
    assert train.content_type_for("t/a.libsvm") == "text/libsvm"
    assert train.content_type_for("t/a.svm") == "text/libsvm"
    assert train.content_type_for("t/a.parquet") == "application/x-parquet"
    assert train.content_type_for("t/a.recordio") == "application/x-recordio-protobuf"
    assert paths(XGB.check_channels({"validation": "text/csv"}, {}, CH)) == ["$.channels.train"]
    assert XGB.instance_problems("ml.m5.2xlarge", "training", "$.training.instance_type") == []
    assert XGB.check_instance_count(3, {}, "$.training.instance_count") == []
    assert XGB.serving_files == () and XGB.directory_loading("1.7-1").loads_every_file  # any name: test_archive.py


# ---------------------------------------------------------------------------------------------
# BlazingText
# ---------------------------------------------------------------------------------------------


def test_bt_mode_is_required_without_default() -> None:
    problem = only(resolve(BT, {})[2])
    assert problem.path == "$.hyperparameters.mode"
    assert "batch_skipgram, skipgram, cbow, supervised" in problem.hint
    assert BT.hyperparameter("mode").default is None


def test_bt_booleans_go_as_title_case() -> None:
    _, wire, problems = resolve(BT, {"mode": "skipgram", "subwords": True, "evaluation": "false"})
    assert problems == []
    assert wire == {"mode": "skipgram", "subwords": "True", "evaluation": "False"}


@pytest.mark.parametrize(
    ("mode", "name", "value"),
    [
        ("supervised", "subwords", True),
        ("supervised", "window_size", 5),
        ("supervised", "negative_samples", 5),
        ("skipgram", "word_ngrams", 2),
        ("cbow", "early_stopping", True),
        ("batch_skipgram", "patience", 4),
    ],
)
def test_bt_parameters_of_the_other_mode_are_errors(mode: str, name: str, value: Any) -> None:
    problem = only(resolve(BT, {"mode": mode, name: value})[2])
    assert problem.path == f"$.hyperparameters.{name}"
    assert f"mode is {mode}" in problem.message


@pytest.mark.parametrize(
    ("mode", "name", "value"),
    [
        ("supervised", "word_ngrams", 3),
        ("supervised", "early_stopping", True),
        ("skipgram", "subwords", True),
        ("cbow", "window_size", 8),
        ("batch_skipgram", "batch_size", 11),
        ("supervised", "vector_dim", 50),
    ],
)
def test_bt_parameters_of_the_same_mode_are_fine(mode: str, name: str, value: Any) -> None:
    assert resolve(BT, {"mode": mode, name: value})[2] == []


@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_bt_batch_size_only_for_batch_skipgram(mode: str) -> None:
    problem = only(resolve(BT, {"mode": mode, "batch_size": 11})[2])
    assert problem.path == "$.hyperparameters.batch_size"


def test_bt_min_char_not_above_max_char() -> None:
    problem = only(resolve(BT, {"mode": "skipgram", "min_char": 7})[2])
    assert problem.path == "$.hyperparameters.min_char"
    assert "min_char (7) is larger than max_char (6)" in problem.message
    assert resolve(BT, {"mode": "skipgram", "min_char": 7, "max_char": 8})[2] == []


def test_bt_range_errors() -> None:
    problem = only(resolve(BT, {"mode": "skipgram", "sampling_threshold": 0})[2])
    assert problem.path == "$.hyperparameters.sampling_threshold"
    assert "expected a number > 0 and <= 1" in problem.message
    problem = only(resolve(BT, {"mode": "word2vec"})[2])
    assert problem.path == "$.hyperparameters.mode"


def test_bt_validation_only_in_supervised_mode() -> None:
    both = {"train": "text/plain", "validation": "text/plain"}
    assert BT.check_channels(both, {"mode": "supervised"}, CH) == []
    for mode in ("skipgram", "cbow", "batch_skipgram"):
        problem = only(BT.check_channels(both, {"mode": mode}, CH))
        assert problem.path == "$.channels.validation"
        assert "train channel only" in problem.message
    assert BT.check_channels({"train": "text/plain"}, {"mode": "cbow"}, CH) == []
    assert BT.channel("train").content_type_for("corpus/lee.txt") == "text/plain"


def test_bt_instance_count_only_batch_skipgram_distributes() -> None:
    path = "$.training.instance_count"
    assert BT.check_instance_count(4, {"mode": "batch_skipgram"}, path) == []
    assert BT.check_instance_count(1, {"mode": "supervised"}, path) == []
    for mode in ("supervised", "skipgram", "cbow"):
        problem = only(BT.check_instance_count(2, {"mode": mode}, path))
        assert problem.path == path
        assert f"mode {mode} trains on one instance only, got 2" in problem.message
    assert BT.supports_distributed is False


def test_bt_batch_skipgram_is_cpu_only() -> None:
    path = "$.training.instance_type"
    problem = only(BT.check_training_instance("ml.p3.2xlarge", {"mode": "batch_skipgram"}, path))
    assert "CPU instances" in problem.message
    assert BT.check_training_instance("ml.c5.4xlarge", {"mode": "batch_skipgram"}, path) == []
    assert BT.check_training_instance("ml.p3.2xlarge", {"mode": "skipgram"}, path) == []


def test_bt_supervised_lines_need_a_label_word() -> None:
    good = ["__label__4  linux ready for prime time , intel says", "bowled by the slower one __label__2", ""]
    assert BT.check_text_lines(good, {"mode": "supervised"}) is None
    message = BT.check_text_lines([*good[:2], "no label on this line"], {"mode": "supervised"})
    assert message is not None
    assert message.startswith("line 3 has no __label__<class> word")
    assert BT.check_text_lines(["just a sentence", "another one"], {"mode": "skipgram"}) is None


def test_bt_serving_files_and_metrics() -> None:
    """https://docs.aws.amazon.com/sagemaker/latest/dg/blazingtext-tuning.html: train:mean_rho (Word2Vec)
    and validation:accuracy (text classification), both maximized; file names from blazingtext.html."""
    assert BT.serving_files_for({"mode": "supervised"}) == ("model.bin",)
    assert BT.serving_files_for({"mode": "cbow"}) == ("vectors.bin",)
    assert BT.metric("train:mean_rho").better == "max"
    assert BT.metric("validation:accuracy").better == "max"
    assert len(BT.metrics) == 2


# ---------------------------------------------------------------------------------------------
# Image classification
# ---------------------------------------------------------------------------------------------

IC_BASE = {"num_classes": 10, "num_training_samples": 5000}


def test_ic_required_hyperparameters_have_no_default() -> None:
    problems = resolve(IC, {})[2]
    assert paths(problems) == ["$.hyperparameters.num_classes", "$.hyperparameters.num_training_samples"]
    assert IC.hyperparameter("num_classes").default is None
    assert IC.hyperparameter("num_training_samples").default is None


def test_ic_wire_values() -> None:
    _, wire, problems = resolve(
        IC,
        {
            **IC_BASE,
            "use_pretrained_model": True,
            "early_stopping": True,
            "image_shape": "3, 224, 224",
            "lr_scheduler_step": [10, 20],
            "num_layers": 50,
        },
    )
    assert problems == []
    assert wire == {
        "num_classes": "10",
        "num_training_samples": "5000",
        "use_pretrained_model": "1",
        "early_stopping": "True",
        "image_shape": "3,224,224",
        "lr_scheduler_step": "10,20",
        "num_layers": "50",
    }


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("num_layers", 19, "expected one of 18, 34, 50, 101, 152, 200, 20, 32, 44, 56, 110, got 19"),
        ("image_shape", "3,224", 'expected "num_channels,height,width"'),
        ("top_k", 1, "expected an integer >= 2"),
        ("learning_rate", 2, "expected a number >= 0 and <= 1"),
        ("optimizer", "adamw", "did you mean 'adam'?"),
        ("precision_dtype", "float64", "expected one of float32, float16"),
        ("num_classes", 0, "expected an integer >= 1"),
    ],
)
def test_ic_type_and_range_errors(name: str, value: Any, expected: str) -> None:
    problem = only(resolve(IC, {**IC_BASE, name: value})[2])
    assert problem.path == f"$.hyperparameters.{name}"
    assert expected in problem.message


def test_ic_pretrained_needs_a_pretrained_depth_and_224_images() -> None:
    problems = resolve(IC, {**IC_BASE, "use_pretrained_model": 1, "num_layers": 110, "image_shape": "3,32,32"})[2]
    assert paths(problems) == ["$.hyperparameters.num_layers", "$.hyperparameters.image_shape"]
    assert resolve(IC, {**IC_BASE, "use_pretrained_model": 1})[2] == []
    assert resolve(IC, {**IC_BASE, "use_pretrained_model": 0, "num_layers": 110, "image_shape": "3,32,32"})[2] == []


def test_ic_checkpoint_frequency_within_epochs() -> None:
    problem = only(resolve(IC, {**IC_BASE, "checkpoint_frequency": 40})[2])
    assert problem.path == "$.hyperparameters.checkpoint_frequency"
    assert "larger than epochs (30)" in problem.message
    assert resolve(IC, {**IC_BASE, "checkpoint_frequency": 40, "epochs": 50})[2] == []


def test_ic_lr_scheduler_step_must_increase() -> None:
    problem = only(resolve(IC, {**IC_BASE, "lr_scheduler_step": "20,10"})[2])
    assert problem.path == "$.hyperparameters.lr_scheduler_step"


def test_ic_recordio_channels() -> None:
    rec = "application/x-recordio"
    assert IC.check_channels({"train": rec, "validation": rec}, IC_BASE, CH) == []
    assert paths(IC.check_channels({"train": rec}, IC_BASE, CH)) == ["$.channels.validation"]
    problem = only(
        IC.check_channels({"train": rec, "validation": rec, "train_lst": "application/x-image"}, IC_BASE, CH)
    )
    assert problem.path == "$.channels.train_lst"
    assert "train is RecordIO" in problem.message
    problem = only(IC.check_channels({"train": rec, "validation": "application/x-image"}, IC_BASE, CH))
    assert problem.path == "$.channels.validation.content_type"
    assert IC.check_channels({"train": rec, "validation": rec, "model": "application/x-sagemaker-model"}, {}, CH) == []


def test_ic_image_channels_need_lst_files_and_resize() -> None:
    img = "application/x-image"
    problems = IC.check_channels({"train": img, "validation": img}, IC_BASE, CH)
    assert paths(problems) == ["$.channels.train_lst", "$.channels.validation_lst", "$.hyperparameters.resize"]
    full = {"train": img, "validation": img, "train_lst": img, "validation_lst": img}
    assert IC.check_channels(full, {**IC_BASE, "resize": 256}, CH) == []
    assert paths(IC.check_channels(full, IC_BASE, CH)) == ["$.hyperparameters.resize"]
    jpeg = {**full, "train": "image/jpeg", "validation": "image/png"}
    assert IC.check_channels(jpeg, {**IC_BASE, "resize": 256}, CH) == []
    problem = only(IC.check_channels({**full, "validation": "application/x-recordio"}, {**IC_BASE, "resize": 256}, CH))
    assert problem.path == "$.channels.validation.content_type"


def test_ic_content_types_by_extension() -> None:
    assert IC.channel("train").content_type_for("train/caltech.rec") == "application/x-recordio"
    assert IC.channel("train").content_type_for("train/cat/1.JPG") == "application/x-image"
    assert IC.channel("train_lst").content_type_for("train_lst/train.lst") == "application/x-image"
    assert IC.channel("model").content_type_for("model/model.tar.gz") == "application/x-sagemaker-model"


def test_ic_gpu_training_cpu_hosting() -> None:
    problem = only(IC.instance_problems("ml.m5.xlarge", "training", "$.training.instance_type"))
    assert problem.path == "$.training.instance_type"
    assert problem.message == "image-classification training needs a GPU instance, ml.m5.xlarge has none"
    assert "ml.p3.2xlarge" in problem.hint
    assert IC.instance_problems("ml.p3.2xlarge", "training", "$.training.instance_type") == []
    assert IC.instance_problems("ml.g5.2xlarge", "training", "$.training.instance_type") == []
    assert IC.instance_problems("ml.m5.large", "hosting", "$.deploy.instance_type") == []
    assert (IC.default_training_instance, IC.gpu_only_training, IC.gpu_only_hosting) == ("ml.p3.2xlarge", True, False)


def test_ic_labels_metrics_classes() -> None:
    """https://docs.aws.amazon.com/sagemaker/latest/dg/IC-tuning.html: one metric, validation:accuracy, maximized."""
    assert IC.check_label(9.0, IC_BASE) is None
    assert IC.check_label(10.0, IC_BASE) == "must be an integer class index from 0 to 9"
    assert IC.class_count(IC_BASE) == 10
    assert IC.metric("validation:accuracy").better == "max"
    assert len(IC.metrics) == 1


# ---------------------------------------------------------------------------------------------
# Seq2seq
# ---------------------------------------------------------------------------------------------


def test_s2s_needs_no_hyperparameters() -> None:
    assert resolve(S2S, {}) == ({}, {}, [])


def test_s2s_wire_values_and_ranges() -> None:
    _, wire, problems = resolve(
        S2S, {"encoder_type": "cnn", "bucketing_enabled": False, "bleu_sample_size": -1, "max_num_batches": -1}
    )
    assert problems == []
    assert wire == {
        "encoder_type": "cnn",
        "bucketing_enabled": "false",
        "bleu_sample_size": "-1",
        "max_num_batches": "-1",
    }
    problem = only(resolve(S2S, {"bleu_sample_size": -2})[2])
    assert problem.path == "$.hyperparameters.bleu_sample_size"
    problem = only(resolve(S2S, {"embed_dropout_source": 1.5})[2])
    assert "expected a number >= 0 and <= 1" in problem.message
    problem = only(resolve(S2S, {"rnn_cell_type": "gru2"})[2])
    assert "did you mean 'gru'?" in problem.message
    problem = only(resolve(S2S, {"num_layer_encoder": 2})[2])
    assert problem.hint == "did you mean 'num_layers_encoder'?"


def test_s2s_momentum_only_with_sgd() -> None:
    problem = only(resolve(S2S, {"momentum": 0.9})[2])
    assert problem.path == "$.hyperparameters.momentum"
    assert "optimizer_type is adam" in problem.message
    assert paths(resolve(S2S, {"momentum": 0.9, "optimizer_type": "rmsprop"})[2]) == ["$.hyperparameters.momentum"]
    assert resolve(S2S, {"momentum": 0.9, "optimizer_type": "sgd"})[2] == []


def test_s2s_residual_connections_need_stacked_layers() -> None:
    problem = only(resolve(S2S, {"rnn_residual_connections": True})[2])
    assert problem.path == "$.hyperparameters.rnn_residual_connections"
    assert resolve(S2S, {"rnn_residual_connections": True, "num_layers_encoder": 2})[2] == []
    assert resolve(S2S, {"rnn_residual_connections": False})[2] == []


def test_s2s_channels_all_required() -> None:
    rec = "application/x-recordio-protobuf"
    assert [c.required for c in S2S.channels] == [True, True, True]
    assert S2S.check_channels({"train": rec, "validation": rec, "vocab": None}, {}, CH) == []
    assert paths(S2S.check_channels({"train": rec, "validation": rec}, {}, CH)) == ["$.channels.vocab"]
    assert paths(S2S.check_channels({"train": rec}, {}, CH)) == ["$.channels.validation", "$.channels.vocab"]
    problem = only(S2S.check_channels({"train": "text/csv", "validation": rec, "vocab": None}, {}, CH))
    assert problem.path == "$.channels.train.content_type"
    assert S2S.channel("train").content_type_for("train/train.rec") == rec
    assert S2S.channel("vocab").content_type_for("vocab/vocab.src.json") is None


def test_s2s_gpu_only_for_training_cpu_for_hosting() -> None:
    """Training: https://docs.aws.amazon.com/sagemaker/latest/dg/seq-2-seq.html (GPU instances only).
    Hosting: aws/amazon-sagemaker-examples @ a75d5f253ef1, introduction_to_amazon_algorithms/
    seq2seq_translation_en-de/SageMaker-Seq2Seq-Translation-English-German.ipynb hosts on ml.m4.xlarge."""
    assert S2S.instance_problems("ml.m4.xlarge", "hosting", "$.deploy.instance_type") == []
    assert S2S.instance_problems("ml.m5.large", "hosting", "$.deploy.instance_type") == []
    assert only(S2S.instance_problems("ml.c5.xlarge", "training", "$.training.instance_type")).path == (
        "$.training.instance_type"
    )
    assert S2S.instance_problems("ml.g5.xlarge", "training", "$.training.instance_type") == []
    assert S2S.instance_problems("ml.p3.2xlarge", "hosting", "$.deploy.instance_type") == []
    assert only(S2S.check_instance_count(2, {}, "$.training.instance_count")).path == "$.training.instance_count"
    assert (S2S.supports_serverless, S2S.supports_distributed, S2S.input_modes) == (False, False, ("File",))
    assert (S2S.default_training_instance, S2S.default_hosting_instance) == ("ml.p3.2xlarge", "ml.m5.xlarge")
    assert S2S.cpu_hosting_instance == "ml.m5.xlarge"


def test_s2s_metrics() -> None:
    """https://docs.aws.amazon.com/sagemaker/latest/dg/seq-2-seq-tuning.html: validation:accuracy and
    validation:bleu maximized, validation:perplexity minimized."""
    assert S2S.metric("validation:perplexity").better == "min"
    assert S2S.metric("validation:bleu").better == "max"
    assert S2S.metric("validation:accuracy").better == "max"
    assert len(S2S.metrics) == 3


# ---------------------------------------------------------------------------------------------
# Cross-cutting facts
# ---------------------------------------------------------------------------------------------


def test_instance_and_hosting_facts() -> None:
    facts = {
        a.name: (a.gpu_only_training, a.gpu_only_hosting, a.supports_serverless, a.supports_network_isolation)
        for a in algorithms.all_algorithms()
    }
    assert facts == {
        "linear-learner": (False, False, True, True),
        "xgboost": (False, False, True, True),
        "blazingtext": (False, False, True, True),
        "image-classification": (True, False, True, True),
        "seq2seq": (True, False, False, True),
    }


def test_every_metric_direction_is_max_or_min_and_names_are_unique() -> None:
    for algorithm in algorithms.all_algorithms():
        names = [m.name for m in algorithm.metrics]
        assert len(names) == len(set(names)), algorithm.name
        assert {m.better for m in algorithm.metrics} <= {"max", "min"}
        assert all(":" in name for name in names)


def test_every_hyperparameter_name_is_unique_and_defaults_convert() -> None:
    for algorithm in algorithms.all_algorithms():
        names = [h.name for h in algorithm.hyperparameters]
        assert len(names) == len(set(names)), algorithm.name
        for spec in algorithm.hyperparameters:
            if spec.default is not None:
                spec.type.convert(spec.default)


def test_default_instances_satisfy_the_gpu_rules() -> None:
    for algorithm in algorithms.all_algorithms():
        assert algorithm.instance_problems(algorithm.default_training_instance, "training", "$") == []
        assert algorithm.instance_problems(algorithm.default_hosting_instance, "hosting", "$") == []
