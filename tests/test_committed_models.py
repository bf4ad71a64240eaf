"""The committed ONNX models, scored here on the 25,000 real test reviews with the shared tokenizer
and the window and vocabulary of each card: the chapter's models reach the chapter's accuracy minus
2 points, fasttext the 0.89 it was built for, ngram 0.90, and the cards report what they really
score. ngram is also held to its short-text floors (training.short_text's sets), and minilm to the
short-text issue's goals, on its card and on a sample of each set scored here."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable

import numpy as np
import onnxruntime as ort
import pytest

from service.card import CARD, ModelCard
from service.tokenizer import build_vocabulary, encode_batch, load_word_index
from tests.conftest import MODELS
from training.data import Reviews
from training.evaluation import confusion_stats, confusion_table
from training.short_text import TextSet, build_sets, score_onnx, scores_summary

pytestmark = [pytest.mark.slow, pytest.mark.data]

# The chapter's accuracy minus 2 points (ff and rnn on test, rnn2 and rnn3 on validation).
# fasttext: the goal of the issue that added it, Maas et al.'s 0.8889 rounded up.
# ngram: the short-text issue's goal on the IMDB test set.
FLOORS = {
    "ff": 0.7425,
    "rnn": 0.6764,
    "rnn2": 0.728,
    "rnn3": 0.720,
    "fasttext": 0.89,
    "ngram": 0.90,
}
SHORT_TEXT_MODEL = "ngram"
SHORT_TEXT_FLOORS = {"ece": 0.03, "sentences_over_fasttext": 0.0}
"""ECE (10 bins) on the IMDB test set: the issue's goal. On the test sentences the issue asked for
fasttext's accuracy + 0.05; no model tried reached it (docs/short_text.md), so the floor is only
"not below fasttext"."""

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


@pytest.fixture(scope="module")
def short_sets(imdb: dict[str, Reviews]) -> dict[str, TextSet]:
    test = imdb["test"]
    return build_sets(test.texts, test.labels, seed=42)


def score_texts(name: str, texts: list[str]) -> np.ndarray:
    return score_onnx(MODELS / name, texts, load_word_index(MODELS / "imdb_word_index.json"))


def test_short_text_model_floors_on_the_committed_onnx_file(
    short_sets: dict[str, TextSet],
) -> None:
    """The short-text model, scored here: its IMDB test accuracy and ECE, and its accuracy on the
    test sentences against fasttext's; no sentence or span scored exactly 0.0 or 1.0."""
    figures = {
        name: {
            s: scores_summary(score_texts(name, t.texts), t.labels) for s, t in short_sets.items()
        }
        for name in (SHORT_TEXT_MODEL, "fasttext")
    }
    ours, fasttext = figures[SHORT_TEXT_MODEL], figures["fasttext"]
    assert ours["reviews"]["texts"] == 25_000
    assert ours["reviews"]["ece"] <= SHORT_TEXT_FLOORS["ece"]
    assert (
        ours["sentences"]["accuracy"]
        >= fasttext["sentences"]["accuracy"] + SHORT_TEXT_FLOORS["sentences_over_fasttext"]
    )
    assert ours["sentences"]["exact_0_or_1"] == ours["spans"]["exact_0_or_1"] == 0
    card = ModelCard.read(MODELS / SHORT_TEXT_MODEL / CARD)
    assert card.short_text is not None
    for set_name, recorded in card.short_text["test"].items():
        assert recorded.accuracy == pytest.approx(ours[set_name]["accuracy"])
        assert recorded.ece == pytest.approx(ours[set_name]["ece"], abs=1e-6)


MINILM_FLOORS = {"reviews": 0.90, "sentences_over_fasttext": 0.05, "ece": 0.03}
"""The short-text issue's goals: IMDB test accuracy, test sentences against fasttext's, ECE."""
MINILM_SAMPLE = {"reviews": 500, "sentences": 1500, "spans": 750}
"""Texts of each test set scored here: scoring all of them through the encoder takes about 11
minutes on 2 cores (training.minilm_publish does, for the card)."""


def test_minilm_reaches_the_short_text_goals_and_scores_as_its_card_says(
    short_sets: dict[str, TextSet],
) -> None:
    """The card's figures (the 25,000 test reviews and every text of the short sets, scored by
    the committed graph when it was published) meet the goals; a seeded sample of each set,
    scored here, agrees with them within 4 standard errors and has no score of exactly 0 or 1."""
    card = ModelCard.read(MODELS / "minilm" / CARD)
    assert card.short_text is not None
    figures = card.short_text["test"]
    fasttext = json.loads((MODELS / "short_text_eval.json").read_bytes())["models"]["fasttext"]
    assert card.test.accuracy is not None
    assert card.test.accuracy >= MINILM_FLOORS["reviews"]
    assert figures["reviews"].accuracy == pytest.approx(card.test.accuracy)
    assert figures["reviews"].ece <= MINILM_FLOORS["ece"]
    assert (
        figures["sentences"].accuracy
        >= fasttext["sentences"]["accuracy"] + MINILM_FLOORS["sentences_over_fasttext"]
    )
    assert card.parity.inputs == 25_000
    assert card.parity.max_abs_diff <= 1e-5
    rng = np.random.default_rng(0)
    for set_name, size in MINILM_SAMPLE.items():
        texts = short_sets[set_name]
        pick = rng.choice(len(texts.texts), size=size, replace=False)
        sample = scores_summary(
            score_texts("minilm", [texts.texts[i] for i in pick]), texts.labels[pick]
        )
        expected = figures[set_name].accuracy
        assert figures[set_name].texts == len(texts.texts)
        assert abs(sample["accuracy"] - expected) <= 4 * math.sqrt(expected * (1 - expected) / size)
        assert sample["exact_0_or_1"] == 0
    assert figures["sentences"].exact_0_or_1 == figures["spans"].exact_0_or_1 == 0
