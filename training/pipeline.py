"""Train the IMDB models, evaluate them like the chapter, export them to ONNX and publish them.

The steps of one run (`run`): read the data, then per model encode, train, evaluate, export,
check parity and publish to `<out>/<name>/` only after onnxruntime matches Keras on every test
input. The command line is training.cli (`python -m training --help`).
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
import onnx
import tensorflow as tf
import tf2onnx

from service.card import GoldenReview, ModelCard
from service.tokenizer import build_vocabulary, encode_batch, load_word_index
from training import artifacts, calibration, data, export, short_text
from training.architectures import build_from_spec, layer_table
from training.config import LOSS, ModelSpec, TrainConfig, model_spec
from training.evaluation import confusion_stats, confusion_table

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Splits:
    train: data.Reviews
    """Shuffled once, seeded: Keras validates on its last `validation_split`."""
    test: data.Reviews


@dataclass(frozen=True)
class Encoded:
    x_train: npt.NDArray[np.int32]
    y_train: npt.NDArray[np.int8]
    x_test: npt.NDArray[np.int32]
    y_test: npt.NDArray[np.int8]
    test: data.Reviews
    train: data.Reviews
    vocabulary: dict[str, int]


@dataclass(frozen=True)
class Trained:
    model: keras.Model
    history: dict[str, list[float]]
    weights_epoch: int
    """The epoch whose weights the model keeps: the last, or the best if early stopping restores
    the best weights."""
    seconds: float
    """Wall time of `fit`, validation included."""


def load_data(config: TrainConfig, splits: Mapping[str, data.Reviews]) -> Splits:
    """Shuffle train once, seeded, and cut both splits to `limit` if set."""
    rng = np.random.default_rng(config.seed)
    train = splits["train"].take(rng.permutation(len(splits["train"])))
    test = splits["test"]
    if config.limit is not None:
        train = train.take(np.arange(min(config.limit, len(train))))
        test = test.take(rng.permutation(len(test))[: config.limit])
    return Splits(train, test)


def encode(splits: Splits, word_index: dict[str, int], num_words: int, maxlen: int) -> Encoded:
    """Both splits as ids, with a model's vocabulary and window."""
    vocabulary = build_vocabulary(word_index, num_words)
    return Encoded(
        encode_batch(splits.train.texts, vocabulary, maxlen),
        splits.train.labels,
        encode_batch(splits.test.texts, vocabulary, maxlen),
        splits.test.labels,
        splits.test,
        splits.train,
        vocabulary,
    )


def validation_size(config: TrainConfig, encoded: Encoded) -> int:
    """How many of the last training reviews Keras validates on (`validation_split`)."""
    return int(len(encoded.x_train) * config.validation_split)


def fit_arrays(
    config: TrainConfig, spec: ModelSpec, encoded: Encoded
) -> tuple[tuple[npt.NDArray[np.int32], npt.NDArray[np.int8]], dict[str, Any]]:
    """What `fit` trains on, and how it validates.

    Without crops: all training reviews and `validation_split` (the chapter's way). With
    `options["crops_per_review"]`: the reviews before the validation ones plus that many
    sentences and random spans of each (short_text.crops), shuffled, seeded; validation on the
    same last reviews as `validation_split` would take, whole.
    """
    per_review = int(spec.options.get("crops_per_review", 0))
    if not per_review:
        return (encoded.x_train, encoded.y_train), {"validation_split": config.validation_split}
    n_fit = len(encoded.x_train) - validation_size(config, encoded)
    cut = short_text.crops(
        encoded.train.texts[:n_fit], encoded.train.labels[:n_fit], per_review, config.seed
    )
    x = np.concatenate(
        [encoded.x_train[:n_fit], encode_batch(cut.texts, encoded.vocabulary, spec.maxlen)]
    )
    y = np.concatenate([encoded.y_train[:n_fit], cut.labels])
    order = np.random.default_rng(config.seed).permutation(len(x))
    validation = (encoded.x_train[n_fit:], encoded.y_train[n_fit:])
    return (x[order], y[order]), {"validation_data": validation}


def train(config: TrainConfig, name: str, spec: ModelSpec, encoded: Encoded) -> Trained:
    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)
    model = build_from_spec(name, spec)
    model.summary()
    stopping = keras.callbacks.EarlyStopping(**spec.early_stopping)
    (x, y), validation = fit_arrays(config, spec, encoded)
    started = time.perf_counter()
    fit = model.fit(
        x,
        y,
        epochs=max_epochs(config, spec),
        batch_size=spec.batch_size,
        callbacks=[stopping],
        verbose=config.verbose,
        **validation,
    )
    seconds = time.perf_counter() - started
    history = {k: [float(v) for v in vs] for k, vs in fit.history.items()}
    epochs = len(history["loss"])
    # Keras 3 restores the best weights at the end of training, stopped early or not.
    restored = stopping.restore_best_weights and stopping.best_weights is not None
    weights_epoch = stopping.best_epoch + 1 if restored else epochs
    n_val = validation_size(config, encoded)
    trained_on = len(x) - n_val if "validation_split" in validation else len(x)
    last = {k: round(v[weights_epoch - 1], 4) for k, v in history.items()}
    print(
        f"Trained on {trained_on:,} samples, validated on {n_val:,} samples "
        f"(batch_size={spec.batch_size}, epochs={epochs}, {seconds:.0f} s)\n"
        f"Weights of epoch {weights_epoch}: {last}"
    )
    return Trained(model, history, weights_epoch, seconds)


def max_epochs(config: TrainConfig, spec: ModelSpec) -> int:
    return spec.epochs if config.epochs is None else config.epochs


def hyperparameters(config: TrainConfig, spec: ModelSpec, model: keras.Model) -> dict[str, Any]:
    """Every setting the model was trained with: its spec, the run's settings, the optimizer's."""
    run = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}
    del run["models"], run["epochs"]
    return {
        **spec.hyperparameters(),
        "epochs": max_epochs(config, spec),
        "loss": LOSS,
        **run,
        "optimizer_config": jsonable(model.optimizer.get_config()),
    }


def jsonable(config: dict[str, Any]) -> dict[str, Any]:
    """Keras' config values as plain JSON types (numpy scalars become Python numbers)."""
    plain: dict[str, Any] = json.loads(json.dumps(config, default=lambda v: v.item()))
    return plain


def golden_set(
    config: TrainConfig, test: data.Reviews, scores: npt.ArrayLike
) -> list[GoldenReview]:
    """A few real test reviews with the trained model's scores (Keras', or the reference's), for
    the service to check itself at startup."""
    rng = np.random.default_rng(config.seed + 1)
    picks = rng.choice(len(test), size=min(config.golden_size, len(test)), replace=False)
    scores = np.asarray(scores)
    return [
        GoldenReview(
            name=test.names[i],
            label=int(test.labels[i]),
            text=test.texts[i],
            keras_score=float(scores[i]),
        )
        for i in sorted(picks)
    ]


def data_provenance(dataset: Path, splits: Splits) -> dict[str, Any]:
    """The card's `data`: which tarball or folder, its digest, how many reviews in each split."""
    return {
        "source": dataset.name,
        "sha256": data.sha256sum(dataset) if dataset.is_file() else None,
        "train_reviews": len(splits.train),
        "test_reviews": len(splits.test),
    }


def short_text_sets(
    config: TrainConfig, splits: Splits
) -> dict[str, dict[str, short_text.TextSet]]:
    """The short-text sets of the test reviews and of the validation reviews (the last
    `validation_split` of the shuffled training reviews, which no model trains on)."""
    n_val = int(len(splits.train) * config.validation_split)
    val = splits.train.take(np.arange(len(splits.train) - n_val, len(splits.train)))
    return {
        "test": short_text.build_sets(splits.test.texts, splits.test.labels, config.seed),
        "validation": short_text.build_sets(val.texts, val.labels, config.seed),
    }


def evaluate_short_text(
    model: keras.Model,
    spec: ModelSpec,
    encoded: Encoded,
    sets: dict[str, dict[str, short_text.TextSet]],
) -> dict[str, dict[str, dict[str, float | int]]]:
    """Accuracy, Brier score and ECE of the model on each short-text set of each split."""
    return {
        split: {
            name: short_text.scores_summary(
                model.predict(
                    encode_batch(texts.texts, encoded.vocabulary, spec.maxlen),
                    batch_size=1024,
                    verbose=0,
                )[:, 0],
                texts.labels,
            )
            for name, texts in by_name.items()
        }
        for split, by_name in sets.items()
    }


def run_model(
    config: TrainConfig,
    name: str,
    encoded: Encoded,
    provenance: dict[str, Any],
    short_sets: dict[str, dict[str, short_text.TextSet]],
) -> ModelCard:
    """Train, evaluate, export and publish one model; return its card."""
    spec = model_spec(name)
    trained = train(config, name, spec, encoded)
    model, history = trained.model, trained.history
    platt = None
    if spec.options.get("calibration") == "platt":
        n_val = validation_size(config, encoded)
        platt = calibration.calibrate(model, encoded.x_train[-n_val:], encoded.y_train[-n_val:])
        print(f"Platt scaling on {n_val:,} validation reviews: {platt}")
    keras_scores = model.predict(encoded.x_test, batch_size=1024, verbose=0)[:, 0].astype(
        np.float32
    )
    stats = confusion_stats(
        confusion_table(keras_scores >= 0.5, encoded.y_test), config.positive_class
    )
    print(f"\n{name} on {len(encoded.y_test):,} test reviews:\n{stats.report()}\n")
    onnx_model = export.export_onnx(model, spec.maxlen)
    parity = export.check_parity(onnx_model, encoded.x_test, keras_scores)
    card = ModelCard(
        name=name,
        architecture=spec.architecture,
        layers=layer_table(model),
        params=int(model.count_params()),
        input_name=export.INPUT_NAME,
        output_name=export.OUTPUT_NAME,
        input_length=spec.maxlen,
        num_words=spec.num_words,
        tokenizer="service.tokenizer: keras imdb.load_data(num_words) + pad_sequences(maxlen), "
        "padding and truncating 'pre'; start id 1, OOV id 2, index_from 3",
        hyperparameters=hyperparameters(config, spec, model),
        epochs_run=len(history["loss"]),
        weights_epoch=trained.weights_epoch,
        train_seconds=round(trained.seconds, 1),
        history=history,
        test=stats.to_dict(),
        parity=asdict(parity),
        calibration=platt.to_dict() if platt else None,
        short_text=evaluate_short_text(model, spec, encoded, short_sets),
        onnx_sha256=artifacts.sha256_bytes(onnx_model),
        **provenance,
    )
    artifacts.publish_model(
        config.out, onnx_model, card, golden_set(config, encoded.test, keras_scores)
    )
    log.info(
        "published %s: test accuracy %.4f, parity max |diff| %.2g",
        name,
        stats.accuracy,
        parity.max_abs_diff,
    )
    return card


def run(config: TrainConfig, reviews: Mapping[str, data.Reviews] | None = None) -> list[ModelCard]:
    """Train and publish every model of the config; `reviews` are the splits of `config.data`
    if already read (the tests read the tarball once for all)."""
    tf.config.experimental.enable_op_determinism()
    dataset = data.find_dataset(config.data)
    word_index_path = data.find_word_index(config.word_index or config.data)
    splits = load_data(config, reviews or data.read_dataset(dataset))
    word_index = load_word_index(word_index_path)
    provenance = {
        "data": data_provenance(dataset, splits),
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "tf2onnx": tf2onnx.__version__,
            "onnx": onnx.__version__,
        },
    }
    encodings: dict[tuple[int, int], Encoded] = {}
    short_sets = short_text_sets(config, splits)
    cards = []
    for name in config.models:
        spec = model_spec(name)
        key = (spec.num_words, spec.maxlen)
        if key not in encodings:
            encodings[key] = encode(splits, word_index, *key)
        cards.append(run_model(config, name, encodings[key], provenance, short_sets))
    artifacts.copy_word_index(word_index_path, config.out)
    artifacts.update_manifest(config.out)
    return cards
