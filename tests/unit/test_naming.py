from datetime import UTC, datetime

import pytest

from sagedrop import naming


def test_s3_keys_are_url_decoded_with_plus_for_space():
    assert naming.decode_key("my+model/training.json") == "my model/training.json"
    assert naming.decode_key("a%2Bb/c%3Dd/training.json") == "a+b/c=d/training.json"


@pytest.mark.parametrize(
    ("key", "model"),
    [
        ("my model/training.json", "my-model"),
        ("data/churn_v2/training.json", "churn-v2"),
        ("data/Über Modell!/training.json", "ber-Modell"),
        ("training.json", ""),
        ("x/" + "a" * 80 + "/training.json", "a" * 40),
    ],
)
def test_model_name_from_the_manifest_folder(key, model):
    assert naming.model_name_from_key(key) == model


def test_job_name_is_deterministic_valid_and_bounded():
    when = datetime(2026, 11, 26, 10, 15, 30, tzinfo=UTC)
    digest = naming.event_hash("bucket", "my model/training.json", "v1")
    name = naming.job_name("my-model", when, digest)
    assert name == f"my-model-20261126-101530-{digest}"
    assert len(digest) == 6 and int(digest, 16) >= 0
    assert naming.job_name("my-model", when, naming.event_hash("bucket", "my model/training.json", "v1")) == name
    assert naming.event_hash("bucket", "my model/training.json", "v2") != digest
    long = naming.job_name("m" * 40, when, digest)
    assert len(long) == 63
    assert naming.model_of_job(name) == "my-model"


def test_event_time_parsing():
    assert naming.parse_event_time("2026-11-26T10:15:30.123Z") == datetime(2026, 11, 26, 10, 15, 30, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "ok"),
    [("churn", True), ("churn-2", True), ("-churn", False), ("churn_2", False), ("a" * 41, False), ("", False)],
)
def test_model_name_rules(name, ok):
    assert (naming.check_model_name(name) == []) is ok
