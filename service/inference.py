"""From texts to predictions with one model: the work behind the predict routes."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from service import metrics
from service.dependencies import Runtime
from service.explain import explain_text
from service.registry import SentimentModel
from service.schemas import Prediction
from service.tokenizer import OOV_ID, encode_batch_window, encode_window


def label_of(score: float) -> Literal["positive", "negative"]:
    return "positive" if score >= 0.5 else "negative"


def record_inputs(
    model: SentimentModel,
    texts: Sequence[str],
    ids: npt.NDArray[np.int32],
    truncated: Sequence[bool],
) -> None:
    """Input metrics: text lengths, the out-of-vocabulary share of each window, truncations."""
    if len(ids) == 1:  # one review: numpy's per-call overhead would cost more than the count
        row = ids[0].tolist()
        words, unknown = [sum(i >= OOV_ID for i in row)], [row.count(OOV_ID)]
    else:
        words = (ids >= OOV_ID).sum(axis=1).tolist()
        unknown = (ids == OOV_ID).sum(axis=1).tolist()
    oov_rate = metrics.OOV_RATE.labels(model.name)
    for text, n_words, n_unknown in zip(texts, words, unknown, strict=True):
        metrics.INPUT_CHARS.observe(len(text))
        if n_words:
            oov_rate.observe(n_unknown / n_words)
    if any(truncated):
        metrics.TRUNCATED.labels(model.name).inc(sum(truncated))


async def score_one(
    runtime: Runtime, model: SentimentModel, text: str
) -> tuple[bytes, dict[str, float]]:
    """One review through its model's micro-batcher: the JSON response body, and the durations
    of tokenizing, waiting for the batch and inference (for Server-Timing)."""
    start = time.perf_counter()
    ids, truncated = encode_window(text, model.vocabulary, model.input_length)
    tokenized = time.perf_counter()
    record_inputs(model, [text], ids[None, :], [truncated])
    score, batch = await runtime.batchers[model.name].score(ids)
    body = {"model": model.name, "label": label_of(score), "score": score}
    timing = {"tokenize": tokenized - start, "queue": batch.queue_s, "inference": batch.inference_s}
    return json.dumps(body, separators=(",", ":")).encode(), timing


def score_texts(model: SentimentModel, texts: Sequence[str]) -> list[float]:
    """Scores of many texts, in one onnxruntime call."""
    ids, cut = encode_batch_window(texts, model.vocabulary, model.input_length)
    record_inputs(model, texts, ids, cut)
    start = time.perf_counter()
    scores = model.score_ids(ids)
    metrics.observe_batch(model.name, len(texts), time.perf_counter() - start)
    return list(scores.tolist())


def batch_json(model: SentimentModel, texts: Sequence[str]) -> bytes:
    """The body of a plain /predict/batch answer, written directly: building a pydantic object
    per text only to serialize it again cost ~10% of a 1,000-review batch."""
    predictions = [{"label": label_of(s), "score": s} for s in score_texts(model, texts)]
    return json.dumps(
        {"model": model.name, "predictions": predictions}, separators=(",", ":")
    ).encode()


def predict_texts(model: SentimentModel, texts: Sequence[str], explain: bool) -> list[Prediction]:
    """Score texts in one onnxruntime call; with explain, one call per text scores it and each
    variant without one of its words (see service/explain.py)."""
    if not explain:
        return [Prediction(label=label_of(s), score=s) for s in score_texts(model, texts)]
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
