"""Tokenization for BlazingText input: ``tokenize``, ``split_sentences`` and ``__label__`` words.

What ``tokenize`` does, and why, is in the ``text`` module's docstring (the module that uses it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

from . import problem

LABEL_PREFIX = "__label__"
"""BlazingText's (fastText's) label prefix."""
SENTENCE_END = frozenset(".!?…。！？")

Punctuation = Literal["separate", "remove"]


def _ranges(codes: Iterator[int]) -> str:
    """A regex character-class body for the given increasing code points."""
    parts: list[str] = []
    start = previous = -2
    for code in [*codes, -1]:
        if code == previous + 1:
            previous = code
            continue
        if start >= 0:
            parts.append(re.escape(chr(start)) + (f"-{re.escape(chr(previous))}" if previous > start else ""))
        start = previous = code
    return "".join(parts)


@dataclass(frozen=True)
class _Patterns:
    separate: re.Pattern[str]  # words or single punctuation/symbol characters
    words: re.Pattern[str]  # words only
    separate_astral: re.Pattern[str]  # the same, also knowing the combining marks beyond U+FFFF
    words_astral: re.Pattern[str]
    hidden: re.Pattern[str]  # control (Cc) and format (Cf) characters that are not whitespace
    ascii_hidden: re.Pattern[str]
    astral: re.Pattern[str]


@cache
def _patterns() -> _Patterns:
    """The tokenizer's expressions, built once on first use (a few tenths of a second).

    Words are runs of ``\\w`` and combining marks (category M; all lie in U+0300-U+E01EF). Marks
    beyond U+FFFF are in a second, slower pair of expressions used only for text that has such
    characters. Unassigned code points are not hidden, so characters newer than this Python's
    Unicode data survive as symbols.
    """

    def marks(low: int, high: int) -> str:
        return _ranges(code for code in range(low, high) if unicodedata.category(chr(code))[0] == "M")

    def pair(word: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
        token = rf"{word}(?:['’\-.]{word})*"
        return re.compile(rf"{token}|[^\w\s]"), re.compile(token)

    bmp, astral = marks(0x300, 0x10000), marks(0x10000, 0xE01F0)
    hidden = (
        code for code in range(0x110000) if unicodedata.category(chr(code)) in ("Cc", "Cf") and not chr(code).isspace()
    )
    separate, words = pair(rf"[\w{bmp}]+")
    separate_astral, words_astral = pair(rf"(?:[\w{bmp}]|[{astral}])+")
    return _Patterns(
        separate=separate,
        words=words,
        separate_astral=separate_astral,
        words_astral=words_astral,
        hidden=re.compile(f"[{_ranges(hidden)}]"),
        ascii_hidden=re.compile(f"[{_ranges(c for c in range(0x80) if chr(c) < ' ' and not chr(c).isspace())}\x7f]"),
        astral=re.compile("[\U00010000-\U0010ffff]"),
    )


_INVISIBLE = {
    0x200B: " ",  # zero-width space: an invisible word break
    **dict.fromkeys((0x00AD, 0x200C, 0x200D, 0x2060, 0xFEFF), None),  # soft hyphen, (non-)joiners, BOM
    **dict.fromkeys((0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)), None),  # bidi controls
}


def tokenize(text: str, *, lowercase: bool = True, punctuation: Punctuation = "separate") -> list[str]:
    """Split ``text`` into BlazingText tokens (see the module docstring for the rules)."""
    patterns = _patterns()
    separate = punctuation == "separate"
    if text.isascii():  # the common case: no invisible characters beyond ASCII controls, no marks
        if patterns.ascii_hidden.search(text):
            text = patterns.ascii_hidden.sub(" ", text)
        if lowercase:
            text = text.lower()
        return (patterns.separate if separate else patterns.words).findall(text)
    text = text.translate(_INVISIBLE)
    if patterns.hidden.search(text):
        text = patterns.hidden.sub(" ", text)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if lowercase:
        text = text.lower()
    if patterns.astral.search(text):
        return (patterns.separate_astral if separate else patterns.words_astral).findall(text)
    return (patterns.separate if separate else patterns.words).findall(text)


def split_sentences(tokens: Sequence[str]) -> list[list[str]]:
    """Cut a token list after each sentence-ending punctuation token (``. ! ? …`` and CJK forms)."""
    sentences: list[list[str]] = []
    current: list[str] = []
    for token in tokens:
        current.append(token)
        if token in SENTENCE_END:
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return sentences


def format_label(label: str) -> str:
    """``__label__<label>``: surrounding space trimmed, inner whitespace runs become ``_``.

    A label that already starts with ``__label__`` is not prefixed twice.
    """
    text = "_".join(label.split())
    if text.startswith(LABEL_PREFIX):
        text = text[len(LABEL_PREFIX) :]
    return LABEL_PREFIX + text if text else ""


def check_punctuation(punctuation: str) -> None:
    if punctuation not in ("separate", "remove"):
        raise problem("punctuation", f"unknown value {punctuation!r}", 'use "separate" (own tokens) or "remove"')


def is_punctuation(piece: str) -> bool:
    """Whether a token is punctuation or symbols only (no word character)."""
    return _patterns().words_astral.fullmatch(piece) is None
