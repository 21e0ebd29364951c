"""sagedrop_client.prepare.seq2seq: parallel corpus -> vocab.src/trg.json + train/val.rec (create_vocab_proto rules)."""

from __future__ import annotations

import json
import random

import pytest

from sagedrop.recordio import read_seq2seq
from sagedrop_client.prepare import PrepareError
from sagedrop_client.prepare.seq2seq import build_vocab, load_vocab, prepare_seq2seq

SOURCE = "a b c\nc a\na b <s>\n   \né d a\n"
TARGET = "x y\ny z y\nx\nw\ny\n"
# source counts: a 4, b 2, c 2, d 1, é 1 (<s> is a special: not counted); ties in reverse lexical order
SOURCE_VOCAB = {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3, "a": 4, "c": 5, "b": 6, "é": 7, "d": 8}
# target counts: y 4, x 2, z 1, w 1 (w comes from the pair skipped for its blank source: still counted)
TARGET_VOCAB = {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3, "y": 4, "x": 5, "z": 6, "w": 7}


@pytest.fixture
def corpus(tmp_path):
    files = {
        "src": tmp_path / "train.de",
        "trg": tmp_path / "train.en",
        "vsrc": tmp_path / "val.de",
        "vtrg": tmp_path / "val.en",
    }
    files["src"].write_text(SOURCE, encoding="utf-8")
    files["trg"].write_text(TARGET, encoding="utf-8")
    files["vsrc"].write_text("a q\nb\n", encoding="utf-8")
    files["vtrg"].write_text("y unknown\nz", encoding="utf-8")  # no final newline
    return files


def run(corpus, out, **options):
    options.setdefault("validation_source", corpus["vsrc"])
    options.setdefault("validation_target", corpus["vtrg"])
    return prepare_seq2seq(corpus["src"], corpus["trg"], out, **options)


def test_vocabularies_records_and_stats(corpus, tmp_path):
    out = tmp_path / "model"
    result = run(corpus, out)
    src_text = (out / "vocab" / "vocab.src.json").read_text(encoding="utf-8")
    assert json.loads(src_text) == SOURCE_VOCAB
    assert list(json.loads(src_text)) == list(SOURCE_VOCAB)  # ids in file order
    assert '\n    "é": 7' in src_text  # indent=4, ensure_ascii=False (create_vocab_proto's vocab_to_json)
    assert json.loads((out / "vocab" / "vocab.trg.json").read_text(encoding="utf-8")) == TARGET_VOCAB

    sources, targets = read_seq2seq(out / "train" / "train.rec")
    assert sources == [[4, 6, 5], [5, 4], [4, 6, 2], [7, 8, 4]]  # no <s>/</s> added; the blank pair skipped
    assert targets == [[5, 4], [4, 6, 4], [5], [4]]
    val_sources, val_targets = read_seq2seq(out / "validation" / "val.rec")
    assert val_sources == [[4, 1], [6]]  # q is unknown
    assert val_targets == [[4, 1], [6]]

    assert sorted(p.name for p in out.iterdir()) == ["train", "validation", "vocab"]
    assert result.train.records == 4 and result.train.skipped_blank == 1
    assert result.validation.records == 2
    assert result.validation.source.unknown == 1 and result.validation.target.unknown == 1
    assert result.train.source.longest == 3 and result.train.target.longest == 3
    assert result.source_vocab_size == 9 and result.target_vocab_size == 8
    assert result.source_types == 5 and result.target_types == 4
    assert result.lines == 5
    assert result.paths["vocab_source"] == out.resolve() / "vocab" / "vocab.src.json"
    assert "train: 4 records" in result.summary()


def test_build_vocab_order_limits_and_min_count():
    counts = {"a": 4, "b": 2, "c": 2, "d": 1, "é": 1, "</s>": 9}
    assert list(build_vocab(counts)) == ["<pad>", "<unk>", "<s>", "</s>", "a", "c", "b", "é", "d"]
    assert list(build_vocab(counts, max_words=2)) == ["<pad>", "<unk>", "<s>", "</s>", "a", "c"]
    assert list(build_vocab(counts, min_count=2)) == ["<pad>", "<unk>", "<s>", "</s>", "a", "c", "b"]
    assert build_vocab({}, max_words=None) == {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3}


def test_limits_turn_rare_tokens_into_unk(corpus, tmp_path):
    out = tmp_path / "model"
    run(corpus, out, max_words_source=2, min_count_target=2)
    assert json.loads((out / "vocab" / "vocab.src.json").read_text()) == {
        "<pad>": 0,
        "<unk>": 1,
        "<s>": 2,
        "</s>": 3,
        "a": 4,
        "c": 5,
    }
    assert json.loads((out / "vocab" / "vocab.trg.json").read_text()) == {
        "<pad>": 0,
        "<unk>": 1,
        "<s>": 2,
        "</s>": 3,
        "y": 4,
        "x": 5,
    }
    sources, targets = read_seq2seq(out / "train" / "train.rec")
    assert sources == [[4, 1, 5], [5, 4], [4, 1, 2], [1, 1, 4]]
    assert targets == [[5, 4], [4, 1, 4], [5], [4]]


def test_shared_vocab_counts_both_sides(corpus, tmp_path):
    out = tmp_path / "model"
    result = run(corpus, out, shared_vocab=True)
    expected = ["<pad>", "<unk>", "<s>", "</s>", "y", "a", "x", "c", "b", "é", "z", "w", "d"]
    src = (out / "vocab" / "vocab.src.json").read_text()
    assert list(json.loads(src)) == expected
    assert (out / "vocab" / "vocab.trg.json").read_text() == src
    assert result.shared_vocab and result.source_vocab_size == result.target_vocab_size == 13
    sources, targets = read_seq2seq(out / "train" / "train.rec")
    assert sources[0] == [5, 8, 7] and targets[0] == [6, 4]


def test_existing_vocabularies_are_reused(corpus, tmp_path):
    first = tmp_path / "first"
    run(corpus, first)
    second = tmp_path / "second"
    corpus["src"].write_text("b b b b b\n" * 5, encoding="utf-8")  # counting would now change the ids
    result = run(
        corpus,
        second,
        vocab_source=first / "vocab" / "vocab.src.json",
        vocab_target=first / "vocab" / "vocab.trg.json",
    )
    assert json.loads((second / "vocab" / "vocab.src.json").read_text()) == SOURCE_VOCAB
    sources, _ = read_seq2seq(second / "train" / "train.rec")
    assert sources == [[6, 6, 6, 6, 6]] * 5
    assert result.source_types is None and result.lines == 5


def test_validation_ratio_split_is_seeded_and_vocab_counts_training_lines_only(tmp_path):
    lines = 200
    src, trg = tmp_path / "s.txt", tmp_path / "t.txt"
    src.write_text("".join(f"w{i} common\n" for i in range(lines)))
    trg.write_text("".join(f"t{i} shared\n" for i in range(lines)))
    result = prepare_seq2seq(src, trg, tmp_path / "out", validation_ratio=0.25, seed=3)
    draws = random.Random(3)
    validation_lines = [i for i in range(lines) if draws.random() < 0.25]
    assert result.validation.records == len(validation_lines) and 30 < len(validation_lines) < 70
    assert result.train.records == lines - len(validation_lines)
    vocab = json.loads((tmp_path / "out" / "vocab" / "vocab.src.json").read_text())
    assert vocab["common"] == 4
    assert {f"w{i}" for i in validation_lines}.isdisjoint(vocab)
    assert len(vocab) == 4 + 1 + result.train.records
    val_sources, _ = read_seq2seq(tmp_path / "out" / "validation" / "val.rec")
    assert val_sources == [[1, 4]] * len(validation_lines)  # unseen in training -> <unk>
    train_sources, _ = read_seq2seq(tmp_path / "out" / "train" / "train.rec")
    assert all(ids[0] != 1 for ids in train_sources)


def test_mismatched_line_counts_name_both_counts(corpus, tmp_path):
    corpus["trg"].write_text("x\ny\nz\n")
    with pytest.raises(PrepareError) as caught:
        run(corpus, tmp_path / "out")
    message = str(caught.value)
    assert "source file has 5 lines and the target file 3" in message
    assert str(corpus["src"]) in message and "same number of lines" in message
    assert not (tmp_path / "out").exists()  # found while counting: nothing written
    corpus["vtrg"].write_text("only one line\n")
    corpus["trg"].write_text(TARGET)
    with pytest.raises(PrepareError, match="source file has 2 lines and the target file 1"):
        run(corpus, tmp_path / "out")


def test_mismatch_found_while_writing_leaves_no_outputs(corpus, tmp_path):
    first = tmp_path / "first"
    run(corpus, first)
    corpus["trg"].write_text("x\n")
    out = tmp_path / "second"
    with pytest.raises(PrepareError, match="source file has 5 lines and the target file 1"):
        run(corpus, out, vocab_source=first / "vocab/vocab.src.json", vocab_target=first / "vocab/vocab.trg.json")
    assert list(out.iterdir()) == []  # the staging folder is gone, nothing was moved in


def test_trailing_blank_lines_are_tolerated(tmp_path):
    src, trg = tmp_path / "s.txt", tmp_path / "t.txt"
    src.write_text("a b\nc\n\n\n")
    trg.write_text("x\ny\n")
    result = prepare_seq2seq(src, trg, tmp_path / "out", validation_source=src, validation_target=trg)
    assert result.train.records == 2 and result.validation.records == 2


def test_invalid_utf8_names_file_and_line(corpus, tmp_path):
    corpus["src"].write_bytes(b"a b\nc \xff d\ne\n\n\n")
    with pytest.raises(PrepareError) as caught:
        run(corpus, tmp_path / "out")
    assert f"{corpus['src']}:2" in str(caught.value) and "UTF-8" in str(caught.value)
    result = run(corpus, tmp_path / "out", encoding_errors="replace")
    vocab = json.loads((tmp_path / "out" / "vocab" / "vocab.src.json").read_text())
    assert "\ufffd" in vocab and result.train.records == 3 and result.train.skipped_blank == 2


def test_gzip_input_and_bom(corpus, tmp_path):
    import gzip

    src = tmp_path / "train.de.gz"
    src.write_bytes(gzip.compress(("\ufeff" + SOURCE).encode()))
    result = prepare_seq2seq(
        src, corpus["trg"], tmp_path / "out", validation_source=corpus["vsrc"], validation_target=corpus["vtrg"]
    )
    assert json.loads((tmp_path / "out" / "vocab" / "vocab.src.json").read_text()) == SOURCE_VOCAB
    assert result.train.records == 4


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"validation_source": None, "validation_target": None}, "needs a validation set"),
        ({"validation_target": None}, "both validation files"),
        ({"validation_ratio": 0.1}, "both given"),
        ({"validation_ratio": 1.5, "validation_source": None, "validation_target": None}, "below 1"),
        ({"max_words_source": 0}, "max_words_source"),
        ({"min_count_target": 0}, "min_count_target"),
        ({"vocab_source": "x.json"}, "both vocabulary files"),
        ({"encoding_errors": "ignore"}, "encoding_errors"),
    ],
)
def test_bad_options(corpus, tmp_path, options, message):
    with pytest.raises(PrepareError, match=message):
        run(corpus, tmp_path / "out", **options)


def test_missing_files_and_empty_corpus(corpus, tmp_path):
    with pytest.raises(PrepareError, match="does not exist"):
        prepare_seq2seq(tmp_path / "nope.txt", corpus["trg"], tmp_path / "out", validation_ratio=0.1)
    empty_src, empty_trg = tmp_path / "e1", tmp_path / "e2"
    empty_src.write_text("\n \n")
    empty_trg.write_text("x\n\n")
    with pytest.raises(PrepareError, match="no training pairs"):
        prepare_seq2seq(
            empty_src, empty_trg, tmp_path / "out", validation_source=corpus["vsrc"], validation_target=corpus["vtrg"]
        )


def test_load_vocab_checks_specials(tmp_path):
    bad = tmp_path / "vocab.src.json"
    bad.write_text(json.dumps({"<pad>": 1, "<unk>": 0, "<s>": 2, "</s>": 3}))
    with pytest.raises(PrepareError, match="<pad> has id 1"):
        load_vocab(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(PrepareError, match="token -> integer id"):
        load_vocab(bad)
    bad.write_text(json.dumps(SOURCE_VOCAB))
    assert load_vocab(bad) == SOURCE_VOCAB


def test_existing_outputs_need_overwrite(corpus, tmp_path):
    out = tmp_path / "model"
    run(corpus, out)
    with pytest.raises(PrepareError, match="already holds train, validation, vocab"):
        run(corpus, out)
    result = run(corpus, out, overwrite=True, max_words_source=1)
    assert result.source_vocab_size == 5


def test_output_passes_the_train_functions_checks(corpus, tmp_path):
    from sagedrop_cli import submit

    out = tmp_path / "model"
    run(corpus, out)
    (out / "training.json").write_text('{"algorithm": "seq2seq"}')
    submit.check(out)
    assert sorted(key for _, key in submit.plan(out, "bucket", "").files) == [
        "model/train/train.rec",
        "model/training.json",
        "model/validation/val.rec",
        "model/vocab/vocab.src.json",
        "model/vocab/vocab.trg.json",
    ]
