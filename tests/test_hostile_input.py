"""Hostile input: arbitrary Unicode and JSON, huge and deeply nested bodies never get a 5xx."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ANY_CHAR = st.characters(exclude_categories=())  # every code point, lone surrogates included
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(ANY_CHAR, max_size=50),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(ANY_CHAR, max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"text": json_values}),
    st.fixed_dictionaries(
        {"text": st.text(ANY_CHAR), "model": json_values, "explain": json_values}
    ),
    st.fixed_dictionaries({"texts": st.lists(json_values, max_size=5)}),
)
HYPOTHESIS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def assert_4xx_or_ok(response: object) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    assert status < 500, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    if status >= 400:
        assert set(body["error"]) >= {"type", "message"}


@HYPOTHESIS
@given(body=bodies, path=st.sampled_from(["/predict", "/predict/batch", "/compare"]))
def test_arbitrary_json_never_gets_a_5xx(client: TestClient, body: object, path: str) -> None:
    content = json.dumps(body, allow_nan=True).encode()
    assert_4xx_or_ok(
        client.post(path, content=content, headers={"content-type": "application/json"})
    )


@HYPOTHESIS
@given(text=st.text(ANY_CHAR, min_size=1, max_size=300), explain=st.booleans())
def test_arbitrary_unicode_text_is_scored_or_refused_cleanly(
    client: TestClient, text: str, explain: bool
) -> None:
    response = client.post(
        "/predict",
        content=json.dumps({"text": text, "explain": explain}).encode(),
        headers={"content-type": "application/json"},
    )
    assert_4xx_or_ok(response)
    if text.strip() and response.status_code == 200:
        assert 0.0 <= response.json()["score"] <= 1.0


@HYPOTHESIS
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_never_get_a_5xx(client: TestClient, raw: bytes) -> None:
    assert_4xx_or_ok(
        client.post("/predict", content=raw, headers={"content-type": "application/json"})
    )


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_is_refused_cleanly(client: TestClient, depth: int) -> None:
    body = b'{"text": ' + b"[" * depth + b"]" * depth + b"}"
    assert_4xx_or_ok(
        client.post("/predict", content=body, headers={"content-type": "application/json"})
    )


def test_huge_text_at_the_limit_is_scored_in_flat_time(client: TestClient) -> None:
    response = client.post("/predict", json={"text": "a fine film " * 8_333})  # ~100,000 chars
    assert response.status_code == 200


def test_huge_batch_at_the_limit_is_scored(client: TestClient) -> None:
    response = client.post("/predict/batch", json={"texts": ["a fine film"] * 1_000})
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 1_000


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/predict", b'{"text": "ab\\ud800cd", "explain": true}'),
        ("/predict", b'{"text": "\\udfff x"}'),
        ("/predict/batch", b'{"texts": ["ok", "\\udfff x"], "explain": true}'),
        ("/compare", b'{"text": "\\ud800"}'),
    ],
)
def test_lone_surrogates_are_refused_with_422(client: TestClient, path: str, body: bytes) -> None:
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "surrogate" in response.json()["error"]["message"]
