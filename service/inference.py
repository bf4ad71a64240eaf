"""From texts to predictions with one model: the work behind the predict routes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from service import metrics
from service.registry import SentimentModel
from service.schemas import Prediction, Token
from service.tokenizer import OOV_ID, encode_explained, encode_window


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
    """Score texts in one onnxruntime call; with explain, also say which words the model saw."""
    if not explain:
        windows = [encode_window(t, model.vocabulary, model.input_length) for t in texts]
        ids = np.stack([row for row, _ in windows])
        record_inputs(model, texts, ids, [cut for _, cut in windows])
        start = time.perf_counter()
        scores = model.score_ids(ids)
        metrics.observe_batch(model.name, len(texts), time.perf_counter() - start)
        return [Prediction(label=label_of(s), score=s) for s in scores.tolist()]
    encodings = [encode_explained(t, model.vocabulary, model.input_length) for t in texts]
    scores = model.score_ids(np.stack([e.ids for e in encodings]))
    predictions = []
    for encoding, score in zip(encodings, scores.tolist(), strict=True):
        ids = encoding.ids[len(encoding.ids) - len(encoding.words) :].tolist()
        tokens = [
            Token(word=w, id=i, oov=i == OOV_ID) for w, i in zip(encoding.words, ids, strict=True)
        ]
        predictions.append(
            Prediction(
                label=label_of(score), score=score, tokens=tokens, truncated=encoding.truncated
            )
        )
    return predictions
