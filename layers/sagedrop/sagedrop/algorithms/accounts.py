"""ECR registry facts for the five SageMaker built-in algorithms sagedrop runs.

An image URI is ``<account>.dkr.ecr.<region>.<ecr_domain(region)>/<repository>:<tag>``.
The account differs per algorithm family and region; this module holds those
facts as plain data so the package never needs the SageMaker SDK at run time.

Source (facts only, no code): the SageMaker Python SDK's ``image_uri_config``
JSON files in the public repository aws/sagemaker-python-sdk:

- ``src/sagemaker/image_uri_config/{linear-learner,xgboost,blazingtext,
  image-classification,seq2seq}.json`` (the SDK v2 line), and
- ``sagemaker-core/src/sagemaker/core/image_uri_config/`` (the same files in the
  v3 line).

Copies read: linear-learner at commit 132fb947 (src tree); blazingtext and
image-classification at 3203e499 and xgboost at 2ef567ca (sagemaker-core tree);
seq2seq at b76191db (src tree, 35 regions: BUILTIN without the two us-isof
regions). The tables below were then taken from the same files as released in
sagemaker-core 2.27.0 (files dated 2026-10-21): the same length and values as
the first four copies, and for seq2seq the same values plus the two us-isof
regions. sagemaker 2.257.7 (v2 line) ships the four first-party files byte for
byte the same; its xgboost.json lacks only version 3.2-0.

The SDK builds the registry host from botocore's endpoint data
(``ecr.<region>.<partition dnsSuffix>``); ``ecr_domain`` below carries the
partition DNS suffixes as data.

blazingtext, image-classification and seq2seq share one account map
(``BUILTIN``), identical in all three files. linear-learner has its own map,
which differs from ``BUILTIN`` in eight regions (ap-northeast-1,
ap-northeast-2, ap-southeast-2, eu-central-1, eu-west-1, us-east-1, us-east-2,
us-west-2).
"""

from __future__ import annotations

# Each algorithm module names its ECR repository (``Algorithm.repository``: the "repository" field
# of its file in the copies above); this module keeps the account maps, which several share.

# First-party algorithms are published under one version, used as the tag: "<repo>:1".
BUILTIN_VERSION = "1"

# Region -> account for blazingtext, image-classification and seq2seq (37 regions).
BUILTIN: dict[str, str] = {
    "af-south-1": "455444449433",
    "ap-east-1": "286214385809",
    "ap-northeast-1": "501404015308",
    "ap-northeast-2": "306986355934",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "991648021394",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "475088953585",
    "ap-southeast-2": "544295431143",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "469771592824",
    "ca-west-1": "190319476487",
    "cn-north-1": "390948362332",
    "cn-northwest-1": "387376663083",
    "eu-central-1": "813361260812",
    "eu-central-2": "680994064768",
    "eu-north-1": "669576153137",
    "eu-south-1": "257386234256",
    "eu-south-2": "104374241257",
    "eu-west-1": "685385470294",
    "eu-west-2": "644912444149",
    "eu-west-3": "749696950732",
    "il-central-1": "898809789911",
    "me-central-1": "272398656194",
    "me-south-1": "249704162688",
    "sa-east-1": "855470959533",
    "us-east-1": "811284229777",
    "us-east-2": "825641698319",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "226302683700",
    "us-iso-east-1": "490574956308",
    "us-isob-east-1": "765400339828",
    "us-isof-east-1": "108575199400",
    "us-isof-south-1": "124985052026",
    "us-west-1": "632365934929",
    "us-west-2": "433757028032",
}

# Region -> account for linear-learner (37 regions, same regions as BUILTIN).
LINEAR_LEARNER: dict[str, str] = {
    "af-south-1": "455444449433",
    "ap-east-1": "286214385809",
    "ap-northeast-1": "351501993468",
    "ap-northeast-2": "835164637446",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "991648021394",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "475088953585",
    "ap-southeast-2": "712309505854",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "469771592824",
    "ca-west-1": "190319476487",
    "cn-north-1": "390948362332",
    "cn-northwest-1": "387376663083",
    "eu-central-1": "664544806723",
    "eu-central-2": "680994064768",
    "eu-north-1": "669576153137",
    "eu-south-1": "257386234256",
    "eu-south-2": "104374241257",
    "eu-west-1": "438346466558",
    "eu-west-2": "644912444149",
    "eu-west-3": "749696950732",
    "il-central-1": "898809789911",
    "me-central-1": "272398656194",
    "me-south-1": "249704162688",
    "sa-east-1": "855470959533",
    "us-east-1": "382416733822",
    "us-east-2": "404615174143",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "226302683700",
    "us-iso-east-1": "490574956308",
    "us-isob-east-1": "765400339828",
    "us-isof-east-1": "108575199400",
    "us-isof-south-1": "124985052026",
    "us-west-1": "632365934929",
    "us-west-2": "174872318107",
}

# Open-source XGBoost framework containers (repository "sagemaker-xgboost").
# The SDK gives every framework version the same 37-region map, in the training and
# inference scopes alike, so one dict serves all of XGBOOST_VERSIONS.
XGBOOST: dict[str, str] = {
    "af-south-1": "510948584623",
    "ap-east-1": "651117190479",
    "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "720646828776",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "121021644041",
    "ap-southeast-2": "783357654285",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "341280168497",
    "ca-west-1": "190319476487",
    "cn-north-1": "450853457545",
    "cn-northwest-1": "451049120500",
    "eu-central-1": "492215442770",
    "eu-central-2": "680994064768",
    "eu-north-1": "662702820516",
    "eu-south-1": "978288397137",
    "eu-south-2": "104374241257",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-west-3": "659782779980",
    "il-central-1": "898809789911",
    "me-central-1": "272398656194",
    "me-south-1": "801668240914",
    "sa-east-1": "737474898029",
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "414596584902",
    "us-iso-east-1": "833128469047",
    "us-isob-east-1": "281123927165",
    "us-isof-east-1": "108575199400",
    "us-isof-south-1": "124985052026",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
}

# Every framework version the SDK lists, oldest first, each for training and inference.
# 3.2-0 is in the v3 tree only; the v2 line (sagemaker 2.257.7) stops at 3.0-5.
# (One older stored v2 copy listed a 2.1-0 under inference only; no released file has it.)
XGBOOST_VERSIONS: tuple[str, ...] = (
    "0.90-1",
    "0.90-2",
    "1.0-1",
    "1.2-1",
    "1.2-2",
    "1.3-1",
    "1.5-1",
    "1.7-1",
    "3.0-5",
    "3.2-0",
)

# Versions the SDK marks processors ["cpu"], py_versions ["py3"]: their tag is
# "<version>-cpu-py3" (e.g. "0.90-1-cpu-py3"); the other versions are tagged "<version>".
XGBOOST_CPU_PY3_VERSIONS: tuple[str, ...] = ("0.90-1", "0.90-2", "1.0-1")

# The SDK also lists an inference_graviton scope for 1.3-1 and 1.5-1 (same map as XGBOOST),
# tagged "<version>-arm64" (e.g. "1.5-1-arm64").
XGBOOST_GRAVITON_VERSIONS: tuple[str, ...] = ("1.3-1", "1.5-1")

# Legacy first-party XGBoost, version "1" in the SDK (its "latest" alias), repository
# "xgboost". Its accounts are BUILTIN's, but only 33 regions: no ca-west-1,
# il-central-1, us-isof-east-1 or us-isof-south-1.
XGBOOST_LEGACY_REPOSITORY = "xgboost"
XGBOOST_LEGACY_VERSION = "1"
XGBOOST_LEGACY: dict[str, str] = {
    "af-south-1": "455444449433",
    "ap-east-1": "286214385809",
    "ap-northeast-1": "501404015308",
    "ap-northeast-2": "306986355934",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "991648021394",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "475088953585",
    "ap-southeast-2": "544295431143",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "469771592824",
    "cn-north-1": "390948362332",
    "cn-northwest-1": "387376663083",
    "eu-central-1": "813361260812",
    "eu-central-2": "680994064768",
    "eu-north-1": "669576153137",
    "eu-south-1": "257386234256",
    "eu-south-2": "104374241257",
    "eu-west-1": "685385470294",
    "eu-west-2": "644912444149",
    "eu-west-3": "749696950732",
    "me-central-1": "272398656194",
    "me-south-1": "249704162688",
    "sa-east-1": "855470959533",
    "us-east-1": "811284229777",
    "us-east-2": "825641698319",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "226302683700",
    "us-iso-east-1": "490574956308",
    "us-isob-east-1": "765400339828",
    "us-west-1": "632365934929",
    "us-west-2": "433757028032",
}

# Region-name prefix -> registry DNS suffix, per AWS partition (botocore's partition
# dnsSuffix values). Checked in order; any other region is in "aws" or "aws-us-gov",
# both "amazonaws.com". "us-isob-"/"us-isof-" do not start with "us-iso-", so the
# order does not matter, but keep each prefix ending in "-".
_PARTITION_DOMAINS: tuple[tuple[str, str], ...] = (
    ("cn-", "amazonaws.com.cn"),
    ("us-iso-", "c2s.ic.gov"),
    ("us-isob-", "sc2s.sgov.gov"),
    ("us-isof-", "csp.hci.ic.gov"),
    ("eu-isoe-", "cloud.adc-e.uk"),
    ("eusc-", "amazonaws.eu"),
)
DEFAULT_DOMAIN = "amazonaws.com"


def ecr_domain(region: str) -> str:
    """Return the registry DNS suffix for ``region`` ("amazonaws.com.cn" for cn-*)."""
    for prefix, domain in _PARTITION_DOMAINS:
        if region.startswith(prefix):
            return domain
    return DEFAULT_DOMAIN
