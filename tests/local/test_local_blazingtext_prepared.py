"""The training.json that ``sagedrop prepare text`` suggests trains, on the local BlazingText, on the text it wrote.

And a corpus too small for the WS-353 evaluation (``evaluation=true``, the default) completes with its
vectors and no metric, logging why, instead of failing after the vectors are written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sagedrop_cli.main import app
from sagedrop_client.prepare.text import prepare_supervised, prepare_word2vec, suggested_min_count
from sagedrop_local import algorithms
from sagedrop_local.algorithms import AlgorithmError

SMALL_TEXT = """A quick brown fox jumps over a lazy dog.
The lazy dog sleeps while one quick fox runs!
Foxes and dogs: friends or foes? Nobody knows.
Some brown dog barks at that fox, and it runs away.
"""


def as_strings(hyperparameters: dict[str, object]) -> dict[str, str]:
    """SageMaker passes hyperparameters as strings; the train function writes booleans as true/false."""
    return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in hyperparameters.items()}


def train(out: Path, manifest: dict[str, object], channels: tuple[str, ...] = ("train",)) -> tuple[list, list[str]]:
    lines: list[str] = []
    hyperparameters = as_strings(manifest["hyperparameters"])  # type: ignore[arg-type]
    result = algorithms.train(
        manifest["algorithm"],  # type: ignore[arg-type]
        hyperparameters,
        {name: out / name for name in channels},
        dict.fromkeys(channels),
        out / "model",
        log=lines.append,
    )
    return result.metrics, lines


def test_the_suggested_word2vec_manifest_trains_on_a_small_corpus(tmp_path: Path) -> None:
    """min_count defaults to 5 (blazingtext_hyperparameters.html): on this text no word occurs 5 times, so
    the default would train on an empty vocabulary; the suggestion lowers it."""
    source = tmp_path / "story.txt"
    source.write_text(SMALL_TEXT)
    result = prepare_word2vec(source, tmp_path / "out")
    manifest = result.manifest_fields()
    assert manifest["algorithm"] == "blazingtext"
    hyperparameters = manifest["hyperparameters"]
    assert hyperparameters["mode"] == "batch_skipgram" and hyperparameters["min_count"] < 5
    assert hyperparameters["evaluation"] is False  # too few words for WS-353
    with pytest.raises(AlgorithmError, match="The vocabulary is empty"):
        train(tmp_path / "out", {"algorithm": "blazingtext", "hyperparameters": {"mode": "batch_skipgram"}})
    metrics, _ = train(tmp_path / "out", manifest)
    assert metrics == []
    vectors = algorithms.load("blazingtext", tmp_path / "out" / "model")
    answer, _ = vectors.invoke(json.dumps({"instances": ["fox"]}).encode(), "application/json", None)
    assert len(json.loads(answer)[0]["vector"]) == 100


def test_a_small_corpus_with_evaluation_on_completes_without_a_metric_and_says_why(tmp_path: Path) -> None:
    """WS-353 needs two word pairs in the vocabulary for a rank correlation; the job keeps its vectors."""
    source = tmp_path / "story.txt"
    source.write_text(SMALL_TEXT)
    prepare_word2vec(source, tmp_path / "out")
    manifest = {"algorithm": "blazingtext", "hyperparameters": {"mode": "skipgram", "min_count": 1}}
    metrics, lines = train(tmp_path / "out", manifest)
    assert metrics == []
    assert any("train:mean_rho is not reported" in line and "0 of 353" in line for line in lines)
    assert (tmp_path / "out" / "model" / "vectors.bin").is_file()


def test_the_suggested_supervised_manifest_trains_and_classifies(tmp_path: Path) -> None:
    rows = [("sport", "the team won the match"), ("sport", "a great goal in the final match")] * 6
    rows += [("food", "the soup was hot and tasty"), ("food", "fresh bread and tasty cheese")] * 6
    source = tmp_path / "labelled.csv"
    source.write_text("".join(f"{label},{text}\n" for label, text in rows))
    result = prepare_supervised(source, tmp_path / "out", validation_ratio=0.25, seed=1)
    manifest = result.manifest_fields()
    assert manifest["hyperparameters"]["mode"] == "supervised"
    channels = ("train", "validation") if result.validation_lines else ("train",)
    metrics, _ = train(tmp_path / "out", manifest, channels)
    if result.validation_lines:
        assert dict(metrics)["validation:accuracy"] > 0.5
    classifier = algorithms.load("blazingtext", tmp_path / "out" / "model")
    answer, _ = classifier.invoke(json.dumps({"instances": ["the match was won"]}).encode(), "application/json", None)
    assert json.loads(answer)[0]["label"] == ["__label__sport"]


def test_the_suggested_min_count_keeps_the_default_for_a_large_vocabulary() -> None:
    from collections import Counter

    assert suggested_min_count(Counter({f"w{i}": 7 for i in range(500)})) == 5
    assert suggested_min_count(Counter({f"w{i}": 3 for i in range(500)})) == 3
    assert suggested_min_count(Counter({"a": 1, "b": 1})) == 1


def test_the_cli_prints_the_suggested_manifest(tmp_path: Path) -> None:
    source = tmp_path / "story.txt"
    source.write_text(SMALL_TEXT)
    outcome = CliRunner().invoke(app, ["prepare", "text", str(source), "--out", str(tmp_path / "out")])
    assert outcome.exit_code == 0, outcome.output
    assert '"min_count"' in outcome.output and '"evaluation": false' in outcome.output
