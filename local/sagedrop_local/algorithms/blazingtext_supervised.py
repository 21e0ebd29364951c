"""BlazingText's supervised mode, locally: fastText's text classifier in numpy.

What it follows, and its sources, are in the ``blazingtext`` module's docstring (``supervised`` mode).
The artifact is named ``model.bin`` as the real one, but it is a numpy archive, not fastText's binary format.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sagedrop_local.algorithms.common import Log, TrainResult, client_error

LABEL_PREFIX = "__label__"
EOS = "</s>"
MODEL_BIN = "model.bin"
FORMAT = "sagedrop-local blazingtext-supervised 1"
SEED = 1  # both modes: gensim's seed (Word2Vec) and the classifier's generator


def fasttext_hash(token: str) -> int:
    """fastText's Dictionary::hash: 32-bit FNV-1a over the UTF-8 bytes, each byte sign-extended."""
    h = 2166136261
    for byte in token.encode("utf-8"):
        signed = byte - 256 if byte > 127 else byte
        h ^= signed & 0xFFFFFFFF
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def _split(tokens: list[str]) -> tuple[list[str], list[str]]:
    labels = [t for t in tokens if t.startswith(LABEL_PREFIX)]
    words = [t for t in tokens if not t.startswith(LABEL_PREFIX)]
    return words, labels


@dataclass
class TextClassifier:
    words: dict[str, int]
    labels: list[str]
    buckets: dict[int, int]  # hashed n-gram bucket -> embedding row (after the word rows)
    embeddings: np.ndarray  # (rows, dim)
    output: np.ndarray  # (labels, dim)
    word_ngrams: int
    bucket_count: int
    options: dict[str, Any] = field(default_factory=dict)

    def features(self, words: list[str], grow: bool = False) -> list[int]:
        """Word rows plus hashed word n-gram rows (fastText's addWordNgrams over all tokens + </s>)."""
        tokens = [*words, EOS]
        ids = [self.words[t] for t in tokens if t in self.words]
        if self.word_ngrams > 1:
            hashes = [fasttext_hash(t) for t in tokens]
            for i in range(len(hashes)):
                h = hashes[i]
                for j in range(i + 1, min(len(hashes), i + self.word_ngrams)):
                    h = (h * 116049371 + hashes[j]) & 0xFFFFFFFFFFFFFFFF
                    bucket = h % self.bucket_count
                    row = self.buckets.get(bucket)
                    if row is None and grow:
                        row = len(self.words) + len(self.buckets)
                        self.buckets[bucket] = row
                    if row is not None:
                        ids.append(row)
        return ids

    def probabilities(self, ids: list[int]) -> np.ndarray:
        if not ids:
            return np.full(len(self.labels), 1.0 / len(self.labels))
        hidden = self.embeddings[ids].mean(axis=0)
        logits = self.output @ hidden
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()

    def predict(self, sentence: str, k: int) -> tuple[list[str], list[float]]:
        words, _ = _split(sentence.split())
        probs = self.probabilities(self.features(words))
        order = np.argsort(-probs, kind="stable")[: max(0, min(k, len(self.labels)))]
        return [self.labels[i] for i in order], [float(probs[i]) for i in order]

    def accuracy(self, lines: list[list[str]]) -> float:
        """fastText's precision at 1 over the lines that carry a label."""
        hits = total = 0
        for tokens in lines:
            words, labels = _split(tokens)
            if not labels:
                continue
            total += 1
            probs = self.probabilities(self.features(words))
            hits += int(self.labels[int(np.argmax(probs))] in labels)
        return hits / total if total else 0.0

    def save(self, path: Path) -> None:
        meta = {
            "format": FORMAT,
            "words": sorted(self.words, key=self.words.__getitem__),
            "labels": self.labels,
            "word_ngrams": self.word_ngrams,
            "bucket_count": self.bucket_count,
            "options": self.options,
        }
        keys = np.fromiter(self.buckets.keys(), dtype=np.int64, count=len(self.buckets))
        rows = np.fromiter(self.buckets.values(), dtype=np.int64, count=len(self.buckets))
        buffer = io.BytesIO()
        np.savez(
            buffer,
            meta=np.array(json.dumps(meta)),
            bucket_keys=keys,
            bucket_rows=rows,
            embeddings=self.embeddings.astype(np.float32),
            output=self.output.astype(np.float32),
        )
        path.write_bytes(buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> TextClassifier:
        try:
            with np.load(path, allow_pickle=False) as arrays:
                meta = json.loads(str(arrays["meta"]))
                if meta.get("format") != FORMAT:
                    raise ValueError(f"format {meta.get('format')!r}")
                buckets = dict(zip(arrays["bucket_keys"].tolist(), arrays["bucket_rows"].tolist(), strict=True))
                return cls(
                    {w: i for i, w in enumerate(meta["words"])},
                    list(meta["labels"]),
                    buckets,
                    arrays["embeddings"].astype(np.float64),
                    arrays["output"].astype(np.float64),
                    int(meta["word_ngrams"]),
                    int(meta["bucket_count"]),
                    dict(meta["options"]),
                )
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise RuntimeError(
                f"{path.name} is not a model written by the local BlazingText ({exc}); a fastText/BlazingText "
                "binary cannot be served locally"
            ) from None


def train_supervised(
    values: Mapping[str, Any],
    sentences: list[list[str]],
    validation: list[list[str]] | None,
    model_dir: Path,
    log: Log,
) -> TrainResult:
    if values["early_stopping"] and validation is None:
        raise client_error("early_stopping=True needs a validation channel: add one or set early_stopping=False")
    examples = [_split(tokens) for tokens in sentences]
    unlabeled = sum(1 for _, labels in examples if not labels)
    if unlabeled == len(examples):
        raise client_error(
            f"No labels found in channel 'train': supervised mode needs {LABEL_PREFIX}<class> words on each line "
            f'(e.g. "{LABEL_PREFIX}positive the movie was great")'
        )
    model = _untrained_classifier(examples, values, log)
    label_index = {label: i for i, label in enumerate(model.labels)}
    encoded = [(model.features(words, grow=True), [label_index[x] for x in ls]) for words, ls in examples if ls]
    encoded = [(ids, ls) for ids, ls in encoded if ids]
    rng = np.random.default_rng(SEED)
    dim = values["vector_dim"]
    model.embeddings = rng.uniform(-1.0 / dim, 1.0 / dim, size=(len(model.words) + len(model.buckets), dim))
    log(
        f"Read {sum(len(w) for w, _ in examples)} words in {len(examples)} lines; {len(model.words)} words kept with "
        f"min_count={values['min_count']}, {len(model.labels)} labels, {len(model.buckets)} word n-gram buckets used"
    )
    if unlabeled:
        log(f"{unlabeled} line(s) of the train channel carry no {LABEL_PREFIX} word and are skipped")
    if not encoded:
        raise client_error(
            f"No line of the train channel has a word occurring min_count={values['min_count']} times; lower min_count"
        )
    _fit_classifier(model, encoded, sentences, validation, values, rng, log)
    model.save(model_dir / MODEL_BIN)
    metrics: list[tuple[str, float]] = []
    if validation is not None:
        accuracy = model.accuracy(validation)
        log(f"#validation_accuracy: {accuracy:.4f}")
        metrics.append(("validation:accuracy", accuracy))
    return TrainResult(metrics)


def _untrained_classifier(
    examples: list[tuple[list[str], list[str]]], values: Mapping[str, Any], log: Log
) -> TextClassifier:
    """The vocabulary (words seen min_count times, by frequency) and the labels (by frequency), no weights yet."""
    counts = Counter(word for words, _ in examples for word in (*words, EOS))
    vocabulary = [
        w for w, c in sorted(counts.items(), key=lambda item: (-item[1], item[0])) if c >= values["min_count"]
    ]
    label_counts = Counter(label for _, labels in examples for label in labels)
    labels = [label for label, _ in sorted(label_counts.items(), key=lambda item: (-item[1], item[0]))]
    if len(labels) < 2:
        log(f"only one label ({labels[0]}) in the train channel: every prediction will be that label")
    dim = values["vector_dim"]
    return TextClassifier(
        {w: i for i, w in enumerate(vocabulary)},
        labels,
        {},
        np.empty((0, dim)),
        np.zeros((len(labels), dim)),
        values["word_ngrams"],
        values["buckets"],
        {"vector_dim": dim, "min_count": values["min_count"]},
    )


def _sgd_step(model: TextClassifier, ids: list[int], target: int, lr: float) -> None:
    """fastText's supervised update: softmax loss on the mean of the line's rows, one example."""
    hidden = model.embeddings[ids].mean(axis=0)
    logits = model.output @ hidden
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    alpha = -lr * probs
    alpha[target] += lr
    grad_hidden = alpha @ model.output
    model.output += np.outer(alpha, hidden)
    np.add.at(model.embeddings, ids, grad_hidden / len(ids))


def _fit_classifier(
    model: TextClassifier,
    encoded: list[tuple[list[int], list[int]]],
    sentences: list[list[str]],
    validation: list[list[str]] | None,
    values: Mapping[str, Any],
    rng: np.random.Generator,
    log: Log,
) -> None:
    """``epochs`` passes with a linearly decaying learning rate; early stopping on validation accuracy."""
    epochs = values["epochs"]
    total_updates = epochs * len(encoded)
    lr0 = values["learning_rate"]
    best_accuracy, best_state, stale, done = -1.0, None, 0, 0
    for epoch in range(epochs):
        for position in rng.permutation(len(encoded)):
            ids, targets = encoded[position]
            target = targets[int(rng.integers(len(targets)))] if len(targets) > 1 else targets[0]
            _sgd_step(model, ids, target, lr0 * (1.0 - done / total_updates))
            done += 1
        message = f"epoch {epoch + 1}/{epochs}: train accuracy {model.accuracy(sentences):.4f}"
        if validation is not None:
            accuracy = model.accuracy(validation)
            message += f", validation accuracy {accuracy:.4f}"
            if accuracy > best_accuracy:
                best_accuracy, best_state, stale = accuracy, (model.embeddings.copy(), model.output.copy()), 0
            else:
                stale += 1
        log(message)
        patient = values["early_stopping"] and validation is not None and epoch + 1 >= values["min_epochs"]
        if patient and stale >= values["patience"]:
            log(f"early stopping after epoch {epoch + 1}: validation accuracy did not improve for {stale} epochs")
            break
    if values["early_stopping"] and best_state is not None:
        model.embeddings, model.output = best_state
