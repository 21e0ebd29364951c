"""Sequence-to-sequence (RNN or CNN encoder-decoder with attention): trains on GPU, serves on CPU or GPU.

Facts from the Amazon SageMaker AI developer guide (pages cited above each table).
"""

from __future__ import annotations

import math
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
)
from sagedrop.errors import Problem


def _dropout() -> Float:
    return Float(minimum=0, maximum=1)


# Every hyperparameter on https://docs.aws.amazon.com/sagemaker/latest/dg/seq-2-seq-hyperparameters.html
# (all optional). bleu_sample_size and max_num_batches take -1 ("full validation set", "infinite").
HYPERPARAMETERS: tuple[HyperParameter, ...] = (
    HyperParameter("batch_size", Int(minimum=1)),
    HyperParameter("beam_size", Int(minimum=1)),
    HyperParameter("bleu_sample_size", Int(minimum=-1)),
    HyperParameter("bucket_width", Int(minimum=1)),
    HyperParameter("bucketing_enabled", Bool()),
    HyperParameter("checkpoint_frequency_num_batches", Int(minimum=1)),
    HyperParameter("checkpoint_threshold", Int(minimum=1)),
    HyperParameter("clip_gradient", Float()),
    HyperParameter("cnn_activation_type", Choice(("glu", "relu", "softrelu", "sigmoid", "tanh"))),
    HyperParameter("cnn_hidden_dropout", _dropout()),
    HyperParameter("cnn_kernel_width_decoder", Int(minimum=1)),
    HyperParameter("cnn_kernel_width_encoder", Int(minimum=1)),
    HyperParameter("cnn_num_hidden", Int(minimum=1)),
    HyperParameter("decoder_type", Choice(("rnn", "cnn"))),
    HyperParameter("embed_dropout_source", _dropout()),
    HyperParameter("embed_dropout_target", _dropout()),
    HyperParameter("encoder_type", Choice(("rnn", "cnn"))),
    HyperParameter("fixed_rate_lr_half_life", Int(minimum=1)),
    HyperParameter("learning_rate", Float()),
    HyperParameter("loss_type", Choice(("cross-entropy",))),
    HyperParameter("lr_scheduler_type", Choice(("plateau_reduce", "fixed_rate_inv_t", "fixed_rate_inv_sqrt_t"))),
    HyperParameter("max_num_batches", Int(minimum=-1)),
    HyperParameter("max_num_epochs", Int(minimum=1)),
    HyperParameter("max_seq_len_source", Int(minimum=1)),
    HyperParameter("max_seq_len_target", Int(minimum=1)),
    # "Valid values: positive integer Default value: 0": the default is 0, so 0 is taken too.
    HyperParameter("min_num_epochs", Int(minimum=0)),
    HyperParameter("momentum", Float()),
    HyperParameter("num_embed_source", Int(minimum=1)),
    HyperParameter("num_embed_target", Int(minimum=1)),
    HyperParameter("num_layers_decoder", Int(minimum=1)),
    HyperParameter("num_layers_encoder", Int(minimum=1)),
    HyperParameter("optimized_metric", Choice(("perplexity", "accuracy", "bleu"))),
    HyperParameter("optimizer_type", Choice(("adam", "sgd", "rmsprop"))),
    HyperParameter("plateau_reduce_lr_factor", Float()),
    HyperParameter("plateau_reduce_lr_threshold", Int(minimum=1)),
    HyperParameter("rnn_attention_in_upper_layers", Bool()),
    HyperParameter("rnn_attention_num_hidden", Int(minimum=1)),
    HyperParameter("rnn_attention_type", Choice(("dot", "fixed", "mlp", "bilinear"))),
    HyperParameter("rnn_cell_type", Choice(("lstm", "gru"))),
    HyperParameter("rnn_decoder_hidden_dropout", _dropout()),
    HyperParameter("rnn_decoder_state_init", Choice(("last", "avg", "zero"))),
    HyperParameter("rnn_first_residual_layer", Int(minimum=1)),
    HyperParameter("rnn_num_hidden", Int(minimum=1)),
    HyperParameter("rnn_residual_connections", Bool()),
    HyperParameter("training_metric", Choice(("perplexity", "accuracy"))),
    HyperParameter("weight_decay", Float()),
    HyperParameter("weight_init_scale", Float()),
    HyperParameter("weight_init_type", Choice(("uniform", "xavier"))),
    HyperParameter("xavier_factor_type", Choice(("in", "out", "avg"))),
)

# https://docs.aws.amazon.com/sagemaker/latest/dg/seq-2-seq-tuning.html: three validation metrics.
METRICS: tuple[Metric, ...] = (
    Metric("validation:accuracy", "max"),
    Metric("validation:bleu", "max"),
    Metric("validation:perplexity", "min"),
)

# https://docs.aws.amazon.com/sagemaker/latest/dg/seq-2-seq.html ("Input/Output interface"): three
# channels, all needed ("If the algorithm doesn't find data in any of these three channels, training
# results in an error"): train and validation as RecordIO-protobuf with int32 tokens, vocab with
# vocab.src.json and vocab.trg.json. The page names no content type for vocab, so none is sent.
_RECORDIO = "application/x-recordio-protobuf"
_DATA_TYPES = {".rec": _RECORDIO, ".pbr": _RECORDIO, ".recordio": _RECORDIO, ".protobuf": _RECORDIO}
CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec("train", True, _DATA_TYPES, _RECORDIO, (_RECORDIO,), "RecordIO-protobuf, int32 source/target"),
    ChannelSpec("validation", True, _DATA_TYPES, _RECORDIO, (_RECORDIO,), "RecordIO-protobuf, int32 source/target"),
    ChannelSpec(
        "vocab",
        True,
        {},
        None,
        (),
        "vocab.src.json and vocab.trg.json",
        required_files=("vocab.src.json", "vocab.trg.json"),
        files_hint="upload vocab.src.json and vocab.trg.json (sagedrop prepare seq2seq writes them)",
        holds_records=False,
    ),
)


class Seq2Seq(Algorithm):
    """The SageMaker sequence-to-sequence built-in algorithm."""

    name = "seq2seq"
    title = "Sequence-to-Sequence"
    # The "repository" field of image_uri_config/seq2seq.json (sources and commits: accounts.py).
    repository = "seq2seq"
    accounts = BUILTIN
    default_version = BUILTIN_VERSION
    versions = (BUILTIN_VERSION,)
    channels = CHANNELS
    hyperparameters = HYPERPARAMETERS
    metrics = METRICS
    # https://docs.aws.amazon.com/sagemaker/latest/dg/seq-2-seq.html ("EC2 instance recommendation"):
    # GPU instance types only (P2, P3, G4dn, G5) for training, a single machine (multi-GPU instances are
    # fine). https://docs.aws.amazon.com/sagemaker/latest/dg/common-info-all-im-models.html: File input
    # mode, GPU (single instance only), not parallelizable.
    # Hosting runs on CPU: the official example, aws/amazon-sagemaker-examples @ a75d5f253ef1,
    # introduction_to_amazon_algorithms/seq2seq_translation_en-de/SageMaker-Seq2Seq-Translation-English-
    # German.ipynb, creates its endpoint config with "InstanceType": "ml.m4.xlarge" ("we could use an
    # ml.p2.xlarge (GPU) instance, but for this example we will use a free tier eligible ml.m4.xlarge").
    # The CPU default is ml.m5.xlarge: the same 4 vCPU / 16 GiB as ml.m4.xlarge, current generation.
    default_training_instance = "ml.p3.2xlarge"
    default_hosting_instance = "ml.m5.xlarge"
    cpu_hosting_instance = "ml.m5.xlarge"
    gpu_only_training = True
    gpu_only_hosting = False
    # No AWS page or example serves seq2seq serverless; the example's host has 16 GiB, serverless
    # endpoints at most 6 GB (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html,
    # memory sizes 1024 MB to 6144 MB). Refused until verified on a real account.
    supports_serverless = False
    serverless_refusal = (
        "no AWS documentation or example serves seq2seq serverless, and the official example's host "
        "(ml.m4.xlarge, 16 GiB) has more memory than serverless offers (at most 6 GB)"
    )
    supports_distributed = False
    supports_network_isolation = True
    input_modes = ("File",)
    # The page says the vocabulary files are needed for inference, so model.tar.gz must carry them;
    # their exact names inside the archive are not documented (hence the patterns).
    serving_files = ("vocab.src*.json", "vocab.trg*.json")
    serving_hint = (
        "the Seq2Seq container reads the model files and the vocabularies vocab.src.json and "
        "vocab.trg.json side by side from the archive's top level (a seq2seq training job's model.tar.gz "
        "holds them so)"
    )
    # Batch transform: JSON Lines, {"source": "sentence"} per line, answered {"target": "..."} per line
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/seq-2-seq.html, "Input/Output Interface": batch
    # transform in JSON Lines format).
    batch = BatchSupport(
        formats=(BatchFormat("application/jsonlines", "Line", "application/jsonlines", joinable=True),),
        source="https://docs.aws.amazon.com/sagemaker/latest/dg/seq-2-seq.html",
    )

    def check_hyperparameters(self, values: dict[str, Any], path: str) -> list[Problem]:
        """momentum is for sgd only; residual connections need stacked RNN layers."""
        problems: list[Problem] = []
        optimizer = values.get("optimizer_type", "adam")
        if "momentum" in values and optimizer != "sgd":
            problems.append(
                Problem(
                    f"{path}.momentum",
                    f"momentum is for optimizer_type sgd, optimizer_type is {optimizer}",
                    "remove momentum (adam and rmsprop must not get it), or set optimizer_type to sgd",
                )
            )
        hidden = values.get("rnn_num_hidden")
        if isinstance(hidden, int) and hidden % 2:
            # seq-2-seq-hyperparameters.html, rnn_num_hidden: "This must be a multiple of 2 because the
            # algorithm uses bi-directional Long Term Short Term Memory (LSTM) by default."
            problems.append(
                Problem(
                    f"{path}.rnn_num_hidden",
                    f"rnn_num_hidden must be even (the encoder is a bi-directional LSTM), got {hidden}",
                    f"use {hidden + 1} or {hidden - 1}" if hidden > 1 else "use 2 or more, e.g. 1024 (the default)",
                )
            )
        if "min_num_epochs" in values and values["min_num_epochs"] > values.get("max_num_epochs", math.inf):
            problems.append(
                Problem(
                    f"{path}.min_num_epochs",
                    f"min_num_epochs {values['min_num_epochs']} is more than max_num_epochs {values['max_num_epochs']}",
                    "lower min_num_epochs or raise max_num_epochs",
                )
            )
        layers = max(values.get("num_layers_encoder", 1), values.get("num_layers_decoder", 1))
        if values.get("rnn_residual_connections") is True and layers < 2:
            problems.append(
                Problem(
                    f"{path}.rnn_residual_connections",
                    "rnn_residual_connections needs more than one RNN layer, num_layers_encoder and "
                    "num_layers_decoder are 1",
                    "set num_layers_encoder/num_layers_decoder to 2 or more, or remove rnn_residual_connections",
                )
            )
        return problems

    # ---- inference ------------------------------------------------------------------------
    # https://docs.aws.amazon.com/sagemaker/latest/dg/seq-2-seq.html ("Inference"): application/json
    # {"instances": [{"data": "<source sentence>"}, ...]} answers {"predictions": [{"target": "..."}]}.
    # The container tokenizes with the model's own vocabulary.

    request_content_types = ("text/plain",)
    # The container answers an instance carrying {"configuration": {"attention_matrix": "true"}} with
    # its attention "matrix" beside "target" (docs seq-2-seq.html "Inference"; example notebook
    # aws/amazon-sagemaker-examples introduction_to_amazon_algorithms/seq2seq_translation_en-de/
    # SageMaker-Seq2Seq-Translation-English-German.ipynb at 53e81a12d63bb1ff3655dac2a886b41ebaf1a0d8).
    # The API takes it once per request, as {"configuration": {"attention_matrix": true}}.
    inference_options = (
        InferenceOption("attention_matrix", Bool(), "also return each translation's attention matrix"),
    )

    def encode_request(self, payload: PredictionInput, ctx: ServingContext) -> list[InvokeRequest]:
        self.check_media_type(payload)
        attention = {"configuration": {"attention_matrix": "true"}} if ctx.options.get("attention_matrix") else {}
        if payload.body is not None:
            items: list[Any] = [{"data": line, **attention} for line in codecs.text_lines(payload.body)]
            paths = [f"text/plain body line {i + 1}" for i in range(len(items))]
        else:
            items, paths = [], []
            problems = codecs.ProblemList()
            for index, item in enumerate(self.instances_of(payload)):
                path = f"$.instances[{index}]"
                text = item.get("data") if isinstance(item, dict) else item
                if isinstance(item, dict):
                    for key in sorted(set(item) - {"data"}):
                        hint = (
                            'give it once for the request: {"instances": [...], "configuration": '
                            '{"attention_matrix": true}}'
                            if key == "configuration"
                            else 'an instance is "a sentence" or {"data": "a sentence"}'
                        )
                        problems.add(f"{path}.{key}", f"unknown key {key!r} in an instance", hint)
                    path += ".data"
                if not isinstance(text, str) or not text.strip():
                    problems.add(
                        path,
                        f"expected a sentence (a non-empty string), got {codecs.describe_value(text)}",
                        'send "a sentence" or {"data": "a sentence"}',
                    )
                    continue
                items.append({"data": text, **attention})
                paths.append(path)
            problems.raise_if_any()
        sizes = [len(codecs.json_dumps(item)) for item in items]
        chunks = codecs.chunk_sizes(
            sizes,
            max_bytes=ctx.max_body_bytes,
            max_rows=ctx.max_rows,
            overhead=len(codecs.json_dumps({"instances": []})),
            name_of=lambda i: paths[i],
        )
        return [
            InvokeRequest(
                codecs.json_dumps({"instances": items[c.start : c.end]}),
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
        answer = codecs.parse_json_response(body, "the seq2seq endpoint")
        items = answer.get("predictions") if isinstance(answer, dict) else None
        if not isinstance(items, list) or not all(
            isinstance(i, dict) and isinstance(i.get("target"), str) for i in items
        ):
            raise codecs.BadModelResponse(
                f'the seq2seq endpoint answered without {{"predictions": [{{"target": ...}}]}}: {codecs.preview(body)}'
            )
        return [dict(item) for item in items]


ALGORITHM = Seq2Seq()
