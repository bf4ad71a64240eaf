"""Every size limit applies before work proportional to the input (bench/hostile.py, on a real
server): a body of integers where texts belong, a million members, a text far over the limit, get
a small 4xx fast, and the worker's memory barely moves."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bench.hostile import MB, measure
from bench.run import server

pytestmark = pytest.mark.slow
JSON = {"content-type": "application/json"}
GOAL_RSS_MB = 256  # the bound above idle RSS; a replica is limited to 512 MiB


@pytest.fixture(scope="module")
def worker() -> Iterator[tuple[str, int]]:
    with server("service") as (url, _, pid):
        yield url, pid


@pytest.mark.parametrize(
    ("name", "size", "status"),
    [
        ("batch of integers", MB, 413),
        ("batch of integers", 150_000, 422),
        ("compare of integers", 150_000, 422),
        ("v2 inputs of integers", 150_000, 400),
        ("v2 inputs of integers", MB, 413),
        ("predict with a million keys", 10 * MB, 413),
        ("one long text", 10 * MB - 1024, 413),
    ],
)
def test_hostile_bodies_get_a_small_fast_4xx_and_memory_stays_flat(
    worker: tuple[str, int], name: str, size: int, status: int
) -> None:
    result = measure(*worker, name, size)
    assert result["status"] == status
    assert result["answer_bytes"] < 64 * 1024
    assert result["seconds"] < 5
    assert result["peak_rss_above_idle_mb"] < GOAL_RSS_MB


def test_validation_errors_list_at_most_twenty_details(client: TestClient) -> None:
    response = client.post("/predict/batch", json={"texts": [1] * 1000})
    assert response.status_code == 422
    error = response.json()["error"]
    assert len(error["details"]) == 20
    assert "(and 999 more errors)" in error["message"]


def test_a_list_past_the_schema_cap_is_one_error(client: TestClient) -> None:
    response = client.post("/predict/batch", json={"texts": [1] * 5000})
    assert response.status_code == 422
    assert len(response.json()["error"]["details"]) == 1
    assert "at most 1000 items" in response.json()["error"]["message"]


def test_an_object_with_too_many_members_is_one_error(client: TestClient) -> None:
    body = {"text": "fine", **{f"k{i}": 1 for i in range(100)}}
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    assert "at most 16 are accepted" in response.json()["error"]["message"]


def test_explain_takes_at_most_its_text_cap(client: TestClient) -> None:
    response = client.post("/predict/batch", json={"texts": ["good"] * 33, "explain": True})
    assert response.status_code == 422
    assert "at most 32 texts" in response.json()["error"]["message"]
    ok = client.post("/predict/batch", json={"texts": ["good"] * 32, "explain": True})
    assert ok.status_code == 200
    assert len(ok.json()["predictions"]) == 32


@pytest.mark.parametrize("bad_id", ["\ud800", "x" * 257])
def test_v2_ids_are_validated_like_texts(client: TestClient, bad_id: str) -> None:
    tensor = {"name": "text", "shape": [1], "datatype": "BYTES", "data": ["good"]}
    body = json.dumps({"id": bad_id, "inputs": [tensor]})  # ASCII: the surrogate as an escape
    response = client.post("/v2/models/rnn2/infer", content=body, headers=JSON)
    assert response.status_code == 400
    assert "id" in response.json()["error"]


def test_v2_texts_with_a_lone_surrogate_are_400(client: TestClient) -> None:
    tensor = {"name": "text", "shape": [1], "datatype": "BYTES", "data": ["\ud800"]}
    body = json.dumps({"inputs": [tensor]})
    response = client.post("/v2/models/rnn2/infer", content=body, headers=JSON)
    assert response.status_code == 400
    assert "lone surrogate" in response.json()["error"]
