"""The local seq2seq network in torch: an RNN encoder-decoder with attention, and beam search.

The architecture follows what the SageMaker developer guide says of its RNN model and Sockeye
(which the guide names as the algorithm's basis), with the options of the hyperparameters page
(https://docs.aws.amazon.com/sagemaker/latest/dg/seq-2-seq-hyperparameters.html):

* encoder: source embeddings (``num_embed_source``, ``embed_dropout_source``), a bidirectional
  first layer ("rnn_num_hidden ... must be a multiple of 2 because the algorithm uses
  bi-directional LSTM by default": each direction has rnn_num_hidden / 2 units), then
  ``num_layers_encoder - 1`` unidirectional layers; ``rnn_cell_type`` lstm or gru;
  ``rnn_residual_connections`` adds each layer's input to its output from layer
  ``rnn_first_residual_layer`` (1-based) on.
* decoder: target embeddings (``num_embed_target``, ``embed_dropout_target``) concatenated with
  the previous attentional hidden state (input feeding), ``num_layers_decoder`` cells, attention
  over the encoder states (``rnn_attention_type``), the attentional hidden state
  ``tanh(W [rnn output; context])`` with ``rnn_decoder_hidden_dropout``, then the output layer.
  ``rnn_attention_in_upper_layers`` (with more than one layer) queries the attention with the
  first layer's output and feeds the context to the upper layers, as in Google's NMT.
  ``rnn_decoder_state_init``: ``last`` (the encoder state at the last source token), ``avg``
  (the mean over the source) through a tanh layer per decoder layer, or ``zero``.
* attention (awslabs/sockeye ``sockeye/rnn_attention.py`` at
  0395f0030bbf656d1091f0c34c46eaec248ff868): ``dot`` <query, source state>; ``bilinear``
  source^T W query (Luong's "general"); ``mlp`` v^T tanh(W_s source + W_q query) with
  ``rnn_attention_num_hidden`` units (Luong's "concat"); ``fixed`` always the last encoder state,
  with a one-hot attention on the last source position ("Equivalent to no attention").
* beam search with ``beam_size``; hypotheses are ranked by their log-probability divided by
  their length (Sockeye's default length penalty, alpha 1, beta 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

PAD, UNK, BOS, EOS = 0, 1, 2, 3
"""Special token ids of both vocabularies (create_vocab_proto.py VOCAB_SYMBOLS)."""


@dataclass(frozen=True)
class NetConfig:
    source_vocab: int
    target_vocab: int
    cell: str = "lstm"
    hidden: int = 1024
    embed_source: int = 512
    embed_target: int = 512
    layers_encoder: int = 1
    layers_decoder: int = 1
    attention: str = "mlp"
    attention_hidden: int = 1024
    attention_in_upper_layers: bool = True
    residual: bool = False
    first_residual_layer: int = 2
    state_init: str = "last"
    embed_dropout_source: float = 0.0
    embed_dropout_target: float = 0.0
    decoder_hidden_dropout: float = 0.0


def _rnn(cell: str, inputs: int, hidden: int, bidirectional: bool = False) -> nn.Module:
    kind = nn.LSTM if cell == "lstm" else nn.GRU
    return kind(inputs, hidden, batch_first=True, bidirectional=bidirectional)


def _cell(cell: str, inputs: int, hidden: int) -> nn.Module:
    return nn.LSTMCell(inputs, hidden) if cell == "lstm" else nn.GRUCell(inputs, hidden)


class Attention(nn.Module):
    def __init__(self, kind: str, hidden: int, attention_hidden: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "bilinear":
            self.source_proj = nn.Linear(hidden, hidden, bias=False)
        elif kind == "mlp":
            self.source_proj = nn.Linear(hidden, attention_hidden, bias=False)
            self.query_proj = nn.Linear(hidden, attention_hidden, bias=False)
            self.score = nn.Linear(attention_hidden, 1, bias=False)

    def prepare(self, source: torch.Tensor) -> torch.Tensor:
        """What the attention precomputes from the encoder states (once per sentence)."""
        return self.source_proj(source) if self.kind in ("bilinear", "mlp") else source

    def forward(
        self, query: torch.Tensor, source: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(context (B, H), probabilities (B, S)) for a query (B, H); ``mask`` is True on real tokens."""
        if self.kind == "fixed":
            probs = nn.functional.one_hot(lengths - 1, source.size(1)).to(source.dtype)
        else:
            if self.kind == "mlp":
                scores = self.score(torch.tanh(keys + self.query_proj(query).unsqueeze(1))).squeeze(2)
            else:  # dot, bilinear
                scores = torch.bmm(keys, query.unsqueeze(2)).squeeze(2)
            probs = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
        return torch.bmm(probs.unsqueeze(1), source).squeeze(1), probs


@dataclass
class Encoded:
    states: torch.Tensor  # (B, S, H)
    keys: torch.Tensor  # attention's view of the states
    mask: torch.Tensor  # (B, S) True on real tokens
    lengths: torch.Tensor  # (B,)

    def select(self, index: torch.Tensor) -> Encoded:
        return Encoded(self.states[index], self.keys[index], self.mask[index], self.lengths[index])


class Seq2SeqNet(nn.Module):
    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.source_embed = nn.Embedding(c.source_vocab, c.embed_source, padding_idx=PAD)
        self.target_embed = nn.Embedding(c.target_vocab, c.embed_target, padding_idx=PAD)
        self.source_dropout = nn.Dropout(c.embed_dropout_source)
        self.target_dropout = nn.Dropout(c.embed_dropout_target)
        self.hidden_dropout = nn.Dropout(c.decoder_hidden_dropout)
        encoder = [_rnn(c.cell, c.embed_source, c.hidden // 2, bidirectional=True)]
        encoder += [_rnn(c.cell, c.hidden, c.hidden) for _ in range(c.layers_encoder - 1)]
        self.encoder = nn.ModuleList(encoder)
        self.upper_attention = c.attention_in_upper_layers and c.layers_decoder > 1
        decoder = [_cell(c.cell, c.embed_target + c.hidden, c.hidden)]
        upper_inputs = 2 * c.hidden if self.upper_attention else c.hidden
        decoder += [_cell(c.cell, upper_inputs, c.hidden) for _ in range(c.layers_decoder - 1)]
        self.decoder = nn.ModuleList(decoder)
        self.attention = Attention(c.attention, c.hidden, c.attention_hidden)
        states = 2 if c.cell == "lstm" else 1
        self.init_state = nn.ModuleList(nn.Linear(c.hidden, c.hidden * states) for _ in range(c.layers_decoder))
        self.combine = nn.Linear(2 * c.hidden, c.hidden)
        self.output = nn.Linear(c.hidden, c.target_vocab)

    def _residual(self, layer: int) -> bool:
        """Layer (0-based) gets a residual connection: stacked layers from rnn_first_residual_layer on."""
        return self.config.residual and layer >= 1 and layer + 1 >= self.config.first_residual_layer

    # ---- encoder ---------------------------------------------------------------------------

    def encode(self, source: torch.Tensor, lengths: torch.Tensor) -> Encoded:
        x = self.source_dropout(self.source_embed(source))
        total = source.size(1)
        for index, rnn in enumerate(self.encoder):
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, _ = rnn(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=total)
            x = out + x if self._residual(index) else out
        mask = torch.arange(total).unsqueeze(0) < lengths.unsqueeze(1)
        return Encoded(x, self.attention.prepare(x), mask, lengths)

    def initial_state(self, encoded: Encoded) -> list[Any]:
        batch = encoded.states.size(0)
        hidden = self.config.hidden
        if self.config.state_init == "zero":
            summary = None
        elif self.config.state_init == "avg":
            weights = encoded.mask.to(encoded.states.dtype).unsqueeze(2)
            summary = (encoded.states * weights).sum(1) / weights.sum(1)
        else:  # last
            summary = encoded.states[torch.arange(batch), encoded.lengths - 1]
        states: list[Any] = []
        for layer in self.init_state:
            if summary is None:
                values = encoded.states.new_zeros(batch, layer.out_features)
            else:
                values = torch.tanh(layer(summary))
            if self.config.cell == "lstm":
                states.append((values[:, :hidden].contiguous(), values[:, hidden:].contiguous()))
            else:
                states.append(values)
        return states

    # ---- decoder ---------------------------------------------------------------------------

    def step(
        self, previous: torch.Tensor, states: list[Any], feed: torch.Tensor, encoded: Encoded
    ) -> tuple[torch.Tensor, list[Any], torch.Tensor, torch.Tensor]:
        """One decoder step: (logits (B, V), new states, attentional hidden (B, H), attention (B, S))."""
        x = torch.cat([self.target_dropout(self.target_embed(previous)), feed], dim=1)
        new_states: list[Any] = []
        context = probs = None
        below = None
        for index, cell in enumerate(self.decoder):
            state = cell(x, states[index])
            new_states.append(state)
            out = state[0] if isinstance(state, tuple) else state
            if below is not None and self._residual(index):
                out = out + below
            below = out
            if index == 0 and self.upper_attention:
                context, probs = self.attention(out, encoded.states, encoded.keys, encoded.mask, encoded.lengths)
            x = torch.cat([out, context], dim=1) if self.upper_attention and context is not None else out
        if context is None or probs is None:
            context, probs = self.attention(below, encoded.states, encoded.keys, encoded.mask, encoded.lengths)
        hidden = self.hidden_dropout(torch.tanh(self.combine(torch.cat([below, context], dim=1))))
        return self.output(hidden), new_states, hidden, probs

    def forward(self, source: torch.Tensor, lengths: torch.Tensor, target_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T, V) for ``target_in`` (BOS + target tokens)."""
        encoded = self.encode(source, lengths)
        states = self.initial_state(encoded)
        feed = encoded.states.new_zeros(source.size(0), self.config.hidden)
        logits = []
        for t in range(target_in.size(1)):
            step_logits, states, feed, _ = self.step(target_in[:, t], states, feed, encoded)
            logits.append(step_logits)
        return torch.stack(logits, dim=1)


def _select_states(states: list[Any], index: torch.Tensor) -> list[Any]:
    return [(s[0][index], s[1][index]) if isinstance(s, tuple) else s[index] for s in states]


@torch.no_grad()
def beam_search(
    net: Seq2SeqNet, source: torch.Tensor, lengths: torch.Tensor, beam: int, max_length: int
) -> list[tuple[list[int], list[list[float]]]]:
    """Best hypothesis per sentence: (target ids without EOS, attention rows (one per target id))."""
    batch = source.size(0)
    flat = torch.arange(batch).repeat_interleave(beam)
    encoded = net.encode(source, lengths).select(flat)
    states = net.initial_state(encoded)
    feed = encoded.states.new_zeros(batch * beam, net.config.hidden)
    previous = torch.full((batch * beam,), BOS, dtype=torch.long)
    scores = torch.full((batch, beam), float("-inf"))
    scores[:, 0] = 0.0  # one live hypothesis per sentence at the start
    finished = torch.zeros(batch * beam, dtype=torch.bool)
    lengths_out = torch.zeros(batch * beam, dtype=torch.long)
    history: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (tokens, parents, attention)
    vocab = net.config.target_vocab
    for _ in range(max_length):
        logits, states, feed, probs = net.step(previous, states, feed, encoded)
        logp = torch.log_softmax(logits, dim=1)
        logp[finished] = float("-inf")
        logp[finished, EOS] = 0.0  # a finished hypothesis stays as it is
        candidates = (scores.view(-1, 1) + logp).view(batch, beam * vocab)
        top, index = candidates.topk(beam, dim=1)
        parents = (torch.arange(batch).unsqueeze(1) * beam + index // vocab).view(-1)
        tokens = (index % vocab).view(-1)
        states = _select_states(states, parents)
        feed = feed[parents]
        was_finished = finished[parents]
        lengths_out = lengths_out[parents] + (~was_finished).long()
        finished = was_finished | (tokens == EOS)
        history.append((tokens, parents, probs[parents]))
        scores = top
        previous = tokens
        if bool(finished.all()):
            break
    normalized = (scores.view(-1) / lengths_out.clamp(min=1).float()).view(batch, beam)
    best = normalized.argmax(dim=1) + torch.arange(batch) * beam
    results = []
    for position in best.tolist():
        ids: list[int] = []
        rows: list[list[float]] = []
        for tokens, parents, attention in reversed(history):
            ids.append(int(tokens[position]))
            rows.append(attention[position].tolist())
            position = int(parents[position])
        ids.reverse()
        rows.reverse()
        cut = ids.index(EOS) if EOS in ids else len(ids)
        results.append((ids[:cut], rows[:cut]))
    return results
