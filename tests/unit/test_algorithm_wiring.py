"""Files that cannot import the algorithm registry must still name every algorithm in it.

template.yaml (the SageMaker execution role's image-pull ARNs) and docs/openapi.json (the API's
``algorithm`` enum, the inference options) are data; these tests compare them with the registry
(``sagedrop.algorithms``), so an algorithm added to the registry fails here until both say it.
The local stack's trainers are checked in tests/local/test_local_algorithms.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from sagedrop import algorithms, manifest
from sagedrop.errors import ManifestError, Problem
from tests.support.template import ROOT, load_template

OPENAPI = ROOT / "docs" / "openapi.json"
ECR_REPOSITORY_ARN = re.compile(r"arn:\$\{AWS::Partition\}:ecr:\$\{AWS::Region\}:\*:repository/(?P<name>[a-z0-9._/-]+)")


def _statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template["Resources"].items():
        for policy in resource.get("Properties", {}).get("Policies", []) or []:
            if isinstance(policy, dict) and "PolicyDocument" in policy:
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield logical_id, statement


def template_pull_repositories(template: dict[str, Any]) -> set[str]:
    """The ECR repositories of the template's ``PullAlgorithmImages`` statement (``!Sub`` ARNs)."""
    found = [s for _, s in _statements(template) if s.get("Sid") == "PullAlgorithmImages"]
    assert len(found) == 1, "template.yaml should hold one PullAlgorithmImages statement"
    names = set()
    for arn in found[0]["Resource"]:
        text = arn["Fn::Sub"] if isinstance(arn, dict) else arn
        match = ECR_REPOSITORY_ARN.fullmatch(text)
        assert match, f"not an ECR repository ARN of this partition and region: {text!r}"
        names.add(match["name"])
    return names


def registry_repositories() -> set[str]:
    return {repo for algorithm in algorithms.all_algorithms() for repo in algorithm.image_repositories()}


def test_the_execution_role_pulls_the_images_of_every_algorithm_and_no_other() -> None:
    """Each algorithm's ``image_repositories()`` has its ARN in template.yaml's ``PullAlgorithmImages``
    (a missing one: add ``!Sub arn:${AWS::Partition}:ecr:${AWS::Region}:*:repository/<repository>``)."""
    in_template = template_pull_repositories(load_template())
    expected = registry_repositories()
    assert sorted(expected - in_template) == [], "template.yaml PullAlgorithmImages misses these repositories"
    assert sorted(in_template - expected) == [], (
        "template.yaml PullAlgorithmImages grants repositories no algorithm uses"
    )


def _algorithm_schemas(document: Any) -> Iterator[dict[str, Any]]:
    """Every schema of an ``algorithm`` property in the OpenAPI document."""
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "properties" and isinstance(value, dict) and isinstance(value.get("algorithm"), dict):
                yield value["algorithm"]
            yield from _algorithm_schemas(value)
    elif isinstance(document, list):
        for value in document:
            yield from _algorithm_schemas(value)


def test_the_api_document_enumerates_every_algorithm() -> None:
    """docs/openapi.json (scripts/openapi.py renders it from sagedrop.api) lists the registry's names in
    every ``algorithm`` enum (a stale document: run ``make openapi``)."""
    document = json.loads(OPENAPI.read_text())
    enums = [schema["enum"] for schema in _algorithm_schemas(document) if "enum" in schema]
    assert len(enums) >= 2  # GET /models and GET /models/{model}
    for enum in enums:
        assert enum == list(algorithms.NAMES)


def test_the_api_document_declares_every_inference_option() -> None:
    """The prediction request's ``configuration`` object declares every inference option an algorithm
    takes (``Algorithm.inference_options``; add it to sagedrop.api PREDICTION_REQUEST)."""
    request = json.loads(OPENAPI.read_text())["paths"]["/models/{model}/predictions"]["post"]["requestBody"]
    configuration = request["content"]["application/json"]["schema"]["properties"]["configuration"]
    for algorithm in algorithms.all_algorithms():
        for option in algorithm.inference_options:
            assert option.name in configuration["properties"], (algorithm.name, option.name)


def test_template_parameters_name_no_algorithm() -> None:
    """Parameter descriptions say which algorithms use them by their facts (GPU-only training or
    hosting), not by a list of names that a new algorithm would leave stale."""
    for name, parameter in load_template()["Parameters"].items():
        for algorithm in algorithms.NAMES:
            assert algorithm not in parameter.get("Description", ""), (name, algorithm)


# --------------------------------------------------------------------------------------------
# Facts other modules read instead of testing names: each one complete where it is set
# --------------------------------------------------------------------------------------------

RECORDIO_PROTOBUF = "application/x-recordio-protobuf"


def test_csv_conversion_targets_a_train_channel_that_takes_both_types() -> None:
    """``convert: recordio-protobuf`` turns CSV channels into RecordIO-protobuf: the algorithm's train
    channel must accept both (its module cites the content types)."""
    converting = algorithms.having("converts_csv_to_recordio")
    assert converting, "no algorithm converts: the manifest's convert would always be refused"
    for algorithm in converting:
        train = algorithm.channel("train")
        assert train is not None and {"text/csv", RECORDIO_PROTOBUF} <= set(train.allowed_content_types), algorithm


def test_label_bins_algorithms_say_how_to_train_a_classifier() -> None:
    for algorithm in algorithms.having("numeric_csv_label"):
        assert algorithm.multiclass_hint, algorithm
        assert algorithm.channel("train").default_content_type == "text/csv", algorithm


def test_required_channel_files_come_with_a_hint() -> None:
    for algorithm in algorithms.all_algorithms():
        for channel in algorithm.channels:
            if channel.required_files:
                assert all(name in channel.files_hint for name in channel.required_files), (algorithm, channel.name)


def _problems(data: dict[str, Any]) -> dict[str, Problem]:
    with pytest.raises(ManifestError) as caught:
        manifest.parse(data, default_name="m")
    return {problem.path: problem for problem in caught.value.problems}


def test_label_bins_and_convert_refusals_name_the_algorithms_they_apply_to() -> None:
    """The manifest reads these facts from the registry; the sentences are the ones it said by name."""
    text = _problems({"algorithm": "blazingtext", "hyperparameters": {"mode": "supervised"}, "label_bins": 3})
    assert text["$.label_bins"].hint == "label_bins applies to linear-learner and xgboost CSV data"
    regressor = _problems({"algorithm": "xgboost", "hyperparameters": {"num_round": 5}, "label_bins": 3})
    assert regressor["$.label_bins"].hint == (
        "use predictor_type multiclass_classifier with num_classes (linear-learner) "
        "or objective multi:softmax with num_class (xgboost), equal to label_bins"
    )
    converted = _problems({"algorithm": "seq2seq", "convert": "recordio-protobuf"})
    assert converted["$.convert"].hint == "convert applies to linear-learner and xgboost CSV channels"
