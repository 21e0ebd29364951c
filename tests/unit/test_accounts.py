"""The ECR registry facts in sagedrop.algorithms.accounts.

Expected values were read from the SageMaker Python SDK's image_uri_config JSON files
(aws/sagemaker-python-sdk), not computed from the module under test.
"""

from __future__ import annotations

import re

import pytest

from sagedrop.algorithms import accounts, all_algorithms
from sagedrop.algorithms.accounts import (
    BUILTIN,
    LINEAR_LEARNER,
    XGBOOST,
    XGBOOST_LEGACY,
    XGBOOST_LEGACY_REPOSITORY,
    XGBOOST_VERSIONS,
    ecr_domain,
)

TABLES = {
    "BUILTIN": BUILTIN,
    "LINEAR_LEARNER": LINEAR_LEARNER,
    "XGBOOST": XGBOOST,
    "XGBOOST_LEGACY": XGBOOST_LEGACY,
}

# region -> (BUILTIN, LINEAR_LEARNER, XGBOOST)
SPOT_CHECKS = {
    "us-east-1": ("811284229777", "382416733822", "683313688378"),
    "us-west-2": ("433757028032", "174872318107", "246618743249"),
    "eu-west-1": ("685385470294", "438346466558", "141502667606"),
    "ap-southeast-2": ("544295431143", "712309505854", "783357654285"),
    "cn-north-1": ("390948362332", "390948362332", "450853457545"),
    "us-gov-west-1": ("226302683700", "226302683700", "414596584902"),
    "us-gov-east-1": ("237065988967", "237065988967", "237065988967"),
    "us-iso-east-1": ("490574956308", "490574956308", "833128469047"),
}

REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+){1,2}-\d+$")
ACCOUNT = re.compile(r"^\d{12}$")


@pytest.mark.parametrize(("region", "expected"), SPOT_CHECKS.items())
def test_spot_checks(region: str, expected: tuple[str, str, str]) -> None:
    assert (BUILTIN[region], LINEAR_LEARNER[region], XGBOOST[region]) == expected


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2", "cn-north-1"])
def test_legacy_xgboost_uses_the_builtin_accounts(region: str) -> None:
    assert XGBOOST_LEGACY[region] == BUILTIN[region]


def test_linear_learner_has_its_own_map() -> None:
    assert LINEAR_LEARNER["us-east-1"] != BUILTIN["us-east-1"]
    differing = sorted(r for r in BUILTIN if LINEAR_LEARNER[r] != BUILTIN[r])
    assert differing == [
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-southeast-2",
        "eu-central-1",
        "eu-west-1",
        "us-east-1",
        "us-east-2",
        "us-west-2",
    ]


@pytest.mark.parametrize(
    ("name", "count"),
    [("BUILTIN", 37), ("LINEAR_LEARNER", 37), ("XGBOOST", 37), ("XGBOOST_LEGACY", 33)],
)
def test_region_counts(name: str, count: int) -> None:
    assert len(TABLES[name]) == count


def test_first_party_and_framework_tables_cover_the_same_regions() -> None:
    assert set(BUILTIN) == set(LINEAR_LEARNER) == set(XGBOOST)
    assert set(BUILTIN) - set(XGBOOST_LEGACY) == {
        "ca-west-1",
        "il-central-1",
        "us-isof-east-1",
        "us-isof-south-1",
    }


@pytest.mark.parametrize("name", TABLES)
def test_every_account_is_twelve_digits(name: str) -> None:
    bad = {r: a for r, a in TABLES[name].items() if not ACCOUNT.match(a)}
    assert bad == {}


@pytest.mark.parametrize("name", TABLES)
def test_every_region_looks_like_a_region(name: str) -> None:
    bad = [r for r in TABLES[name] if not REGION.match(r)]
    assert bad == []


@pytest.mark.parametrize("name", TABLES)
def test_regions_are_written_in_alphabetical_order(name: str) -> None:
    assert list(TABLES[name]) == sorted(TABLES[name])


def test_repositories() -> None:
    """Each algorithm module's ``repository`` is the "repository" field of its image_uri_config file."""
    assert {a.name: a.repository for a in all_algorithms()} == {
        "linear-learner": "linear-learner",
        "xgboost": "sagemaker-xgboost",
        "blazingtext": "blazingtext",
        "image-classification": "image-classification",
        "seq2seq": "seq2seq",
    }
    assert XGBOOST_LEGACY_REPOSITORY == "xgboost"


def test_xgboost_versions() -> None:
    for version in ("1.0-1", "1.2-1", "1.2-2", "1.3-1", "1.5-1", "1.7-1", "3.0-5"):
        assert version in XGBOOST_VERSIONS
    assert XGBOOST_VERSIONS[0] == "0.90-1"
    assert XGBOOST_VERSIONS[-1] == "3.2-0"
    assert len(set(XGBOOST_VERSIONS)) == len(XGBOOST_VERSIONS)
    assert set(accounts.XGBOOST_CPU_PY3_VERSIONS) <= set(XGBOOST_VERSIONS)
    assert set(accounts.XGBOOST_GRAVITON_VERSIONS) <= set(XGBOOST_VERSIONS)


@pytest.mark.parametrize(
    ("region", "domain"),
    [
        ("us-east-1", "amazonaws.com"),
        ("eu-west-1", "amazonaws.com"),
        ("il-central-1", "amazonaws.com"),
        ("us-gov-west-1", "amazonaws.com"),
        ("cn-north-1", "amazonaws.com.cn"),
        ("cn-northwest-1", "amazonaws.com.cn"),
        ("us-iso-east-1", "c2s.ic.gov"),
        ("us-isob-east-1", "sc2s.sgov.gov"),
        ("us-isof-south-1", "csp.hci.ic.gov"),
        ("eu-isoe-west-1", "cloud.adc-e.uk"),
    ],
)
def test_ecr_domain(region: str, domain: str) -> None:
    assert ecr_domain(region) == domain


def test_a_published_image_uri_can_be_rebuilt() -> None:
    # A URI people use in the wild for XGBoost 1.7-1 in us-east-1.
    region = "us-east-1"
    uri = f"{XGBOOST[region]}.dkr.ecr.{region}.{ecr_domain(region)}/sagemaker-xgboost:1.7-1"
    assert uri == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    cn = f"{BUILTIN['cn-north-1']}.dkr.ecr.cn-north-1.{ecr_domain('cn-north-1')}/blazingtext:1"
    assert cn == "390948362332.dkr.ecr.cn-north-1.amazonaws.com.cn/blazingtext:1"
