"""The local seq2seq training loop: batches, optimizer, checkpoints, metrics, early stopping.

The rules it follows (and their sources) are listed in :mod:`sagedrop_local.algorithms.seq2seq`.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sagedrop_local.algorithms.common import Log
from sagedrop_local.algorithms.seq2seq_model import BOS, EOS, PAD, NetConfig, Seq2SeqNet, beam_search

Pair = tuple[list[int], list[int]]
SEED = 1
LOWER_IS_BETTER = {"perplexity": True, "accuracy": False, "bleu": False}
EVAL_BATCH = 256


def net_config(values: Mapping[str, Any], source_vocab: int, target_vocab: int) -> NetConfig:
    return NetConfig(
        source_vocab=source_vocab,
        target_vocab=target_vocab,
        cell=values["rnn_cell_type"],
        hidden=values["rnn_num_hidden"],
        embed_source=values["num_embed_source"],
        embed_target=values["num_embed_target"],
        layers_encoder=values["num_layers_encoder"],
        layers_decoder=values["num_layers_decoder"],
        attention=values["rnn_attention_type"],
        attention_hidden=values["rnn_attention_num_hidden"],
        attention_in_upper_layers=values["rnn_attention_in_upper_layers"],
        residual=values["rnn_residual_connections"],
        first_residual_layer=values["rnn_first_residual_layer"],
        state_init=values["rnn_decoder_state_init"],
        embed_dropout_source=values["embed_dropout_source"],
        embed_dropout_target=values["embed_dropout_target"],
        decoder_hidden_dropout=values["rnn_decoder_hidden_dropout"],
    )


def initialize(net: nn.Module, values: Mapping[str, Any], generator: torch.Generator) -> None:
    """Weights (2+ dimensions) as MXNet's initializers draw them; biases zero.

    apache/mxnet ``python/mxnet/initializer.py`` (at 69799f3ce3b60ca0110970a429417159cb0073d5):
    ``Uniform(scale)`` draws from [-scale, scale]; ``Xavier(rnd_type="uniform", factor_type,
    magnitude)`` from [-s, s] with s = sqrt(magnitude / factor), factor = fan_in, fan_out or their
    mean (``in``/``out``/``avg``); for the 2-D weights here fan_in = shape[1], fan_out = shape[0].
    """
    scale = values["weight_init_scale"]
    with torch.no_grad():
        for name, parameter in net.named_parameters():
            if parameter.dim() < 2:
                parameter.zero_()
                continue
            if values["weight_init_type"] == "uniform":
                bound = scale
            else:
                fan_out = parameter.shape[0]
                fan_in = parameter[0].numel()
                factor = {"in": fan_in, "out": fan_out, "avg": (fan_in + fan_out) / 2.0}[values["xavier_factor_type"]]
                bound = math.sqrt(scale / factor)
            parameter.uniform_(-bound, bound, generator=generator)
            if name.endswith("embed.weight"):
                parameter[PAD].zero_()


def make_batches(pairs: list[Pair], values: Mapping[str, Any], rng: random.Random | None) -> list[list[Pair]]:
    """Mini-batches of ``batch_size``; bucketed by source length (``bucket_width``) when enabled; shuffled."""
    size = values["batch_size"]
    order = list(range(len(pairs)))
    if rng is not None:
        rng.shuffle(order)
    if values["bucketing_enabled"]:
        width = values["bucket_width"]
        order.sort(key=lambda i: (len(pairs[i][0]) - 1) // width)
    batches = [[pairs[i] for i in order[start : start + size]] for start in range(0, len(order), size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def tensors(batch: list[Pair], values: Mapping[str, Any], pad_to_max: bool) -> tuple[torch.Tensor, ...]:
    """(source, source lengths, decoder input = BOS + target, decoder output = target + EOS), padded."""
    source_len = values["max_seq_len_source"] if pad_to_max else max(len(s) for s, _ in batch)
    target_len = (values["max_seq_len_target"] if pad_to_max else max(len(t) for _, t in batch)) + 1
    source = torch.full((len(batch), source_len), PAD, dtype=torch.long)
    target_in = torch.full((len(batch), target_len), PAD, dtype=torch.long)
    target_out = torch.full((len(batch), target_len), PAD, dtype=torch.long)
    for row, (s, t) in enumerate(batch):
        source[row, : len(s)] = torch.tensor(s)
        target_in[row, : len(t) + 1] = torch.tensor([BOS, *t])
        target_out[row, : len(t) + 1] = torch.tensor([*t, EOS])
    lengths = torch.tensor([len(s) for s, _ in batch])
    return source, lengths, target_in, target_out


def bleu(hypotheses: list[str], references: list[str]) -> float:
    """Sockeye's raw_corpus_bleu: sacreBLEU, no tokenization, floor smoothing 0.01, as a fraction (0..1)."""
    from sacrebleu.metrics import BLEU

    scorer = BLEU(tokenize="none", smooth_method="floor", smooth_value=0.01, effective_order=True, force=True)
    score = scorer.corpus_score(hypotheses, [references]).score / 100.0
    return 0.0 if math.isnan(score) else min(score, 1.0)


def sample_indices(size: int, wanted: int, seed: int = SEED) -> list[int]:
    """``wanted`` distinct indices of ``size`` (all when wanted is -1 or at least size), sorted."""
    if wanted < 0 or wanted >= size:
        return list(range(size))
    return sorted(random.Random(seed).sample(range(size), wanted))


class Trainer:
    def __init__(self, values: Mapping[str, Any], source_vocab: int, target_vocab: int, log: Log) -> None:
        self.values = values
        self.log = log
        torch.manual_seed(SEED)
        # Small recurrent models: more threads only contend (one update took 30x longer with 2 on 2 busy cores).
        torch.set_num_threads(1)
        self.config = net_config(values, source_vocab, target_vocab)
        self.net = Seq2SeqNet(self.config)
        initialize(self.net, values, torch.Generator().manual_seed(SEED))
        self.optimizer = self._optimizer()
        self.loss = nn.CrossEntropyLoss(ignore_index=PAD, reduction="sum")
        self.lr = float(values["learning_rate"])
        self.best_state: dict[str, torch.Tensor] | None = None
        self._best_value: float | None = None

    def _optimizer(self) -> torch.optim.Optimizer:
        v = self.values
        params = self.net.parameters()
        lr, decay = v["learning_rate"], v["weight_decay"]
        if v["optimizer_type"] == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=v["momentum"] or 0.0, weight_decay=decay)
        if v["optimizer_type"] == "rmsprop":
            return torch.optim.RMSprop(params, lr=lr, weight_decay=decay)
        return torch.optim.Adam(params, lr=lr, weight_decay=decay)

    def net_config_dict(self) -> dict[str, Any]:
        return asdict(self.config)

    def save(self, path: Path) -> None:
        torch.save(self.net.state_dict(), path)

    # ---- schedule ----------------------------------------------------------------------------

    def _scheduled_lr(self, updates: int) -> float:
        v = self.values
        span = v["fixed_rate_lr_half_life"] * v["checkpoint_frequency_num_batches"]
        if v["lr_scheduler_type"] == "fixed_rate_inv_t":
            return v["learning_rate"] / (1.0 + updates / span)
        if v["lr_scheduler_type"] == "fixed_rate_inv_sqrt_t":
            return v["learning_rate"] / math.sqrt(1.0 + 3.0 * updates / span)
        return self.lr

    def _set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    # ---- steps and evaluation ----------------------------------------------------------------

    def _update(self, batch: list[Pair]) -> tuple[float, int, int]:
        self.net.train()
        source, lengths, target_in, target_out = tensors(batch, self.values, not self.values["bucketing_enabled"])
        logits = self.net(source, lengths, target_in)
        loss = self.loss(logits.reshape(-1, logits.size(-1)), target_out.reshape(-1))
        tokens = int((target_out != PAD).sum())
        self.optimizer.zero_grad()
        (loss / max(tokens, 1)).backward()
        if self.values["clip_gradient"] >= 0:
            nn.utils.clip_grad_value_(self.net.parameters(), self.values["clip_gradient"])
        self.optimizer.step()
        correct = int(((logits.argmax(-1) == target_out) & (target_out != PAD)).sum())
        return float(loss.detach()), tokens, correct

    @torch.no_grad()
    def score(self, pairs: list[Pair]) -> tuple[float, float]:
        """(perplexity, accuracy) of the reference targets (teacher forcing), over tokens + EOS."""
        self.net.eval()
        total = tokens = correct = 0.0
        for start in range(0, len(pairs), EVAL_BATCH):
            batch = pairs[start : start + EVAL_BATCH]
            source, lengths, target_in, target_out = tensors(batch, self.values, False)
            logits = self.net(source, lengths, target_in)
            total += float(self.loss(logits.reshape(-1, logits.size(-1)), target_out.reshape(-1)))
            mask = target_out != PAD
            tokens += float(mask.sum())
            correct += float(((logits.argmax(-1) == target_out) & mask).sum())
        return math.exp(min(total / max(tokens, 1.0), 50.0)), correct / max(tokens, 1.0)

    @torch.no_grad()
    def translate(self, sources: list[list[int]], beam: int, max_length: int) -> list[list[int]]:
        self.net.eval()
        out: list[list[int]] = []
        for start in range(0, len(sources), EVAL_BATCH):
            chunk = sources[start : start + EVAL_BATCH]
            source = torch.full((len(chunk), max(len(s) for s in chunk)), PAD, dtype=torch.long)
            for row, s in enumerate(chunk):
                source[row, : len(s)] = torch.tensor(s)
            lengths = torch.tensor([len(s) for s in chunk])
            out.extend(ids for ids, _ in beam_search(self.net, source, lengths, beam, max_length))
        return out

    def evaluate(self, validation: list[Pair], bleu_pairs: list[Pair] | None) -> dict[str, float]:
        perplexity, accuracy = self.score(validation)
        metrics = {"validation:perplexity": perplexity, "validation:accuracy": accuracy}
        if bleu_pairs:
            hypotheses = self.translate([s for s, _ in bleu_pairs], self.values["beam_size"], self._max_output())
            metrics["validation:bleu"] = bleu(
                [" ".join(map(str, h)) for h in hypotheses], [" ".join(map(str, t)) for _, t in bleu_pairs]
            )
        return metrics

    def _max_output(self) -> int:
        return self.values["max_seq_len_target"] + 1

    # ---- the loop ----------------------------------------------------------------------------

    def fit(self, train: list[Pair], validation: list[Pair]) -> list[tuple[str, float]]:
        v = self.values
        optimized = v["optimized_metric"]
        sample = v["bleu_sample_size"]
        if sample == 0 and optimized == "bleu":
            sample = -1  # the default 0 with optimized_metric=bleu: the whole validation set
            self.log("bleu_sample_size=0 with optimized_metric=bleu: BLEU on the whole validation set")
        bleu_pairs = [validation[i] for i in sample_indices(len(validation), sample)] if sample != 0 else None
        frequency, max_batches, max_epochs = (
            v["checkpoint_frequency_num_batches"],
            v["max_num_batches"],
            v["max_num_epochs"],
        )
        rng = random.Random(SEED)
        started = time.monotonic()
        updates = epoch = checkpoints = stale = plateau = 0
        best: dict[str, float] | None = None
        window = [0.0, 0, 0]  # loss, tokens, correct since the last checkpoint
        stop = ""
        while not stop:
            epoch += 1
            for batch in make_batches(train, v, rng):
                self._set_lr(self._scheduled_lr(updates))
                loss, tokens, correct = self._update(batch)
                updates += 1
                window = [window[0] + loss, window[1] + tokens, window[2] + correct]
                if updates % frequency == 0:
                    checkpoints += 1
                    improved, metrics = self._checkpoint(checkpoints, epoch, updates, window, validation, bleu_pairs)
                    window = [0.0, 0, 0]
                    best, stale, plateau = self._after(improved, metrics, best, stale, plateau)
                    if max_epochs is None and stale >= v["checkpoint_threshold"] and epoch >= v["min_num_epochs"]:
                        stop = (
                            f"{optimized} did not improve for {stale} checkpoints (checkpoint_threshold="
                            f"{v['checkpoint_threshold']})"
                        )
                if max_batches != -1 and updates >= max_batches and not stop:
                    stop = f"max_num_batches={max_batches} updates done"
                if stop:
                    break
            if max_epochs is not None and epoch >= max_epochs and not stop:
                stop = f"max_num_epochs={max_epochs} epochs done"
        if updates % frequency != 0:
            checkpoints += 1
            improved, metrics = self._checkpoint(checkpoints, epoch, updates, window, validation, bleu_pairs)
            best, _, _ = self._after(improved, metrics, best, stale, plateau, final=True)
        seconds = time.monotonic() - started
        self.log(f"training stopped after {updates} updates, {epoch} epoch(s), {seconds:.1f} s: {stop}")
        if self.best_state is not None:
            self.net.load_state_dict(self.best_state)
        assert best is not None
        return sorted(best.items())

    def _checkpoint(
        self,
        number: int,
        epoch: int,
        updates: int,
        window: list[Any],
        validation: list[Pair],
        bleu_pairs: list[Pair] | None,
    ) -> tuple[bool, dict[str, float]]:
        metrics = self.evaluate(validation, bleu_pairs)
        loss, tokens, correct = window
        training = (
            math.exp(min(loss / max(tokens, 1), 50.0))
            if self.values["training_metric"] == "perplexity"
            else correct / max(tokens, 1)
        )
        shown = ", ".join(f"{name}={value:.4f}" for name, value in sorted(metrics.items()))
        self.log(
            f"checkpoint {number} (epoch {epoch}, update {updates}, lr {self.optimizer.param_groups[0]['lr']:.2e}): "
            f"train {self.values['training_metric']}={training:.4f}, {shown}"
        )
        return self._improves(metrics), metrics

    def _improves(self, metrics: Mapping[str, float]) -> bool:
        name = self.values["optimized_metric"]
        value = metrics[f"validation:{name}"]
        if self._best_value is None:
            return True
        return value < self._best_value if LOWER_IS_BETTER[name] else value > self._best_value

    def _after(
        self,
        improved: bool,
        metrics: dict[str, float],
        best: dict[str, float] | None,
        stale: int,
        plateau: int,
        final: bool = False,
    ) -> tuple[dict[str, float] | None, int, int]:
        """Keep the best parameters; count checkpoints without improvement; plateau_reduce the rate."""
        if improved:
            self._best_value = metrics[f"validation:{self.values['optimized_metric']}"]
            self.best_state = copy.deepcopy(self.net.state_dict())
            return metrics, 0, 0
        stale, plateau = stale + 1, plateau + 1
        v = self.values
        reduce = v["lr_scheduler_type"] == "plateau_reduce" and v["plateau_reduce_lr_factor"] < 1.0
        if not final and reduce and plateau >= v["plateau_reduce_lr_threshold"]:
            old = self.lr
            self.lr *= v["plateau_reduce_lr_factor"]
            self.log(f"{plateau} checkpoints without improvement: learning rate {old:.2e} -> {self.lr:.2e}")
            if self.best_state is not None:
                self.net.load_state_dict(self.best_state)
            plateau = 0
        return best, stale, plateau
