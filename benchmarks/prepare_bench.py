"""Throughput of the preparation tools (sagedrop_client.prepare) on generated data.

    python benchmarks/prepare_bench.py [--pairs N] [--text-mb M] [--images K] [--workers W]

Measures, in a temporary directory:
  (a) seq2seq: N generated sentence pairs (Zipf-like vocabulary) -> vocabularies + train/val.rec
      (two passes over the training files), as line pairs/s and input MB/s;
  (b) BlazingText Word2Vec: M MB of generated text -> train.txt, as MB/s and tokens/s;
      supervised: the same sentences as a CSV with labels, as rows/s;
  (c) images: K generated 320x240 JPEGs in 4 classes -> .rec with resize 128, as images/s,
      with 1 and with W threads.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "sagedrop"))
sys.path.insert(0, str(ROOT / "cli"))

from sagedrop_client.prepare.images import prepare_images  # noqa: E402
from sagedrop_client.prepare.seq2seq import prepare_seq2seq  # noqa: E402
from sagedrop_client.prepare.text import prepare_supervised, prepare_word2vec  # noqa: E402


def words(rng: random.Random, count: int, vocabulary: int, prefix: str) -> list[str]:
    # Zipf-like: small ids are frequent, as in natural text
    return [f"{prefix}{int(vocabulary ** rng.random())}" for _ in range(count)]


def sentence(rng: random.Random, prefix: str) -> str:
    return " ".join(words(rng, rng.randint(5, 30), 50_000, prefix))


def bench_seq2seq(tmp: Path, pairs: int) -> None:
    rng = random.Random(1)
    src, trg = tmp / "train.src", tmp / "train.trg"
    with open(src, "w") as s, open(trg, "w") as t:
        for _ in range(pairs):
            s.write(sentence(rng, "s") + "\n")
            t.write(sentence(rng, "t") + "\n")
    size = (src.stat().st_size + trg.stat().st_size) / 1e6
    started = time.perf_counter()
    result = prepare_seq2seq(src, trg, tmp / "s2s", validation_ratio=0.01)
    seconds = time.perf_counter() - started
    print(
        f"seq2seq   {pairs:>9,} pairs ({size:.1f} MB): {seconds:6.2f} s  {pairs / seconds:>10,.0f} pairs/s  "
        f"{size / seconds:6.1f} MB/s  (vocab {result.source_vocab_size:,} / {result.target_vocab_size:,})"
    )


def bench_text(tmp: Path, megabytes: float) -> None:
    rng = random.Random(2)
    raw, table = tmp / "corpus.txt", tmp / "labelled.csv"
    rows = 0
    with open(raw, "w") as text, open(table, "w") as csv_file:
        while text.tell() < megabytes * 1e6:
            line = sentence(rng, "W").replace(" W1 ", ", W1. ")
            text.write(line + "\n")
            csv_file.write(f'class {rows % 7},"{line}"\n')
            rows += 1
    size = raw.stat().st_size / 1e6
    started = time.perf_counter()
    result = prepare_word2vec(raw, tmp / "w2v")
    seconds = time.perf_counter() - started
    print(
        f"word2vec  {size:9.1f} MB: {seconds:6.2f} s  {size / seconds:6.1f} MB/s  "
        f"{result.tokens / seconds:>12,.0f} tokens/s"
    )
    started = time.perf_counter()
    supervised = prepare_supervised(table, tmp / "sup", validation_ratio=0.1)
    seconds = time.perf_counter() - started
    print(f"supervised {rows:>8,} rows: {seconds:6.2f} s  {supervised.rows / seconds:>10,.0f} rows/s")


def bench_images(tmp: Path, count: int, workers: int) -> None:
    from PIL import Image

    rng = random.Random(3)
    root = tmp / "images"
    for number in range(count):
        folder = root / f"class{number % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        image = Image.effect_noise((320, 240), 40).convert("RGB")
        image.paste((rng.randrange(256), 80, 160), (0, 0, 100, 100))
        image.save(folder / f"{number}.jpg", quality=90)
    for threads in sorted({1, workers}):
        started = time.perf_counter()
        prepare_images(root, tmp / f"rec{threads}", resize=128, workers=threads)
        seconds = time.perf_counter() - started
        print(f"images    {count:>9,} images, {threads} thread(s): {seconds:6.2f} s  {count / seconds:8,.0f} images/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=200_000)
    parser.add_argument("--text-mb", type=float, default=50.0)
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    print(f"Python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    print("goal: none set for the preparation tools (figures only; no verdict)")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        bench_seq2seq(tmp, args.pairs)
        bench_text(tmp, args.text_mb)
        bench_images(tmp, args.images, args.workers)


if __name__ == "__main__":
    main()
