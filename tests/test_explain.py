"""Occlusion explanations: a word's contribution is the score of the text minus the score of the
same text with that word deleted, re-tokenized exactly as any review."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from service.explain import occlusion_rows, tail_ids
from service.registry import SentimentModel
from service.tokenizer import encode
from tests.conftest import CHAPTER_MODELS

VOCABULARY = {"good": 4, "bad": 5, "film": 6, "not": 7}
LONG = " ".join(["dull"] * 25 + ["but", "the", "ending", "is", "wonderful", "and", "moving"])
TEXTS = {
    "short": "a wonderful film",
    "exactly twenty words": " ".join(["great"] * 10 + ["awful"] * 10),
    "twenty-one words": " ".join(["great"] * 10 + ["awful"] * 11),
    "long": LONG,
}


@given(
    words=st.lists(st.sampled_from([*VOCABULARY, "zzz", "it's"]), max_size=12),
    separators=st.lists(st.sampled_from([" ", ", ", ". ", " - ", "\n"]), min_size=12),
    maxlen=st.integers(1, 8),
)
def test_each_variant_equals_encoding_the_text_with_that_word_deleted(
    words: list[str], separators: list[str], maxlen: int
) -> None:
    def join(ws: list[str]) -> str:
        return "".join(w + s for w, s in zip(ws, separators, strict=False))

    text = join(words)
    count = min(len(words), maxlen)
    rows = occlusion_rows(tail_ids(text, VOCABULARY, maxlen), count, maxlen)
    assert rows.shape == (count + 1, maxlen)
    assert rows[0].tolist() == encode(text, VOCABULARY, maxlen).tolist()
    for i in range(count):
        j = len(words) - count + i
        without = join(words[:j] + words[j + 1 :])
        assert rows[1 + i].tolist() == encode(without, VOCABULARY, maxlen).tolist()


def test_deleting_a_word_of_a_long_review_slides_the_word_before_the_window_in() -> None:
    rows = occlusion_rows(tail_ids("bad good film not", VOCABULARY, 3), 3, 3)
    assert rows.tolist() == [[4, 6, 7], [5, 6, 7], [5, 4, 7], [5, 4, 6]]


def test_deleting_a_word_of_a_short_review_grows_the_padding() -> None:
    rows = occlusion_rows(tail_ids("good film", VOCABULARY, 4), 2, 4)
    assert rows.tolist() == [[0, 1, 4, 6], [0, 0, 1, 6], [0, 0, 1, 4]]


def explain(client: TestClient, text: str, model: str) -> dict[str, Any]:
    response = client.post("/predict", json={"text": text, "model": model, "explain": True})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("name", CHAPTER_MODELS)
@pytest.mark.parametrize("kind", list(TEXTS))
def test_rescoring_the_text_without_a_word_gives_score_minus_its_contribution(
    client: TestClient, name: str, kind: str
) -> None:
    words = TEXTS[kind].split(" ")
    body = explain(client, TEXTS[kind], name)
    cut = body["truncated"]
    assert len(body["explanation"]) == len(words) - cut
    for i, item in enumerate(body["explanation"]):
        j = cut + i
        assert item["word"] == words[j]
        without = " ".join(words[:j] + words[j + 1 :])
        rescored = client.post("/predict", json={"text": without, "model": name}).json()
        assert rescored["score"] == pytest.approx(body["score"] - item["contribution"], abs=1e-6)


def test_explanation_lists_the_seen_words_in_input_order_with_the_tokens_fields(
    client: TestClient,
) -> None:
    body = explain(client, "It's a sci-fi zzzunknownzzz movie, and I loved it!", "rnn2")
    assert [{k: e[k] for k in ("word", "id", "oov")} for e in body["explanation"]] == body["tokens"]
    assert all(isinstance(e["contribution"], float) for e in body["explanation"])
    loved = next(e for e in body["explanation"] if e["word"] == "loved")
    assert loved["contribution"] > 0


def test_a_text_with_no_words_has_an_empty_explanation(client: TestClient) -> None:
    body = explain(client, "?!", "ff")
    assert (body["tokens"], body["explanation"], body["truncated"]) == ([], [], 0)


def test_batch_explain_explains_each_text(client: TestClient) -> None:
    texts = [TEXTS["short"], LONG]
    body = {"texts": texts, "explain": True, "model": "rnn2"}  # a 20-word window
    response = client.post("/predict/batch", json=body)
    assert response.status_code == 200
    first, second = response.json()["predictions"]
    assert [e["word"] for e in first["explanation"]] == ["a", "wonderful", "film"]
    assert len(second["explanation"]) == 20
    assert second["explanation"][-1]["word"] == "moving"


def test_all_variants_of_a_text_are_scored_in_one_onnxruntime_call(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, ...]] = []
    original = SentimentModel.score_ids

    def counting(self: SentimentModel, ids: npt.NDArray[np.int32]) -> npt.NDArray[np.float32]:
        calls.append(ids.shape)
        return original(self, ids)

    monkeypatch.setattr(SentimentModel, "score_ids", counting)
    explain(client, LONG, "rnn3")
    assert calls == [(21, 20)]


def test_explain_is_documented_in_the_openapi_schema(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    description = schema["Prediction"]["properties"]["explanation"]["description"]
    assert "minus the score of the same text with that one word deleted" in description
    assert "contribution" in schema["Contribution"]["properties"]
