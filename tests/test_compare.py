"""POST /compare: every model's label and score for the same reviews, and whether they agree."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import CHAPTER_MODELS, MODELS
from tests.test_errors import assert_error

TEXTS = ["A wonderful, moving film. I loved every minute of it.", "Dull, boring, a waste."]


def test_compare_one_text_gives_every_models_score_as_predict_does(client: TestClient) -> None:
    response = client.post("/compare", json={"text": TEXTS[0]})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"agree", "predictions"}
    served = [m["name"] for m in client.get("/models").json()["models"]]
    assert [p["model"] for p in body["predictions"]] == served
    assert set(CHAPTER_MODELS) <= set(served)
    for prediction in body["predictions"]:
        single = client.post("/predict", json={"text": TEXTS[0], "model": prediction["model"]})
        assert prediction == {k: single.json()[k] for k in ("model", "label", "score")}
    labels = {p["label"] for p in body["predictions"]}
    assert body["agree"] == (len(labels) == 1)


def test_compare_many_texts_keeps_input_order(client: TestClient) -> None:
    response = client.post("/compare", json={"texts": [TEXTS[1], TEXTS[0], TEXTS[1]]})
    assert response.status_code == 200
    comparisons = response.json()["comparisons"]
    assert len(comparisons) == 3
    assert comparisons[0] == comparisons[2]
    assert comparisons[1] == client.post("/compare", json={"text": TEXTS[0]}).json()


def test_compare_says_when_the_models_disagree(client: TestClient) -> None:
    # rnn reads this ending as positive while the other three read it as negative.
    text = " ".join(["boring"] * 300 + ["a", "wonderful", "film", "that", "i", "loved"])
    body = client.post("/compare", json={"text": text}).json()
    labels = {p["model"]: p["label"] for p in body["predictions"]}
    assert len(set(labels.values())) == 2
    assert body["agree"] is False


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"text": "ok", "texts": ["ok"]},
        {"texts": []},
        {"text": "   "},
        {"texts": ["ok", ""]},
        {"text": "ok", "model": "ff"},
        {"text": 3},
    ],
)
def test_compare_bad_body_returns_422(client: TestClient, body: object) -> None:
    assert_error(client.post("/compare", json=body), 422, "validation_error")


def test_compare_without_json_content_type_returns_415(client: TestClient) -> None:
    response = client.post("/compare", content=b'{"text": "ok"}')
    assert_error(response, 415, "unsupported_media_type")


def test_compare_applies_the_text_and_batch_limits() -> None:
    settings = Settings(models_dir=MODELS, max_text_chars=50, max_batch_texts=3)
    with TestClient(create_app(settings)) as small:
        assert_error(small.post("/compare", json={"text": "a" * 51}), 413, "payload_too_large")
        too_many = small.post("/compare", json={"texts": ["ok"] * 4})
        assert_error(too_many, 422, "invalid_input")
        assert small.post("/compare", json={"texts": ["ok"] * 3}).status_code == 200
