"""Text -> BlazingText input: Word2Vec sentences and supervised ``__label__`` lines.

BlazingText reads "a single preprocessed text file with space-separated tokens", one sentence per
line; in supervised mode each line also carries its label(s) as words prefixed by ``__label__``
(https://docs.aws.amazon.com/sagemaker/latest/dg/blazingtext.html, "Input/Output interface"). The
AWS example notebooks lowercase the text and tokenize it with nltk's ``word_tokenize``
(punctuation split from words). ``tokenize`` (module ``tokens``) does the same job without nltk,
deterministically:

* the text is NFC-normalized and lowercased (``str.lower``);
* a word is a run of letters, digits, underscores and combining marks (so scripts written with
  vowel signs, such as Devanagari, stay whole), and may contain ``'``, ``’``, ``-`` or ``.``
  between such runs (``don't``, ``state-of-the-art``, ``3.14``, ``u.s``);
* every other visible character (punctuation, symbols, emoji) is a token of its own
  (``punctuation="separate"``) or dropped (``"remove"``);
* invisible characters: a zero-width space separates words; soft hyphens, zero-width
  (non-)joiners, word joiners, BOMs and bidi controls are deleted (``hy\u00adphen`` -> ``hyphen``);
  any other control (Cc) or format (Cf) character separates words like a space.
* Scripts written without spaces (Chinese, Japanese, Thai) are not segmented: a run of such
  text is one token; segment it beforehand if word vectors of single words are wanted.

Model folder for ``sagedrop submit``: ``out_dir/train/train.txt`` (+ ``out_dir/validation/validation.txt``
in supervised mode with a validation split); each result's ``manifest_fields()`` is a training.json
that trains on what was written (``min_count`` lowered for a small corpus).
"""

from __future__ import annotations

import csv
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from . import READ_CHUNK_BYTES, Splitter, Staging, check_input_file, check_ratio, problem, read_lines
from .tokens import (
    LABEL_PREFIX,
    Punctuation,
    check_punctuation,
    format_label,
    is_punctuation,
    split_sentences,
    tokenize,
)

__all__ = [
    "LABEL_PREFIX",
    "SupervisedResult",
    "Word2VecResult",
    "format_label",
    "prepare_supervised",
    "prepare_word2vec",
    "split_sentences",
    "tokenize",
]

TRAIN_FILE, VALIDATION_FILE = "train.txt", "validation.txt"
MAX_FIELD_CHARS = 16 << 20
"""Largest CSV field accepted (the csv module's own default limit is 131,072 characters)."""

DEFAULT_MIN_COUNT = 5
"""BlazingText's ``min_count`` default, in every mode (docs: blazingtext_hyperparameters.html)."""
MIN_VOCABULARY = 100
"""Words the suggested ``min_count`` keeps at least (all of them when the text has fewer)."""
SMALL_VOCABULARY = 1000
"""Below this many kept words, the suggested Word2Vec manifest turns off ``evaluation``: WS-353 scores
word pairs of common English words (blazingtext_hyperparameters.html, ``evaluation``), and a small
vocabulary holds too few of them to compute a correlation."""

Progress = Callable[[str, int, int | None], None]
"""``progress(phase, advance, total)``: ``advance`` more input lines (supervised: rows) done."""


def _check_errors(errors: str) -> None:
    if errors not in ("strict", "replace"):
        raise problem("encoding_errors", f"unknown value {errors!r}", 'use "strict" or "replace"')


# --------------------------------------------------------------------------------------------
# The suggested training.json
# --------------------------------------------------------------------------------------------


def suggested_min_count(counts: Counter[str]) -> int:
    """The documented ``min_count`` (5) when it keeps enough words, else the largest lower one that does.

    "Enough" is ``MIN_VOCABULARY`` words, or every distinct word when the text has fewer: the local
    and the real BlazingText fail a job whose vocabulary is empty, which a small prepared corpus
    with the default would be.
    """
    wanted = min(MIN_VOCABULARY, len(counts))
    for min_count in range(DEFAULT_MIN_COUNT, 1, -1):
        if sum(1 for count in counts.values() if count >= min_count) >= wanted:
            return min_count
    return 1


def _kept(counts: Counter[str], min_count: int) -> int:
    return sum(1 for count in counts.values() if count >= min_count)


# --------------------------------------------------------------------------------------------
# Word2Vec
# --------------------------------------------------------------------------------------------


@dataclass
class Word2VecResult:
    out_dir: Path
    paths: dict[str, Path]
    input_lines: int = 0
    sentences: int = 0
    tokens: int = 0
    skipped_blank: int = 0
    bytes_written: int = 0
    seconds: float = 0.0
    word_counts: Counter[str] = field(default_factory=Counter)

    def manifest_fields(self) -> dict[str, object]:
        """A training.json that trains on this text: BlazingText Word2Vec with a vocabulary that is not empty.

        ``min_count`` only when the default 5 would keep too few words; ``evaluation`` off when the
        vocabulary is too small for the WS-353 word-similarity score (``SMALL_VOCABULARY``).
        """
        hyperparameters: dict[str, object] = {"mode": "batch_skipgram"}
        min_count = suggested_min_count(self.word_counts)
        if min_count != DEFAULT_MIN_COUNT:
            hyperparameters["min_count"] = min_count
        if _kept(self.word_counts, min_count) < SMALL_VOCABULARY:
            hyperparameters["evaluation"] = False
        return {"algorithm": "blazingtext", "hyperparameters": hyperparameters}

    def summary(self) -> str:
        return (
            f"{self.sentences} sentences, {self.tokens} tokens from {self.input_lines} input lines "
            f"({self.skipped_blank} without tokens skipped); {self.bytes_written / 1e6:.1f} MB in "
            f"{self.paths['train']} ({self.seconds:.1f} s)"
        )


def _pieces(path: Path, errors: str) -> Iterator[tuple[int, str, bool]]:
    """Lines of ``path`` as text, long lines in pieces cut at whitespace (bounded memory)."""
    carry = ""
    for number, text, ends in read_lines(path, errors=errors, max_bytes=READ_CHUNK_BYTES):
        text = carry + text
        carry = ""
        if not ends:
            cut = max(text.rfind(" "), text.rfind("\t"))
            if cut < 0 and len(text) < 4 * READ_CHUNK_BYTES:
                carry = text  # no space yet: keep reading this "word"
                continue
            if cut >= 0:
                text, carry = text[:cut], text[cut + 1 :]
        yield number, text, ends
    if carry:
        yield -1, carry, True


def prepare_word2vec(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    lowercase: bool = True,
    punctuation: Punctuation = "separate",
    sentences: bool = False,
    min_tokens: int = 1,
    encoding_errors: str = "strict",
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Word2VecResult:
    """Raw text file(s) -> ``out_dir/train/train.txt``: one tokenized sentence per line.

    Each input line becomes one output line (``sentences=True`` also cuts after ``. ! ?``);
    lines with fewer than ``min_tokens`` tokens are skipped. Lines longer than 1 MiB are cut at
    whitespace into several output lines, so a file without line breaks (like text8) streams.
    """
    started = time.monotonic()
    check_punctuation(punctuation)
    _check_errors(encoding_errors)
    if type(min_tokens) is not int or min_tokens < 1:
        raise problem("min_tokens", f"must be at least 1, got {min_tokens!r}", "1 keeps every non-empty line")
    paths = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    if not paths:
        raise problem("inputs", "no input files", "give one or more text files")
    files = [check_input_file(Path(path), "text file") for path in paths]
    out_path = Path(out_dir).resolve()
    result = Word2VecResult(out_dir=out_path, paths={"train": out_path / "train" / TRAIN_FILE})
    with Staging(out_path, ["train"], overwrite=overwrite) as stage:
        (stage / "train").mkdir()
        with open(stage / "train" / TRAIN_FILE, "w", encoding="utf-8", newline="\n") as out:
            for file in files:
                for _, text, ends in _pieces(file, encoding_errors):
                    if ends:
                        result.input_lines += 1
                        if progress is not None:
                            progress("lines", 1, None)
                    if sentences:
                        groups = split_sentences(tokenize(text, lowercase=lowercase))
                        if punctuation == "remove":
                            groups = [[t for t in group if not is_punctuation(t)] for group in groups]
                    else:
                        groups = [tokenize(text, lowercase=lowercase, punctuation=punctuation)]
                    wrote = False
                    for group in groups:
                        if len(group) < min_tokens:
                            continue
                        line = " ".join(group) + "\n"
                        out.write(line)
                        result.word_counts.update(group)
                        result.sentences += 1
                        result.tokens += len(group)
                        wrote = True
                    if not wrote and ends:
                        result.skipped_blank += 1
        if result.sentences == 0:
            raise problem(", ".join(map(str, files)), "holds no words", "give text files with sentences")
        result.bytes_written = (stage / "train" / TRAIN_FILE).stat().st_size
    result.seconds = time.monotonic() - started
    return result


# --------------------------------------------------------------------------------------------
# Supervised (text classification)
# --------------------------------------------------------------------------------------------


@dataclass
class SupervisedResult:
    out_dir: Path
    paths: dict[str, Path]
    rows: int = 0
    train_lines: int = 0
    validation_lines: int = 0
    skipped_empty_text: int = 0
    label_counts: dict[str, int] = field(default_factory=dict)  # label (without prefix) -> rows, most frequent first
    bytes_written: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    word_counts: Counter[str] = field(default_factory=Counter)  # words of the training lines (labels aside)

    @property
    def labels(self) -> list[str]:
        return list(self.label_counts)

    def manifest_fields(self) -> dict[str, object]:
        """A training.json that trains on these lines: supervised mode, ``min_count`` as for Word2Vec."""
        hyperparameters: dict[str, object] = {"mode": "supervised"}
        min_count = suggested_min_count(self.word_counts)
        if min_count != DEFAULT_MIN_COUNT:
            hyperparameters["min_count"] = min_count
        return {"algorithm": "blazingtext", "hyperparameters": hyperparameters}

    def summary(self) -> str:
        lines = [
            f"{self.rows} rows -> {self.train_lines} training and {self.validation_lines} validation lines "
            f"({self.skipped_empty_text} rows without text skipped), {len(self.label_counts)} labels",
        ]
        shown = list(self.label_counts.items())[:20]
        width = max((len(label) for label, _ in shown), default=0)
        lines.extend(f"  {label:<{width}}  {count}" for label, count in shown)
        if len(self.label_counts) > 20:
            lines.append(f"  ... and {len(self.label_counts) - 20} more labels")
        lines.extend(f"warning: {text}" for text in self.warnings)
        lines.append(f"{self.bytes_written / 1e6:.1f} MB written to {self.out_dir} in {self.seconds:.1f} s")
        return "\n".join(lines)


def _csv_lines(path: Path, errors: str, numbers: list[int]) -> Iterator[str]:
    """Decoded physical lines for ``csv.reader``; ``numbers[0]`` is the last line number handed out."""
    for number, text, _ in read_lines(path, errors=errors):
        numbers[0] = number
        yield text


def _resolve_column(spec: int | str, header: list[str] | None, what: str, where: str) -> int:
    if isinstance(spec, int) and not isinstance(spec, bool):
        if spec < 0:
            raise problem(what, f"column numbers start at 0, got {spec}", "0 is the first column")
        return spec
    if header is None:
        raise problem(
            what,
            f"names a column ({spec!r}) but the CSV has no header row",
            "use a 0-based column number, or header=True if the first row names the columns",
        )
    names = [name.strip() for name in header]
    if spec not in names:
        raise problem(
            where,
            f"the header has no column {spec!r} (columns: {', '.join(map(repr, names))})",
            f"use one of those names for {what}",
        )
    return names.index(spec)


def prepare_supervised(
    csv_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    label_column: int | str = 0,
    text_columns: Sequence[int | str] | None = None,
    header: bool = False,
    delimiter: str = ",",
    label_separator: str | None = None,
    validation_ratio: float | None = None,
    seed: int = 0,
    lowercase: bool = True,
    punctuation: Punctuation = "separate",
    encoding_errors: str = "strict",
    overwrite: bool = False,
    progress: Progress | None = None,
) -> SupervisedResult:
    """A CSV of label and text -> ``__label__<label> <tokens>`` lines for BlazingText supervised mode.

    ``label_column`` and ``text_columns`` are 0-based numbers, or header names with ``header=True``;
    by default the label is the first column and the text is every other column, joined with a
    space. Quoted fields (commas and line breaks inside quotes) follow the csv module. Labels keep
    their case; whitespace inside a label becomes ``_``. ``label_separator`` (e.g. ``";"``) splits
    a label field into several labels (multi-label lines). Rows whose text has no tokens are
    skipped and counted. ``validation_ratio`` sends a seeded share of rows to validation.
    """
    started = time.monotonic()
    check_punctuation(punctuation)
    _check_errors(encoding_errors)
    ratio = check_ratio(validation_ratio)
    if len(delimiter) != 1:
        raise problem("delimiter", f"must be one character, got {delimiter!r}", 'e.g. "," or "\\t"')
    if label_separator is not None and (not label_separator or label_separator.isspace()):
        raise problem("label_separator", f"must be a visible character, got {label_separator!r}", 'e.g. ";" or "|"')
    source = check_input_file(Path(csv_path), "CSV file")
    out_path = Path(out_dir).resolve()
    channels = ["train", "validation"] if ratio > 0 else ["train"]
    result = SupervisedResult(out_dir=out_path, paths={"train": out_path / "train" / TRAIN_FILE})
    if ratio > 0:
        result.paths["validation"] = out_path / "validation" / VALIDATION_FILE
    counts: Counter[str] = Counter()
    splitter = Splitter(ratio, seed)
    previous_limit = csv.field_size_limit()
    csv.field_size_limit(max(previous_limit, MAX_FIELD_CHARS))
    try:
        with Staging(out_path, channels, overwrite=overwrite) as stage:
            handles: dict[str, IO[str]] = {}
            for channel in channels:
                (stage / channel).mkdir()
                name = TRAIN_FILE if channel == "train" else VALIDATION_FILE
                handles[channel] = open(stage / channel / name, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
            try:
                _write_supervised(
                    source,
                    handles,
                    result,
                    counts,
                    splitter,
                    label_column=label_column,
                    text_columns=text_columns,
                    header=header,
                    delimiter=delimiter,
                    label_separator=label_separator,
                    lowercase=lowercase,
                    punctuation=punctuation,
                    errors=encoding_errors,
                    progress=progress,
                )
            finally:
                for handle in handles.values():
                    handle.close()
            result.bytes_written = sum(Path(handle.name).stat().st_size for handle in handles.values())
            if result.train_lines == 0:
                raise problem(
                    source,
                    "no training lines (no data rows, or none with text)",
                    "give a CSV with a label and a text column per row",
                )
    finally:
        csv.field_size_limit(previous_limit)
    result.label_counts = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    if len(counts) < 2:
        result.warnings.append(f"only {len(counts)} distinct label(s): a classifier needs at least 2")
    if ratio > 0 and result.validation_lines == 0:
        result.warnings.append("the validation split is empty: the data is too small for this validation_ratio")
    result.seconds = time.monotonic() - started
    return result


def _write_supervised(
    source: Path,
    handles: dict[str, IO[str]],
    result: SupervisedResult,
    counts: Counter[str],
    splitter: Splitter,
    *,
    label_column: int | str,
    text_columns: Sequence[int | str] | None,
    header: bool,
    delimiter: str,
    label_separator: str | None,
    lowercase: bool,
    punctuation: Punctuation,
    errors: str,
    progress: Progress | None,
) -> None:
    numbers = [0]
    reader = csv.reader(_csv_lines(source, errors, numbers), delimiter=delimiter)
    header_row: list[str] | None = None
    label_index: int | None = None
    text_indexes: list[int] | None = None
    start = 1
    while True:
        start = numbers[0] + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise problem(
                f"{source}:{numbers[0]}",
                f"is not valid CSV: {exc}",
                'quote fields that hold the delimiter, quotes ("") or line breaks',
            ) from None
        if not row or all(not cell.strip() for cell in row):
            continue
        if label_index is None:
            if header and header_row is None:
                header_row = row
                continue
            label_index, text_indexes = _columns(label_column, text_columns, header_row, source)
        where = f"{source}:{start}"
        needed = max([label_index, *(text_indexes or [1 if label_index == 0 else 0])]) + 1
        if len(row) < needed:
            raise problem(
                where,
                f"{len(row)} column(s), the label and text need {needed}: {delimiter.join(row)[:80]!r}",
                f"check the delimiter ({delimiter!r}) and the quoting: a text with {delimiter!r} in it must be quoted",
            )
        result.rows += 1
        if progress is not None:
            progress("rows", 1, None)
        labels = _row_labels(row[label_index], label_separator)
        if not labels:
            raise problem(where, f"the label (column {label_index}) is empty", "give every row a label")
        indexes = text_indexes if text_indexes is not None else [i for i in range(len(row)) if i != label_index]
        tokens = _row_tokens(" ".join(row[i] for i in indexes), lowercase, punctuation)
        is_validation = splitter.is_validation()
        if not tokens:
            result.skipped_empty_text += 1
            continue
        counts.update(label[len(LABEL_PREFIX) :] for label in labels)
        line = " ".join([*labels, *tokens]) + "\n"
        if is_validation:
            handles["validation"].write(line)
            result.validation_lines += 1
        else:
            handles["train"].write(line)
            result.word_counts.update(tokens)
            result.train_lines += 1


def _columns(
    label_column: int | str, text_columns: Sequence[int | str] | None, header_row: list[str] | None, source: Path
) -> tuple[int, list[int] | None]:
    """(label column index, text column indexes or None for every other column), by number or header name."""
    label_index = _resolve_column(label_column, header_row, "label_column", f"{source}:1")
    if text_columns is None:
        return label_index, None
    if not text_columns:
        raise problem("text_columns", "is empty", "name at least one text column, or None for all others")
    text_indexes = [_resolve_column(c, header_row, "text_columns", f"{source}:1") for c in text_columns]
    if label_index in text_indexes:
        raise problem("text_columns", f"includes the label column ({label_index})", "list only the text columns")
    return label_index, text_indexes


def _row_labels(raw_label: str, label_separator: str | None) -> list[str]:
    """The row's labels as ``__label__`` words (several with ``label_separator``); empty ones dropped."""
    parts = raw_label.split(label_separator) if label_separator else [raw_label]
    labels = [format_label(part) for part in parts]
    return [label for label in labels if label]


def _row_tokens(text: str, lowercase: bool, punctuation: Punctuation) -> list[str]:
    """The text's tokens; a token that starts like a label loses the prefix (it would read as a label)."""
    tokens = [
        token[len(LABEL_PREFIX) :] if token.startswith(LABEL_PREFIX) else token
        for token in tokenize(text, lowercase=lowercase, punctuation=punctuation)
    ]
    return [token for token in tokens if token]
