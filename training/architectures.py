"""Model definitions: the chapter's four (Embedding(10000, 8) over a 20-id window) and wider ones.

Each model has a `ModelSpec`: its window, vocabulary, layers and training settings. The pipeline
encodes the data, builds and trains the model from the spec alone, and saves the spec in the card.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import keras
from keras import layers

from training.ngrams import NgramBag

LOSS = "binary_crossentropy"
OPTIMIZERS: dict[str, type[keras.optimizers.Optimizer]] = {
    "rmsprop": keras.optimizers.RMSprop,
    "adam": keras.optimizers.Adam,
}
CHAPTER_EARLY_STOPPING: Mapping[str, Any] = {"monitor": "val_loss", "patience": 0, "min_delta": 0}
"""Keras' EarlyStopping defaults, written out: the chapter's callback."""


@dataclass(frozen=True)
class ModelSpec:
    """Everything that makes one model; the defaults are the chapter's settings."""

    architecture: str
    """The layers in one line, as the README's tables show them."""
    build_layers: Callable[[ModelSpec], list[layers.Layer]] = field(repr=False)
    """Builds the layers that follow the int32 input of shape (batch, maxlen)."""
    maxlen: int = 20
    """The window: how many ids (the last words of a review, after a start id) the model reads."""
    num_words: int = 10_000
    """The vocabulary: words with an id >= num_words become the out-of-vocabulary id."""
    embedding_dim: int = 8
    """The size of each word's vector."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Settings of the layers beyond the embedding (buckets, dimensions, ...)."""
    optimizer: str = "rmsprop"
    learning_rate: float = 0.001
    batch_size: int = 128
    epochs: int = 30
    """The most epochs; early stopping usually ends training sooner."""
    early_stopping: Mapping[str, Any] = field(default_factory=lambda: dict(CHAPTER_EARLY_STOPPING))

    def hyperparameters(self) -> dict[str, Any]:
        """The spec as the card records it, the layer builder by name."""
        settings = asdict(self)
        del settings["architecture"]  # the card has it at the top
        settings["build_layers"] = self.build_layers.__name__.lstrip("_")
        return settings


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
    return [
        NgramBag(
            spec.num_words,
            spec.embedding_dim,
            buckets=spec.options["buckets"],
            dropout=spec.options.get("dropout", 0.0),
            seed=spec.options.get("seed"),
        ),
        layers.Dense(1, activation="sigmoid"),
    ]


CHAPTER: dict[str, ModelSpec] = {
    "ff": ModelSpec("Embedding(10000, 8) -> Flatten -> Dense(1, sigmoid)", _ff),
    "rnn": ModelSpec("Embedding(10000, 8) -> LSTM(1, activation='sigmoid')", _rnn),
    "rnn2": ModelSpec("Embedding(10000, 8) -> LSTM(32, tanh) -> Dense(1, sigmoid)", _rnn2),
    "rnn3": ModelSpec(
        "Embedding(10000, 8) -> LSTM(4, tanh, return_sequences=True) -> Flatten"
        " -> Dense(1, sigmoid)",
        _rnn3,
    ),
}

# Beyond the chapter: the last 400 words (the whole review for 9 in 10 of them), the 20,000 most
# frequent words, Adam, and early stopping that waits 2 epochs and keeps the best weights.
_WIDE = ModelSpec(
    "",
    _mean,
    maxlen=400,
    num_words=20_000,
    embedding_dim=32,
    optimizer="adam",
    batch_size=32,
    early_stopping={**CHAPTER_EARLY_STOPPING, "patience": 2, "restore_best_weights": True},
)

SPECS: dict[str, ModelSpec] = {
    **CHAPTER,
    "fasttext": replace(
        _WIDE,
        architecture="NgramBag(20000 words + 262139 hashed-bigram buckets, dim 1, masked means)"
        " -> Dense(1, sigmoid)",
        build_layers=_ngram_bag,
        embedding_dim=1,
        options={"buckets": [262_139]},
        learning_rate=0.003,
    ),
}
"""The models `python -m training` trains and publishes by default."""

CANDIDATES: dict[str, ModelSpec] = {
    "mean": replace(
        _WIDE, architecture="Embedding(20000, 32) -> GlobalAveragePooling1D -> Dense(1, sigmoid)"
    ),
    "conv": replace(
        _WIDE,
        architecture="Embedding(20000, 32) -> Conv1D(128, 5, relu) -> GlobalMaxPooling1D"
        " -> Dropout(0.5) -> Dense(1, sigmoid)",
        build_layers=_conv,
        options={"filters": 128, "kernel_size": 5, "dropout": 0.5},
    ),
}
"""Models tried for a wider window and not chosen (see the README); `--models` still trains them."""


def model_spec(name: str) -> ModelSpec:
    """The spec of a published model or of a candidate."""
    known = {**SPECS, **CANDIDATES}
    if name not in known:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(known)}")
    return known[name]


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
            *spec.build_layers(spec),
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
