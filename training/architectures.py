"""Keras layers for each `ModelSpec` of training.config: the chapter's four (Embedding(10000, 8)
over a 20-id window) and wider ones; a spec names its builder in `LAYERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import keras
from keras import layers

from training.config import LOSS, ModelSpec, model_spec
from training.ngrams import NgramBag, ScoreBounds

OPTIMIZERS: dict[str, type[keras.optimizers.Optimizer]] = {
    "rmsprop": keras.optimizers.RMSprop,
    "adam": keras.optimizers.Adam,
}


def _ff(spec: ModelSpec) -> list[layers.Layer]:
    return [
        layers.Embedding(spec.num_words, spec.embedding_dim),
        layers.Flatten(),
        layers.Dense(1, activation="sigmoid"),
    ]


def _rnn(spec: ModelSpec) -> list[layers.Layer]:
    return [
        layers.Embedding(spec.num_words, spec.embedding_dim),
        layers.LSTM(1, activation="sigmoid"),
    ]


def _rnn2(spec: ModelSpec) -> list[layers.Layer]:
    return [
        layers.Embedding(spec.num_words, spec.embedding_dim),
        layers.LSTM(32),
        layers.Dense(1, activation="sigmoid"),
    ]


def _rnn3(spec: ModelSpec) -> list[layers.Layer]:
    return [
        layers.Embedding(spec.num_words, spec.embedding_dim),
        layers.LSTM(4, return_sequences=True),
        layers.Flatten(),
        layers.Dense(1, activation="sigmoid"),
    ]


def _mean(spec: ModelSpec) -> list[layers.Layer]:
    return [
        layers.Embedding(spec.num_words, spec.embedding_dim),
        layers.GlobalAveragePooling1D(),
        layers.Dense(1, activation="sigmoid"),
    ]


def _conv(spec: ModelSpec) -> list[layers.Layer]:
    return [
        layers.Embedding(spec.num_words, spec.embedding_dim),
        layers.Conv1D(spec.options["filters"], spec.options["kernel_size"], activation="relu"),
        layers.GlobalMaxPooling1D(),
        layers.Dropout(spec.options["dropout"]),
        layers.Dense(1, activation="sigmoid"),
    ]


def _ngram_bag(spec: ModelSpec) -> list[layers.Layer]:
    bag = [
        NgramBag(
            spec.num_words,
            spec.embedding_dim,
            buckets=spec.options["buckets"],
            dropout=spec.options.get("dropout", 0.0),
            seed=spec.options.get("seed"),
        ),
        layers.Dense(1, activation="sigmoid"),
    ]
    if "score_margin" in spec.options:
        bag.append(ScoreBounds(spec.options["score_margin"]))
    return bag


LAYERS: dict[str, Callable[[ModelSpec], list[layers.Layer]]] = {
    "ff": _ff,
    "rnn": _rnn,
    "rnn2": _rnn2,
    "rnn3": _rnn3,
    "mean": _mean,
    "conv": _conv,
    "ngram_bag": _ngram_bag,
}
"""Each builder returns the layers that follow the int32 input of shape (batch, maxlen)."""


def build_model(
    name: str,
    num_words: int | None = None,
    maxlen: int | None = None,
    embedding_dim: int | None = None,
) -> keras.Model:
    """A fresh, compiled model as its spec says; the arguments given replace the spec's."""
    spec = model_spec(name)
    spec = replace(
        spec,
        num_words=num_words or spec.num_words,
        maxlen=maxlen or spec.maxlen,
        embedding_dim=embedding_dim or spec.embedding_dim,
    )
    return build_from_spec(name, spec)


def build_from_spec(name: str, spec: ModelSpec) -> keras.Model:
    """The spec's layers after an int32 input of its window, compiled with its optimizer,
    binary cross-entropy and accuracy."""
    model = keras.Sequential(
        [
            keras.Input(shape=(spec.maxlen,), dtype="int32", name="input_ids"),
            *LAYERS[spec.build_layers](spec),
        ],
        name=name,
    )
    optimizer = OPTIMIZERS[spec.optimizer](learning_rate=spec.learning_rate)
    model.compile(optimizer=optimizer, loss=LOSS, metrics=["accuracy"])
    return model


def layer_table(model: keras.Model) -> list[dict[str, object]]:
    """Each layer's name, type, output shape and parameters, as `model.summary()` lists them."""
    return [
        {
            "name": layer.name,
            "type": type(layer).__name__,
            "output_shape": list(layer.output.shape),
            "params": int(layer.count_params()),
        }
        for layer in model.layers
    ]
