"""What a training run trains and how: each model's `ModelSpec` (the chapter's four and wider
ones) and the run's `TrainConfig`. No TensorFlow here, so that `python -m training --help` is
instant; training.architectures turns a spec into Keras layers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

LOSS = "binary_crossentropy"
CHAPTER_EARLY_STOPPING: Mapping[str, Any] = {"monitor": "val_loss", "patience": 0, "min_delta": 0}
"""Keras' EarlyStopping defaults, written out: the chapter's callback."""
SCRATCH_OUT = Path("build/models")
"""Where a run publishes unless told otherwise: never the committed `models/`."""


@dataclass(frozen=True)
class ModelSpec:
    """Everything that makes one model; the defaults are the chapter's settings."""

    architecture: str
    """The layers in one line, as the README's tables show them."""
    build_layers: str
    """The name of the function in training.architectures.LAYERS that builds the layers after
    the int32 input of shape (batch, maxlen)."""
    maxlen: int = 20
    """The window: how many ids (the last words of a review, after a start id) the model reads."""
    num_words: int = 10_000
    """The vocabulary: words with an id >= num_words become the out-of-vocabulary id."""
    embedding_dim: int = 8
    """The size of each word's vector."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Settings of the layers beyond the embedding (buckets, dimensions, ...) and of training:
    `crops_per_review` (sentences and spans added to the training data, see
    training.short_text.crops), `calibration` ("platt": fitted on the validation reviews) and
    `score_margin` (scores kept within [margin, 1 - margin])."""
    optimizer: str = "rmsprop"
    learning_rate: float = 0.001
    batch_size: int = 128
    epochs: int = 30
    """The most epochs; early stopping usually ends training sooner."""
    early_stopping: Mapping[str, Any] = field(default_factory=lambda: dict(CHAPTER_EARLY_STOPPING))

    def hyperparameters(self) -> dict[str, Any]:
        """The spec as the card records it."""
        settings = asdict(self)
        del settings["architecture"]  # the card has it at the top
        return settings


CHAPTER: dict[str, ModelSpec] = {
    "ff": ModelSpec("Embedding(10000, 8) -> Flatten -> Dense(1, sigmoid)", "ff"),
    "rnn": ModelSpec("Embedding(10000, 8) -> LSTM(1, activation='sigmoid')", "rnn"),
    "rnn2": ModelSpec("Embedding(10000, 8) -> LSTM(32, tanh) -> Dense(1, sigmoid)", "rnn2"),
    "rnn3": ModelSpec(
        "Embedding(10000, 8) -> LSTM(4, tanh, return_sequences=True) -> Flatten"
        " -> Dense(1, sigmoid)",
        "rnn3",
    ),
}

# Beyond the chapter: the last 400 words (the whole review for 9 in 10 of them), the 20,000 most
# frequent words, Adam, and early stopping that waits 2 epochs and keeps the best weights.
_WIDE = ModelSpec(
    "",
    "mean",
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
        build_layers="ngram_bag",
        embedding_dim=1,
        options={"buckets": [262_139]},
        learning_rate=0.003,
    ),
}
SPECS["ngram"] = replace(
    SPECS["fasttext"],
    architecture="NgramBag(40000 words + 1048573 hashed-bigram buckets, dim 1, masked means)"
    " -> Dense(1, sigmoid), Platt-scaled, scores within [1e-5, 1 - 1e-5]",
    maxlen=800,
    num_words=40_000,
    options={"buckets": [1_048_573], "calibration": "platt", "score_margin": 1e-5},
)
"""The models `python -m training` trains and publishes by default. `ngram`: the short-text
issue's model, chosen on the validation reviews and their short texts (docs/short_text.md)."""

CANDIDATES: dict[str, ModelSpec] = {
    "mean": replace(
        _WIDE, architecture="Embedding(20000, 32) -> GlobalAveragePooling1D -> Dense(1, sigmoid)"
    ),
    "conv": replace(
        _WIDE,
        architecture="Embedding(20000, 32) -> Conv1D(128, 5, relu) -> GlobalMaxPooling1D"
        " -> Dropout(0.5) -> Dense(1, sigmoid)",
        build_layers="conv",
        options={"filters": 128, "kernel_size": 5, "dropout": 0.5},
    ),
}
"""Models tried for a wider window and not chosen (see the README); `--models` still trains them."""

_FASTTEXT = SPECS["fasttext"]
_SHORT = {"calibration": "platt", "score_margin": 1e-5}
CANDIDATES |= {
    "ft_crops": replace(
        _FASTTEXT,
        architecture=_FASTTEXT.architecture + ", trained with 2 crops per review, Platt-scaled",
        options={**_FASTTEXT.options, "crops_per_review": 2, "calibration": "platt"},
    ),
    "ft_crops_drop": replace(
        _FASTTEXT,
        architecture=_FASTTEXT.architecture + ", word dropout 0.5, trained with 1 crop per"
        " review, Platt-scaled",
        options={**_FASTTEXT.options, **_SHORT, "crops_per_review": 1, "dropout": 0.5, "seed": 42},
    ),
    "big": replace(
        _FASTTEXT,
        architecture="NgramBag(40000 words + 1048573 hashed-bigram buckets, dim 1, masked means)"
        " -> Dense(1, sigmoid), Platt-scaled",
        num_words=40_000,
        options={"buckets": [1_048_573], **_SHORT},
    ),
    "big_tri": replace(
        _FASTTEXT,
        architecture="NgramBag(40000 words + 1048573 bigram + 1048573 trigram buckets, dim 1,"
        " masked means) -> Dense(1, sigmoid), Platt-scaled",
        num_words=40_000,
        options={"buckets": [1_048_573, 1_048_573], **_SHORT},
    ),
}
"""Short-text candidates, not chosen (docs/short_text.md)."""


def model_spec(name: str) -> ModelSpec:
    """The spec of a published model or of a candidate."""
    known = {**SPECS, **CANDIDATES}
    if name not in known:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(known)}")
    return known[name]


@dataclass(frozen=True)
class TrainConfig:
    """The settings a run shares across its models (each model's own are in its ModelSpec);
    saved with the spec in each model's card."""

    models: tuple[str, ...] = tuple(SPECS)
    data: Path | None = None
    word_index: Path | None = None
    out: Path = SCRATCH_OUT
    epochs: int | None = None
    """Every model's most epochs, for quick runs; None keeps each spec's."""
    validation_split: float = 0.2
    seed: int = 42
    limit: int | None = None
    """Use only this many reviews of each split (for quick runs); None for all 25,000."""
    golden_size: int = 20
    verbose: str | int = "auto"
    """Keras' progress output: "auto" shows its bars, 2 one line per epoch."""
    positive_class: int = 0
    """The class caret calls positive in the statistics; the chapter's is 0."""
