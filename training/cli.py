"""Train the IMDB models, evaluate them like the chapter, export them to ONNX.

    python -m training                     # every model, into build/models (a scratch folder)
    python -m training --out models        # replace the committed models (as `make train`)
    python -m training --models ff,rnn --epochs 1 --limit 2000       # a quick run
    python -m training --models fasttext --out models  # one model; the manifest lists all

Each model reads its own window and vocabulary and trains with its own settings (its ModelSpec,
in training/config.py); all share the tokenizer, the data split, the evaluation and the export.
The committed models/ is written only when --out says so; serve a scratch folder with
SENTIMENT_MODELS_DIR=build/models python -m service.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path

from training.config import CANDIDATES, SCRATCH_OUT, SPECS, TrainConfig

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imdb"
"""The data beside the project (`../shared/data/imdb`), if it is there."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m training",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--models",
        metavar="NAMES",
        default=",".join(SPECS),
        help=f"comma-separated names (default: {','.join(SPECS)}); "
        f"candidates not published: {', '.join(CANDIDATES)}",
    )
    p.add_argument(
        "--data",
        type=Path,
        metavar="PATH",
        default=DEFAULT_DATA if DEFAULT_DATA.exists() else None,
        help="the aclImdb tarball or folder, or a folder holding either (default: "
        f"{DEFAULT_DATA} when it exists, else downloaded once to ~/.cache/imdb-sentiment)",
    )
    p.add_argument(
        "--word-index",
        type=Path,
        help="Keras' imdb_word_index.json (default: beside --data, else downloaded)",
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        default=SCRATCH_OUT,
        help=f"folder to publish into, one sub-folder per model plus the manifest (default: "
        f"{SCRATCH_OUT}); `--out models` replaces the committed models the service serves",
    )
    p.add_argument("--epochs", type=int, help="most epochs of every model (default: each spec's)")
    p.add_argument("--limit", type=int, help="reviews per split, for quick runs (default: all)")
    p.add_argument("--seed", type=int, default=42, help="seed of the shuffle and of Keras")
    return p


def parse_args(argv: list[str] | None) -> TrainConfig:
    p = parser()
    args = p.parse_args(argv)
    models = tuple(m for m in args.models.split(",") if m)
    unknown = set(models) - set(SPECS) - set(CANDIDATES)
    if unknown:
        p.error(f"unknown models {sorted(unknown)}; choose from {', '.join([*SPECS, *CANDIDATES])}")
    return replace(
        TrainConfig(),
        models=models,
        data=args.data,
        word_index=args.word_index,
        out=args.out,
        epochs=args.epochs,
        limit=args.limit,
        seed=args.seed,
    )


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from training.pipeline import run  # TensorFlow: only once the arguments are known good

    cards = run(config)
    accuracy = {
        c.name: None if c.test.accuracy is None else round(c.test.accuracy, 4) for c in cards
    }
    print(json.dumps({"test_accuracy": accuracy}, indent=2))
    print(f"published to {config.out}/")
    return 0
