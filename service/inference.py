"""From texts to predictions with one model: the work behind the predict routes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from service import metrics
from service.explain import explain_text
from service.registry import SentimentModel
from service.schemas import Prediction
from service.tokenizer import OOV_ID, encode_window


def label_of(score: float) -> Literal["positive", "negative"]:
    return "positive" if score >= 0.5 else "negative"


def record_inputs(
    model: SentimentModel,
    texts: Sequence[str],
    ids: npt.NDArray[np.int32],
    truncated: Sequence[bool],
) -> None:
    """Input metrics: text lengths, the out-of-vocabulary share of each window, truncations."""
    words = (ids >= OOV_ID).sum(axis=1).tolist()
    unknown = (ids == OOV_ID).sum(axis=1).tolist()
    oov_rate = metrics.OOV_RATE.labels(model.name)
    for text, n_words, n_unknown in zip(texts, words, unknown, strict=True):
        metrics.INPUT_CHARS.observe(len(text))
        if n_words:
            oov_rate.observe(n_unknown / n_words)
    if any(truncated):
        metrics.TRUNCATED.labels(model.name).inc(sum(truncated))


def predict_texts(model: SentimentModel, texts: Sequence[str], explain: bool) -> list[Prediction]:
    """Score texts in one onnxruntime call; with explain, one call per text scores it and each
    variant without one of its words (see service/explain.py)."""
    if not explain:
        windows = [encode_window(t, model.vocabulary, model.input_length) for t in texts]
        ids = np.stack([row for row, _ in windows])
        record_inputs(model, texts, ids, [cut for _, cut in windows])
        start = time.perf_counter()
        scores = model.score_ids(ids)
        metrics.observe_batch(model.name, len(texts), time.perf_counter() - start)
        return [Prediction(label=label_of(s), score=s) for s in scores.tolist()]
    explained = [explain_text(model, t) for t in texts]
    return [
        Prediction(
            label=label_of(e.score),
            score=e.score,
            tokens=e.tokens,
            truncated=e.truncated,
            explanation=e.explanation,
        )
        for e in explained
    ]
