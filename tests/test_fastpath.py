"""The fast path for plain POST /predict answers exactly as the route does, and leaves everything
else (explain, errors, limits) to the route."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import MODELS, golden

BODIES = [
    {"text": golden("rnn2")[0]["text"]},
    {"text": "A fine film.", "model": "rnn3"},
    {"text": "word " * 50, "model": "ff"},
]
ROUTE_ONLY = [
    {"text": "A fine film.", "explain": True},
    {"text": ""},
    {"text": 3},
    {"text": "fine", "model": "nope"},
    {"text": "x" * 101},
    {"text": "fine", "unexpected": 1},
]


@pytest.fixture(scope="module")
def both() -> Iterator[tuple[TestClient, TestClient]]:
    fast = TestClient(create_app(Settings(models_dir=MODELS, max_text_chars=100)))
    route = TestClient(create_app(Settings(models_dir=MODELS, max_text_chars=100, fast_path=False)))
    with fast, route:
        yield fast, route


@pytest.mark.parametrize("body", BODIES + ROUTE_ONLY)
def test_fast_path_and_route_answer_alike(
    both: tuple[TestClient, TestClient], body: object
) -> None:
    fast, route = both
    a, b = fast.post("/predict", json=body), route.post("/predict", json=body)
    assert a.status_code == b.status_code
    assert a.content == b.content
    assert a.headers["content-type"] == b.headers["content-type"]


def test_fast_path_answers_carry_timing_request_id_and_route_metrics(
    both: tuple[TestClient, TestClient],
) -> None:
    fast, _ = both
    response = fast.post("/predict", json=BODIES[1], headers={"x-request-id": "fp-1"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "fp-1"
    assert "inference;dur=" in response.headers["server-timing"]
    metrics = fast.get("/metrics").text
    assert 'route="/predict",status="200"' in metrics
    assert 'model="rnn3",route="/predict"' in metrics


def test_fast_path_keeps_the_body_limit(both: tuple[TestClient, TestClient]) -> None:
    small = TestClient(create_app(Settings(models_dir=MODELS, max_body_bytes=100)))
    with small:
        chunks = (b"x" * 50 for _ in range(4))  # streamed, no Content-Length
        response = small.post(
            "/predict", content=chunks, headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "payload_too_large"
