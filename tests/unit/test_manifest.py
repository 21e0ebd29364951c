import json

import pytest

from sagedrop import manifest as m
from sagedrop.errors import ManifestError


def parse(data, name="churn", **kw):
    return m.parse(data, default_name=name, **kw)


def problems(data, name="churn"):
    with pytest.raises(ManifestError) as info:
        parse(data, name)
    return {p.path: p for p in info.value.problems}


def test_minimal_xgboost_manifest_gets_every_default():
    got = parse({"algorithm": "xgboost", "hyperparameters": {"num_round": 50}})
    assert got.name == "churn"
    assert got.version == "1.7-1"
    assert got.wire_hyperparameters["num_round"] == "50"
    assert got.training.instance_type == "ml.m5.xlarge"
    assert got.training.instance_count == 1
    assert got.training.volume_gb == 30
    assert got.training.max_runtime_s == 86400
    assert got.deploy is not None and got.deploy.instance_type == "ml.m5.large"
    assert got.deploy.idle_minutes == 120
    assert got.channels is None


def test_hyperparameters_are_sent_as_strings():
    got = parse(
        {
            "algorithm": "linear-learner",
            "hyperparameters": {
                "feature_dim": 11,
                "predictor_type": "multiclass_classifier",
                "num_classes": 4,
                "mini_batch_size": 100,
            },
        }
    )
    assert got.wire_hyperparameters == {
        "feature_dim": "11",
        "predictor_type": "multiclass_classifier",
        "num_classes": "4",
        "mini_batch_size": "100",
    }
    assert all(isinstance(v, str) for v in got.wire_hyperparameters.values())


def test_every_problem_is_reported_at_once_with_its_path():
    found = problems(
        {
            "algorithm": "xgboost",
            "hyperparameters": {"num_round": 0, "max_dept": 5},
            "training": {"instance_type": "m5.xlarge", "volume": 10},
            "deploy": {"serverless": {"memory_mb": 1000}, "gate": {"metric": "validation:rmsee", "max": 1}},
            "labels": ["a", "a"],
            "colour": "blue",
        }
    )
    assert "$.hyperparameters.num_round" in found
    assert "did you mean 'max_depth'" in found["$.hyperparameters.max_dept"].hint
    assert "$.training.instance_type" in found
    assert "did you mean 'volume_gb'" in found["$.training.volume"].hint
    assert "$.deploy.serverless.memory_mb" in found
    assert "did you mean 'validation:rmse'" in found["$.deploy.gate.metric"].hint
    assert "$.labels[1]" in found
    assert "$.colour" in found


def test_unknown_algorithm_suggests_the_closest():
    found = problems({"algorithm": "xgbost"})
    assert "did you mean 'xgboost'" in found["$.algorithm"].message


def test_missing_algorithm():
    found = problems({"name": "x"})
    assert "must name an algorithm" in found["$.algorithm"].message


def test_gpu_only_algorithm_on_a_cpu_instance_is_refused():
    found = problems(
        {
            "algorithm": "image-classification",
            "hyperparameters": {"num_classes": 2, "num_training_samples": 100},
            "training": {"instance_type": "ml.m5.xlarge"},
        }
    )
    assert "needs a GPU instance" in found["$.training.instance_type"].message


def test_gpu_only_algorithm_defaults_to_a_gpu_instance():
    got = parse(
        {"algorithm": "image-classification", "hyperparameters": {"num_classes": 2, "num_training_samples": 10}}
    )
    assert got.training.instance_type == "ml.g5.xlarge"


def test_serverless_refused_for_seq2seq():
    found = problems({"algorithm": "seq2seq", "deploy": {"serverless": {"memory_mb": 2048}}})
    assert "cannot be served serverless" in found["$.deploy.serverless"].message


def test_serverless_and_instances_are_exclusive():
    found = problems(
        {
            "algorithm": "xgboost",
            "hyperparameters": {"num_round": 5},
            "deploy": {"serverless": {}, "instance_type": "ml.m5.large"},
        }
    )
    assert "not both" in found["$.deploy"].message


def test_deploy_false_trains_only():
    got = parse({"algorithm": "xgboost", "hyperparameters": {"num_round": 5}, "deploy": False})
    assert got.deploy is None


def test_gate_directions_come_from_the_metric():
    got = parse(
        {
            "algorithm": "xgboost",
            "hyperparameters": {"num_round": 5},
            "deploy": {"gate": {"metric": "validation:rmse", "max": 3.5}, "must_beat_current": True},
        }
    )
    gate = got.deploy.gate
    assert gate.better == "min"
    assert gate.verdict(3.0) is None
    assert "above the maximum" in gate.verdict(4.0)
    assert gate.beats(2.0, 3.0) and not gate.beats(3.0, 2.0)


def test_a_gate_on_a_metric_the_job_will_not_report_is_refused_before_training():
    found = problems(
        {
            "algorithm": "xgboost",
            "hyperparameters": {"num_round": 5, "objective": "multi:softmax", "num_class": 4},
            "deploy": {"gate": {"metric": "validation:merror", "max": 0.5}},
        }
    )
    problem = found["$.deploy.gate.metric"]
    assert "reports train:mlogloss, validation:mlogloss, not validation:merror" in problem.message
    assert 'add "eval_metric": "merror"' in problem.hint
    ok = parse(
        {
            "algorithm": "xgboost",
            "hyperparameters": {"num_round": 5, "objective": "multi:softmax", "num_class": 4, "eval_metric": "merror"},
            "deploy": {"gate": {"metric": "validation:merror", "max": 0.5}},
        }
    )
    assert ok.deploy.gate.metric == "validation:merror"


def test_must_beat_current_needs_a_gate_metric():
    found = problems(
        {"algorithm": "xgboost", "hyperparameters": {"num_round": 5}, "deploy": {"must_beat_current": True}}
    )
    assert "no gate" in found["$.deploy.must_beat_current"].message


def test_deploy_settings_round_trip_through_the_registry_form():
    got = parse(
        {
            "algorithm": "xgboost",
            "hyperparameters": {"num_round": 5, "objective": "multi:softmax", "num_class": 3, "eval_metric": "merror"},
            "deploy": {
                "serverless": {"memory_mb": 3072, "max_concurrency": 7},
                "gate": {"metric": "validation:merror", "max": 0.3},
                "idle_minutes": 30,
                "keep_alive": True,
            },
        }
    )
    assert m.DeploySettings.from_dict(json.loads(json.dumps(got.deploy.to_dict()))) == got.deploy


def test_spot_training_waits_at_least_the_runtime():
    got = parse(
        {"algorithm": "xgboost", "hyperparameters": {"num_round": 5}, "training": {"spot": True, "max_runtime_s": 3600}}
    )
    assert got.training.max_wait_s == 7200
    found = problems(
        {
            "algorithm": "xgboost",
            "hyperparameters": {"num_round": 5},
            "training": {"spot": True, "max_runtime_s": 3600, "max_wait_s": 600},
        }
    )
    assert "shorter than max_runtime_s" in found["$.training.max_wait_s"].message


def test_labels_must_match_the_class_count():
    found = problems(
        {
            "algorithm": "xgboost",
            "hyperparameters": {"num_round": 5, "objective": "multi:softmax", "num_class": 4},
            "labels": ["a", "b", "c"],
        }
    )
    assert "3 labels for a model with 4 classes" in found["$.labels"].message


def test_channels_accept_folders_uris_and_objects():
    got = parse(
        {
            "algorithm": "xgboost",
            "hyperparameters": {"num_round": 5},
            "channels": {
                "train": "train-data/",
                "validation": {"s3_uri": "s3://other/val/", "content_type": "text/csv"},
            },
        }
    )
    assert got.channels["train"].folder == "train-data/"
    assert got.channels["validation"].s3_uri == "s3://other/val/"
    found = problems({"algorithm": "xgboost", "hyperparameters": {"num_round": 5}, "channels": {"training": "t/"}})
    assert "has no channel 'training'" in found["$.channels.training"].message


def test_model_name_rules_apply_to_the_folder_default():
    found = problems({"algorithm": "xgboost", "hyperparameters": {"num_round": 5}}, name="")
    assert "$.name" in found


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "empty"),
        (b"{", "not valid JSON"),
        (b"[1]", "expected a JSON object"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b" " * (64 * 1024 + 1), "bytes"),
    ],
)
def test_unreadable_manifests_are_explained(body, fragment):
    with pytest.raises(ManifestError) as info:
        m.load_json(body)
    assert fragment in str(info.value)


def test_json_syntax_error_names_line_and_column():
    with pytest.raises(ManifestError) as info:
        m.load_json(b'{\n  "algorithm": "xgboost",\n}')
    assert "line 3, column 1" in str(info.value)
