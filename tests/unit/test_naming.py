import copy
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from aws_lambda_powertools.utilities.data_classes import S3Event

from sagedrop import naming
from sagedrop.errors import Problem
from tests.conftest import load_event


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


def test_dropped_objects_carry_bucket_decoded_key_version_etag_and_the_events_own_time():
    """One DroppedObject per record of an S3 notification (layout:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html; `versionId` only
    on a versioned bucket, `eTag` absent on deletions): the key URL-decoded, an empty ETag None, the
    time the event's (a redelivery keeps its name), not the clock's."""
    event = load_event("train", "s3-put-training-json.json")
    unversioned = copy.deepcopy(event["Records"][0])
    unversioned["eventTime"] = "2026-11-27T08:00:00Z"
    unversioned["s3"]["object"] = {"key": "other/x%2By/training.json", "eTag": "", "size": 1}
    event["Records"].append(unversioned)

    first, second = naming.dropped_objects(S3Event(event))

    assert first == naming.DroppedObject(
        bucket="sagedrop-data-123456789012-a1b2c3d4e5f6",
        key="my model/training.json",
        version="096fKKXTRTtl3on89fVO.nfljtsv6qko",
        etag="0123456789abcdef0123456789abcdef",
        time=datetime(2026, 11, 26, 10, 15, 30, 123000, tzinfo=UTC),
    )
    assert first.uri == "s3://sagedrop-data-123456789012-a1b2c3d4e5f6/my model/training.json"
    assert (second.key, second.version, second.etag) == ("other/x+y/training.json", None, None)
    assert second.time == datetime(2026, 11, 27, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("key", "model"),
    [
        ("a/b/c/training.json", "c"),  # the innermost folder, not everything after the first slash
        ("data/XGBoost MAX/training.json", "XGBoost-MAX"),  # capital X at either end is kept
        ("x/" + "a" * 39 + " b/training.json", "a" * 39),  # cut at 40 on a hyphen: the hyphen goes
        ("x/--churn--/training.json", "churn"),
    ],
)
def test_model_name_is_the_innermost_folder_cut_and_trimmed(key, model):
    assert naming.model_name_from_key(key) == model
    assert naming.check_model_name(model) == []


def test_model_name_problems_say_where_what_and_how():
    """40 characters is the limit (63 for a job name, less `-yyyymmdd-HHMMSS-abcdef`): 40 passes, 41 fails;
    a name that is not a string is a problem, not a crash; each problem names its JSON path and a hint."""
    assert naming.check_model_name("a" * 40) == []
    [empty] = naming.check_model_name("")
    assert empty == Problem("$.name", "the model name is empty", 'name the folder or set "name" in the manifest')
    assert naming.check_model_name(123, "$.model") == [
        Problem("$.model", "the model name is empty", 'name the folder or set "name" in the manifest')
    ]
    [long] = naming.check_model_name("a" * 41, "$.x")
    assert long == Problem("$.x", f"{'a' * 41!r} is 41 characters long", "use at most 40 characters")
    [invalid] = naming.check_model_name("churn_2")
    assert invalid.path == "$.name" and "single hyphens" in invalid.hint


@pytest.fixture
def tokyo_clock(monkeypatch: pytest.MonkeyPatch):
    """The process's local time zone set to UTC+9 (POSIX TZ, man tzset), so a conversion to local time shows."""
    monkeypatch.setenv("TZ", "JST-9")  # POSIX form: needs no time zone database
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_event_times_are_utc_whatever_the_local_time_zone(tokyo_clock):
    paris = datetime(2026, 11, 26, 11, 15, 30, tzinfo=timezone(timedelta(hours=1)))
    for value in (paris, "2026-11-26T11:15:30+01:00", "2026-11-26T10:15:30Z"):
        parsed = naming.parse_event_time(value)
        assert parsed == datetime(2026, 11, 26, 10, 15, 30, tzinfo=UTC) and parsed.utcoffset() == timedelta(0)
    before = datetime.now(UTC)
    now = naming.parse_event_time(None)
    assert now.utcoffset() == timedelta(0) and before <= now <= datetime.now(UTC)


def test_model_of_job_gives_back_a_name_it_did_not_make_whole():
    assert naming.model_of_job("churn-model-20261126-101530-abcdef") == "churn-model"
    assert naming.model_of_job("my-endpoint") == "my-endpoint"


def test_the_endpoint_is_named_after_the_model_unless_overridden():
    assert naming.endpoint_name("churn") == "churn"
    assert naming.endpoint_name("churn", "churn-prod") == "churn-prod"
