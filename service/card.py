"""The contract between training and the service: each model's card and the models' manifest.

Training writes a `ModelCard` to `models/<name>/card.json` and lists the names in
`models/manifest.json`; the service reads both through these classes, never through raw keys.
MLServer's `ModelSettings` is the model: one pydantic class per file, validated on load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, TypeAdapter

MANIFEST = "manifest.json"
WORD_INDEX = "imdb_word_index.json"
CARD = "card.json"
ONNX = "model.onnx"
GOLDEN = "golden.json"


class _Strict(BaseModel):
    # A key that no field declares is a mistake in the writer or the reader, not data to carry.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Layer(_Strict):
    """One row of `model.summary()`."""

    name: str
    type: str
    output_shape: list[int | None]
    params: int


class TestStatistics(BaseModel):
    """caret's `confusionMatrix` on the test split (training.evaluation.ConfusionStats); the
    statistics the service does not read are kept as written."""

    model_config = ConfigDict(extra="allow", frozen=True)

    table: list[list[int]]
    """[[pred 0 & ref 0, pred 0 & ref 1], [pred 1 & ref 0, pred 1 & ref 1]]."""
    positive_class: int
    accuracy: float | None
    """None (caret's NA) for a model that predicts one class only."""


class Parity(_Strict):
    """onnxruntime against Keras on every test input, before publishing."""

    inputs: int
    max_abs_diff: float
    label_mismatches: int
    tolerance: float


class DataProvenance(_Strict):
    source: str
    """The tarball's or folder's name."""
    sha256: str | None
    """The tarball's digest; None for a folder."""
    train_reviews: int
    test_reviews: int


class PlattScaling(_Strict):
    """sigmoid(scale * logit + shift), fitted on the validation reviews and folded into the last
    Dense layer (training.calibration)."""

    scale: float
    shift: float
    fitted_on: int
    ece_before: float
    ece_after: float


class ShortTextScores(_Strict):
    """One model on one set of training.short_text: whole reviews, sentences or spans."""

    texts: int
    accuracy: float
    brier: float
    ece: float
    """Expected calibration error, 10 equal-width bins of the positive score."""
    exact_0_or_1: int
    """How many texts scored exactly 0.0 or 1.0."""


class WordPieceInput(_Strict):
    """A model that also reads WordPiece tokens (service.wordpiece): its input rows are the
    word window (`input_length` ids) followed by `tokens` WordPiece ids, the text's last ones
    ([CLS] and [SEP] included), left-aligned and padded with 0."""

    tokens: int
    tokenizer: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+\.json$")]
    """The `tokenizer.json` file, in the model's folder (a plain name: nothing can climb out)."""


class ModelCard(_Strict):
    """Everything known about one trained model: what it is, how to feed it, how it scored."""

    name: str
    architecture: str
    """The layers in one line."""
    layers: list[Layer]
    params: int
    input_name: str
    """The ONNX graph's input: int ids of shape (batch, input_length)."""
    output_name: str
    """The ONNX graph's output: the probability of a positive review, shape (batch,)."""
    input_length: int
    """The window: how many ids (the last words of a review) the model reads."""
    num_words: int
    """The vocabulary: ids >= num_words are the out-of-vocabulary id."""
    tokenizer: str
    wordpiece: WordPieceInput | None = None
    """Models that read WordPiece tokens after the word window; None for the others."""
    hyperparameters: dict[str, Any]
    """The model's spec and the run's settings; their keys changed as the specs grew."""
    epochs_run: int
    weights_epoch: int | None = None
    """The epoch whose weights were kept (cards written before early stopping restored weights
    do not record it: the last)."""
    train_seconds: float | None = None
    history: dict[str, list[float]]
    test: TestStatistics
    parity: Parity
    calibration: PlattScaling | None = None
    """Cards written before calibration existed, and uncalibrated models: None."""
    short_text: dict[str, dict[str, ShortTextScores]] | None = None
    """Split ("test", "validation") -> set ("reviews", "sentences", "spans") -> scores; cards
    written before this evaluation have none (models/short_text_eval.json has their figures)."""
    onnx_sha256: str
    data: DataProvenance
    versions: dict[str, str]

    @classmethod
    def read(cls, path: Path) -> ModelCard:
        """Parse a card file; raises OSError, UnicodeDecodeError or pydantic's ValidationError."""
        return cls.model_validate_json(path.read_bytes())

    def write(self, path: Path) -> None:
        """As training always wrote it: two-space indented, non-ASCII kept, a final newline."""
        write_json(path, self.model_dump(mode="json", exclude_unset=True))


class GoldenReview(_Strict):
    """A real test review with Keras' score at training time: the service scores it at startup."""

    name: str
    label: int
    text: str
    keras_score: float


GoldenSet = TypeAdapter(list[GoldenReview])

ModelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$")]
"""A folder name under `models/`: nothing that could climb out of it."""


class Manifest(_Strict):
    """Which models a `models/` folder serves, in order; each lives in `<name>/` (its card, ONNX
    file and golden set); everything else about a model is in its card."""

    word_index: str = WORD_INDEX
    models: list[ModelName]

    @classmethod
    def read(cls, path: Path) -> Manifest:
        return cls.model_validate_json(path.read_bytes())

    def write(self, path: Path) -> None:
        write_json(path, self.model_dump(mode="json"))


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
