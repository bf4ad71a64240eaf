"""The model beyond the 20-word window: its card records its spec, the service serves it like the
chapter's models, and its long window is read from the end of a review exactly like full
tokenization, at a cost that does not grow with the review."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import pytest
from fastapi.testclient import TestClient

from service import tokenizer
from service.card import CARD, MANIFEST, Manifest, ModelCard
from service.tokenizer import (
    START_ID,
    Vocabulary,
    build_vocabulary,
    encode,
    encode_batch,
    load_word_index,
    split_words,
    word_ids,
)
from tests.conftest import MODELS, golden
from training.data import Reviews

NAME = "fasttext"


def card() -> ModelCard:
    return ModelCard.read(MODELS / NAME / CARD)


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return build_vocabulary(load_word_index(MODELS / "imdb_word_index.json"), card().num_words)


def full_tokenization(text: str, vocabulary: Vocabulary, maxlen: int) -> list[int]:
    """Every word of the text to ids, the start id in front, the last maxlen kept, zeros before."""
    ids = [START_ID, *word_ids(split_words(text), vocabulary)][-maxlen:]
    return [0] * (maxlen - len(ids)) + ids


def test_card_records_the_window_vocabulary_and_every_setting_of_its_spec() -> None:
    from training.config import SPECS

    spec, recorded = SPECS[NAME], card()
    assert (recorded.input_length, recorded.num_words) == (spec.maxlen, spec.num_words)
    assert recorded.input_length > 20
    assert spec.hyperparameters().items() <= recorded.hyperparameters.items()
    assert recorded.architecture == spec.architecture
    assert NAME in Manifest.read(MODELS / MANIFEST).models


def test_predict_with_the_model_returns_its_score(client: TestClient) -> None:
    text = "A wonderful film. " * 100 + "I loved every minute of it."
    response = client.post("/predict", json={"text": text, "model": NAME})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == NAME
    assert body["label"] == ("positive" if body["score"] >= 0.5 else "negative")


def test_single_predictions_equal_onnxruntime_on_its_window(
    client: TestClient, vocabulary: Vocabulary
) -> None:
    texts = [g["text"] for g in golden(NAME)][:5]
    session = ort.InferenceSession(str(MODELS / NAME / "model.onnx"))
    ids = encode_batch(texts, vocabulary, card().input_length)
    (direct,) = session.run(["score"], {"input_ids": ids})
    for text, expected in zip(texts, direct.tolist(), strict=True):
        response = client.post("/predict", json={"text": text, "model": NAME})
        assert response.status_code == 200
        assert response.json()["score"] == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("extra", [-400, -2, -1, 0, 1, 2, 5_000])
def test_reviews_around_the_window_edge_are_encoded_like_full_tokenization(
    vocabulary: Vocabulary, extra: int
) -> None:
    maxlen = card().input_length
    words = " ".join(golden(NAME)[0]["text"].split() * 100).split()
    text = " ".join(words[: max(0, maxlen + extra)])
    assert encode(text, vocabulary, maxlen).tolist() == full_tokenization(text, vocabulary, maxlen)


def test_a_100000_character_review_is_encoded_like_full_tokenization_reading_only_its_end(
    vocabulary: Vocabulary, monkeypatch: pytest.MonkeyPatch
) -> None:
    maxlen = card().input_length
    reviews = " <br /><br /> ".join(g["text"] for g in golden(NAME))
    text = (reviews * (100_000 // len(reviews) + 1))[-100_000:]
    expected = full_tokenization(text, vocabulary, maxlen)
    read: list[int] = []
    tail_words = tokenizer._tail_words

    def spy(part: str, count: int) -> tuple[list[bytes], bool]:
        read.append(len(part))
        return tail_words(part, count)

    monkeypatch.setattr(tokenizer, "_tail_words", spy)
    assert len(text) == 100_000
    assert encode(text, vocabulary, maxlen).tolist() == expected
    longest_read = max(read)
    read.clear()
    encode(text[-20_000:], vocabulary, maxlen)
    # The same characters are read whatever the review's length: a bounded tail.
    assert max(read) == longest_read <= 16 * (maxlen + 1)


@pytest.mark.slow
@pytest.mark.data
def test_pipeline_trains_it_with_its_own_settings(
    data_dir: Path, imdb: dict[str, Reviews], tmp_path_factory: pytest.TempPathFactory
) -> None:
    from training.config import SPECS, TrainConfig
    from training.pipeline import run

    out = tmp_path_factory.mktemp("models")
    run(TrainConfig(models=(NAME,), data=data_dir, out=out, epochs=1, limit=600), imdb)
    trained = ModelCard.read(out / NAME / CARD)
    spec = SPECS[NAME]
    assert (trained.input_length, trained.num_words) == (spec.maxlen, spec.num_words)
    settings = trained.hyperparameters
    assert (settings["optimizer"], settings["batch_size"], settings["epochs"]) == ("adam", 32, 1)
    assert settings["optimizer_config"]["learning_rate"] == pytest.approx(spec.learning_rate)
    assert settings["early_stopping"]["restore_best_weights"] is True
    assert (trained.parity.inputs, trained.parity.label_mismatches) == (600, 0)
    assert Manifest.read(out / MANIFEST).models == [NAME]
