"""Serving a local seq2seq model in the container's wire formats.

From https://docs.aws.amazon.com/sagemaker/latest/dg/seq-2-seq.html ("Inference") and the
example notebook (aws/amazon-sagemaker-examples
``introduction_to_amazon_algorithms/seq2seq_translation_en-de/SageMaker-Seq2Seq-Translation-English-German.ipynb``
at 53e81a12d63bb1ff3655dac2a886b41ebaf1a0d8):

* ``application/json``: ``{"instances": [{"data": "space separated tokens"}, ...]}`` answered
  ``{"predictions": [{"target": "..."}, ...]}``; "Both content and accept types should be
  application/json". An instance with ``"configuration": {"attention_matrix": "true"}`` gets
  ``"matrix"`` too: one row per target token, one column per source token (the notebook checks
  ``attention_matrix.shape[0] == len(target_tokens)`` and plots source tokens on the other axis).
  The source is tokenized by whitespace with the model's ``vocab.src.json`` (unknown tokens become
  ``<unk>``); the target is the beam-search translation (the model's ``beam_size``) read back
  with ``vocab.trg.json``.
* ``application/x-recordio-protobuf``: one record per sentence with int32 token ids in
  ``features["source"]`` (the notebook writes an empty ``features["target"]`` beside it);
  answered with one record per sentence holding the translation's ids in ``features["target"]``.
* ``application/jsonlines`` (batch transform): ``{"source": "..."}`` per line answered
  ``{"target": "..."}`` per line.

Other content types are refused with 415, an ``Accept`` that is neither the request's type nor
``*/*`` with 406, malformed bodies with 400.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sagedrop_local.algorithms.common import (
    RECORDIO_PROTOBUF,
    InvokeError,
    base_content_type,
    dumps,
    load_json,
)

JSON = "application/json"
JSONLINES = "application/jsonlines"
CONTENT_TYPES = (JSON, JSONLINES, RECORDIO_PROTOBUF)
UNK_TOKEN = "<unk>"  # noqa: S105 - a vocabulary symbol, not a password
BATCH = 64


def _flag(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvokeError(400, f'{where}: attention_matrix must be "true" or "false", got {value!r}')


class Seq2SeqPredictor:
    def __init__(self, net: Any, source_vocab: Mapping[str, int], target_vocab: Mapping[str, int], values: Any):
        self.net = net
        self.source_vocab = dict(source_vocab)
        self.target_tokens = {index: token for token, index in target_vocab.items()}
        self.beam = int(values["beam_size"])
        self.max_source = int(values["max_seq_len_source"])
        self.max_target = int(values["max_seq_len_target"])

    @classmethod
    def from_dir(cls, model_dir: Path) -> Seq2SeqPredictor:
        import torch

        from sagedrop_local.algorithms.seq2seq import CONFIG_FILE, FORMAT, VOCAB_SOURCE, VOCAB_TARGET, WEIGHTS_FILE
        from sagedrop_local.algorithms.seq2seq_model import NetConfig, Seq2SeqNet

        found = sorted(p.name for p in model_dir.iterdir()) if model_dir.is_dir() else []
        missing = [n for n in (VOCAB_SOURCE, VOCAB_TARGET) if n not in found]
        if missing:
            raise RuntimeError(
                f"model.tar.gz has no {' and no '.join(missing)} at its top level (it holds "
                f"{', '.join(found) or 'nothing'}): seq2seq serving tokenizes with them"
            )
        if CONFIG_FILE not in found or WEIGHTS_FILE not in found:
            raise RuntimeError(
                f"model.tar.gz holds {', '.join(found)}, not the {CONFIG_FILE} and {WEIGHTS_FILE} that the local "
                "seq2seq trainer writes: a model trained by SageMaker (Sockeye/MXNet parameters) cannot be served "
                "locally; deploy it on AWS"
            )
        config = json.loads((model_dir / CONFIG_FILE).read_text())
        if config.get("format") != FORMAT:
            raise RuntimeError(f"{CONFIG_FILE} is not from this version of the local seq2seq ({config.get('format')})")
        torch.set_num_threads(1)  # see seq2seq_train.Trainer
        net = Seq2SeqNet(NetConfig(**config["network"]))
        net.load_state_dict(torch.load(model_dir / WEIGHTS_FILE, weights_only=True))
        net.eval()
        source_vocab = json.loads((model_dir / VOCAB_SOURCE).read_text(encoding="utf-8"))
        target_vocab = json.loads((model_dir / VOCAB_TARGET).read_text(encoding="utf-8"))
        return cls(net, source_vocab, target_vocab, config["hyperparameters"])

    # ---- translation -------------------------------------------------------------------------

    def translate(self, sources: list[list[int]]) -> list[tuple[list[int], list[list[float]]]]:
        """(target ids, attention rows) per source; an empty source translates to nothing."""
        import torch

        from sagedrop_local.algorithms.seq2seq_model import PAD, beam_search

        results: list[tuple[list[int], list[list[float]]]] = [([], []) for _ in sources]
        todo = [(i, s[: self.max_source]) for i, s in enumerate(sources) if s]
        for start in range(0, len(todo), BATCH):
            chunk = todo[start : start + BATCH]
            source = torch.full((len(chunk), max(len(s) for _, s in chunk)), PAD, dtype=torch.long)
            for row, (_, ids) in enumerate(chunk):
                source[row, : len(ids)] = torch.tensor(ids)
            lengths = torch.tensor([len(s) for _, s in chunk])
            decoded = beam_search(self.net, source, lengths, self.beam, self.max_target + 1)
            for (index, ids), (target, rows) in zip(chunk, decoded, strict=True):
                results[index] = (target, [row[: len(ids)] for row in rows])
        return results

    def _ids(self, sentence: str) -> list[int]:
        unk = self.source_vocab.get(UNK_TOKEN, 1)
        return [self.source_vocab.get(token, unk) for token in sentence.split()]

    def _text(self, ids: list[int]) -> str:
        return " ".join(self.target_tokens.get(i, UNK_TOKEN) for i in ids)

    # ---- wire formats ------------------------------------------------------------------------

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        kind = base_content_type(content_type) or JSON
        if kind not in CONTENT_TYPES:
            raise InvokeError(
                415, f"Content type {content_type} is not supported: seq2seq reads {', '.join(CONTENT_TYPES)}"
            )
        wanted = base_content_type(accept)
        if wanted not in (None, "*/*", kind):
            raise InvokeError(
                406, f"Accept {accept} is not supported for {kind} requests: the answer is {kind} (both must match)"
            )
        if kind == RECORDIO_PROTOBUF:
            return self._protobuf(body), RECORDIO_PROTOBUF
        if kind == JSONLINES:
            return self._json_lines(body), JSONLINES
        return self._json(body), JSON

    def _json(self, body: bytes) -> bytes:
        payload = load_json(body, JSON)
        if not isinstance(payload, Mapping) or not isinstance(payload.get("instances"), list):
            raise InvokeError(400, 'The request must be {"instances": [{"data": "..."}, ...]} (application/json)')
        if "configuration" in payload:
            raise InvokeError(
                400,
                'configuration belongs inside each instance: {"instances": [{"data": "...", "configuration": '
                '{"attention_matrix": "true"}}]}',
            )
        sentences, matrices = [], []
        for index, item in enumerate(payload["instances"]):
            where = f"instances[{index}]"
            if not isinstance(item, Mapping) or not isinstance(item.get("data"), str):
                raise InvokeError(400, f'{where} must be {{"data": "space separated tokens"}}, got {item!r:.80}')
            configuration = item.get("configuration") or {}
            if not isinstance(configuration, Mapping):
                example = '{"attention_matrix": "true"}'
                raise InvokeError(400, f"{where}.configuration must be an object such as {example}")
            matrices.append(_flag(configuration.get("attention_matrix", False), f"{where}.configuration"))
            sentences.append(item["data"])
        answers = []
        for (target, rows), matrix in zip(self.translate([self._ids(s) for s in sentences]), matrices, strict=True):
            answer: dict[str, Any] = {"target": self._text(target)}
            if matrix:
                answer["matrix"] = rows
            answers.append(answer)
        return dumps({"predictions": answers})

    def _json_lines(self, body: bytes) -> bytes:
        sentences = []
        for number, line in enumerate(body.decode("utf-8", "replace").splitlines(), start=1):
            if not line.strip():
                continue
            item = load_json(line.encode("utf-8"), JSONLINES)
            if not isinstance(item, Mapping) or not isinstance(item.get("source"), str):
                raise InvokeError(400, f'line {number}: expected {{"source": "space separated tokens"}}')
            sentences.append(item["source"])
        lines = [json.dumps({"target": self._text(t)}) for t, _ in self.translate([self._ids(s) for s in sentences])]
        return "\n".join(lines).encode("utf-8")

    def _protobuf(self, body: bytes) -> bytes:
        from sagedrop.recordio import RecordIOError, Tensor, encode_record, frame, read_records

        sources: list[list[int]] = []
        try:
            records = list(read_records(body))
        except RecordIOError as exc:
            raise InvokeError(400, f"The body is not RecordIO-protobuf: {exc}") from None
        for index, record in enumerate(records):
            tensor = record.features.get("source")
            if not isinstance(tensor, Tensor) or tensor.dtype != "int32":
                raise InvokeError(400, f'record {index + 1}: features["source"] must be an int32 tensor of token ids')
            ids = [int(i) for i in tensor.values.tolist()]
            bad = next((i for i in ids if i < 0 or i >= len(self.source_vocab)), None)
            if bad is not None:
                raise InvokeError(400, f"record {index + 1}: token id {bad} is not in the source vocabulary")
            sources.append(ids)
        out = bytearray()
        for target, _ in self.translate(sources):
            out += frame(encode_record({"target": np.asarray(target, dtype=np.int32)}))
        return bytes(out)
