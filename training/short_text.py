"""Short texts cut from IMDB reviews, and the scores that judge a model on them.

Three sets, each built from one split (the test split for reporting, the validation reviews for
choosing models): (a) the whole reviews; (b) `sentences`: each review's first and last sentence
of at least `MIN_SENTENCE_WORDS` words (one text when they are the same sentence); (c) `spans`:
the last 10 to 30 words of each review (a seeded random length per review). Every text keeps its
review's label, which is noisy for a sentence: "The plot is simple." says little either way.

A word here is a whitespace-separated piece of the review after its `<br />` tags are removed;
a sentence ends at `.`, `!` or `?` followed by whitespace. The same cutting makes the training
crops (`crops`): sentences and random spans of the training reviews, labelled by their review.

    python -m training.short_text --out models/short_text_eval.json   # every published model
    python -m training.short_text --split validation                  # the sets to choose on
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from service.card import MANIFEST, Manifest
from service.registry import read_model
from service.tokenizer import load_word_index
from training import data

REPO = Path(__file__).resolve().parents[1]
REPO_MODELS = REPO / "models"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "imdb"
MIN_SENTENCE_WORDS = 5
SPAN_WORDS = (10, 30)
ECE_BINS = 10
SET_NAMES = ("reviews", "sentences", "spans")

_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class TextSet:
    """Texts with the label of the review each was cut from."""

    texts: list[str]
    labels: npt.NDArray[np.int8]


def clean(text: str) -> str:
    """The review without its `<br />` tags, whitespace collapsed to single spaces."""
    return " ".join(_TAG.sub(" ", text).split())


def sentences(text: str) -> list[str]:
    """The review's sentences of at least MIN_SENTENCE_WORDS words, in order."""
    pieces = _SENTENCE_END.split(clean(text))
    return [s for s in pieces if len(s.split()) >= MIN_SENTENCE_WORDS]


def first_last_sentences(text: str) -> list[str]:
    """The first and the last sentence of at least MIN_SENTENCE_WORDS words (one if only one)."""
    found = sentences(text)
    if not found:
        return []
    return [found[0]] if len(found) == 1 else [found[0], found[-1]]


def last_span(text: str, words: int) -> str:
    """The last `words` words of the review (all of it if shorter)."""
    return " ".join(clean(text).split()[-words:])


def sentence_set(texts: Sequence[str], labels: npt.NDArray[np.int8]) -> TextSet:
    out, out_labels = [], []
    for text, label in zip(texts, labels, strict=True):
        for sentence in first_last_sentences(text):
            out.append(sentence)
            out_labels.append(label)
    return TextSet(out, np.array(out_labels, dtype=np.int8))


def span_set(texts: Sequence[str], labels: npt.NDArray[np.int8], seed: int) -> TextSet:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(SPAN_WORDS[0], SPAN_WORDS[1] + 1, size=len(texts))
    spans = [last_span(t, int(n)) for t, n in zip(texts, lengths, strict=True)]
    return TextSet(spans, np.asarray(labels, dtype=np.int8))


def build_sets(texts: Sequence[str], labels: npt.NDArray[np.int8], seed: int) -> dict[str, TextSet]:
    """The three sets of one split: whole reviews, first/last sentences, last spans."""
    labels = np.asarray(labels, dtype=np.int8)
    return {
        "reviews": TextSet(list(texts), labels),
        "sentences": sentence_set(texts, labels),
        "spans": span_set(texts, labels, seed),
    }


def crops(
    texts: Sequence[str], labels: npt.NDArray[np.int8], per_review: int, seed: int
) -> TextSet:
    """Training crops: per review, `per_review` texts, each either one of its sentences or a
    span of 5 to 40 neighbouring words from anywhere in it, chosen at random (seeded)."""
    rng = np.random.default_rng(seed)
    out, out_labels = [], []
    for text, label in zip(texts, labels, strict=True):
        words = clean(text).split()
        found = sentences(text)
        for _ in range(per_review):
            if found and rng.random() < 0.5:
                out.append(found[rng.integers(len(found))])
            else:
                size = int(rng.integers(5, 41))
                start = int(rng.integers(max(1, len(words) - size + 1)))
                out.append(" ".join(words[start : start + size]))
            out_labels.append(label)
    return TextSet(out, np.array(out_labels, dtype=np.int8))


def brier(scores: npt.ArrayLike, labels: npt.ArrayLike) -> float:
    """Mean squared difference between the positive score and the 0/1 label."""
    p, y = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    return float(np.mean((p - y) ** 2))


def ece(scores: npt.ArrayLike, labels: npt.ArrayLike, bins: int = ECE_BINS) -> float:
    """Expected calibration error of the positive score: `bins` equal-width bins over [0, 1]
    (1.0 in the last), the share of texts in each times |mean score - share of positives|."""
    p, y = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(p[inside].mean() - y[inside].mean())
    return float(total)


def scores_summary(scores: npt.ArrayLike, labels: npt.ArrayLike) -> dict[str, float | int]:
    """Accuracy (score >= 0.5 is positive), Brier score, ECE, and how many texts."""
    p, y = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    return {
        "texts": len(y),
        "accuracy": float(np.mean((p >= 0.5) == (y == 1))),
        "brier": brier(p, y),
        "ece": ece(p, y),
        "exact_0_or_1": int(np.sum((p == 0.0) | (p == 1.0))),
    }


def in_length_order(
    texts: Sequence[str], run: Callable[[list[str]], npt.ArrayLike], batch: int = 64
) -> npt.NDArray[np.float64]:
    """`run` over batches of texts of similar length, its results back in the texts' order: an
    encoder's cost grows with the batch's longest text."""
    order = np.argsort([len(t) for t in texts], kind="stable")
    out = np.zeros(len(texts))
    for start in range(0, len(texts), batch):
        idx = order[start : start + batch]
        out[idx] = np.asarray(run([texts[i] for i in idx]), dtype=np.float64).reshape(-1)
    return out


def score_onnx(
    model_dir: Path, texts: Sequence[str], word_index: dict[str, int]
) -> npt.NDArray[np.float32]:
    """Scores of a published model (read as the service reads it) on texts."""
    model = read_model(model_dir, word_index, threads=os.cpu_count() or 1)
    if model.wordpiece is None:
        return model.score_texts(texts)
    return in_length_order(texts, model.score_texts).astype(np.float32)


def evaluate_published(
    models_dir: Path, sets: dict[str, TextSet], names: Sequence[str]
) -> dict[str, dict[str, dict[str, float | int]]]:
    """Per model, per set: accuracy, Brier score, ECE, as `scores_summary` gives them."""
    word_index = load_word_index(models_dir / "imdb_word_index.json")
    return {
        name: {
            set_name: scores_summary(
                score_onnx(models_dir / name, texts.texts, word_index), texts.labels
            )
            for set_name, texts in sets.items()
        }
        for name in names
    }


def table(results: dict[str, dict[str, dict[str, float | int]]]) -> str:
    """A markdown table: a row per model, accuracy / Brier / ECE per set."""
    lines = [
        "| model | " + " | ".join(f"{s}: accuracy | Brier | ECE" for s in SET_NAMES) + " |",
        "| --- |" + " ---: |" * 3 * len(SET_NAMES),
    ]
    for name, by_set in results.items():
        cells = [
            f"{by_set[s]['accuracy']:.4f} | {by_set[s]['brier']:.4f} | {by_set[s]['ece']:.4f}"
            for s in SET_NAMES
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.short_text", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--models-dir", type=Path, default=REPO_MODELS)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here too")
    parser.add_argument("--seed", type=int, default=42, help="the pipeline's seed")
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    args = parser.parse_args(argv)
    # The pipeline's own split and sets, so these figures are the ones its cards record.
    from training.config import TrainConfig
    from training.pipeline import load_data, short_text_sets

    config = TrainConfig(seed=args.seed)
    reviews = data.read_dataset(data.find_dataset(args.data))
    sets = short_text_sets(config, load_data(config, reviews))[args.split]
    names = Manifest.read(args.models_dir / MANIFEST).models
    results = evaluate_published(args.models_dir, sets, names)
    print(table(results))
    if args.out:
        document = {
            "what": "accuracy, Brier score and ECE (10 bins) of each published model on the IMDB "
            "test reviews and on the short texts cut from them (training/short_text.py)",
            "split": args.split,
            "seed": args.seed,
            "texts": {s: len(t.texts) for s, t in sets.items()},
            "models": results,
        }
        args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
