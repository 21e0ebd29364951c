"""BlazingText: Word2Vec with gensim, and a fastText-style text classifier in numpy.

What follows the SageMaker developer guide (blazingtext.html, blazingtext_hyperparameters.html,
blazingtext-tuning.html) and fastText (which BlazingText's supervised mode extends):

* Word2Vec modes ``skipgram`` and ``cbow`` train gensim's Word2Vec (FastText when
  ``subwords=True``, with character n-grams from ``min_char`` to ``max_char`` hashed into
  ``buckets``) with vector_dim, window_size, negative_samples, min_count, epochs, learning_rate
  and sampling_threshold; ``batch_skipgram`` trains skip-gram the same way (gensim has no
  negative-sample-sharing mini-batches, so ``batch_size`` only changes the log). The artifacts
  are ``vectors.txt`` (word2vec text format, what gensim's ``load_word2vec_format`` reads) and
  ``vectors.bin``: the word2vec binary format, or with subwords the fastText binary format,
  which keeps the n-gram vectors so that hosting can answer out-of-vocabulary words;
* ``evaluation=True`` (the default) scores the vectors on WS-353, as the real algorithm does,
  with the copy of the WS-353 collection that gensim ships (its test data): Spearman's rho
  between the human scores and the cosine similarities of the pairs whose two words are in the
  vocabulary, reported as ``train:mean_rho`` and written to ``eval.json`` with the number of
  pairs not found. Only the combined 353-pair file ships, so mean_rho is that one correlation;
  when fewer than two pairs are in the vocabulary (a small corpus) the evaluation cannot be
  computed: the job still completes with its vectors, reports no metric and logs why;
* ``supervised`` mode is fastText's classifier: a dictionary of words seen at least
  ``min_count`` times plus the end-of-line token ``</s>``, word n-grams up to ``word_ngrams``
  hashed (fastText's FNV-1a and n-gram hash) into ``buckets``, a sentence represented by the
  average of its feature embeddings (``vector_dim``), a linear softmax over the labels trained
  by SGD with the learning rate decaying linearly to zero over ``epochs`` passes, one random
  label per update for multi-label lines; ``early_stopping``/``patience``/``min_epochs`` on
  the validation channel; ``validation:accuracy`` is fastText's precision at 1 on the validation
  channel. Only the n-gram buckets that occur in the training data get a row (fastText
  allocates all ``buckets`` rows and leaves the others at their random initial values), so the
  model stays small. The artifact is named ``model.bin`` as the real one, but it is a numpy
  archive, not fastText's binary format;
* inference: ``{"instances": ["word", ...]}`` -> ``[{"vector": [...], "word": "..."}]`` (zeros
  for an unknown word unless subwords were learnt) and ``{"instances": ["sentence", ...],
  "configuration": {"k": 2}}`` -> ``[{"label": ["__label__x", ...], "prob": [...]}]``; JSON
  Lines (``{"source": "...", "k": 2}`` per line) as batch transform sends it. The answer uses
  the request's content type: "the content-type and accept parameters must be equal ... If they
  differ, the Accept field is ignored".
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sagedrop_local.algorithms.blazingtext_supervised import (
    EOS,
    FORMAT,
    LABEL_PREFIX,
    MODEL_BIN,
    SEED,
    TextClassifier,
    fasttext_hash,
    train_supervised,
)
from sagedrop_local.algorithms.common import (
    InvokeError,
    Log,
    TrainResult,
    base_content_type,
    channel_files,
    client_error,
    dumps,
    load_json,
    parse_bool,
    parse_float,
    parse_int,
)

# What callers use, the supervised mode's names included (they live in blazingtext_supervised).
__all__ = [
    "EOS",
    "FASTTEXT_MAGIC",
    "FORMAT",
    "LABEL_PREFIX",
    "MODEL_BIN",
    "SupervisedPredictor",
    "TextClassifier",
    "Word2VecPredictor",
    "fasttext_hash",
    "load",
    "parse_hyperparameters",
    "train",
]

WORD2VEC_MODES = ("batch_skipgram", "skipgram", "cbow")
SUPERVISED = "supervised"
VECTORS_TXT = "vectors.txt"
VECTORS_BIN = "vectors.bin"
EVAL_JSON = "eval.json"
FASTTEXT_MAGIC = 793712314  # fastText's binary files start with this int32
LOCAL_DEFAULT_BUCKETS = 200_000
"""Subword buckets when ``buckets`` is not given: the documented 2,000,000 x vector_dim floats (800 MB
at 100 dimensions) would not fit a quick local job; a value given in the manifest is used as is."""

# name -> (kind, default, minimum) from blazingtext_hyperparameters.html, per mode
_COMMON = {
    "mode": ("choice", None, None),
    "epochs": ("int", 5, 1),
    "learning_rate": ("float", 0.05, 0.0),
    "min_count": ("int", 5, 0),
    "vector_dim": ("int", 100, 1),
    "buckets": ("int", 2_000_000, 1),
}
_WORD2VEC = {
    **_COMMON,
    "batch_size": ("int", 11, 1),
    "evaluation": ("bool", True, None),
    "min_char": ("int", 3, 1),
    "max_char": ("int", 6, 1),
    "negative_samples": ("int", 5, 1),
    "sampling_threshold": ("float", 0.0001, 0.0),
    "subwords": ("bool", False, None),
    "window_size": ("int", 5, 1),
}
_SUPERVISED = {
    **_COMMON,
    "early_stopping": ("bool", False, None),
    "min_epochs": ("int", 5, 1),
    "patience": ("int", 4, 1),
    "word_ngrams": ("int", 2, 1),
}


def _bad(detail: str) -> Exception:
    return client_error(f"Unable to initialize the algorithm. Failed to validate hyperparameters: {detail}")


def parse_hyperparameters(given: Mapping[str, str], log: Log) -> dict[str, Any]:
    mode = str(given.get("mode", "")).strip()
    if not mode:
        raise _bad("'mode' is a required property (batch_skipgram, skipgram, cbow or supervised)")
    if mode not in (*WORD2VEC_MODES, SUPERVISED):
        raise _bad(f"mode {mode!r} is not one of batch_skipgram, skipgram, cbow, supervised")
    table = _SUPERVISED if mode == SUPERVISED else _WORD2VEC
    other = _WORD2VEC if mode == SUPERVISED else _SUPERVISED
    values: dict[str, Any] = {"mode": mode}
    for name, raw in given.items():
        if name == "mode":
            continue
        if name.startswith("_"):
            log(f"hyperparameter {name} is ignored locally")
            continue
        if name not in table:
            where = "a text classification (supervised)" if mode != SUPERVISED else "a Word2Vec"
            if name in other:
                raise _bad(f"{name} is {where} hyperparameter; mode is {mode}")
            raise _bad(f"Additional properties are not allowed ({name!r} was unexpected)")
        kind, _default, minimum = table[name]
        text = str(raw).strip()
        try:
            value: Any = parse_bool(text) if kind == "bool" else parse_int(text) if kind == "int" else parse_float(text)
        except ValueError:
            expected = {"bool": "True or False", "int": "an integer", "float": "a number"}[kind]
            raise _bad(f"{name}={raw!r} is not {expected}") from None
        if kind != "bool" and minimum is not None and (value < minimum or (kind == "float" and value == minimum)):
            raise _bad(f"{name}={raw!r} must be {'>' if kind == 'float' else '>='} {minimum:g}")
        values[name] = value
    for name, (_kind, default, _minimum) in table.items():
        values.setdefault(name, default)
    values["buckets_given"] = "buckets" in given
    if mode != SUPERVISED:
        if values["min_char"] > values["max_char"]:
            raise _bad(f"min_char ({values['min_char']}) must not be larger than max_char ({values['max_char']})")
        if values["sampling_threshold"] >= 1:
            raise _bad(f"sampling_threshold={values['sampling_threshold']:g} must be below 1")
    return values


def _train_files(channels: Mapping[str, Path], name: str) -> list[Path]:
    root = channels.get(name)
    return channel_files(root) if root is not None else []


def _lines(files: Iterable[Path], channel: str) -> list[list[str]]:
    sentences: list[list[str]] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise client_error(
                f"Unable to read data channel '{channel}': {path.name} is not UTF-8 text (BlazingText reads "
                "one preprocessed sentence per line, space-separated tokens)"
            ) from None
        sentences.extend(tokens for tokens in (line.split() for line in text.splitlines()) if tokens)
    return sentences


def train(
    hyperparameters: Mapping[str, str],
    channels: Mapping[str, Path],
    content_types: Mapping[str, str | None],
    model_dir: Path,
    log: Log,
) -> TrainResult:
    values = parse_hyperparameters(hyperparameters, log)
    mode = values["mode"]
    allowed = ("train", "validation") if mode == SUPERVISED else ("train",)
    for name, content_type in content_types.items():
        base = base_content_type(content_type)
        if base not in (None, "text/plain"):
            raise client_error(f"Channel '{name}': content type {content_type} is not supported, use text/plain")
    for name in channels:
        if name not in allowed:
            raise client_error(
                "Unable to initialize the algorithm. Failed to validate input data configuration: channel "
                f"{name!r} is not supported in mode {mode} (channels: {', '.join(allowed)})"
            )
    if "train" not in channels:
        raise client_error(
            "Unable to initialize the algorithm. Failed to validate input data configuration: "
            "the train channel is required"
        )
    sentences = _lines(_train_files(channels, "train"), "train")
    if not sentences:
        raise client_error(f"No data in channel 'train': {channels['train']} holds no text")
    model_dir.mkdir(parents=True, exist_ok=True)
    if mode == SUPERVISED:
        validation = _lines(_train_files(channels, "validation"), "validation") if "validation" in channels else None
        if validation is not None and not validation:
            raise client_error(f"No data in channel 'validation': {channels['validation']} holds no text")
        return train_supervised(values, sentences, validation, model_dir, log)
    return _train_word2vec(values, sentences, model_dir, log)


# --------------------------------------------------------------------------------------------
# Word2Vec (gensim)
# --------------------------------------------------------------------------------------------


def _train_word2vec(values: Mapping[str, Any], sentences: list[list[str]], model_dir: Path, log: Log) -> TrainResult:
    from gensim.models import FastText, Word2Vec
    from gensim.models.fasttext import save_facebook_model

    mode = values["mode"]
    common = {
        "vector_size": values["vector_dim"],
        "window": values["window_size"],
        "negative": values["negative_samples"],
        "hs": 0,
        "min_count": values["min_count"],
        "epochs": values["epochs"],
        "alpha": values["learning_rate"],
        "sample": values["sampling_threshold"],
        "sg": 0 if mode == "cbow" else 1,
        "cbow_mean": 1,
        "workers": 1,
        "seed": SEED,
    }
    if mode == "batch_skipgram":
        log(f"batch_skipgram trains as skipgram locally (batch_size={values['batch_size']} is not emulated)")
    counts = Counter(word for sentence in sentences for word in sentence)
    kept = sum(1 for count in counts.values() if count >= values["min_count"])
    if kept == 0:
        raise client_error(
            f"The vocabulary is empty: no word of the train channel occurs min_count={values['min_count']} times "
            f"or more ({len(counts)} distinct words, the most frequent {counts.most_common(1)[0][1]} times); "
            "lower min_count or add text"
        )
    total = sum(counts.values())
    log(f"Read {total} words, {len(counts)} distinct, {kept} kept with min_count={values['min_count']}")
    if values["subwords"]:
        buckets = values["buckets"]
        if not values["buckets_given"]:
            buckets = LOCAL_DEFAULT_BUCKETS
            log(f"subwords: {buckets} hash buckets locally (the documented default 2000000 is too large here)")
        model: Any = FastText(sentences, min_n=values["min_char"], max_n=values["max_char"], bucket=buckets, **common)
    else:
        model = Word2Vec(sentences, **common)
    vectors = model.wv
    vectors.save_word2vec_format(str(model_dir / VECTORS_TXT), binary=False)
    if values["subwords"]:
        save_facebook_model(model, str(model_dir / VECTORS_BIN))
    else:
        vectors.save_word2vec_format(str(model_dir / VECTORS_BIN), binary=True)
    log(f"{len(vectors)} word vectors of {values['vector_dim']} dimensions written to {VECTORS_TXT} and {VECTORS_BIN}")
    if not values["evaluation"]:
        return TrainResult([])
    return TrainResult(_evaluate(vectors, model_dir, log))


def _evaluate(vectors: Any, model_dir: Path, log: Log) -> list[tuple[str, float]]:
    """WS-353 (the copy gensim ships): Spearman's rho over the pairs whose words are both in the vocabulary."""
    from gensim.test.utils import datapath

    pairs_file = Path(datapath("wordsim353.tsv"))
    if not pairs_file.is_file():
        log("evaluation=True: gensim's copy of WS-353 is missing, so train:mean_rho is not reported")
        return []
    pairs = [line.split("\t") for line in pairs_file.read_text().splitlines() if line and not line.startswith("#")]
    total = len(pairs)
    vocabulary = {word.lower() for word in vectors.key_to_index}
    found = sum(1 for pair in pairs if len(pair) >= 2 and {pair[0].lower(), pair[1].lower()} <= vocabulary)
    if found < 2:  # gensim raises "No valid similarity judgements" (0) / scipy "x and y must have length ..." (1)
        log(
            f"WS-353: {found} of {total} word pairs have both words in the vocabulary; a rank correlation needs "
            "at least 2, so train:mean_rho is not reported (a larger corpus, or a lower min_count, gives more)"
        )
        return []
    try:
        _pearson, spearman, oov_percent = vectors.evaluate_word_pairs(str(pairs_file), case_insensitive=True)
    except ValueError as exc:  # any other reason the score cannot be computed: no metric, the vectors stay
        log(f"WS-353: the evaluation could not be computed ({exc}): train:mean_rho is not reported")
        return []
    rho = float(spearman.statistic)
    not_found = round(total * oov_percent / 100.0)
    report = {"WS-353": {"spearmans_rho": rho, "pairs": total, "pairs_not_found": not_found}, "mean_rho": rho}
    (model_dir / EVAL_JSON).write_text(json.dumps(report, indent=2, allow_nan=True) + "\n")
    if math.isnan(rho):
        log(
            f"WS-353: {total - not_found} of {total} word pairs are in the vocabulary, too few for a correlation: "
            "train:mean_rho is not reported"
        )
        return []
    log(f"WS-353: Spearman's rho {rho:.4f} over {total - not_found} of {total} word pairs ({not_found} not found)")
    return [("train:mean_rho", rho)]


# --------------------------------------------------------------------------------------------
# Inference
# --------------------------------------------------------------------------------------------

_JSON = "application/json"
_JSONLINES = "application/jsonlines"


def _request_kind(content_type: str | None) -> str:
    base = base_content_type(content_type) or _JSON
    if base in (_JSON, _JSONLINES):
        return base
    raise InvokeError(415, f"Content type {content_type} is not supported: BlazingText reads {_JSON} or {_JSONLINES}")


def _json_lines(body: bytes) -> list[Mapping[str, Any]]:
    items = []
    for number, line in enumerate(body.decode("utf-8", "replace").splitlines(), start=1):
        if line.strip():
            item = load_json(line.encode(), _JSONLINES)
            if not isinstance(item, Mapping) or not isinstance(item.get("source"), str):
                raise InvokeError(400, f'line {number}: expected {{"source": "..."}}')
            items.append(item)
    return items


def _instances(body: bytes) -> tuple[list[Any], Mapping[str, Any]]:
    payload = load_json(body, _JSON)
    if not isinstance(payload, Mapping) or not isinstance(payload.get("instances"), list):
        raise InvokeError(400, 'The request must be {"instances": [...]} (application/json)')
    configuration = payload.get("configuration") or {}
    if not isinstance(configuration, Mapping):
        raise InvokeError(400, '"configuration" must be an object such as {"k": 2}')
    return payload["instances"], configuration


def _top_k(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 1 or not float(value).is_integer():
        raise InvokeError(400, f"{where}: k must be a positive integer, got {value!r}")
    return int(value)


class SupervisedPredictor:
    def __init__(self, model: TextClassifier) -> None:
        self.model = model

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        kind = _request_kind(content_type)
        if kind == _JSONLINES:
            lines = []
            for item in _json_lines(body):
                labels, probs = self.model.predict(item["source"], _top_k(item.get("k", 1), "k"))
                lines.append(json.dumps({"prob": probs, "label": labels}))
            return "\n".join(lines).encode("utf-8"), _JSONLINES
        instances, configuration = _instances(body)
        k = _top_k(configuration.get("k", 1), "configuration.k")
        answers = []
        for index, sentence in enumerate(instances):
            if not isinstance(sentence, str):
                raise InvokeError(400, f"instances[{index}] must be a sentence (a string of space-separated tokens)")
            labels, probs = self.model.predict(sentence, k)
            answers.append({"label": labels, "prob": probs})
        return dumps(answers), _JSON


class Word2VecPredictor:
    def __init__(self, vectors: Any, subwords: bool) -> None:
        self.vectors = vectors
        self.subwords = subwords

    def vector(self, word: str) -> list[float]:
        if word in self.vectors.key_to_index or self.subwords:
            try:
                return [float(x) for x in self.vectors[word]]
            except KeyError:
                pass
        return [0.0] * self.vectors.vector_size

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        kind = _request_kind(content_type)
        if kind == _JSONLINES:
            words = [item["source"] for item in _json_lines(body)]
            lines = [json.dumps({"vector": self.vector(w), "word": w}) for w in words]
            return "\n".join(lines).encode("utf-8"), _JSONLINES
        instances, _ = _instances(body)
        answers = []
        for index, word in enumerate(instances):
            if not isinstance(word, str):
                raise InvokeError(400, f"instances[{index}] must be a word (a string)")
            answers.append({"vector": self.vector(word), "word": word})
        return dumps(answers), _JSON


def load(model_dir: Path) -> SupervisedPredictor | Word2VecPredictor:
    if (model_dir / MODEL_BIN).is_file():
        return SupervisedPredictor(TextClassifier.load(model_dir / MODEL_BIN))
    path = model_dir / VECTORS_BIN
    if not path.is_file():
        found = ", ".join(sorted(p.name for p in model_dir.iterdir())) or "nothing"
        raise RuntimeError(
            f"model.tar.gz must hold {MODEL_BIN} (supervised) or {VECTORS_BIN} (Word2Vec); it holds {found}"
        )
    with open(path, "rb") as handle:
        head = handle.read(4)
    if len(head) == 4 and int.from_bytes(head, "little") == FASTTEXT_MAGIC:
        from gensim.models.fasttext import load_facebook_vectors

        return Word2VecPredictor(load_facebook_vectors(str(path)), subwords=True)
    from gensim.models import KeyedVectors

    try:
        vectors = KeyedVectors.load_word2vec_format(str(path), binary=True)
    except (ValueError, UnicodeDecodeError, EOFError) as exc:
        raise RuntimeError(f"{VECTORS_BIN} is neither a word2vec nor a fastText binary: {exc}") from None
    return Word2VecPredictor(vectors, subwords=False)
