"""The committed ONNX models, scored here on the 25,000 real test reviews with the shared tokenizer
and the window and vocabulary of each card: the chapter's models reach the chapter's accuracy minus
2 points, fasttext the 0.89 it was built for, and the cards report what they really score."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import onnxruntime as ort
import pytest

from service.card import CARD, ModelCard
from service.tokenizer import build_vocabulary, encode_batch, load_word_index
from tests.conftest import MODELS
from training.data import Reviews
from training.evaluation import confusion_stats, confusion_table

pytestmark = [pytest.mark.slow, pytest.mark.data]

# The chapter's accuracy minus 2 points (ff and rnn on test, rnn2 and rnn3 on validation).
# fasttext: the goal of the issue that added it, Maas et al.'s 0.8889 rounded up.
FLOORS = {"ff": 0.7425, "rnn": 0.6764, "rnn2": 0.728, "rnn3": 0.720, "fasttext": 0.89}

TestIds = Callable[[int, int], tuple[np.ndarray, np.ndarray]]


@pytest.fixture(scope="module")
def test_ids(imdb: dict[str, Reviews]) -> TestIds:
    """The test reviews as ids and their labels, for a (num_words, maxlen); each encoded once."""
    test = imdb["test"]
    word_index = load_word_index(MODELS / "imdb_word_index.json")

    @functools.cache
    def encoded(num_words: int, maxlen: int) -> np.ndarray:
        return encode_batch(test.texts, build_vocabulary(word_index, num_words), maxlen)

    return lambda num_words, maxlen: (encoded(num_words, maxlen), test.labels)


@pytest.mark.parametrize("name", FLOORS)
def test_committed_model_reaches_the_chapter_accuracy(name: str, test_ids: TestIds) -> None:
    card = ModelCard.read(MODELS / name / CARD)
    ids, labels = test_ids(card.num_words, card.input_length)
    session = ort.InferenceSession(str(MODELS / name / "model.onnx"))
    (scores,) = session.run(["score"], {"input_ids": ids})
    stats = confusion_stats(confusion_table(scores >= 0.5, labels), positive_class=0)
    assert len(labels) == 25_000
    assert stats.accuracy >= FLOORS[name]
    assert card.test.table == stats.table
    assert card.test.accuracy == pytest.approx(stats.accuracy)
