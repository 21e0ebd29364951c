"""The seq2seq part of `make demo`: data preparation, the drop, and scoring what the model achieved.

Data: the synthetic English -> German corpus shipped with the local stack
(:mod:`sagedrop_local.seq2seq_corpus`: 3,000 sentence pairs from a small grammar, not human
translations). The last 200 pairs are held out for the test over HTTP; the others go through
``sagedrop prepare seq2seq`` (vocabularies + RecordIO-protobuf records, 10% of them for the
validation channel), exactly as a user would prepare a corpus. The held-out sentences are
translated through the REST API and scored with sacreBLEU (corpus BLEU, 0-100) against the
references, next to the BLEU of copying the source sentence unchanged.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sagedrop_local.seq2seq_corpus import read_corpus

MODEL = "toy-en-de"
HELD_OUT = 200
GATE_BLEU = 0.5  # validation:bleu is a fraction (0..1), as Sockeye reports it

MANIFEST: dict[str, Any] = {
    "algorithm": "seq2seq",
    "hyperparameters": {
        "rnn_cell_type": "gru",
        "rnn_num_hidden": 64,
        "num_embed_source": 32,
        "num_embed_target": 32,
        "rnn_attention_type": "mlp",
        "max_seq_len_source": 16,
        "max_seq_len_target": 16,
        "batch_size": 64,
        "optimizer_type": "adam",
        "learning_rate": 0.005,
        "max_num_epochs": 4,
        "checkpoint_frequency_num_batches": 40,
        "optimized_metric": "bleu",
        "bleu_sample_size": 100,
        "beam_size": 3,
    },
    # a GPU instance (seq2seq hosting needs one) that the emulator's moto knows: it has no ml.g5 types
    "deploy": {"instance_type": "ml.g4dn.xlarge", "gate": {"metric": "validation:bleu", "min": GATE_BLEU}},
}


def prepare(workdir: Path) -> tuple[Path, list[tuple[str, str]]]:
    """The model folder that `sagedrop prepare seq2seq` writes, and the held-out pairs."""
    from sagedrop_client.prepare.seq2seq import prepare_seq2seq

    pairs = read_corpus()
    train, test = pairs[:-HELD_OUT], pairs[-HELD_OUT:]
    source, target = workdir / "corpus.en", workdir / "corpus.de"
    source.write_text("".join(s + "\n" for s, _ in train), encoding="utf-8")
    target.write_text("".join(t + "\n" for _, t in train), encoding="utf-8")
    folder = workdir / MODEL
    prepare_seq2seq(source, target, folder, validation_ratio=0.1, seed=0)
    (folder / "training.json").write_text(json.dumps(MANIFEST, indent=2))
    return folder, test


def drop(s3: Any, bucket: str, prefix: str, folder: Path) -> None:
    """Upload the channels, then training.json last (that starts training)."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != "training.json":
            key = f"{prefix}/{MODEL}/{path.relative_to(folder).as_posix()}"
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    s3.put_object(Bucket=bucket, Key=f"{prefix}/{MODEL}/training.json", Body=(folder / "training.json").read_bytes())


def corpus_bleu(hypotheses: list[str], references: list[str]) -> float:
    """sacreBLEU's standard corpus BLEU (0-100) of already tokenized sentences."""
    from sacrebleu.metrics import BLEU

    return float(BLEU(tokenize="none", force=True).corpus_score(hypotheses, [references]).score)


def score(translate: Callable[[list[str]], list[str]], test: list[tuple[str, str]]) -> dict[str, Any]:
    """Translate the held-out sources; BLEU against the references, and the copy-the-source baseline."""
    sources = [s for s, _ in test]
    references = [t for _, t in test]
    hypotheses = translate(sources)
    exact = sum(h == r for h, r in zip(hypotheses, references, strict=True))
    return {
        "bleu": corpus_bleu(hypotheses, references),
        "copy_bleu": corpus_bleu(sources, references),
        "exact": exact,
        "count": len(test),
        "example": (sources[0], hypotheses[0], references[0]),
    }


def run_in(workdir: str | None = None) -> tuple[Path, list[tuple[str, str]]]:
    """``prepare`` in a fresh temporary folder (kept for the demo's lifetime)."""
    return prepare(Path(workdir or tempfile.mkdtemp(prefix="sagedrop-seq2seq-")))


def report(post: Callable[[bytes], tuple[int, Any]], test: list[tuple[str, str]], log: Callable[[str], None]) -> None:
    """Translate the held-out pairs over HTTP (``post`` sends a JSON body) and log what the model achieved."""

    def translate(sources: list[str]) -> list[str]:
        status, answer = post(json.dumps({"instances": [{"data": s} for s in sources]}).encode())
        if status != 200:
            raise RuntimeError(f"translation request failed: HTTP {status} {answer}")
        return [p["target"] for p in answer["predictions"]]

    result = score(translate, test)
    source, hypothesis, reference = result["example"]
    log(
        f"{MODEL:20s} held-out BLEU {result['bleu']:.1f} (copying the source: {result['copy_bleu']:.1f}); "
        f"{result['exact']}/{result['count']} sentences exactly right"
    )
    log(f"{'':20s} {source!r} -> {hypothesis!r} (reference {reference!r})")
