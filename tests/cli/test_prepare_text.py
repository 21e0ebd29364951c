"""sagedrop_client.prepare.text: BlazingText Word2Vec sentences and supervised __label__ lines."""

from __future__ import annotations

import pytest

from sagedrop_client.prepare import PrepareError
from sagedrop_client.prepare import text as text_module
from sagedrop_client.prepare.text import (
    format_label,
    prepare_supervised,
    prepare_word2vec,
    split_sentences,
    tokenize,
)


@pytest.mark.parametrize(
    ("raw", "separate", "removed"),
    [
        (
            "Hello, World! Don't stop-believing... 3.14",
            ["hello", ",", "world", "!", "don't", "stop-believing", ".", ".", ".", "3.14"],
            ["hello", "world", "don't", "stop-believing", "3.14"],
        ),
        ("  Tabs\tand\nnewlines  ", ["tabs", "and", "newlines"], ["tabs", "and", "newlines"]),
        ('(Quoted) "words"', ["(", "quoted", ")", '"', "words", '"'], ["quoted", "words"]),
        ("ÉCOLE  naïve", ["école", "naïve"], ["école", "naïve"]),
        ("e\u0301te\u0301", ["été"], ["été"]),  # decomposed accents are composed (NFC)
        ("हिन्दी भाषा।", ["हिन्दी", "भाषा", "।"], ["हिन्दी", "भाषा"]),  # vowel signs stay inside words
        (
            "zero\u200bwidth \ufeffbom hy\u00adphen\u200e",
            ["zero", "width", "bom", "hyphen"],
            ["zero", "width", "bom", "hyphen"],
        ),
        ("a\x07b", ["a", "b"], ["a", "b"]),  # other control characters are dropped
        ("cost $5 😀", ["cost", "$", "5", "😀"], ["cost", "5"]),
        ("a\U0001d165b x", ["a\U0001d165b", "x"], ["a\U0001d165b", "x"]),  # a combining mark beyond U+FFFF
        ("\u0378 new", ["\u0378", "new"], ["new"]),  # unassigned (newer Unicode) characters survive
        ("", [], []),
    ],
)
def test_tokenize(raw, separate, removed):
    assert tokenize(raw) == separate
    assert tokenize(raw, punctuation="remove") == removed


def test_tokenize_keeps_case_when_asked():
    assert tokenize("New York.", lowercase=False) == ["New", "York", "."]


def test_split_sentences():
    tokens = tokenize("One two. Three! Four? five")
    assert split_sentences(tokens) == [["one", "two", "."], ["three", "!"], ["four", "?"], ["five"]]
    assert split_sentences([]) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Sci Fi", "__label__Sci_Fi"),
        ("  positive ", "__label__positive"),
        ("a\tb  c", "__label__a_b_c"),
        ("__label__done", "__label__done"),
        ("   ", ""),
    ],
)
def test_format_label(raw, expected):
    assert format_label(raw) == expected


def test_word2vec_one_sentence_per_line(tmp_path):
    source = tmp_path / "corpus.txt"
    source.write_text("The Cat sat.\n\n  \nOn the MAT, again!\r\n...\nlast line without newline", encoding="utf-8")
    out = tmp_path / "model"
    result = prepare_word2vec(source, out)
    assert (out / "train" / "train.txt").read_text(encoding="utf-8") == (
        "the cat sat .\non the mat , again !\n. . .\nlast line without newline\n"
    )
    assert result.input_lines == 6 and result.sentences == 4 and result.skipped_blank == 2
    assert result.tokens == 4 + 6 + 3 + 4
    assert sorted(p.name for p in out.iterdir()) == ["train"]
    assert result.bytes_written == len("the cat sat .\non the mat , again !\n. . .\nlast line without newline\n")

    prepare_word2vec([source, source], tmp_path / "two", punctuation="remove", sentences=True, min_tokens=2)
    assert (tmp_path / "two" / "train" / "train.txt").read_text() == (
        "the cat sat\non the mat again\nlast line without newline\n" * 2
    )


def test_word2vec_sentence_splitting(tmp_path):
    source = tmp_path / "corpus.txt"
    source.write_text("First one. Second one! Third\n")
    result = prepare_word2vec(source, tmp_path / "out", sentences=True)
    assert (tmp_path / "out/train/train.txt").read_text() == "first one .\nsecond one !\nthird\n"
    assert result.sentences == 3 and result.input_lines == 1


def test_word2vec_streams_lines_without_breaks(tmp_path, monkeypatch):
    monkeypatch.setattr(text_module, "READ_CHUNK_BYTES", 32)
    words = [f"Word{i}" for i in range(400)]
    source = tmp_path / "text8"
    source.write_text(" ".join(words))  # one line, no newline: read in 32-byte pieces cut at spaces
    result = prepare_word2vec(source, tmp_path / "out")
    lines = (tmp_path / "out/train/train.txt").read_text().splitlines()
    assert len(lines) > 50 and all(len(line.encode()) <= 32 * 2 for line in lines)
    assert " ".join(lines).split() == [word.lower() for word in words]
    assert result.input_lines == 1 and result.tokens == 400


def test_word2vec_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\nbroken \xc3\x28 here\n")
    with pytest.raises(PrepareError, match=r"bad\.txt:2.*not valid UTF-8"):
        prepare_word2vec(bad, tmp_path / "out")
    assert not (tmp_path / "out" / "train").exists()
    result = prepare_word2vec(bad, tmp_path / "out", encoding_errors="replace")
    assert result.sentences == 2
    empty = tmp_path / "empty.txt"
    empty.write_text("\n ... \n", encoding="utf-8")
    with pytest.raises(PrepareError, match="holds no words"):
        prepare_word2vec(empty, tmp_path / "out2", punctuation="remove")
    with pytest.raises(PrepareError, match="does not exist"):
        prepare_word2vec(tmp_path / "missing.txt", tmp_path / "out3")
    with pytest.raises(PrepareError, match="punctuation"):
        prepare_word2vec(bad, tmp_path / "out4", punctuation="keep")  # type: ignore[arg-type]


CSV = (
    "category,title,body\n"
    'Sci Fi,"Dune, a novel","Spice, sand\nand worms."\n'
    "Drama,Hamlet,To be or not to be?\n"
    "Drama,Empty,\n"
    "\n"
    "sci fi,Solaris,An ocean __label__fake planet\n"
)


def test_supervised_lines_labels_and_quoting(tmp_path):
    source = tmp_path / "books.csv"
    source.write_text(CSV, encoding="utf-8")
    result = prepare_supervised(source, tmp_path / "out", header=True, label_column="category", text_columns=["body"])
    assert (tmp_path / "out/train/train.txt").read_text(encoding="utf-8") == (
        "__label__Sci_Fi spice , sand and worms .\n"
        "__label__Drama to be or not to be ?\n"
        "__label__sci_fi an ocean fake planet\n"
    )
    assert result.rows == 4 and result.train_lines == 3 and result.skipped_empty_text == 1
    assert result.validation_lines == 0 and "validation" not in result.paths
    assert result.bytes_written == (tmp_path / "out/train/train.txt").stat().st_size
    assert result.label_counts == {"Drama": 1, "Sci_Fi": 1, "sci_fi": 1}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["train"]


def test_supervised_default_columns_and_multi_label(tmp_path):
    source = tmp_path / "data.csv"
    source.write_text("pos;happy,Great film!,Loved it\nneg,Bad.,\n", encoding="utf-8")
    prepare_supervised(source, tmp_path / "out", label_separator=";")
    assert (tmp_path / "out/train/train.txt").read_text() == (
        "__label__pos __label__happy great film ! loved it\n__label__neg bad .\n"
    )
    tsv = tmp_path / "data.tsv"
    tsv.write_text("spam\tWIN money now\nham\tsee you at 5\n")
    prepare_supervised(tsv, tmp_path / "tsv", delimiter="\t", punctuation="remove")
    assert (tmp_path / "tsv/train/train.txt").read_text() == "__label__spam win money now\n__label__ham see you at 5\n"


def test_supervised_validation_split_is_seeded(tmp_path):
    source = tmp_path / "many.csv"
    source.write_text("".join(f"{'ab'[i % 2]},row number {i}\n" for i in range(300)))
    first = prepare_supervised(source, tmp_path / "one", validation_ratio=0.2, seed=5)
    second = prepare_supervised(source, tmp_path / "two", validation_ratio=0.2, seed=5)
    assert second.validation_lines == first.validation_lines
    assert first.train_lines + first.validation_lines == 300
    assert 30 < first.validation_lines < 90
    assert (tmp_path / "one/validation/validation.txt").read_text() == (
        tmp_path / "two/validation/validation.txt"
    ).read_text()
    train = (tmp_path / "one/train/train.txt").read_text().splitlines()
    validation = (tmp_path / "one/validation/validation.txt").read_text().splitlines()
    assert len(set(train) | set(validation)) == 300 and not set(train) & set(validation)
    assert first.label_counts == {"a": 150, "b": 150}


def test_supervised_errors_name_file_and_line(tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text("pos,fine text\nneg\n", encoding="utf-8")
    with pytest.raises(PrepareError) as caught:
        prepare_supervised(source, tmp_path / "out")
    assert f"{source}:2" in str(caught.value) and "1 column(s)" in str(caught.value)
    assert "delimiter" in str(caught.value)
    assert not (tmp_path / "out" / "train").exists()

    source.write_text("pos,fine\n  ,no label here\n")
    with pytest.raises(PrepareError, match=r"bad\.csv:2.*label.*empty"):
        prepare_supervised(source, tmp_path / "out")

    source.write_text("label,text\npos,fine\n")
    with pytest.raises(PrepareError, match="no column 'body'"):
        prepare_supervised(source, tmp_path / "out", header=True, text_columns=["body"])
    with pytest.raises(PrepareError, match="no header row"):
        prepare_supervised(source, tmp_path / "out", label_column="label")
    with pytest.raises(PrepareError, match="includes the label column"):
        prepare_supervised(source, tmp_path / "out", text_columns=[0, 1])

    source.write_bytes(b"pos,ok\nneg,caf\xe9\n")  # Latin-1, not UTF-8
    with pytest.raises(PrepareError, match=r"bad\.csv:2.*UTF-8"):
        prepare_supervised(source, tmp_path / "out")


def test_supervised_long_fields_and_overwrite(tmp_path):
    source = tmp_path / "long.csv"
    source.write_text("long," + "word " * 40_000 + "\n")  # 200,000 characters: above csv's default limit
    result = prepare_supervised(source, tmp_path / "out")
    assert result.train_lines == 1 and any("distinct label" in warning for warning in result.warnings)
    with pytest.raises(PrepareError, match="already holds train"):
        prepare_supervised(source, tmp_path / "out")
    prepare_supervised(source, tmp_path / "out", overwrite=True)
    import csv

    assert csv.field_size_limit() == 131_072  # the process-wide limit is restored


def test_outputs_pass_the_train_functions_checks(tmp_path):
    from sagedrop_cli import submit

    source = tmp_path / "data.csv"
    source.write_text("".join(f"{'ab'[i % 2]},some text {i}\n" for i in range(40)))
    prepare_supervised(source, tmp_path / "sup", validation_ratio=0.25)
    (tmp_path / "sup/training.json").write_text(
        '{"algorithm": "blazingtext", "hyperparameters": {"mode": "supervised"}}'
    )
    submit.check(tmp_path / "sup")
    prepare_word2vec(source, tmp_path / "w2v")
    (tmp_path / "w2v/training.json").write_text('{"algorithm": "blazingtext", "hyperparameters": {"mode": "skipgram"}}')
    submit.check(tmp_path / "w2v")
