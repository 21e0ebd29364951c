"""The local seq2seq: it learns the shipped synthetic corpus, serves the container's wire formats, fails clearly.

Data: the synthetic English -> German corpus that ships with the local stack
(``local/sagedrop_local/data/seq2seq``), prepared with ``sagedrop prepare seq2seq`` as a user
would. Formats and names are those of the SageMaker developer guide (seq-2-seq.html,
seq-2-seq-hyperparameters.html, seq-2-seq-tuning.html) and the en-de example notebook.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sagedrop import recordio
from sagedrop_client.prepare.seq2seq import prepare_seq2seq
from sagedrop_local import algorithms
from sagedrop_local.algorithms import AlgorithmError, InvokeError
from sagedrop_local.algorithms import seq2seq as s2s
from sagedrop_local.demo_seq2seq import corpus_bleu
from sagedrop_local.seq2seq_corpus import SOURCE_FILE, TARGET_FILE, generate, read_corpus

JSON = "application/json"
PROTOBUF = "application/x-recordio-protobuf"
FAST = {
    "rnn_cell_type": "gru",
    "rnn_num_hidden": 48,
    "num_embed_source": 24,
    "num_embed_target": 24,
    "rnn_attention_num_hidden": 48,
    "max_seq_len_source": 16,
    "max_seq_len_target": 16,
    "batch_size": 64,
    "learning_rate": 0.01,
    "checkpoint_frequency_num_batches": 15,
    "max_num_epochs": 6,
    "optimized_metric": "bleu",
    "bleu_sample_size": 60,
    "beam_size": 3,
}
TINY = {**FAST, "rnn_num_hidden": 16, "num_embed_source": 8, "num_embed_target": 8, "rnn_attention_num_hidden": 8}
TINY.update({"max_num_epochs": 1, "checkpoint_frequency_num_batches": 100, "bleu_sample_size": 10})


def prepared(root: Path, pairs: list[tuple[str, str]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "src.txt").write_text("".join(s + "\n" for s, _ in pairs), encoding="utf-8")
    (root / "trg.txt").write_text("".join(t + "\n" for _, t in pairs), encoding="utf-8")
    out = root / "model"
    prepare_seq2seq(root / "src.txt", root / "trg.txt", out, validation_ratio=0.15, seed=0)
    return out


def channels(folder: Path) -> dict[str, Path]:
    return {name: folder / name for name in ("train", "validation", "vocab")}


def train(folder: Path, hyperparameters: dict, out: Path, lines: list[str] | None = None, chans=None):
    sink = [] if lines is None else lines
    return algorithms.train(
        "seq2seq",
        {k: str(v) for k, v in hyperparameters.items()},
        chans or channels(folder),
        {},
        out,
        log=sink.append,
    )


def ask(predictor, body: dict | bytes, content_type: str = JSON, accept: str | None = JSON):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer, answer_type = predictor.invoke(raw, content_type, accept)
    return (json.loads(answer) if answer_type == JSON else answer), answer_type


@pytest.fixture(scope="module")
def corpus():
    pairs = read_corpus()
    return pairs[:1200], pairs[-200:]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus):
    root = tmp_path_factory.mktemp("s2s")
    folder = prepared(root / "data", corpus[0])
    lines: list[str] = []
    result = train(folder, FAST, root / "out", lines)
    return {"folder": folder, "model": root / "out", "result": result, "lines": lines}


@pytest.fixture(scope="module")
def predictor(trained):
    return algorithms.load("seq2seq", trained["model"])


def translate(predictor, sentences: list[str]) -> list[str]:
    answer, _ = ask(predictor, {"instances": [{"data": s} for s in sentences]})
    return [p["target"] for p in answer["predictions"]]


# --------------------------------------------------------------------------------------------
# It learns
# --------------------------------------------------------------------------------------------


def test_the_shipped_corpus_is_the_generators_output():
    """The files in the repo are what seq2seq_corpus.generate() writes (3,000 distinct pairs)."""
    assert read_corpus() == generate()
    assert SOURCE_FILE.name == "corpus.en" and TARGET_FILE.name == "corpus.de"
    assert len({s for s, _ in read_corpus()}) == 3000


def test_it_learns_held_out_pairs_far_better_than_copying_the_source(trained, predictor, corpus):
    """sacreBLEU on 200 pairs never seen in training: well above the copy-the-source baseline."""
    test = corpus[1]
    hypotheses = translate(predictor, [s for s, _ in test])
    references = [t for _, t in test]
    model_bleu = corpus_bleu(hypotheses, references)
    copy_bleu = corpus_bleu([s for s, _ in test], references)
    assert copy_bleu < 5
    assert model_bleu > 60, (model_bleu, hypotheses[:3])


def test_metrics_have_sagemakers_names_per_checkpoint_and_final(trained):
    """seq-2-seq-tuning.html: validation:accuracy, validation:bleu, validation:perplexity."""
    metrics = dict(trained["result"].metrics)
    assert set(metrics) == {"validation:accuracy", "validation:bleu", "validation:perplexity"}
    assert 0.0 <= metrics["validation:bleu"] <= 1.0 and metrics["validation:bleu"] > 0.5
    assert metrics["validation:perplexity"] >= 1.0 and metrics["validation:accuracy"] > 0.8
    checkpoints = [line for line in trained["lines"] if line.startswith("checkpoint ")]
    assert len(checkpoints) >= 3
    assert all("validation:perplexity=" in c and "validation:bleu=" in c for c in checkpoints)
    assert any("max_num_epochs=6 epochs done" in line for line in trained["lines"])


def test_the_archive_holds_the_vocabularies_unchanged_and_the_weights(trained):
    """The vocab files are copied byte for byte to the top of model.tar.gz; weights beside them."""
    model = trained["model"]
    assert sorted(p.name for p in model.iterdir()) == sorted(
        [s2s.VOCAB_SOURCE, s2s.VOCAB_TARGET, s2s.CONFIG_FILE, s2s.WEIGHTS_FILE]
    )
    for name in (s2s.VOCAB_SOURCE, s2s.VOCAB_TARGET):
        assert (model / name).read_bytes() == (trained["folder"] / "vocab" / name).read_bytes()


# --------------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------------


def test_attention_matrix_has_a_row_per_target_token_and_a_column_per_source_token(predictor):
    """Notebook: configuration {"attention_matrix": "true"} inside the instance adds "matrix"."""
    sentence = "the cat sees a big dog ."
    answer, answer_type = ask(
        predictor,
        {"instances": [{"data": sentence, "configuration": {"attention_matrix": "true"}}, {"data": sentence}]},
    )
    assert answer_type == JSON
    first, second = answer["predictions"]
    assert first["target"] == second["target"] and "matrix" not in second
    matrix = np.array(first["matrix"])
    assert matrix.shape == (len(first["target"].split()), len(sentence.split()))
    assert np.allclose(matrix.sum(axis=1), 1.0, atol=1e-4)


def test_unknown_words_become_unk_and_an_empty_sentence_translates_to_nothing(predictor):
    answer, _ = ask(predictor, {"instances": [{"data": "the zebra sees the dog ."}, {"data": "   "}]})
    assert answer["predictions"][0]["target"]
    assert answer["predictions"][1] == {"target": ""}


def test_recordio_protobuf_request_and_answer(predictor, trained):
    """seq-2-seq.html: int32 ids in features["source"] in, features["target"] out (notebook's parser)."""
    vocab = json.loads((trained["model"] / s2s.VOCAB_SOURCE).read_text())
    target_vocab = {i: t for t, i in json.loads((trained["model"] / s2s.VOCAB_TARGET).read_text()).items()}
    sentences = ["the dog sees the cat .", "a man has a book ."]
    body = b"".join(
        recordio.frame(recordio.encode_record({"source": np.array([vocab[w] for w in s.split()], dtype=np.int32)}))
        for s in sentences
    )
    answer, answer_type = predictor.invoke(body, PROTOBUF, PROTOBUF)
    assert answer_type == PROTOBUF
    records = list(recordio.read_records(answer))
    texts = [" ".join(target_vocab[int(i)] for i in r.features["target"].values) for r in records]
    assert texts == translate(predictor, sentences)


def test_json_lines_for_batch_transform(predictor):
    body = b'{"source": "the dog sees the cat ."}\n{"source": "a man has a book ."}\n'
    answer, answer_type = predictor.invoke(body, "application/jsonlines", "application/jsonlines")
    lines = [json.loads(line) for line in answer.decode().splitlines()]
    assert answer_type == "application/jsonlines"
    assert [line["target"] for line in lines] == translate(predictor, ["the dog sees the cat .", "a man has a book ."])


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "words"),
    [
        (b"the cat", "text/csv", None, 415, "not supported"),
        (b'{"instances": [{"data": "the cat"}]}', JSON, "text/csv", 406, "Accept"),
        (b"{not json", JSON, JSON, 400, "JSON"),
        (b'{"instances": ["the cat"]}', JSON, JSON, 400, '{"data"'),
        (b'{"instances": [{"data": "x"}], "configuration": {"attention_matrix": "true"}}', JSON, JSON, 400, "inside"),
        (b'{"instances": [{"data": "x", "configuration": {"attention_matrix": "yes"}}]}', JSON, JSON, 400, "true"),
        (b"\x00\x01\x02\x03", PROTOBUF, PROTOBUF, 400, "RecordIO"),
    ],
)
def test_requests_the_container_refuses(predictor, body, content_type, accept, status, words):
    with pytest.raises(InvokeError) as caught:
        predictor.invoke(body, content_type, accept)
    assert caught.value.status_code == status and words in caught.value.message


def test_an_archive_trained_by_sagemaker_is_refused_with_the_reason(tmp_path):
    """A Sockeye/MXNet archive (vocab files + MXNet parameters) cannot be served locally."""
    for name in ("vocab.src.json", "vocab.trg.json"):
        (tmp_path / name).write_text('{"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3}')
    (tmp_path / "params.best").write_bytes(b"\x00" * 16)
    with pytest.raises(RuntimeError, match="trained by SageMaker"):
        algorithms.load("seq2seq", tmp_path)


# --------------------------------------------------------------------------------------------
# Architecture options train and serve
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory, corpus):
    return prepared(tmp_path_factory.mktemp("small"), corpus[0][:160])


@pytest.mark.parametrize(
    "options",
    [
        {"rnn_attention_type": "dot"},
        {"rnn_attention_type": "bilinear", "rnn_cell_type": "lstm"},
        {"rnn_attention_type": "fixed", "rnn_decoder_state_init": "avg"},
        {"num_layers_encoder": 2, "num_layers_decoder": 2, "rnn_residual_connections": "true"},
        {"num_layers_decoder": 2, "rnn_attention_in_upper_layers": "false", "rnn_decoder_state_init": "zero"},
        {"optimizer_type": "sgd", "momentum": 0.9, "weight_init_type": "uniform", "weight_init_scale": 0.1},
        {"optimizer_type": "rmsprop", "lr_scheduler_type": "fixed_rate_inv_sqrt_t", "bucketing_enabled": "false"},
        {"embed_dropout_source": 0.1, "rnn_decoder_hidden_dropout": 0.2, "clip_gradient": -1},
    ],
)
def test_every_rnn_option_trains_and_serves(small, tmp_path, options):
    result = train(small, {**TINY, **options}, tmp_path / "out")
    assert {name for name, _ in result.metrics} == {"validation:accuracy", "validation:bleu", "validation:perplexity"}
    predictor = algorithms.load("seq2seq", tmp_path / "out")
    answer, _ = ask(
        predictor, {"instances": [{"data": "the cat sees the dog .", "configuration": {"attention_matrix": "true"}}]}
    )
    assert isinstance(answer["predictions"][0]["target"], str)


def test_fixed_attention_looks_at_the_last_source_token_only(small, tmp_path):
    """Sockeye's "fixed" attention: the last encoder state, a one-hot attention on the last position."""
    train(small, {**TINY, "rnn_attention_type": "fixed"}, tmp_path / "out")
    predictor = algorithms.load("seq2seq", tmp_path / "out")
    answer, _ = ask(
        predictor, {"instances": [{"data": "the cat sees the dog .", "configuration": {"attention_matrix": "true"}}]}
    )
    for row in answer["predictions"][0]["matrix"]:
        assert row == [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]


def test_early_stopping_after_checkpoint_threshold_checkpoints_without_improvement(small, tmp_path):
    """Without max_num_epochs, training stops when optimized_metric stalls for checkpoint_threshold checkpoints."""
    lines: list[str] = []
    options = {**TINY, "learning_rate": 1e-9, "optimized_metric": "accuracy", "checkpoint_frequency_num_batches": 1}
    options.pop("max_num_epochs")
    train(small, {**options, "checkpoint_threshold": 2, "max_num_batches": 50}, tmp_path / "out", lines)
    assert any("did not improve for 2 checkpoints" in line for line in lines), lines[-3:]
    assert sum(line.startswith("checkpoint ") for line in lines) == 3


def test_min_num_epochs_holds_early_stopping_back(small, tmp_path):
    """seq-2-seq-hyperparameters.html, min_num_epochs: "The minimum number of epochs the training must run
    before it is stopped via early stopping conditions"."""
    lines: list[str] = []
    options = {**TINY, "learning_rate": 1e-9, "optimized_metric": "accuracy", "checkpoint_frequency_num_batches": 1}
    options.pop("max_num_epochs")
    train(small, {**options, "checkpoint_threshold": 2, "min_num_epochs": 3}, tmp_path / "out", lines)
    [stopped] = [line for line in lines if line.startswith("training stopped after")]
    assert "did not improve" in stopped
    assert int(stopped.split(" epoch(s)")[0].rsplit(" ", 1)[1]) == 3, stopped


def test_max_num_batches_stops_training(small, tmp_path):
    lines: list[str] = []
    options = {**TINY, "max_num_batches": 2, "checkpoint_frequency_num_batches": 1}
    options.pop("max_num_epochs")
    train(small, options, tmp_path / "out", lines)
    assert any("max_num_batches=2 updates done" in line for line in lines)


# --------------------------------------------------------------------------------------------
# Failures the job reports
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (
            {"encoder_type": "cnn"},
            "encoder_type=cnn (the convolutional model of Gehring et al.) is not available locally",
        ),
        ({"decoder_type": "cnn"}, "decoder_type=cnn"),
        ({"min_num_epchs": 2}, "'min_num_epchs' is not a seq2seq hyperparameter"),
        ({"rnn_num_hidden": 33}, "rnn_num_hidden must be even"),
        ({"rnn_cell_type": "rnn"}, "rnn_cell_type='rnn': expected one of lstm, gru"),
        ({"optimizer_type": "adam", "momentum": 0.9}, "momentum is for optimizer_type sgd"),
    ],
)
def test_settings_it_cannot_honour_fail_the_job(small, tmp_path, options, words):
    with pytest.raises(AlgorithmError) as caught:
        train(small, {**TINY, **options}, tmp_path / "out")
    assert caught.value.message.startswith("ClientError: ") and words in caught.value.message


def test_a_missing_vocabulary_file_is_named(small, tmp_path):
    vocab = tmp_path / "vocab"
    vocab.mkdir()
    (vocab / "vocab.src.json").write_bytes((small / "vocab" / "vocab.src.json").read_bytes())
    with pytest.raises(AlgorithmError, match=r"Channel 'vocab' has no vocab\.trg\.json \(it holds vocab\.src\.json\)"):
        train(small, TINY, tmp_path / "out", chans={**channels(small), "vocab": vocab})


def test_a_vocabulary_with_wrong_special_ids_is_named(small, tmp_path):
    """create_vocab_proto.py: <pad>=0, <unk>=1, <s>=2, </s>=3."""
    vocab = tmp_path / "vocab"
    vocab.mkdir()
    (vocab / "vocab.src.json").write_bytes((small / "vocab" / "vocab.src.json").read_bytes())
    (vocab / "vocab.trg.json").write_text('{"<unk>": 0, "<pad>": 1, "<s>": 2, "</s>": 3, "hund": 4}')
    with pytest.raises(AlgorithmError, match=r"vocab/vocab\.trg\.json: <pad> has id 1, seq2seq needs 0"):
        train(small, TINY, tmp_path / "out", chans={**channels(small), "vocab": vocab})


def test_records_in_the_wrong_format_are_named(small, tmp_path):
    """Linear-learner style records (features["values"]) in the train channel are not seq2seq data."""
    bad = tmp_path / "train"
    bad.mkdir()
    with open(bad / "train.rec", "wb") as handle:
        recordio.write_dense(handle, np.ones((3, 2), dtype=np.float32), np.zeros(3, dtype=np.float32))
    with pytest.raises(AlgorithmError) as caught:
        train(small, TINY, tmp_path / "out", chans={**channels(small), "train": bad})
    message = caught.value.message
    assert "train/train.rec is not seq2seq RecordIO-protobuf" in message and 'features["source"]' in message


def test_a_text_file_instead_of_records_and_a_missing_channel(small, tmp_path):
    bad = tmp_path / "validation"
    bad.mkdir()
    (bad / "val.txt").write_text("the cat sees the dog .\n")
    with pytest.raises(AlgorithmError, match=r"validation/val\.txt is not seq2seq RecordIO-protobuf"):
        train(small, TINY, tmp_path / "out", chans={**channels(small), "validation": bad})
    with pytest.raises(AlgorithmError, match="missing: validation"):
        train(small, TINY, tmp_path / "out2", chans={"train": small / "train", "vocab": small / "vocab"})


def test_token_ids_outside_the_vocabulary_are_named(small, tmp_path):
    bad = tmp_path / "train"
    bad.mkdir()
    (bad / "train.rec").write_bytes(recordio.encode_seq2seq([[4, 5, 999]], [[4, 5]]))
    with pytest.raises(AlgorithmError, match=r"record 1: source token id 999 is not in vocab\.src\.json"):
        train(small, TINY, tmp_path / "out", chans={**channels(small), "train": bad})
