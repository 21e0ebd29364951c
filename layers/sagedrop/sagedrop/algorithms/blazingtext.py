"""BlazingText: Word2Vec embeddings (cbow, skipgram, batch_skipgram) and fastText-style text classification.

Facts from the Amazon SageMaker AI developer guide (pages cited above each table).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagedrop import codecs
from sagedrop.algorithms.accounts import BUILTIN, BUILTIN_VERSION
from sagedrop.algorithms.base import (
    Algorithm,
    BatchFormat,
    BatchSupport,
    Bool,
    ChannelSpec,
    Choice,
    Float,
    HyperParameter,
    InferenceOption,
    Int,
    InvokeRequest,
    Metric,
    PredictionInput,
    ServingContext,
    is_gpu_instance,
)
from sagedrop.errors import Problem

WORD2VEC_MODES = ("batch_skipgram", "skipgram", "cbow")
SUPERVISED = "supervised"
MODES = (*WORD2VEC_MODES, SUPERVISED)
# https://docs.aws.amazon.com/sagemaker/latest/dg/blazingtext.html ("Train with File Mode"): labels are
# words prefixed by __label__, anywhere in the line.
LABEL_PREFIX = "__label__"


# https://docs.aws.amazon.com/sagemaker/latest/dg/blazingtext_hyperparameters.html, both tables
# ("Word2Vec Hyperparameters", "Text Classification Hyperparameters"). Names in one table only are
# listed in WORD2VEC_ONLY / SUPERVISED_ONLY below; batch_size applies to batch_skipgram only.
HYPERPARAMETERS: tuple[HyperParameter, ...] = (
    HyperParameter("mode", Choice(MODES), required=True),
    HyperParameter("batch_size", Int(minimum=1)),
    HyperParameter("buckets", Int(minimum=1)),
    HyperParameter("early_stopping", Bool(style="title")),
    HyperParameter("epochs", Int(minimum=1)),
    HyperParameter("evaluation", Bool(style="title")),
    HyperParameter("learning_rate", Float(minimum=0, min_open=True)),
    HyperParameter("max_char", Int(minimum=1)),
    HyperParameter("min_char", Int(minimum=1)),
    HyperParameter("min_count", Int(minimum=0)),
    HyperParameter("min_epochs", Int(minimum=1)),
    HyperParameter("negative_samples", Int(minimum=1)),
    HyperParameter("patience", Int(minimum=1)),
    HyperParameter("sampling_threshold", Float(minimum=0, maximum=1, min_open=True)),
    HyperParameter("subwords", Bool(style="title")),
    HyperParameter("vector_dim", Int(minimum=1)),
    HyperParameter("window_size", Int(minimum=1)),
    HyperParameter("word_ngrams", Int(minimum=1)),
)
WORD2VEC_ONLY = (
    "batch_size",
    "evaluation",
    "max_char",
    "min_char",
    "negative_samples",
    "sampling_threshold",
    "subwords",
    "window_size",
)
SUPERVISED_ONLY = ("early_stopping", "min_epochs", "patience", "word_ngrams")

# https://docs.aws.amazon.com/sagemaker/latest/dg/blazingtext-tuning.html: Word2Vec modes report
# train:mean_rho (WS-353 similarity), supervised mode reports validation:accuracy; both maximized.
METRICS: tuple[Metric, ...] = (
    Metric("train:mean_rho", "max"),
    Metric("validation:accuracy", "max"),
)

# https://docs.aws.amazon.com/sagemaker/latest/dg/blazingtext.html ("Input/Output interface"): one
# preprocessed text file, one sentence per line, space-separated tokens (supervised: __label__<x>
# words on each line). Word2Vec: the train channel only ("No other channels are supported");
# supervised: train and optionally validation. File or Pipe (Pipe through an augmented manifest):
# https://docs.aws.amazon.com/sagemaker/latest/dg/common-info-all-im-models.html.
_CONTENT_TYPES = {".txt": "text/plain"}
CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec("train", True, _CONTENT_TYPES, "text/plain", ("text/plain",), "one sentence per line"),
    ChannelSpec("validation", False, _CONTENT_TYPES, "text/plain", ("text/plain",), "supervised mode only"),
)

# https://docs.aws.amazon.com/sagemaker/latest/dg/blazingtext.html ("Model artifacts and inference"):
# Word2Vec writes vectors.txt and vectors.bin (the binary hosting uses); supervised writes model.bin.
SERVING_FILES = {"word2vec": ("vectors.bin",), SUPERVISED: ("model.bin",)}


class BlazingText(Algorithm):
    """The SageMaker BlazingText built-in algorithm."""

    name = "blazingtext"
    title = "BlazingText"
    # The "repository" field of image_uri_config/blazingtext.json (sources and commits: accounts.py).
    repository = "blazingtext"
    accounts = BUILTIN
    default_version = BUILTIN_VERSION
    versions = (BUILTIN_VERSION,)
    channels = CHANNELS
    hyperparameters = HYPERPARAMETERS
    metrics = METRICS
    # https://docs.aws.amazon.com/sagemaker/latest/dg/blazingtext.html ("EC2 instance recommendation"):
    # cbow/skipgram on one CPU or one GPU instance (ml.p3.2xlarge recommended); batch_skipgram on one
    # or more CPU instances with FullyReplicated data; supervised: C5 below 2 GB of data, else one GPU.
    # P2, P3, G4dn and G5 for training and inference.
    default_training_instance = "ml.c5.xlarge"
    default_hosting_instance = "ml.m5.large"
    gpu_only_training = False
    gpu_only_hosting = False
    supports_serverless = True
    # Multi-instance batch_skipgram needs FullyReplicated input (BlazingText splits the data itself), so
    # ShardedByS3Key is never right: distribution stays off; check_instance_count allows the one case.
    supports_distributed = False
    supports_network_isolation = True
    input_modes = ("File", "Pipe")
    # Both modes write a *.bin that hosting loads; serving_files_for() says which one.
    serving_files = ("*.bin",)
    serving_hint = "the BlazingText container loads vectors.bin (Word2Vec) or model.bin (supervised)"
    # Batch transform: JSON Lines, one {"source": "sentence"} per line, answered one JSON object per line
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/blazingtext.html, "Input/Output Interface", batch
    # transform in JSON Lines format).
    batch = BatchSupport(
        formats=(BatchFormat("application/jsonlines", "Line", "application/jsonlines", joinable=True),),
        source="https://docs.aws.amazon.com/sagemaker/latest/dg/blazingtext.html",
    )

    def check_hyperparameters(self, values: dict[str, Any], path: str) -> list[Problem]:
        """Parameters of the other mode's table are errors; min_char must not exceed max_char."""
        problems: list[Problem] = []
        mode = values.get("mode")
        if mode == SUPERVISED:
            wrong, table = [n for n in WORD2VEC_ONLY if n in values], "Word2Vec"
        else:
            wrong, table = [n for n in SUPERVISED_ONLY if n in values], "text classification (supervised)"
            if mode != "batch_skipgram" and "batch_size" in values:
                problems.append(
                    Problem(
                        f"{path}.batch_size",
                        f"batch_size applies to mode batch_skipgram only, mode is {mode}",
                        "remove batch_size, or set mode to batch_skipgram",
                    )
                )
        for name in wrong:
            problems.append(
                Problem(
                    f"{path}.{name}",
                    f"{name} is a {table} hyperparameter, mode is {mode}",
                    f"remove {name}, or use a mode it applies to",
                )
            )
        if values.get("min_char", 3) > values.get("max_char", 6):
            problems.append(
                Problem(
                    f"{path}.min_char",
                    f"min_char ({values.get('min_char', 3)}) is larger than max_char ({values.get('max_char', 6)})",
                    "the character n-grams run from min_char to max_char: min_char <= max_char",
                )
            )
        return problems

    def check_channels(self, channels: Mapping[str, str | None], values: Mapping[str, Any], path: str) -> list[Problem]:
        """The defaults, plus: Word2Vec modes read the train channel only."""
        problems = super().check_channels(channels, values, path)
        mode = values.get("mode")
        if mode not in WORD2VEC_MODES and values.get("early_stopping") is True and "validation" not in channels:
            # https://docs.aws.amazon.com/sagemaker/latest/dg/blazingtext_hyperparameters.html, early_stopping:
            # "Note that a validation channel is required if early stopping is used."
            problems.append(
                Problem(
                    f"{path}.validation",
                    "early_stopping needs a validation channel (it stops on validation accuracy)",
                    "add validation data (one labelled sentence per line) or set early_stopping to false",
                )
            )
        if mode in WORD2VEC_MODES and "validation" in channels:
            problems.append(
                Problem(
                    f"{path}.validation",
                    f"mode {mode} (Word2Vec) reads the train channel only",
                    "remove the validation channel, or use mode supervised",
                )
            )
        return problems

    def check_instance_count(self, count: int, values: Mapping[str, Any], path: str) -> list[Problem]:
        """Several instances only for batch_skipgram (CPU, FullyReplicated)."""
        mode = values.get("mode")
        if count > 1 and mode != "batch_skipgram":
            return [
                Problem(
                    path,
                    f"blazingtext mode {mode} trains on one instance only, got {count}",
                    "set instance_count to 1, or use mode batch_skipgram on CPU instances",
                )
            ]
        return []

    def check_training_instance(self, instance_type: str, values: Mapping[str, Any], path: str) -> list[Problem]:
        """batch_skipgram runs on CPU instances only (not wired into the manifest check yet)."""
        if values.get("mode") == "batch_skipgram" and is_gpu_instance(instance_type):
            return [
                Problem(
                    path,
                    f"mode batch_skipgram runs on CPU instances, {instance_type} is a GPU instance",
                    "use a CPU instance such as ml.c5.4xlarge, or mode skipgram/cbow on GPU",
                )
            ]
        return []

    def check_text_lines(self, lines: list[str], values: Mapping[str, Any]) -> str | None:
        """Supervised mode: every sentence carries at least one ``__label__<class>`` word."""
        if values.get("mode") != SUPERVISED:
            return None
        for number, line in enumerate(lines, start=1):
            words = line.split()
            if words and not any(word.startswith(LABEL_PREFIX) for word in words):
                return (
                    f"line {number} has no {LABEL_PREFIX}<class> word: mode supervised needs each sentence's "
                    f'labels as words prefixed by {LABEL_PREFIX} (e.g. "{LABEL_PREFIX}2 the movie was fine")'
                )
        return None

    def serving_files_for(self, values: Mapping[str, Any]) -> tuple[str, ...]:
        """model.bin for supervised models, vectors.bin for Word2Vec."""
        return SERVING_FILES[SUPERVISED if values.get("mode") == SUPERVISED else "word2vec"]

    # ---- inference ------------------------------------------------------------------------
    # https://docs.aws.amazon.com/sagemaker/latest/dg/blazingtext.html ("Model artifacts and inference"):
    # requests are application/json {"instances": [...]}: words for Word2Vec models, which answer
    # [{"vector": [...], "word": w}, ...]; sentences (space-separated tokens) for text classification,
    # which answers [{"label": ["__label__x", ...], "prob": [p, ...]}, ...], the top prediction only
    # unless {"configuration": {"k": k}} asks for the k best.

    request_content_types = ("text/plain",)
    inference_options = (
        InferenceOption("k", Int(minimum=1), "how many labels to return per sentence (mode supervised)"),
    )

    def check_options(self, options: Mapping[str, Any], path: str, values: Mapping[str, Any]) -> Problem | None:
        mode = values.get("mode")
        if "k" in options and mode in WORD2VEC_MODES:
            return Problem(
                f"{path}.k",
                f"k applies to text classification (mode supervised), this model gives word vectors (mode {mode})",
                "remove k",
            )
        return None

    def encode_request(self, payload: PredictionInput, ctx: ServingContext) -> list[InvokeRequest]:
        self.check_media_type(payload)
        if payload.body is not None:
            texts: list[Any] = codecs.text_lines(payload.body)
            name_of = lambda i: f"text/plain body line {i + 1}"  # noqa: E731
        else:
            texts = list(self.instances_of(payload))
            name_of = lambda i: f"$.instances[{i}]"  # noqa: E731
        word2vec = ctx.hyperparameters.get("mode") in WORD2VEC_MODES
        problems = codecs.ProblemList()
        for index, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                what = "a word" if word2vec else "a sentence"
                problems.add(name_of(index), f"expected {what} (a non-empty string), got {codecs.describe_value(text)}")
            elif word2vec and len(text.split()) > 1:
                problems.add(
                    name_of(index),
                    f"{text[:40]!r} is several words; a Word2Vec model embeds one word per instance",
                    "send each word as its own instance",
                )
        problems.raise_if_any()
        extra = {"configuration": {"k": ctx.options["k"]}} if "k" in ctx.options else {}
        overhead = len(codecs.json_dumps({"instances": [], **extra}))
        sizes = [len(codecs.json_dumps(text)) for text in texts]
        chunks = codecs.chunk_sizes(
            sizes, max_bytes=ctx.max_body_bytes, max_rows=ctx.max_rows, overhead=overhead, name_of=name_of
        )
        return [
            InvokeRequest(
                codecs.json_dumps({"instances": texts[c.start : c.end], **extra}),
                "application/json",
                "application/json",
                c.count,
                c.start,
            )
            for c in chunks
        ]

    def decode_response(
        self, body: bytes, content_type: str, request: InvokeRequest, ctx: ServingContext
    ) -> list[dict[str, Any]]:
        answer = codecs.parse_json_response(body, "the blazingtext endpoint")
        if not isinstance(answer, list):
            raise codecs.BadModelResponse(f"the blazingtext endpoint answered no list: {codecs.preview(body)}")
        return [self._prediction(item, ctx) for item in answer]

    def _prediction(self, item: Any, ctx: ServingContext) -> dict[str, Any]:
        if isinstance(item, dict) and isinstance(item.get("vector"), list):
            return {"word": item.get("word"), "vector": item["vector"]}
        labels, probs = (item.get("label"), item.get("prob")) if isinstance(item, dict) else (None, None)
        if isinstance(labels, str):
            labels, probs = [labels], [probs]
        if not isinstance(labels, list) or not isinstance(probs, list) or not labels or len(labels) != len(probs):
            raise codecs.BadModelResponse(
                f"the blazingtext endpoint answered neither a vector nor labels with probabilities: {item!r:.120}"
            )
        top = [self._label(raw, prob, ctx) for raw, prob in zip(labels, probs, strict=True)]
        prediction = dict(top[0])
        if len(top) > 1:
            prediction["top"] = top
        return prediction

    def _label(self, raw: Any, probability: Any, ctx: ServingContext) -> dict[str, Any]:
        """``__label__2`` -> predicted_label 2 (named from the manifest's labels when given)."""
        text = str(raw).removeprefix(LABEL_PREFIX)
        index = int(text) if text.isdigit() else None
        name = self.label_for(index, ctx)
        return {
            "predicted_label": index if index is not None else text,
            "label": name if name is not None else text,
            "probability": probability,
        }


ALGORITHM = BlazingText()
