"""The chapter's four Keras models, layer for layer (Embedding(10000, 8) over a 20-id window)."""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

ARCHITECTURES: dict[str, str] = {
    "ff": "Embedding(10000, 8) -> Flatten -> Dense(1, sigmoid)",
    "rnn": "Embedding(10000, 8) -> LSTM(1, activation='sigmoid')",
    "rnn2": "Embedding(10000, 8) -> LSTM(32, tanh) -> Dense(1, sigmoid)",
    "rnn3": "Embedding(10000, 8) -> LSTM(4, tanh, return_sequences=True) -> Flatten"
    " -> Dense(1, sigmoid)",
}


def _ff() -> list[layers.Layer]:
    return [layers.Flatten(), layers.Dense(1, activation="sigmoid")]


def _rnn() -> list[layers.Layer]:
    return [layers.LSTM(1, activation="sigmoid")]


def _rnn2() -> list[layers.Layer]:
    return [layers.LSTM(32), layers.Dense(1, activation="sigmoid")]


def _rnn3() -> list[layers.Layer]:
    return [
        layers.LSTM(4, return_sequences=True),
        layers.Flatten(),
        layers.Dense(1, activation="sigmoid"),
    ]


_HEADS: dict[str, Callable[[], list[layers.Layer]]] = {
    "ff": _ff,
    "rnn": _rnn,
    "rnn2": _rnn2,
    "rnn3": _rnn3,
}


def build_model(name: str, num_words: int, maxlen: int, embedding_dim: int) -> keras.Model:
    """A fresh, compiled model: RMSprop, binary cross-entropy, accuracy, as in the chapter."""
    if name not in _HEADS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(_HEADS)}")
    model = keras.Sequential(
        [
            keras.Input(shape=(maxlen,), dtype="int32", name="input_ids"),
            layers.Embedding(num_words, embedding_dim),
            *_HEADS[name](),
        ],
        name=name,
    )
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
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
