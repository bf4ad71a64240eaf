"""From texts to predictions with one model: the work behind the predict routes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from service.registry import SentimentModel
from service.schemas import Prediction, Token
from service.tokenizer import OOV_ID, encode_explained


def label_of(score: float) -> Literal["positive", "negative"]:
    return "positive" if score >= 0.5 else "negative"


def predict_texts(model: SentimentModel, texts: Sequence[str], explain: bool) -> list[Prediction]:
    """Score texts in one onnxruntime call; with explain, also say which words the model saw."""
    if not explain:
        scores = model.score_ids(model.encode(texts))
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
