"""Seq2Seq on the local stack: an RNN encoder-decoder with attention trained with torch on CPU.

What follows the SageMaker developer guide (seq-2-seq.html, seq-2-seq-hyperparameters.html,
seq-2-seq-tuning.html) and Sockeye, which the guide names as the algorithm's basis:

* channels ``train`` and ``validation``: RecordIO-protobuf records with int32 token ids in
  ``features["source"]`` and ``features["target"]`` (what ``sagedrop prepare seq2seq`` and the
  example notebook's create_vocab_proto.py write; read with the layer's ``read_seq2seq``), and
  ``vocab`` with ``vocab.src.json`` and ``vocab.trg.json``; "If the algorithm doesn't find data in
  any of these three channels, training results in an error" (seq-2-seq.html).
* every hyperparameter of the page is parsed with the layer's own spec
  (``sagedrop.algorithms.seq2seq.HYPERPARAMETERS``) and its documented default; the network is
  described in :mod:`seq2seq_model`. ``encoder_type``/``decoder_type`` ``cnn`` (Gehring et al.'s
  convolutional model) is not available locally: the job fails saying so.
* training: mini-batches of ``batch_size`` pairs, bucketed by source length in steps of
  ``bucket_width`` (``bucketing_enabled=false`` pads every batch to the maximum lengths), sources
  and targets truncated to ``max_seq_len_source``/``max_seq_len_target``, cross-entropy over the
  target tokens plus ``</s>``; ``optimizer_type`` adam/sgd(+``momentum``)/rmsprop with
  ``learning_rate`` and ``weight_decay``; ``clip_gradient`` clips each gradient value to
  [-c, c] (negative: off); ``weight_init_type``/``weight_init_scale``/``xavier_factor_type`` as
  MXNet's Xavier/Uniform initializers define them.
* "Checkpoint and evaluate every x batches" (``checkpoint_frequency_num_batches``), and once more
  when training stops: ``validation:perplexity`` (exp of the mean cross-entropy per target
  token), ``validation:accuracy`` (share of target tokens predicted right with the reference
  prefix) and, when ``optimized_metric`` is bleu or ``bleu_sample_size`` is not 0,
  ``validation:bleu`` of beam-search translations (``beam_size``) of ``bleu_sample_size`` random
  validation pairs (-1: all), computed as Sockeye does (awslabs/sockeye ``sockeye/evaluate.py``
  at 08cb19a39e0a0875a1ed229dd9c3a143e93e3c0a: sacreBLEU without tokenization, smoothing floor
  0.01, divided by 100, so between 0 and 1).
* stopping: after ``max_num_batches`` updates (-1: no limit); when ``max_num_epochs`` is given,
  after that many epochs and not before ("Training continues until this number of epochs even if
  validation accuracy is not improving if this parameter is passed"); otherwise when
  ``optimized_metric`` has not improved for ``checkpoint_threshold`` checkpoints, once
  ``min_num_epochs`` epochs are done ("The minimum number of epochs the training must run before it
  is stopped via early stopping conditions"). The model kept
  is the best checkpoint's ("stores the best model artifact"), and its metrics are the job's
  final metrics.
* ``lr_scheduler_type`` as Sockeye's ``sockeye/lr_scheduler.py`` (at
  016a165b67c00459612f35265914552cf8a3209d) computes it: ``plateau_reduce`` multiplies the rate
  by ``plateau_reduce_lr_factor`` after ``plateau_reduce_lr_threshold`` checkpoints without
  improvement and goes back to the best parameters; ``fixed_rate_inv_t`` lr / (1 + t / T) and
  ``fixed_rate_inv_sqrt_t`` lr / sqrt(1 + 3 t / T), T = ``fixed_rate_lr_half_life`` checkpoints.

Artifacts: ``vocab.src.json`` and ``vocab.trg.json`` at the top of model.tar.gz (the files of the
vocab channel, unchanged, so they are interchangeable with SageMaker's), ``seq2seq-config.json``
(the network's settings) and ``seq2seq-weights.pt`` (a torch state dict: not the MXNet/Sockeye
parameters SageMaker writes, so a model trained here cannot be served by SageMaker and the other
way round).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sagedrop_local.algorithms.common import (
    RECORDIO_PROTOBUF,
    Log,
    TrainResult,
    base_content_type,
    channel_files,
    client_error,
)

VOCAB_SOURCE, VOCAB_TARGET = "vocab.src.json", "vocab.trg.json"
CONFIG_FILE, WEIGHTS_FILE = "seq2seq-config.json", "seq2seq-weights.pt"
FORMAT = "sagedrop-local seq2seq 1"
SEED = 1
LOCAL_CHANNELS = ("train", "validation", "vocab")

# Documented defaults, https://docs.aws.amazon.com/sagemaker/latest/dg/seq-2-seq-hyperparameters.html
# (rnn_attention_num_hidden defaults to rnn_num_hidden; max_num_epochs and momentum have none).
DEFAULTS: dict[str, Any] = {
    "batch_size": 64,
    "beam_size": 5,
    "bleu_sample_size": 0,
    "bucket_width": 10,
    "bucketing_enabled": True,
    "checkpoint_frequency_num_batches": 1000,
    "checkpoint_threshold": 3,
    "clip_gradient": 1.0,
    "cnn_activation_type": "glu",
    "cnn_hidden_dropout": 0.0,
    "cnn_kernel_width_decoder": 5,
    "cnn_kernel_width_encoder": 3,
    "cnn_num_hidden": 512,
    "decoder_type": "rnn",
    "embed_dropout_source": 0.0,
    "embed_dropout_target": 0.0,
    "encoder_type": "rnn",
    "fixed_rate_lr_half_life": 10,
    "learning_rate": 0.0003,
    "loss_type": "cross-entropy",
    "lr_scheduler_type": "plateau_reduce",
    "max_num_batches": -1,
    "max_num_epochs": None,
    "max_seq_len_source": 100,
    "max_seq_len_target": 100,
    "min_num_epochs": 0,
    "momentum": None,
    "num_embed_source": 512,
    "num_embed_target": 512,
    "num_layers_decoder": 1,
    "num_layers_encoder": 1,
    "optimized_metric": "perplexity",
    "optimizer_type": "adam",
    "plateau_reduce_lr_factor": 0.5,
    "plateau_reduce_lr_threshold": 3,
    "rnn_attention_in_upper_layers": True,
    "rnn_attention_num_hidden": None,
    "rnn_attention_type": "mlp",
    "rnn_cell_type": "lstm",
    "rnn_decoder_hidden_dropout": 0.0,
    "rnn_decoder_state_init": "last",
    "rnn_first_residual_layer": 2,
    "rnn_num_hidden": 1024,
    "rnn_residual_connections": False,
    "training_metric": "perplexity",
    "weight_decay": 0.0,
    "weight_init_scale": 2.34,
    "weight_init_type": "xavier",
    "xavier_factor_type": "in",
}

_CNN_ONLY = ("cnn_activation_type", "cnn_hidden_dropout", "cnn_kernel_width_decoder", "cnn_kernel_width_encoder")


def _bad(detail: str) -> Exception:
    return client_error(f"Unable to initialize the algorithm. Failed to validate hyperparameters: {detail}")


def parse_hyperparameters(given: Mapping[str, str], log: Log) -> dict[str, Any]:
    """The documented hyperparameters with their defaults; a wrong name or value fails the job."""
    from sagedrop.algorithms.seq2seq import ALGORITHM, HYPERPARAMETERS

    spec = {h.name: h for h in HYPERPARAMETERS}
    values = dict(DEFAULTS)
    given_values: dict[str, Any] = {}
    for name, raw in given.items():
        if name.startswith("_"):
            log(f"hyperparameter {name} is ignored locally")
            continue
        if name not in spec:
            raise _bad(
                f"{name!r} is not a seq2seq hyperparameter (the list: "
                "https://docs.aws.amazon.com/sagemaker/latest/dg/seq-2-seq-hyperparameters.html)"
            )
        try:
            value, _text = spec[name].type.convert(raw)
        except ValueError as exc:
            raise _bad(f"{name}={raw!r}: expected {spec[name].type.expected} ({exc})") from None
        given_values[name] = value
    values.update(given_values)
    problems = ALGORITHM.check_hyperparameters(given_values, "hyperparameters")
    if problems:
        raise _bad("; ".join(f"{p.message} ({p.hint})" if p.hint else p.message for p in problems))
    for side in ("encoder_type", "decoder_type"):
        if values[side] == "cnn":
            raise client_error(
                f"{side}=cnn (the convolutional model of Gehring et al.) is not available locally: the local "
                "seq2seq trains the rnn encoder-decoder with attention only. Set encoder_type and decoder_type to "
                "rnn, or run this job on SageMaker"
            )
    unused = [name for name in (*_CNN_ONLY, "cnn_num_hidden") if name in given_values]
    if unused:
        log(f"{', '.join(unused)} apply to the cnn encoder/decoder only; this model is rnn, so they are not used")
    if values["rnn_attention_num_hidden"] is None:
        values["rnn_attention_num_hidden"] = values["rnn_num_hidden"]
    if values["plateau_reduce_lr_factor"] <= 0 or values["plateau_reduce_lr_factor"] > 1:
        raise _bad(f"plateau_reduce_lr_factor={values['plateau_reduce_lr_factor']:g} must be in (0, 1]")
    if values["learning_rate"] <= 0:
        raise _bad(f"learning_rate={values['learning_rate']:g} must be positive")
    return values


# --------------------------------------------------------------------------------------------
# Channels
# --------------------------------------------------------------------------------------------


def read_vocab(directory: Path, name: str) -> dict[str, int]:
    """A vocabulary file of the vocab channel, checked as ``sagedrop prepare seq2seq`` checks it."""
    from sagedrop_client.prepare import PrepareError
    from sagedrop_client.prepare.seq2seq import load_vocab

    path = directory / name
    if not path.is_file():
        found = ", ".join(sorted(p.name for p in channel_files(directory))) or "no files"
        raise client_error(
            f"Channel 'vocab' has no {name} (it holds {found}): the vocab channel needs {VOCAB_SOURCE} and "
            f"{VOCAB_TARGET}, as `sagedrop prepare seq2seq` or create_vocab_proto.py write them"
        )
    try:
        return load_vocab(path)
    except PrepareError as exc:
        detail = "; ".join(str(problem).replace(str(directory), "vocab") for problem in exc.problems)
        raise client_error(f"Channel 'vocab': {detail}") from None


def read_pairs(root: Path, channel: str, source_size: int, target_size: int) -> tuple[list[list[int]], list[list[int]]]:
    """Every record of a data channel as (sources, targets), token ids checked against the vocabularies."""
    from sagedrop.recordio import RecordIOError, read_seq2seq

    files = channel_files(root)
    if not files:
        raise client_error(
            f"No data in channel '{channel}': seq2seq needs the train, validation and vocab channels "
            "(seq-2-seq.html: without data in any of them training results in an error)"
        )
    sources: list[list[int]] = []
    targets: list[list[int]] = []
    for path in files:
        where = f"{channel}/{path.relative_to(root).as_posix()}"
        try:
            file_sources, file_targets = read_seq2seq(path)
        except RecordIOError as exc:
            raise client_error(
                f"{where} is not seq2seq RecordIO-protobuf ({exc}); seq2seq reads records with int32 "
                'features["source"] and features["target"], as `sagedrop prepare seq2seq` writes them'
            ) from None
        for side, sequences, size, vocab in (
            ("source", file_sources, source_size, VOCAB_SOURCE),
            ("target", file_targets, target_size, VOCAB_TARGET),
        ):
            for index, sequence in enumerate(sequences):
                bad = next((t for t in sequence if t < 0 or t >= size), None)
                if bad is not None:
                    raise client_error(
                        f"{where}, record {index + 1}: {side} token id {bad} is not in {vocab} ({size} entries); "
                        "were the records written with this vocabulary?"
                    )
        sources.extend(file_sources)
        targets.extend(file_targets)
    return sources, targets


def _check_channels(channels: Mapping[str, Path], content_types: Mapping[str, str | None]) -> None:
    for name in channels:
        if name not in LOCAL_CHANNELS:
            raise client_error(
                "Unable to initialize the algorithm. Failed to validate input data configuration: "
                f"channel {name!r} is not a seq2seq channel (train, validation, vocab)"
            )
    missing = [name for name in LOCAL_CHANNELS if name not in channels]
    if missing:
        raise client_error(
            f"seq2seq needs the train, validation and vocab channels; missing: {', '.join(missing)} (seq-2-seq.html)"
        )
    for name in ("train", "validation"):
        base = base_content_type(content_types.get(name))
        if base not in (None, RECORDIO_PROTOBUF):
            raise client_error(
                f"Channel '{name}': content type {content_types.get(name)} is not supported; seq2seq trains on "
                f"{RECORDIO_PROTOBUF}"
            )


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def _clean(
    sources: list[list[int]], targets: list[list[int]], values: Mapping[str, Any], channel: str, log: Log
) -> list[tuple[list[int], list[int]]]:
    """Pairs truncated to the maximum lengths; pairs with an empty side are dropped (logged)."""
    max_source, max_target = values["max_seq_len_source"], values["max_seq_len_target"]
    pairs, empty, cut = [], 0, 0
    for source, target in zip(sources, targets, strict=True):
        if not source or not target:
            empty += 1
            continue
        cut += int(len(source) > max_source or len(target) > max_target)
        pairs.append((source[:max_source], target[:max_target]))
    if empty:
        log(f"{channel}: {empty} record(s) with an empty source or target are skipped")
    if cut:
        log(f"{channel}: {cut} pair(s) truncated to max_seq_len_source={max_source}/max_seq_len_target={max_target}")
    if not pairs:
        raise client_error(f"No usable pairs in channel '{channel}': every record has an empty source or target")
    return pairs


def train(
    hyperparameters: Mapping[str, str],
    channels: Mapping[str, Path],
    content_types: Mapping[str, str | None],
    model_dir: Path,
    log: Log,
) -> TrainResult:
    values = parse_hyperparameters(hyperparameters, log)
    _check_channels(channels, content_types)
    vocab_dir = channels["vocab"]
    source_vocab = read_vocab(vocab_dir, VOCAB_SOURCE)
    target_vocab = read_vocab(vocab_dir, VOCAB_TARGET)
    data = {}
    for name in ("train", "validation"):
        sources, targets = read_pairs(channels[name], name, len(source_vocab), len(target_vocab))
        data[name] = _clean(sources, targets, values, name, log)
    log(
        f"Read {len(data['train'])} training and {len(data['validation'])} validation pairs; vocabularies: "
        f"{len(source_vocab)} source, {len(target_vocab)} target entries"
    )
    from sagedrop_local.algorithms.seq2seq_train import Trainer

    trainer = Trainer(values, len(source_vocab), len(target_vocab), log)
    metrics = trainer.fit(data["train"], data["validation"])
    model_dir.mkdir(parents=True, exist_ok=True)
    for name in (VOCAB_SOURCE, VOCAB_TARGET):
        shutil.copyfile(vocab_dir / name, model_dir / name)
    trainer.save(model_dir / WEIGHTS_FILE)
    config = {"format": FORMAT, "network": trainer.net_config_dict(), "hyperparameters": _jsonable(values)}
    (model_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    log("final metrics (best checkpoint): " + ", ".join(f"{name}={value:.4f}" for name, value in metrics))
    return TrainResult(metrics)


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is None or isinstance(v, bool | int | float | str)}


# --------------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------------


def load(model_dir: Path) -> Any:
    """The predictor of an extracted model.tar.gz written by this module."""
    from sagedrop_local.algorithms.seq2seq_serve import Seq2SeqPredictor

    return Seq2SeqPredictor.from_dir(model_dir)
