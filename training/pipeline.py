"""Train the chapter's IMDB models, evaluate them like the chapter, export them to ONNX.

    python -m training                                   # all four, data at ../shared/data/imdb
    python -m training --models ff,rnn --data PATH --out DIR --epochs 1 --limit 2000

Each model is published to `<out>/<name>/` only after onnxruntime matches Keras on every test input.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
import onnx
import tensorflow as tf
import tf2onnx

from service.tokenizer import build_vocabulary, encode_batch, load_word_index
from training import artifacts, data, export
from training.architectures import ARCHITECTURES, build_model, layer_table
from training.evaluation import confusion_stats, confusion_table

log = logging.getLogger(__name__)
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imdb"


@dataclass(frozen=True)
class TrainConfig:
    """Every hyper-parameter of a run; saved in each model's card."""

    models: tuple[str, ...] = tuple(ARCHITECTURES)
    data: Path | None = None
    word_index: Path | None = None
    out: Path = Path("models")
    num_words: int = 10_000
    maxlen: int = 20
    embedding_dim: int = 8
    epochs: int = 30
    batch_size: int = 128
    validation_split: float = 0.2
    optimizer: str = "rmsprop"
    loss: str = "binary_crossentropy"
    early_stopping: dict[str, Any] = field(
        default_factory=lambda: {"monitor": "val_loss", "patience": 0, "min_delta": 0}
    )
    seed: int = 42
    limit: int | None = None
    """Use only this many reviews of each split (for quick runs); None for all 25,000."""
    golden_size: int = 20
    verbose: str | int = "auto"
    """Keras' progress output: "auto" shows its bars, 2 one line per epoch."""
    positive_class: int = 0
    """The class caret calls positive in the statistics; the chapter's is 0."""


@dataclass(frozen=True)
class Encoded:
    x_train: npt.NDArray[np.int32]
    y_train: npt.NDArray[np.int8]
    x_test: npt.NDArray[np.int32]
    y_test: npt.NDArray[np.int8]
    test: data.Reviews


def load_data(config: TrainConfig, dataset: Path, word_index: Path) -> Encoded:
    """Read and encode both splits; shuffle train once, seeded: Keras validates on its tail."""
    splits = data.read_dataset(dataset)
    rng = np.random.default_rng(config.seed)
    train = splits["train"].take(rng.permutation(len(splits["train"])))
    test = splits["test"]
    if config.limit is not None:
        train = train.take(np.arange(min(config.limit, len(train))))
        test = test.take(rng.permutation(len(test))[: config.limit])
    vocabulary = build_vocabulary(load_word_index(word_index), config.num_words)
    return Encoded(
        encode_batch(train.texts, vocabulary, config.maxlen),
        train.labels,
        encode_batch(test.texts, vocabulary, config.maxlen),
        test.labels,
        test,
    )


def train(
    config: TrainConfig, name: str, encoded: Encoded
) -> tuple[keras.Model, dict[str, list[float]]]:
    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)
    model = build_model(name, config.num_words, config.maxlen, config.embedding_dim)
    model.summary()
    fit = model.fit(
        encoded.x_train,
        encoded.y_train,
        epochs=config.epochs,
        batch_size=config.batch_size,
        validation_split=config.validation_split,
        callbacks=[keras.callbacks.EarlyStopping(**config.early_stopping)],
        verbose=config.verbose,
    )
    history = {k: [float(v) for v in vs] for k, vs in fit.history.items()}
    n_val = int(len(encoded.x_train) * config.validation_split)
    last = {k: round(v[-1], 4) for k, v in history.items()}
    print(
        f"Trained on {len(encoded.x_train) - n_val:,} samples, validated on {n_val:,} samples "
        f"(batch_size={config.batch_size}, epochs={len(history['loss'])})\nFinal epoch: {last}"
    )
    return model, history


def golden_set(
    config: TrainConfig, encoded: Encoded, scores: npt.NDArray[np.float32]
) -> list[dict[str, Any]]:
    """A few real test reviews with Keras' scores, for the service to check itself at startup."""
    rng = np.random.default_rng(config.seed + 1)
    picks = rng.choice(
        len(encoded.test), size=min(config.golden_size, len(encoded.test)), replace=False
    )
    return [
        {
            "name": encoded.test.names[i],
            "label": int(encoded.test.labels[i]),
            "text": encoded.test.texts[i],
            "keras_score": float(scores[i]),
        }
        for i in sorted(picks)
    ]


def run_model(
    config: TrainConfig, name: str, encoded: Encoded, provenance: dict[str, Any]
) -> dict[str, Any]:
    """Train, evaluate, export and publish one model; return its card."""
    model, history = train(config, name, encoded)
    keras_scores = model.predict(encoded.x_test, batch_size=1024, verbose=0)[:, 0].astype(
        np.float32
    )
    stats = confusion_stats(
        confusion_table(keras_scores >= 0.5, encoded.y_test), config.positive_class
    )
    print(f"\n{name} on {len(encoded.y_test):,} test reviews:\n{stats.report()}\n")
    onnx_model = export.export_onnx(model, config.maxlen)
    parity = export.check_parity(onnx_model, encoded.x_test, keras_scores)
    card = {
        "name": name,
        "architecture": ARCHITECTURES[name],
        "layers": layer_table(model),
        "params": int(model.count_params()),
        "input_name": export.INPUT_NAME,
        "output_name": export.OUTPUT_NAME,
        "input_length": config.maxlen,
        "num_words": config.num_words,
        "tokenizer": "service.tokenizer: keras imdb.load_data(num_words) + pad_sequences(maxlen), "
        "padding and truncating 'pre'; start id 1, OOV id 2, index_from 3",
        "hyperparameters": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()
        },
        "epochs_run": len(history["loss"]),
        "history": history,
        "test": stats.to_dict(),
        "parity": asdict(parity),
        "onnx_sha256": artifacts.sha256_bytes(onnx_model),
        **provenance,
    }
    artifacts.publish_model(
        config.out, name, onnx_model, card, golden_set(config, encoded, keras_scores), history
    )
    log.info(
        "published %s: test accuracy %.4f, parity max |diff| %.2g",
        name,
        stats.accuracy,
        parity.max_abs_diff,
    )
    return card


def run(config: TrainConfig) -> list[dict[str, Any]]:
    dataset = data.find_dataset(config.data)
    word_index = data.find_word_index(config.word_index or config.data)
    encoded = load_data(config, dataset, word_index)
    provenance = {
        "data": {
            "source": dataset.name,
            "sha256": data.sha256sum(dataset) if dataset.is_file() else None,
            "train_reviews": len(encoded.y_train),
            "test_reviews": len(encoded.y_test),
        },
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "tf2onnx": tf2onnx.__version__,
            "onnx": onnx.__version__,
        },
    }
    cards = [run_model(config, name, encoded, provenance) for name in config.models]
    artifacts.copy_word_index(word_index, config.out)
    artifacts.update_manifest(config.out)
    return cards


def parse_args(argv: list[str] | None) -> TrainConfig:
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--models", default=",".join(ARCHITECTURES), help="comma-separated names")
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA if DEFAULT_DATA.exists() else None,
        help="aclImdb tarball or folder, or a folder holding it (default: download)",
    )
    parser.add_argument(
        "--word-index", type=Path, help="imdb_word_index.json (default: beside --data)"
    )
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--limit", type=int, help="reviews per split, for quick runs")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    models = tuple(m for m in args.models.split(",") if m)
    unknown = set(models) - set(ARCHITECTURES)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; choose from {', '.join(ARCHITECTURES)}")
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
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = parse_args(argv)
    tf.config.experimental.enable_op_determinism()
    cards = run(config)
    summary = {c["name"]: round(c["test"]["accuracy"], 4) for c in cards}
    print(json.dumps({"test_accuracy": summary}, indent=2))
    return 0
