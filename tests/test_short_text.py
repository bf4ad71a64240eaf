"""The short-text sets cut from reviews (training.short_text) and the scores that judge them."""

from __future__ import annotations

import numpy as np
import pytest

from training import short_text
from training.short_text import (
    brier,
    build_sets,
    clean,
    crops,
    ece,
    first_last_sentences,
    last_span,
    scores_summary,
    sentences,
)

REVIEW = (
    "Great. I went in with low hopes for this one.<br /><br />The acting is superb and the "
    "music is lovely! Why did I wait so long to see it? Ten out of ten."
)


def test_clean_drops_br_tags_and_collapses_whitespace() -> None:
    assert clean("One.<br /><br />Two  three<BR/>four") == "One. Two three four"


def test_sentences_keep_only_those_of_at_least_five_words() -> None:
    assert sentences(REVIEW) == [
        "I went in with low hopes for this one.",
        "The acting is superb and the music is lovely!",
        "Why did I wait so long to see it?",
    ]


def test_first_and_last_sentence_of_a_review() -> None:
    assert first_last_sentences(REVIEW) == [
        "I went in with low hopes for this one.",
        "Why did I wait so long to see it?",
    ]
    assert first_last_sentences("Only one sentence here, and it counts.") == [
        "Only one sentence here, and it counts."
    ]
    assert first_last_sentences("Too short. Bad. Meh!") == []


def test_last_span_is_the_last_words_of_the_review() -> None:
    assert last_span(REVIEW, 5) == "it? Ten out of ten."
    assert last_span("two words", 10) == "two words"


def test_sets_keep_each_text_with_its_review_label() -> None:
    texts = [REVIEW, "Awful. It was the worst film I have ever seen, truly.", "Meh. Bad."]
    labels = np.array([1, 0, 1], dtype=np.int8)
    sets = build_sets(texts, labels, seed=0)
    assert sets["reviews"].texts == texts
    assert sets["sentences"].texts == [
        "I went in with low hopes for this one.",
        "Why did I wait so long to see it?",
        "It was the worst film I have ever seen, truly.",
    ]
    assert sets["sentences"].labels.tolist() == [1, 1, 0]
    spans = sets["spans"]
    assert spans.labels.tolist() == [1, 0, 1]
    for text, span in zip(texts, spans.texts, strict=True):
        words = clean(text).split()
        n = len(span.split())
        assert min(len(words), short_text.SPAN_WORDS[0]) <= n <= short_text.SPAN_WORDS[1]
        assert words[-n:] == span.split()


def test_span_lengths_are_seeded_and_cover_10_to_30_words() -> None:
    texts = [" ".join(f"w{i}" for i in range(100))] * 2_000
    labels = np.zeros(len(texts), dtype=np.int8)
    lengths = [len(s.split()) for s in build_sets(texts, labels, seed=3)["spans"].texts]
    assert min(lengths) == 10
    assert max(lengths) == 30
    assert (
        build_sets(texts, labels, seed=3)["spans"].texts
        == build_sets(texts, labels, 3)["spans"].texts
    )


def test_crops_are_sentences_or_spans_of_their_review() -> None:
    texts = [REVIEW, "Awful. It was the worst film I have ever seen, truly."]
    labels = np.array([1, 0], dtype=np.int8)
    cut = crops(texts, labels, per_review=20, seed=1)
    assert cut.labels.tolist() == [1] * 20 + [0] * 20
    for crop, label in zip(cut.texts, cut.labels, strict=True):
        source = clean(texts[0] if label == 1 else texts[1])
        assert crop in source
        assert 1 <= len(crop.split()) <= 40


def test_brier_and_ece_of_known_scores() -> None:
    scores = np.array([0.05, 0.05, 0.95, 0.95, 0.65, 0.65, 0.65, 0.65])
    labels = np.array([0, 0, 1, 1, 1, 1, 0, 0])
    assert brier(scores, labels) == pytest.approx(
        (2 * 0.05**2 + 2 * 0.05**2 + 2 * 0.35**2 + 2 * 0.65**2) / 8
    )
    # Bins 0, 9 and 6: |0.05 - 0|, |0.95 - 1| and |0.65 - 0.5|, weighted by 2, 2 and 4 of 8.
    assert ece(scores, labels) == pytest.approx((2 * 0.05 + 2 * 0.05 + 4 * 0.15) / 8)
    assert ece(np.array([1.0, 0.0]), np.array([1, 0])) == 0.0


def test_scores_summary_counts_certain_answers() -> None:
    summary = scores_summary(np.array([0.0, 0.4, 0.6, 1.0]), np.array([0, 1, 1, 1]))
    assert summary == {
        "texts": 4,
        "accuracy": 0.75,
        "brier": pytest.approx((0 + 0.36 + 0.16 + 0) / 4),
        "ece": pytest.approx((0.25 * 0 + 0.25 * 0.6 + 0.25 * 0.4 + 0.25 * 0) / 1),
        "exact_0_or_1": 2,
    }
