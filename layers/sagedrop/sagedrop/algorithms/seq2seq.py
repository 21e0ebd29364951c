"""Sequence-to-sequence (RNN or CNN encoder-decoder with attention), GPU only.

Facts from the Amazon SageMaker AI developer guide (pages cited above each table).
"""

from __future__ import annotations

from typing import Any

from sagedrop.algorithms.accounts import BUILTIN, BUILTIN_VERSION, REPOSITORIES
from sagedrop.algorithms.base import Algorithm, Bool, ChannelSpec, Choice, Float, HyperParameter, Int, Metric
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
    ChannelSpec("vocab", True, {}, None, (), "vocab.src.json and vocab.trg.json"),
)


class Seq2Seq(Algorithm):
    """The SageMaker sequence-to-sequence built-in algorithm."""

    name = "seq2seq"
    title = "Sequence-to-Sequence"
    repository = REPOSITORIES["seq2seq"]
    accounts = BUILTIN
    default_version = BUILTIN_VERSION
    versions = (BUILTIN_VERSION,)
    channels = CHANNELS
    hyperparameters = HYPERPARAMETERS
    metrics = METRICS
    # https://docs.aws.amazon.com/sagemaker/latest/dg/seq-2-seq.html ("EC2 instance recommendation"):
    # GPU instance types only (P2, P3, G4dn, G5), a single machine (multi-GPU instances are fine).
    # https://docs.aws.amazon.com/sagemaker/latest/dg/common-info-all-im-models.html: File input mode,
    # GPU (single instance only), not parallelizable.
    default_training_instance = "ml.p3.2xlarge"
    default_hosting_instance = "ml.p3.2xlarge"
    gpu_only_training = True
    gpu_only_hosting = True
    supports_serverless = False
    supports_distributed = False
    supports_network_isolation = True
    input_modes = ("File",)
    # The page says the vocabulary files are needed for inference, so model.tar.gz must carry them;
    # their exact names inside the archive are not documented (hence the patterns).
    serving_files = ("vocab.src*.json", "vocab.trg*.json")

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


ALGORITHM = Seq2Seq()
