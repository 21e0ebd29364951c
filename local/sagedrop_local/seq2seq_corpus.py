"""The synthetic English -> German corpus shipped for the local seq2seq demo and tests.

What it is: **synthetic**, not translations made by people. A small grammar writes simple English
transitive sentences and their German translations: ``[adverb] subject verb object .``, where
each noun phrase is an article (``the``/``a``), an optional adjective and a noun. German grammar
is applied as a learner's textbook states it: noun gender (der/die/das), nominative for the
subject and accusative for the object (``den hund``, ``einen hund``), the adjective endings after
definite (weak) and indefinite (mixed) articles (``den großen hund``, ``ein großes kind``), and
verb-second order after a fronted adverb (``heute sieht die katze den hund``). 18 nouns,
12 verbs, 6 adjectives, 4 adverbs: about 60 word types per side, thousands of distinct sentences,
so held-out pairs are new combinations of known words. A model must learn a lexicon, agreement
and a word-order rule: copying the source scores a BLEU near zero, a working encoder-decoder with
attention close to 1.

The files ``data/seq2seq/corpus.en`` and ``corpus.de`` are ``write_corpus()``'s output (a test
checks they match), one sentence per line, tokens separated by spaces, as ``sagedrop prepare
seq2seq`` and create_vocab_proto.py read them.
"""

from __future__ import annotations

import random
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data" / "seq2seq"
SOURCE_FILE = DATA_DIR / "corpus.en"
TARGET_FILE = DATA_DIR / "corpus.de"
PAIRS = 3000
SEED = 12

# english -> (german, gender)
NOUNS = {
    "cat": ("katze", "f"),
    "dog": ("hund", "m"),
    "man": ("mann", "m"),
    "woman": ("frau", "f"),
    "child": ("kind", "n"),
    "teacher": ("lehrer", "m"),
    "girl": ("mädchen", "n"),
    "boy": ("junge", "m"),
    "bird": ("vogel", "m"),
    "horse": ("pferd", "n"),
    "mouse": ("maus", "f"),
    "book": ("buch", "n"),
    "apple": ("apfel", "m"),
    "car": ("auto", "n"),
    "letter": ("brief", "m"),
    "flower": ("blume", "f"),
    "house": ("haus", "n"),
    "door": ("tür", "f"),
}
VERBS = {
    "sees": "sieht",
    "likes": "mag",
    "finds": "findet",
    "buys": "kauft",
    "has": "hat",
    "reads": "liest",
    "carries": "trägt",
    "paints": "malt",
    "visits": "besucht",
    "hears": "hört",
    "needs": "braucht",
    "wants": "will",
}
ADJECTIVES = {"big": "groß", "small": "klein", "old": "alt", "new": "neu", "red": "rot", "good": "gut"}
ADVERBS = {"today": "heute", "now": "jetzt", "often": "oft", "sometimes": "manchmal"}

_DEFINITE = {("nom", "m"): "der", ("nom", "f"): "die", ("nom", "n"): "das", ("acc", "m"): "den"}
_INDEFINITE = {("nom", "m"): "ein", ("nom", "f"): "eine", ("nom", "n"): "ein", ("acc", "m"): "einen"}
# Adjective endings: weak after the definite article, mixed after the indefinite one.
_WEAK = {("nom", "m"): "e", ("nom", "f"): "e", ("nom", "n"): "e", ("acc", "m"): "en"}
_MIXED = {("nom", "m"): "er", ("nom", "f"): "e", ("nom", "n"): "es", ("acc", "m"): "en"}


def _german_case(case: str, gender: str) -> tuple[str, str]:
    """Accusative differs from nominative only in the masculine."""
    return (case, gender) if case == "nom" or gender == "m" else ("nom", gender)


def _noun_phrase(rng: random.Random, case: str) -> tuple[list[str], list[str]]:
    noun = rng.choice(sorted(NOUNS))
    german, gender = NOUNS[noun]
    definite = rng.random() < 0.6
    adjective = rng.choice(sorted(ADJECTIVES)) if rng.random() < 0.4 else None
    key = _german_case(case, gender)
    english = ["the" if definite else ("an" if (adjective or noun)[0] in "aeiou" else "a")]
    deutsch = [(_DEFINITE if definite else _INDEFINITE)[key]]
    if adjective is not None:
        english.append(adjective)
        deutsch.append(ADJECTIVES[adjective] + (_WEAK if definite else _MIXED)[key])
    english.append(noun)
    deutsch.append(german)
    return english, deutsch


def sentence_pair(rng: random.Random) -> tuple[str, str]:
    subject_en, subject_de = _noun_phrase(rng, "nom")
    object_en, object_de = _noun_phrase(rng, "acc")
    verb = rng.choice(sorted(VERBS))
    adverb = rng.choice(sorted(ADVERBS)) if rng.random() < 0.3 else None
    english = [*subject_en, verb, *object_en, "."]
    if adverb is None:
        german = [*subject_de, VERBS[verb], *object_de, "."]
    else:
        english = [adverb, *english]
        german = [ADVERBS[adverb], VERBS[verb], *subject_de, *object_de, "."]
    return " ".join(english), " ".join(german)


def generate(pairs: int = PAIRS, seed: int = SEED) -> list[tuple[str, str]]:
    """``pairs`` distinct sentence pairs, in a fixed order for a given seed."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    while len(out) < pairs:
        english, german = sentence_pair(rng)
        if english not in seen:
            seen.add(english)
            out.append((english, german))
    return out


def write_corpus(directory: Path = DATA_DIR) -> None:
    """(Re)write ``corpus.en`` and ``corpus.de``: ``python -m sagedrop_local.seq2seq_corpus``."""
    directory.mkdir(parents=True, exist_ok=True)
    pairs = generate()
    (directory / SOURCE_FILE.name).write_text("".join(e + "\n" for e, _ in pairs), encoding="utf-8")
    (directory / TARGET_FILE.name).write_text("".join(g + "\n" for _, g in pairs), encoding="utf-8")


def read_corpus() -> list[tuple[str, str]]:
    """The shipped pairs (source, target)."""
    sources = SOURCE_FILE.read_text(encoding="utf-8").splitlines()
    targets = TARGET_FILE.read_text(encoding="utf-8").splitlines()
    return list(zip(sources, targets, strict=True))


if __name__ == "__main__":
    write_corpus()
