"""Occlusion explanations: how much each word the model saw moved its score.

The contribution of a word is `score(text) - score(text without that word)`, where "the text
without that word" is the review tokenized with that one occurrence deleted from its word list,
then given the start id and fitted to the window exactly like any review (keep the last L ids,
zeros in front). So in a long review the word just before the window slides into it; in a review
of exactly L words the start id does; in a shorter one the padding grows by one. A positive
contribution means the word pushed the score towards positive. A text and all its variants are
scored in one onnxruntime call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.registry import SentimentModel
from service.schemas import Contribution, Token
from service.tokenizer import (
    OOV_ID,
    START_ID,
    Vocabulary,
    encode_explained,
    last_words,
    word_ids,
)


@dataclass(frozen=True)
class Explained:
    """One text's score, the words in its window, and each word's contribution."""

    score: float
    tokens: list[Token]
    truncated: int
    explanation: list[Contribution]


def tail_ids(text: str, vocabulary: Vocabulary, maxlen: int) -> list[int]:
    """The last maxlen + 1 ids of the text's whole id sequence, start id included if it is
    among them: all that deleting one word of the window can bring into view."""
    words, _ = last_words(text, maxlen + 1)
    ids = word_ids(words, vocabulary)
    if len(ids) <= maxlen:  # the whole review: its start id comes first
        ids.insert(0, START_ID)
    return ids


def occlusion_rows(tail: Sequence[int], count: int, maxlen: int) -> npt.NDArray[np.int32]:
    """Row 0: the window of `tail`; row 1 + i: the window with the i-th of the last `count` ids
    deleted, cut to the last maxlen ids and padded with zeros in front the same way."""
    first = len(tail) - count
    variants = [list(tail)] + [[*tail[:k], *tail[k + 1 :]] for k in range(first, len(tail))]
    rows = np.zeros((len(variants), maxlen), dtype=np.int32)
    for row, ids in zip(rows, variants, strict=True):
        kept = ids[-maxlen:] if maxlen else []
        if kept:
            row[maxlen - len(kept) :] = kept
    return rows


def explain_text(model: SentimentModel, text: str) -> Explained:
    """Score a text and, in the same onnxruntime call, the text without each word it saw."""
    maxlen = model.input_length
    encoding = encode_explained(text, model.vocabulary, maxlen)
    count = len(encoding.words)
    rows = occlusion_rows(tail_ids(text, model.vocabulary, maxlen), count, maxlen)
    score, *without = model.score_ids(rows).tolist()
    ids = encoding.ids[maxlen - count :].tolist()
    tokens = [
        Token(word=w, id=i, oov=i == OOV_ID) for w, i in zip(encoding.words, ids, strict=True)
    ]
    explanation = [
        Contribution(word=t.word, id=t.id, oov=t.oov, contribution=score - s)
        for t, s in zip(tokens, without, strict=True)
    ]
    return Explained(score, tokens, encoding.truncated, explanation)
