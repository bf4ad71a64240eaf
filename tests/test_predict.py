"""POST /predict and /predict/batch: scores, labels, explanations and parity with training."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from fastapi.testclient import TestClient

from service.settings import Settings
from service.tokenizer import build_vocabulary, encode_batch, load_word_index
from tests.conftest import CHAPTER_MODELS, MODELS, SERVED_MODELS, golden


def test_predict_returns_model_label_and_score(client: TestClient, settings: Settings) -> None:
    response = client.post("/predict", json={"text": "A wonderful film, I loved every minute."})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"model", "label", "score"}
    assert body["model"] == settings.default_model
    assert 0.0 <= body["score"] <= 1.0
    assert body["label"] == ("positive" if body["score"] >= 0.5 else "negative")


@pytest.mark.parametrize("name", SERVED_MODELS)
def test_served_scores_equal_keras_golden_scores(client: TestClient, name: str) -> None:
    reviews = golden(name)
    response = client.post(
        "/predict/batch", json={"texts": [g["text"] for g in reviews], "model": name}
    )
    assert response.status_code == 200
    served = np.array([p["score"] for p in response.json()["predictions"]])
    keras = np.array([g["keras_score"] for g in reviews])
    assert len(reviews) >= 20
    assert np.max(np.abs(served - keras)) <= 1e-5


@pytest.mark.parametrize("name", CHAPTER_MODELS)
def test_single_predictions_equal_onnxruntime_on_tokenizer_ids(
    client: TestClient, name: str
) -> None:
    texts = [g["text"] for g in golden(name)][:5]
    vocabulary = build_vocabulary(load_word_index(MODELS / "imdb_word_index.json"), 10_000)
    session = ort.InferenceSession(str(MODELS / name / "model.onnx"))
    (direct,) = session.run(["score"], {"input_ids": encode_batch(texts, vocabulary, 20)})
    for text, expected in zip(texts, direct.tolist(), strict=True):
        response = client.post("/predict", json={"text": text, "model": name})
        assert response.status_code == 200
        assert response.json()["score"] == pytest.approx(expected, abs=1e-6)


def test_batch_keeps_input_order(client: TestClient) -> None:
    texts = [
        "Awful, boring, a waste of time.",
        "Brilliant and touching.",
        "Awful, boring, a waste of time.",
    ]
    response = client.post("/predict/batch", json={"texts": texts, "model": "ff"})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert len(predictions) == 3
    assert predictions[0] == predictions[2]
    singles = [
        client.post("/predict", json={"text": t, "model": "ff"}).json()["score"] for t in texts
    ]
    assert [p["score"] for p in predictions] == pytest.approx(singles, abs=1e-6)


def test_explain_lists_the_words_in_the_window(client: TestClient) -> None:
    text = "word " * 30 + "It's a sci-fi zzzunknownzzz movie"
    response = client.post("/predict", json={"text": text, "model": "rnn", "explain": True})
    assert response.status_code == 200
    body = response.json()
    assert body["truncated"] == 36 - 20
    tokens = body["tokens"]
    assert len(tokens) == 20
    assert [t["word"] for t in tokens] == ["word"] * 14 + [
        "it's",
        "a",
        "sci",
        "fi",
        "zzzunknownzzz",
        "movie",
    ]
    assert tokens[-1] == {"word": "movie", "id": 20, "oov": False}
    assert tokens[-2] == {"word": "zzzunknownzzz", "id": 2, "oov": True}


def test_explain_on_a_short_text_cuts_nothing(client: TestClient) -> None:
    response = client.post("/predict/batch", json={"texts": ["Great movie"], "explain": True})
    assert response.status_code == 200
    (prediction,) = response.json()["predictions"]
    assert prediction["truncated"] == 0
    assert [t["word"] for t in prediction["tokens"]] == ["great", "movie"]


def test_explain_does_not_change_the_score(client: TestClient) -> None:
    text = golden("rnn3")[0]["text"]
    plain = client.post("/predict", json={"text": text, "model": "rnn3"}).json()
    explained = client.post(
        "/predict", json={"text": text, "model": "rnn3", "explain": True}
    ).json()
    assert explained["score"] == plain["score"]


@pytest.mark.parametrize("name", CHAPTER_MODELS)
def test_every_chapter_model_is_selectable(client: TestClient, name: str) -> None:
    response = client.post("/predict", json={"text": "fine", "model": name})
    assert response.status_code == 200
    assert response.json()["model"] == name
