"""Preparation tools behind ``sagedrop prepare images|seq2seq|text`` (local-only; never in the Lambda layer).

Each tool turns raw files into a *model folder* that ``sagedrop submit DIR`` uploads: one sub-folder
per channel (``train/``, ``validation/``, ``vocab/``, ``train_lst/``, ...) plus by-products next to
them (``.lst``/``.idx`` lists, ``classes.json``) that are not channels and are not uploaded.

* ``sagedrop_client.prepare.images``: a folder with one sub-folder per class -> MXNet ``.rec`` files
  (im2rec-compatible) or the raw-image layout with ``.lst`` files.
* ``sagedrop_client.prepare.seq2seq``: a parallel corpus -> ``vocab.src.json``, ``vocab.trg.json``,
  ``train.rec``, ``val.rec`` (``create_vocab_proto.py``-compatible).
* ``sagedrop_client.prepare.text``: BlazingText input (Word2Vec sentences, supervised ``__label__`` lines).

This module holds what they share: the error type, the line reader that names ``file:line`` in
decoding errors, the seeded validation splitter and the staging folder that makes every run
all-or-nothing (outputs appear only when the whole run succeeded).
"""

from __future__ import annotations

import codecs
import gzip
import os
import random
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from sagedrop.errors import Problem, UserError

__all__ = [
    "PrepareError",
    "Splitter",
    "Staging",
    "check_input_file",
    "check_ratio",
    "open_binary",
    "problem",
    "read_lines",
]

READ_CHUNK_BYTES = 1 << 20
"""Longest piece of a line ``read_lines(..., max_bytes=...)`` returns at once (bounded memory)."""


class PrepareError(UserError):
    """Input a preparation tool cannot use; every problem names where, what and how to fix it."""

    kind = "cannot prepare the data"


def problem(where: Any, what: str, fix: str = "") -> PrepareError:
    """A one-problem ``PrepareError``."""
    return PrepareError(Problem(str(where), what, fix))


def check_ratio(ratio: float | None, name: str = "validation_ratio") -> float:
    """A split ratio in [0, 1); ``None`` means 0."""
    value = 0.0 if ratio is None else float(ratio)
    if not 0.0 <= value < 1.0:
        raise problem(name, f"must be at least 0 and below 1, got {ratio!r}", "e.g. 0.1 keeps 10% for validation")
    return value


class Splitter:
    """Seeded train/validation assignment, one draw per item, identical on every pass.

    A streaming tool that reads its input twice (count, then write) creates a new ``Splitter``
    with the same seed per pass and calls ``is_validation()`` once per input item in the same
    order, so both passes agree without keeping the assignment in memory.
    """

    def __init__(self, ratio: float, seed: int) -> None:
        self.ratio = ratio
        self._random = random.Random(seed)

    def is_validation(self) -> bool:
        if self.ratio <= 0.0:
            return False
        return self._random.random() < self.ratio


def open_binary(path: Path) -> IO[bytes]:
    """Open a file for reading bytes; ``.gz`` files are decompressed on the fly."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def check_input_file(path: Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        where = str(path)
        if path.is_dir():
            raise problem(where, f"the {what} is a folder, not a file", f"give the path of the {what} file")
        raise problem(where, f"the {what} does not exist", "check the path")
    return path


def read_lines(
    path: Path,
    *,
    errors: str = "strict",
    max_bytes: int | None = None,
) -> Iterator[tuple[int, str, bool]]:
    """Stream ``(line_number, text, ends_line)`` from a UTF-8 file (or ``.gz``), 1-based.

    ``text`` keeps its line ending (``\\n`` or ``\\r\\n``). Each line is decoded on its own, so an
    invalid byte raises a ``PrepareError`` naming ``file:line`` exactly (``errors="replace"``
    substitutes U+FFFD instead). A UTF-8 byte-order mark at the start is dropped. With
    ``max_bytes`` a line longer than that comes in pieces (``ends_line`` False on all but the
    last; a multi-byte character is never split), so memory stays bounded on files without
    line breaks.
    """
    if not max_bytes:
        yield from _whole_lines(path, errors)
        return
    decoder = codecs.getincrementaldecoder("utf-8")(errors)
    number = 1
    offset = 0  # bytes of the current line before this piece
    first = True
    with open_binary(path) as handle:
        readline = handle.readline
        while True:
            raw = readline(max_bytes) if max_bytes else readline()
            if not raw:
                break
            # a line is complete at its newline, or at the end of the file (a short read without one)
            ends = raw.endswith(b"\n") or not max_bytes or len(raw) < max_bytes
            try:
                text = decoder.decode(raw, final=ends)
            except UnicodeDecodeError as exc:
                where = max(0, exc.start - (len(exc.object) - len(raw)))
                raise _not_utf8(path, number, offset + where, raw[where : where + 4], exc.reason) from None
            if first:
                text = text.removeprefix("\ufeff")
                first = False
            yield number, text, ends
            if ends:
                number += 1
                offset = 0
                decoder.reset()
            else:
                offset += len(raw)
        try:
            tail = decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise problem(
                f"{path}:{number}",
                "ends inside a UTF-8 character (the file is truncated or not UTF-8)",
                "save the file as UTF-8",
            ) from None
        if tail:
            yield number, tail, True


def _whole_lines(path: Path, errors: str) -> Iterator[tuple[int, str, bool]]:
    """``read_lines`` without a length limit: one ``bytes.decode`` per line (the fast path)."""
    with open_binary(path) as handle:
        for number, raw in enumerate(handle, 1):
            try:
                text = raw.decode("utf-8", errors)
            except UnicodeDecodeError as exc:
                raise _not_utf8(path, number, exc.start, raw[exc.start : exc.start + 4], exc.reason) from None
            yield number, text.removeprefix("\ufeff") if number == 1 else text, True


def _not_utf8(path: Path, number: int, offset: int, sample: bytes, reason: str) -> PrepareError:
    return problem(
        f"{path}:{number}",
        f"is not valid UTF-8 ({reason} at byte {offset} of the line: {sample!r})",
        "save the file as UTF-8, or let invalid bytes become U+FFFD (encoding_errors='replace')",
    )


class Staging:
    """Write outputs into a hidden folder inside ``out_dir``; move them into place only on success.

    ``names`` are the top-level entries (files or folders) the tool produces in ``out_dir``. They
    are checked before any work: an existing one is an error unless ``overwrite`` (then it is
    deleted, folders with their content, when the new outputs are moved in). On an exception
    the staging folder is removed and ``out_dir`` is left as it was.
    """

    def __init__(self, out_dir: Path, names: Iterable[str], *, overwrite: bool = False) -> None:
        self.out_dir = Path(out_dir)
        self.names = list(dict.fromkeys(names))
        self.overwrite = overwrite
        self.path: Path | None = None
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise problem(self.out_dir, "the output folder is a file", "give a folder path (it is created if needed)")
        existing = [name for name in self.names if (self.out_dir / name).exists()]
        if existing and not overwrite:
            raise problem(
                self.out_dir,
                f"already holds {', '.join(existing)}",
                "choose another output folder, remove them, or pass overwrite=True (--overwrite) to replace them",
            )

    def __enter__(self) -> Path:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=".sagedrop-prepare-", dir=self.out_dir))
        return self.path

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self.path is not None
        try:
            if exc_type is None:
                for name in self.names:
                    staged = self.path / name
                    if not staged.exists():
                        continue
                    target = self.out_dir / name
                    if target.is_dir() and not target.is_symlink():
                        shutil.rmtree(target)
                    elif target.exists() or target.is_symlink():
                        target.unlink()
                    os.replace(staged, target)
        finally:
            shutil.rmtree(self.path, ignore_errors=True)
