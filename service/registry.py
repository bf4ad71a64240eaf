"""The model registry: loads each model of `models/manifest.json` once, verifies it, scores ids.

A model is served only if its `.onnx` matches the sha256 in its card and it scores its golden
reviews (real test reviews with Keras' scores from training time) within the tolerance. The
registry is the one place that looks a model up by name, and answers an unknown name with 404.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from pydantic import ValidationError

from service.card import CARD, GOLDEN, MANIFEST, ONNX, GoldenSet, Manifest, ModelCard
from service.errors import ModelNotFound
from service.tokenizer import (
    Vocabulary,
    build_vocabulary,
    encode_batch_window,
    encode_window,
    load_word_index,
)
from service.wordpiece import WordPiece

_Typed = TypeVar("_Typed")

ENCODER_ROWS = 32
"""Rows per onnxruntime call for a model that reads WordPiece tokens (its memory is per row)."""


class ModelLoadError(RuntimeError):
    """A file of the models folder is missing or corrupt; the message names it."""


@dataclass
class SentimentModel:
    """One loaded model: its card, its onnxruntime session, its training vocabulary and, for a
    model that also reads WordPiece tokens, its WordPiece tokenizer."""

    name: str
    card: ModelCard
    session: ort.InferenceSession
    vocabulary: Vocabulary
    path: Path
    wordpiece: WordPiece | None = None

    @property
    def input_length(self) -> int:
        """The word window: how many word ids (a review's last words) the model reads."""
        return self.card.input_length

    @property
    def row_length(self) -> int:
        """The width of one input row: the word window, then the WordPiece tokens if any."""
        return self.card.input_length + (0 if self.wordpiece is None else self.wordpiece.max_tokens)

    @property
    def sha256(self) -> str:
        """The sha256 of the ONNX file served (checked against the card when loaded)."""
        return self.card.onnx_sha256

    def score_ids(self, ids: npt.NDArray[np.int32]) -> npt.NDArray[np.float32]:
        """Probability of a positive review for each row of ids, shape (n, row_length)."""
        if self.wordpiece is not None and len(ids) > ENCODER_ROWS:
            # An encoder's activations grow with the rows of one call (about 1 MB each): a batch
            # of 1,000 texts in one call would take a gigabyte.
            parts = [
                self.score_ids(ids[i : i + ENCODER_ROWS]) for i in range(0, len(ids), ENCODER_ROWS)
            ]
            return np.concatenate(parts)
        (scores,) = self.session.run([self.card.output_name], {self.card.input_name: ids})
        return np.asarray(scores, dtype=np.float32)

    def encode_window(self, text: str) -> tuple[npt.NDArray[np.int32], bool]:
        """One text's input row, and whether words were cut from its front to fit the window."""
        if self.wordpiece is None:
            return encode_window(text, self.vocabulary, self.card.input_length)
        rows, cut = self.encode_batch_window([text])
        return rows[0], cut[0]

    def encode_batch_window(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.int32], list[bool]]:
        """Input rows of many texts, shape (len(texts), row_length), and which had words cut."""
        words, cut = encode_batch_window(texts, self.vocabulary, self.card.input_length)
        if self.wordpiece is None:
            return words, cut
        rows = np.zeros((len(texts), self.row_length), dtype=np.int32)
        rows[:, : self.card.input_length] = words
        self.wordpiece.encode_rows(texts, rows[:, self.card.input_length :])
        return rows, cut

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.int32]:
        return self.encode_batch_window(texts)[0]

    def score_texts(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return self.score_ids(self.encode(texts))

    def summary(self, default: bool) -> dict[str, Any]:
        return {
            "name": self.name,
            "architecture": self.card.architecture,
            "params": self.card.params,
            "input_length": self.card.input_length,
            "num_words": self.card.num_words,
            "test_accuracy": self.card.test.accuracy,
            "sha256": self.card.onnx_sha256,
            "default": default,
            "wordpiece_tokens": None if self.wordpiece is None else self.wordpiece.max_tokens,
            "explainable": self.wordpiece is None,
        }


@dataclass
class ModelRegistry:
    models: dict[str, SentimentModel]
    default_name: str
    ready: bool = False
    golden_max_diff: dict[str, float] = field(default_factory=dict)

    def get(self, name: str | None) -> SentimentModel:
        """The named model, or the default one; ModelNotFound (404) for an unknown name."""
        model = self.models.get(name or self.default_name)
        if model is None:
            available = ", ".join(sorted(self.models))
            raise ModelNotFound(f"unknown model {name!r}; available models: {available}")
        return model


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise ModelLoadError(f"missing file: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelLoadError(f"corrupt JSON in {path}: {e}") from e


def _read_typed(path: Path, validate: Callable[[Any], _Typed]) -> _Typed:
    """A file of the training contract (service.card): a missing file, bad JSON or a wrong
    field is an error naming the file."""
    data = _read_json(path)
    try:
        return validate(data)
    except ValidationError as e:
        where = [".".join(str(p) for p in err["loc"]) or "top level" for err in e.errors()]
        problems = "; ".join(f"{w}: {err['msg']}" for w, err in zip(where, e.errors(), strict=True))
        raise ModelLoadError(f"invalid {path}: {problems}") from e


def _session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def read_model(
    folder: Path,
    word_index: dict[str, int],
    threads: int,
    vocab: dict[int, Vocabulary] | None = None,
) -> SentimentModel:
    """One model folder, checked as at start-up (card, sha256, ONNX file, tokenizer), without its
    golden set; `vocab` caches vocabularies by size across models."""
    vocab = {} if vocab is None else vocab
    card_path = folder / CARD
    card = _read_typed(card_path, ModelCard.model_validate)
    if card.name != folder.name:
        raise ModelLoadError(f"{card_path} is the card of {card.name!r}, not of {folder.name!r}")
    onnx_path = folder / ONNX
    if not onnx_path.is_file():
        raise ModelLoadError(f"missing file: {onnx_path}")
    digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    if digest != card.onnx_sha256:
        raise ModelLoadError(f"corrupt model {onnx_path}: sha256 {digest} differs from {card_path}")
    if card.num_words not in vocab:
        vocab[card.num_words] = build_vocabulary(word_index, card.num_words)
    try:
        session = _session(onnx_path, threads)
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ModelLoadError(f"corrupt model {onnx_path}: {e}") from e
    wordpiece = None
    if card.wordpiece is not None:
        tokenizer_path = folder / card.wordpiece.tokenizer
        if not tokenizer_path.is_file():
            raise ModelLoadError(f"missing file: {tokenizer_path}")
        try:
            wordpiece = WordPiece(tokenizer_path, card.wordpiece.tokens, side="left")
        except Exception as e:  # tokenizers raises its own Exception for a corrupt file
            raise ModelLoadError(f"corrupt tokenizer {tokenizer_path}: {e}") from e
    return SentimentModel(card.name, card, session, vocab[card.num_words], onnx_path, wordpiece)


def _manifest_and_words(models_dir: Path) -> tuple[Manifest, dict[str, int]]:
    if not models_dir.is_dir():
        raise ModelLoadError(f"missing models folder: {models_dir}")
    manifest = _read_typed(models_dir / MANIFEST, Manifest.model_validate)
    index_path = models_dir / manifest.word_index
    if not index_path.is_file():
        raise ModelLoadError(f"missing file: {index_path}")
    try:
        word_index = load_word_index(index_path)
    except (ValueError, UnicodeDecodeError) as e:
        raise ModelLoadError(f"corrupt word index {index_path}: {e}") from e
    return manifest, word_index


def load_registry(models_dir: Path, default_model: str, threads: int = 1) -> ModelRegistry:
    """Load and verify every model in the manifest; raise ModelLoadError naming the bad file."""
    manifest, word_index = _manifest_and_words(models_dir)
    vocab: dict[int, Vocabulary] = {}
    models = {
        name: read_model(models_dir / name, word_index, threads, vocab) for name in manifest.models
    }
    if default_model not in models:
        raise ModelLoadError(
            f"default model {default_model!r} is not in {models_dir / MANIFEST} "
            f"(available: {', '.join(models)})"
        )
    return ModelRegistry(models, default_model)


def manifest_names(models_dir: Path) -> list[str]:
    """The names of the models in the manifest on disk now (empty if it cannot be read)."""
    try:
        return list(_read_typed(models_dir / MANIFEST, Manifest.model_validate).models)
    except ModelLoadError:
        return []


def load_model(models_dir: Path, name: str, tolerance: float, threads: int = 1) -> SentimentModel:
    """Read one model of the manifest from disk again, checked exactly as at start-up (sha256
    against its card, golden set within tolerance); KeyError if the manifest has no such model."""
    manifest, word_index = _manifest_and_words(models_dir)
    if name not in manifest.models:
        raise KeyError(name)
    model = read_model(models_dir / name, word_index, threads)
    check_model_golden(model, tolerance)
    return model


def check_model_golden(model: SentimentModel, tolerance: float) -> float:
    """Score the model's golden reviews; their max |diff| from Keras, or ModelLoadError."""
    golden_path = model.path.parent / GOLDEN
    golden = _read_typed(golden_path, GoldenSet.validate_python)
    expected = np.array([g.keras_score for g in golden], dtype=np.float32)
    served = model.score_texts([g.text for g in golden])
    diff = float(np.max(np.abs(served - expected))) if len(golden) else 0.0
    if not golden or diff > tolerance:
        raise ModelLoadError(
            f"model {model.name} fails its golden set {golden_path}: "
            f"max |diff| {diff:.3g} over {len(golden)} reviews (tolerance {tolerance})"
        )
    return diff


def check_golden(registry: ModelRegistry, tolerance: float) -> None:
    """Score each model's golden reviews; the registry is ready only if all are within tolerance."""
    for model in registry.models.values():
        registry.golden_max_diff[model.name] = check_model_golden(model, tolerance)
    registry.ready = True
