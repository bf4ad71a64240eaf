"""Bad input gets a clear JSON error with the right 4xx status: never a 5xx, never a crash."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from service.app import create_app
from service.settings import Settings
from tests.conftest import MODELS, SERVED_MODELS


def assert_error(response: Response, status: int, error_type: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    error: dict[str, str] = response.json()["error"]
    assert error["type"] == error_type
    assert error["message"]
    return error


def test_unknown_model_returns_404_listing_the_models(client: TestClient) -> None:
    error = assert_error(
        client.post("/predict", json={"text": "ok", "model": "gpt"}), 404, "model_not_found"
    )
    assert ", ".join(SERVED_MODELS) in error["message"]


def test_unknown_model_card_returns_404(client: TestClient) -> None:
    assert_error(client.get("/models/gpt"), 404, "model_not_found")


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_or_blank_text_returns_422(client: TestClient, text: str) -> None:
    assert_error(client.post("/predict", json={"text": text}), 422, "validation_error")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"text": 5},
        {"text": ["a"]},
        {"text": None},
        {"text": "ok", "model": 3},
        {"text": "ok", "explain": "yes"},
        {"text": "ok", "surprise": 1},
        [],
        "text",
        12,
    ],
)
def test_wrong_type_or_missing_field_returns_422(client: TestClient, body: object) -> None:
    assert_error(client.post("/predict", json=body), 422, "validation_error")


@pytest.mark.parametrize(
    "body", [{"texts": []}, {"texts": "ok"}, {"texts": ["ok", ""]}, {"texts": [1]}, {}]
)
def test_bad_batch_returns_422(client: TestClient, body: object) -> None:
    assert_error(client.post("/predict/batch", json=body), 422, "validation_error")


def test_malformed_json_returns_422(client: TestClient) -> None:
    response = client.post(
        "/predict", content=b'{"text": ', headers={"content-type": "application/json"}
    )
    assert_error(response, 422, "validation_error")


def test_invalid_utf8_returns_400(client: TestClient) -> None:
    response = client.post(
        "/predict", content=b'{"text": "\xff\xfe"}', headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "invalid_body")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_wrong_content_type_returns_415(client: TestClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/predict", content=b'{"text": "ok"}', headers=headers)
    assert_error(response, 415, "unsupported_media_type")


def test_json_with_charset_is_accepted(client: TestClient) -> None:
    response = client.post(
        "/predict",
        content=b'{"text": "ok"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200


def test_unknown_route_and_method_have_the_error_shape(client: TestClient) -> None:
    assert_error(client.get("/nowhere"), 404, "not_found")
    assert_error(client.get("/predict"), 405, "method_not_allowed")


@pytest.fixture(scope="module")
def small_limits() -> Iterator[TestClient]:
    settings = Settings(
        models_dir=MODELS, max_text_chars=50, max_batch_texts=3, max_body_bytes=2_000
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_too_long_text_returns_413(small_limits: TestClient) -> None:
    error = assert_error(
        small_limits.post("/predict", json={"text": "a" * 51}), 413, "payload_too_large"
    )
    assert "51 characters" in error["message"]
    assert small_limits.post("/predict", json={"text": "a" * 50}).status_code == 200


def test_too_long_text_in_batch_returns_413(small_limits: TestClient) -> None:
    assert_error(
        small_limits.post("/predict/batch", json={"texts": ["ok", "a" * 51]}),
        413,
        "payload_too_large",
    )


def test_too_large_batch_returns_422(small_limits: TestClient) -> None:
    error = assert_error(
        small_limits.post("/predict/batch", json={"texts": ["ok"] * 4}), 422, "invalid_input"
    )
    assert "limit is 3" in error["message"]
    assert small_limits.post("/predict/batch", json={"texts": ["ok"] * 3}).status_code == 200


def test_too_large_body_returns_413(small_limits: TestClient) -> None:
    response = small_limits.post("/predict", json={"text": "a" * 3_000})
    assert_error(response, 413, "payload_too_large")


def test_too_large_streamed_body_returns_413(small_limits: TestClient) -> None:
    # TestClient buffers the whole body; tests/test_server.py checks over a socket that it is
    # refused before it is all sent.
    chunks = (b"x" * 1_000 for _ in range(10))
    response = small_limits.post(
        "/predict", content=chunks, headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "payload_too_large")


def test_default_limits_are_the_documented_ones() -> None:
    defaults = Settings()
    assert (defaults.max_text_chars, defaults.max_batch_texts, defaults.max_body_bytes) == (
        100_000,
        1_000,
        10 * 1024 * 1024,
    )
