"""A parallel corpus -> seq2seq channels, compatible with ``create_vocab_proto.py``.

``prepare_seq2seq(source, target, out_dir)`` writes a model folder for ``sagedrop submit``::

    out_dir/train/train.rec        out_dir/vocab/vocab.src.json
    out_dir/validation/val.rec     out_dir/vocab/vocab.trg.json

Format facts, from aws/amazon-sagemaker-examples
``introduction_to_amazon_algorithms/seq2seq_translation_en-de/create_vocab_proto.py``:

* Tokens: ``line.rstrip().split()``: whitespace split, no lowercasing, no other processing (the
  corpus is expected to be tokenized already, e.g. with BPE).
* Vocabulary: ``<pad>``=0, ``<unk>``=1, ``<s>``=2, ``</s>``=3, then the training tokens with
  ``count >= min_count``, by descending count, ties broken by *reverse* lexical order of the token
  (``sorted(((c, w) ...), reverse=True)``), the first ``num_words`` of them (default 50,000; the
  four specials are not counted in it). Tokens equal to a special symbol are not counted. With
  ``-single-vocab`` one vocabulary is built from both sides (with the source's limits) and
  written as both files. Only the training files feed the vocabulary; every training line is
  counted, including the non-blank side of a pair that is skipped as blank.
* Files: ``vocab.src.json`` / ``vocab.trg.json``, ``json.dump(vocab, indent=4, ensure_ascii=False)``.
* Records: one per line pair, ``features["source"]`` and ``features["target"]`` as int32
  token ids; unknown tokens become ``<unk>``; nothing is added (no ``<s>`` or ``</s>``) and nothing
  is truncated (``max_seq_len_source``/``max_seq_len_target`` are the algorithm's business). A pair
  in which either side is blank is skipped. Default outputs ``train.rec`` and ``val.rec``.

Differences, on purpose: files of different line counts are an error (the script's ``zip`` would
silently drop the tail); invalid UTF-8 is an error naming ``file:line`` unless
``encoding_errors="replace"`` (the script's setting); a UTF-8 byte-order mark is dropped; records
keep the input order (the script's worker processes may reorder them).

Memory: two streaming passes over the training files (count, then write) plus one over the
validation files; only the token counts and one batch of records are held.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import IO

from sagedrop.recordio import write_seq2seq

from . import Splitter, Staging, check_input_file, check_ratio, problem, read_lines

__all__ = [
    "BOS_SYMBOL",
    "DEFAULT_MAX_WORDS",
    "EOS_SYMBOL",
    "PAD_SYMBOL",
    "SPECIAL_SYMBOLS",
    "UNK_SYMBOL",
    "Seq2SeqResult",
    "build_vocab",
    "load_vocab",
    "prepare_seq2seq",
    "tokenize",
]

PAD_SYMBOL, UNK_SYMBOL, BOS_SYMBOL, EOS_SYMBOL = "<pad>", "<unk>", "<s>", "</s>"
SPECIAL_SYMBOLS = (PAD_SYMBOL, UNK_SYMBOL, BOS_SYMBOL, EOS_SYMBOL)
"""Ids 0-3 in both vocabularies (create_vocab_proto.py ``VOCAB_SYMBOLS``)."""
UNK_ID = 1
DEFAULT_MAX_WORDS = 50_000
"""create_vocab_proto.py's ``--num-words-source`` / ``--num-words-target`` default."""
VOCAB_SOURCE_FILE, VOCAB_TARGET_FILE = "vocab.src.json", "vocab.trg.json"
TRAIN_FILE, VALIDATION_FILE = "train.rec", "val.rec"
BATCH_RECORDS = 16_384

Progress = Callable[[str, int, int | None], None]
"""``progress(phase, advance, total)``: phases "count", "train", "validation"; units are line pairs."""


def tokenize(line: str) -> list[str]:
    """create_vocab_proto.py's ``get_tokens``: whitespace-separated tokens."""
    return line.split()


def build_vocab(
    counts: Mapping[str, int], max_words: int | None = DEFAULT_MAX_WORDS, min_count: int = 1
) -> dict[str, int]:
    """Specials 0-3, then tokens by descending count, ties in reverse lexical order (create_vocab_proto)."""
    ranked = sorted(
        ((count, token) for token, count in counts.items() if count >= min_count and token not in SPECIAL_SYMBOLS),
        reverse=True,
    )
    vocab = {symbol: index for index, symbol in enumerate(SPECIAL_SYMBOLS)}
    for _, token in islice(ranked, max_words):
        vocab[token] = len(vocab)
    return vocab


def load_vocab(path: str | os.PathLike[str]) -> dict[str, int]:
    """Read a vocabulary JSON (token -> id) and check the special symbols' ids."""
    file = check_input_file(Path(path), "vocabulary")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise problem(
            file,
            f"is not a UTF-8 JSON file: {exc}",
            "give a vocab.*.json written by this tool or create_vocab_proto.py",
        ) from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and type(v) is int for k, v in data.items()):
        raise problem(
            file,
            "is not a JSON object of token -> integer id",
            'e.g. {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3, "the": 4}',
        )
    for expected, symbol in enumerate(SPECIAL_SYMBOLS):
        if data.get(symbol) != expected:
            raise problem(
                file,
                f"{symbol} has id {data.get(symbol)!r}, seq2seq needs {expected}",
                "the special symbols are <pad>=0, <unk>=1, <s>=2, </s>=3",
            )
    if len(set(data.values())) != len(data):
        raise problem(file, "two tokens share an id", "give every token its own id")
    return data


@dataclass
class SideStats:
    """Per side (source or target) of one split."""

    tokens: int = 0
    unknown: int = 0
    longest: int = 0

    def add(self, ids: list[int]) -> None:
        self.tokens += len(ids)
        self.unknown += ids.count(UNK_ID)
        self.longest = max(self.longest, len(ids))


@dataclass
class SplitStats:
    records: int = 0
    skipped_blank: int = 0
    source: SideStats = field(default_factory=SideStats)
    target: SideStats = field(default_factory=SideStats)
    bytes_written: int = 0


@dataclass
class Seq2SeqResult:
    out_dir: Path
    paths: dict[str, Path]
    train: SplitStats
    validation: SplitStats
    source_vocab_size: int
    target_vocab_size: int
    source_types: int | None  # distinct training tokens before pruning (None: vocabulary given)
    target_types: int | None
    lines: int  # line pairs read from the training files
    shared_vocab: bool = False
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        def side(name: str, stats: SideStats, records: int) -> str:
            mean = stats.tokens / records if records else 0.0
            unk = 100.0 * stats.unknown / stats.tokens if stats.tokens else 0.0
            return f"{name} tokens {stats.tokens} (mean {mean:.1f}, longest {stats.longest}, <unk> {unk:.2f}%)"

        lines = [
            f"vocabulary: source {self.source_vocab_size}, target {self.target_vocab_size} entries"
            + (" (shared)" if self.shared_vocab else "")
            + (f"; {self.source_types} / {self.target_types} distinct training tokens" if self.source_types else ""),
        ]
        for name, stats in (("train", self.train), ("validation", self.validation)):
            lines.append(f"{name}: {stats.records} records, {stats.skipped_blank} blank pair(s) skipped")
            lines.append("  " + side("source", stats.source, stats.records))
            lines.append("  " + side("target", stats.target, stats.records))
        lines.extend(f"warning: {text}" for text in self.warnings)
        lines.append(f"written to {self.out_dir} in {self.seconds:.1f} s")
        return "\n".join(lines)


def _pairs(source: Path, target: Path, errors: str) -> Iterator[tuple[int, str, str]]:
    """``(line_number, source_line, target_line)``; different line counts are an error.

    Blank lines at the end of the longer file are tolerated (a trailing empty line is common);
    any other extra line is an error that names both line counts.
    """
    source_lines = read_lines(source, errors=errors)
    target_lines = read_lines(target, errors=errors)
    while True:
        left = next(source_lines, None)
        right = next(target_lines, None)
        if left is None and right is None:
            return
        if left is None or right is None:
            shorter = (right if left is None else left)[0] - 1  # type: ignore[index]
            extra = right if left is None else left
            rest = target_lines if left is None else source_lines
            longer, content = shorter, False
            for _, text, _ in chain([extra], rest):  # streams: the rest is not held in memory
                longer += 1
                content = content or bool(text.strip())
            if not content:
                return
            counts = (shorter, longer) if left is None else (longer, shorter)
            raise problem(
                f"{source} / {target}",
                f"the source file has {counts[0]} lines and the target file {counts[1]}",
                "a parallel corpus needs the same number of lines on both sides: line N of the target "
                "translates line N of the source",
            )
        yield left[0], left[1], right[1]


def prepare_seq2seq(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    validation_source: str | os.PathLike[str] | None = None,
    validation_target: str | os.PathLike[str] | None = None,
    validation_ratio: float | None = None,
    seed: int = 0,
    max_words_source: int | None = DEFAULT_MAX_WORDS,
    max_words_target: int | None = DEFAULT_MAX_WORDS,
    min_count_source: int = 1,
    min_count_target: int = 1,
    shared_vocab: bool = False,
    vocab_source: str | os.PathLike[str] | None = None,
    vocab_target: str | os.PathLike[str] | None = None,
    encoding_errors: str = "strict",
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Seq2SeqResult:
    """Build the vocabularies and the train/validation records of a parallel corpus.

    Validation comes from ``validation_source``/``validation_target`` (like create_vocab_proto's
    ``--val-source``/``--val-target``) or from ``validation_ratio`` of the training pairs (seeded;
    the vocabulary then counts only the training share); seq2seq needs one of them.
    ``max_words_*`` (``None``: no limit) and ``min_count_*`` prune the vocabularies;
    ``shared_vocab`` builds one from both sides with the source limits. ``vocab_source`` and
    ``vocab_target`` reuse existing vocabulary files instead of building them.
    """
    started = time.monotonic()
    source_path = check_input_file(Path(source), "source file")
    target_path = check_input_file(Path(target), "target file")
    ratio, val_paths = _validation_inputs(validation_source, validation_target, validation_ratio)
    vocab_options = _VocabOptions(max_words_source, max_words_target, min_count_source, min_count_target, shared_vocab)
    vocab_options.check()
    if (vocab_source is None) != (vocab_target is None):
        raise problem(
            "vocab",
            "give both vocabulary files (source and target) or neither",
            "without them the vocabularies are built from the training files",
        )
    if encoding_errors not in ("strict", "replace"):
        raise problem("encoding_errors", f"unknown value {encoding_errors!r}", 'use "strict" or "replace"')

    out_path = Path(out_dir).resolve()
    staging = Staging(out_path, ["train", "validation", "vocab"], overwrite=overwrite)
    source_types = target_types = None
    lines = 0
    if vocab_source is not None and vocab_target is not None:
        src_vocab, trg_vocab = load_vocab(vocab_source), load_vocab(vocab_target)
    else:
        corpus = _Corpus(source_path, target_path, ratio, seed, encoding_errors)
        src_vocab, trg_vocab, source_types, target_types, lines = _build_vocabularies(corpus, vocab_options, progress)

    train, validation = SplitStats(), SplitStats()
    with staging as stage:
        for folder in ("train", "validation", "vocab"):
            (stage / folder).mkdir()
        for name, vocab in ((VOCAB_SOURCE_FILE, src_vocab), (VOCAB_TARGET_FILE, trg_vocab)):
            with open(stage / "vocab" / name, "w", encoding="utf-8") as handle:
                json.dump(vocab, handle, indent=4, ensure_ascii=False)
        corpus = _Corpus(source_path, target_path, ratio, seed, encoding_errors)
        lines = _write_records(stage, corpus, val_paths, (src_vocab, trg_vocab), (train, validation), lines, progress)
        _check_not_empty(train, validation, source_path, val_paths)
    result = Seq2SeqResult(
        out_dir=out_path,
        paths={
            "train": out_path / "train" / TRAIN_FILE,
            "validation": out_path / "validation" / VALIDATION_FILE,
            "vocab_source": out_path / "vocab" / VOCAB_SOURCE_FILE,
            "vocab_target": out_path / "vocab" / VOCAB_TARGET_FILE,
        },
        train=train,
        validation=validation,
        source_vocab_size=len(src_vocab),
        target_vocab_size=len(trg_vocab),
        source_types=source_types,
        target_types=target_types,
        lines=lines,
        shared_vocab=shared_vocab,
    )
    result.warnings.extend(_long_sentence_warnings(train, validation))
    result.seconds = time.monotonic() - started
    return result


def _validation_inputs(
    validation_source: str | os.PathLike[str] | None,
    validation_target: str | os.PathLike[str] | None,
    validation_ratio: float | None,
) -> tuple[float, tuple[Path, Path] | None]:
    """(ratio, validation files): exactly one way to get a validation set, each file readable."""
    has_val_files = validation_source is not None or validation_target is not None
    if has_val_files and (validation_source is None or validation_target is None):
        raise problem(
            "validation",
            "give both validation files (source and target) or neither",
            "validation_source and validation_target are the two sides of one parallel corpus",
        )
    ratio = check_ratio(validation_ratio)
    if has_val_files and ratio > 0:
        raise problem(
            "validation",
            "validation files and validation_ratio are both given",
            "use separate validation files or split the training files, not both",
        )
    if not has_val_files and ratio == 0:
        raise problem(
            "validation",
            "seq2seq training needs a validation set",
            "give validation files (validation_source/validation_target) or a validation_ratio such as 0.05",
        )
    if validation_source is not None and validation_target is not None:
        val_paths = (
            check_input_file(Path(validation_source), "validation source file"),
            check_input_file(Path(validation_target), "validation target file"),
        )
        return ratio, val_paths
    return ratio, None


@dataclass(frozen=True)
class _VocabOptions:
    """How the vocabularies are pruned: at most ``max_words_*`` tokens seen at least ``min_count_*`` times."""

    max_words_source: int | None
    max_words_target: int | None
    min_count_source: int
    min_count_target: int
    shared: bool

    def check(self) -> None:
        for name, value in (("max_words_source", self.max_words_source), ("max_words_target", self.max_words_target)):
            if value is not None and (type(value) is not int or value < 1):
                raise problem(name, f"must be a positive number of words or None, got {value!r}", "e.g. 50000")
        for name, value in (("min_count_source", self.min_count_source), ("min_count_target", self.min_count_target)):
            if type(value) is not int or value < 1:
                raise problem(name, f"must be a count of at least 1, got {value!r}", "1 keeps every token")


@dataclass(frozen=True)
class _Corpus:
    """The training files and how their pairs split into train and validation (seeded, so each pass agrees)."""

    source: Path
    target: Path
    ratio: float
    seed: int
    encoding_errors: str

    def pairs(self) -> Iterator[tuple[bool, str, str]]:
        """(is validation, source line, target line) for each line pair."""
        splitter = Splitter(self.ratio, self.seed)
        for _, left, right in _pairs(self.source, self.target, self.encoding_errors):
            yield splitter.is_validation(), left, right


def _build_vocabularies(
    corpus: _Corpus, options: _VocabOptions, progress: Progress | None
) -> tuple[dict[str, int], dict[str, int], int, int, int]:
    """(source vocab, target vocab, source types, target types, lines) counted on the training share only."""
    source_counts: Counter[str] = Counter()
    target_counts = source_counts if options.shared else Counter()
    lines = 0
    for is_validation, left, right in corpus.pairs():
        lines += 1
        if progress is not None:
            progress("count", 1, None)
        if is_validation:
            continue
        source_counts.update(left.split())
        target_counts.update(right.split())
    for symbol in SPECIAL_SYMBOLS:
        source_counts.pop(symbol, None)
        target_counts.pop(symbol, None)
    src_vocab = build_vocab(source_counts, options.max_words_source, options.min_count_source)
    trg_vocab = (
        src_vocab if options.shared else build_vocab(target_counts, options.max_words_target, options.min_count_target)
    )
    return src_vocab, trg_vocab, len(source_counts), len(target_counts), lines


def _write_records(
    stage: Path,
    corpus: _Corpus,
    val_paths: tuple[Path, Path] | None,
    vocabs: tuple[Mapping[str, int], Mapping[str, int]],
    stats: tuple[SplitStats, SplitStats],
    lines: int,
    progress: Progress | None,
) -> int:
    """The train and validation RecordIO files; the number of line pairs of the training files."""
    train, validation = stats
    with (
        open(stage / "train" / TRAIN_FILE, "wb") as train_out,
        open(stage / "validation" / VALIDATION_FILE, "wb") as val_out,
    ):
        writer = _Writer(*vocabs)
        count = 0
        for is_validation, left, right in corpus.pairs():
            count += 1
            if progress is not None:
                progress("train", 1, lines or None)
            if is_validation:
                writer.add(val_out, validation, left, right)
            else:
                writer.add(train_out, train, left, right)
        if val_paths is not None:
            for _, left, right in _pairs(val_paths[0], val_paths[1], corpus.encoding_errors):
                if progress is not None:
                    progress("validation", 1, None)
                writer.add(val_out, validation, left, right)
        writer.flush()
    return count


def _check_not_empty(
    train: SplitStats, validation: SplitStats, source_path: Path, val_paths: tuple[Path, Path] | None
) -> None:
    if train.records == 0:
        raise problem(
            source_path,
            "no training pairs (every line pair is blank on one side, or the files are empty)",
            "give a corpus with one sentence per line on both sides",
        )
    if validation.records == 0:
        where = f"{val_paths[0]} / {val_paths[1]}" if val_paths else "validation_ratio"
        raise problem(
            where,
            "the validation set is empty",
            "give validation files with sentences, or a larger validation_ratio",
        )


def _long_sentence_warnings(train: SplitStats, validation: SplitStats) -> list[str]:
    """A warning per side whose sentences exceed the algorithm's default max_seq_len (100)."""
    warnings = []
    for name, stats in (("train", train), ("validation", validation)):
        for side, side_stats in (("source", stats.source), ("target", stats.target)):
            if side_stats.longest > 100:
                warnings.append(
                    f"{name} {side} sentences reach {side_stats.longest} tokens; the algorithm truncates them "
                    f"to max_seq_len_{side} (default 100): raise it if the long ones matter"
                )
    return warnings


class _Ids(dict[str, int]):
    """token -> id, ``<unk>`` for a token it does not hold (``__getitem__`` stays the C lookup)."""

    def __missing__(self, key: str) -> int:
        return UNK_ID


class _Writer:
    """Encode line pairs to token ids and write them in batches with ``write_seq2seq``."""

    def __init__(self, src_vocab: Mapping[str, int], trg_vocab: Mapping[str, int]) -> None:
        self._src = _Ids(src_vocab).__getitem__
        self._trg = _Ids(trg_vocab).__getitem__
        self._batches: dict[int, tuple[IO[bytes], SplitStats, list[list[int]], list[list[int]]]] = {}

    def add(self, handle: IO[bytes], stats: SplitStats, source_line: str, target_line: str) -> None:
        source_tokens, target_tokens = source_line.split(), target_line.split()
        if not source_tokens or not target_tokens:
            stats.skipped_blank += 1
            return
        source_ids = list(map(self._src, source_tokens))
        target_ids = list(map(self._trg, target_tokens))
        stats.source.add(source_ids)
        stats.target.add(target_ids)
        batch = self._batches.setdefault(id(handle), (handle, stats, [], []))
        batch[2].append(source_ids)
        batch[3].append(target_ids)
        if len(batch[2]) >= BATCH_RECORDS:
            self._flush(batch)

    @staticmethod
    def _flush(batch: tuple[IO[bytes], SplitStats, list[list[int]], list[list[int]]]) -> None:
        handle, stats, sources, targets = batch
        if not sources:
            return
        written = write_seq2seq(handle, sources, targets)
        stats.records += written.records
        stats.bytes_written += written.bytes_written
        sources.clear()
        targets.clear()

    def flush(self) -> None:
        for batch in self._batches.values():
            self._flush(batch)
