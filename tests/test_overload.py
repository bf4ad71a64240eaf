"""Micro-batching, the in-flight memory guard and deadlines (the server's own, and a client's
X-Request-Timeout): work that cannot be answered in time is refused at once with Retry-After."""

from __future__ import annotations

import asyncio

import httpx2 as httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.batching import DeadlineExceeded, MicroBatcher
from service.registry import load_registry
from service.settings import Settings
from tests.conftest import MODELS


@pytest.fixture(scope="module")
def rnn2():  # type: ignore[no-untyped-def]
    return load_registry(MODELS, "rnn2").get("rnn2")


def test_concurrent_requests_share_one_onnxruntime_call(rnn2) -> None:  # type: ignore[no-untyped-def]
    seen: list[int] = []
    batcher = MicroBatcher(rnn2, max_batch=8, observe=lambda _m, size, _s: seen.append(size))
    rows = np.random.default_rng(0).integers(0, 10_000, (20, 20)).astype(np.int32)

    async def run() -> list[float]:
        results = await asyncio.gather(*(batcher.score(r) for r in rows))
        return [score for score, _ in results]

    scores = asyncio.run(run())
    assert seen == [8, 8, 4]
    np.testing.assert_allclose(scores, rnn2.score_ids(rows), atol=1e-6)


def test_a_lone_request_does_not_wait(rnn2) -> None:  # type: ignore[no-untyped-def]
    batcher = MicroBatcher(rnn2, max_batch=32)
    row = np.zeros(20, dtype=np.int32)

    async def run() -> float:
        _, timing = await batcher.score(row)
        assert timing.batch_size == 1
        return timing.queue_s

    assert asyncio.run(run()) < 0.05


def test_expired_requests_are_dropped_not_scored(rnn2) -> None:  # type: ignore[no-untyped-def]
    batcher = MicroBatcher(rnn2, max_batch=4, max_delay_s=0.05, deadline_s=0.01)

    async def run() -> None:
        await batcher.score(np.zeros(20, dtype=np.int32))

    with pytest.raises(DeadlineExceeded):
        asyncio.run(run())


def test_past_the_in_flight_memory_guard_requests_get_503_with_retry_after() -> None:
    settings = Settings(models_dir=MODELS, max_in_flight=2, batch_max_delay_ms=200)
    app = create_app(settings)

    async def run() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return list(
                    await asyncio.gather(
                        *(client.post("/predict", json={"text": f"review {i}"}) for i in range(6))
                    )
                )

    responses = asyncio.run(run())
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 503, 503, 503, 503]
    refused = [r for r in responses if r.status_code == 503]
    assert all(r.headers["retry-after"] == "1" for r in refused)
    assert all(r.json()["error"]["type"] == "overloaded" for r in refused)


def test_deadline_turns_into_503() -> None:
    settings = Settings(models_dir=MODELS, batch_max_delay_ms=100, request_deadline_ms=10)
    app = create_app(settings)

    async def run() -> httpx.Response:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.post("/predict", json={"text": "slow"})

    response = asyncio.run(run())
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "deadline_exceeded"


def post_with_app(
    settings: Settings, path: str, body: object, headers: dict[str, str]
) -> httpx.Response:
    app = create_app(settings)

    async def run() -> httpx.Response:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.post(path, json=body, headers=headers)

    return asyncio.run(run())


def test_a_clients_x_request_timeout_is_a_deadline_on_the_single_path() -> None:
    settings = Settings(models_dir=MODELS, batch_max_delay_ms=100)
    response = post_with_app(settings, "/predict", {"text": "slow"}, {"X-Request-Timeout": "10"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["type"] == "deadline_exceeded"


def test_a_generous_x_request_timeout_lets_the_request_through() -> None:
    settings = Settings(models_dir=MODELS)
    body = {"texts": ["good", "bad"]}
    response = post_with_app(settings, "/predict/batch", body, {"X-Request-Timeout": "5000"})
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 2


@pytest.mark.parametrize("value", ["soon", "0", "-5", "nan", "inf"])
def test_an_invalid_x_request_timeout_is_a_400(value: str) -> None:
    settings = Settings(models_dir=MODELS)
    response = post_with_app(settings, "/predict", {"text": "fine"}, {"X-Request-Timeout": value})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_header"


@pytest.mark.parametrize(
    ("path", "body", "queue"),
    [
        ("/predict", {"text": "fine"}, "batcher"),
        ("/predict/batch", {"texts": ["fine"]}, "cpu"),
        ("/compare", {"text": "fine"}, "cpu"),
    ],
)
def test_a_shedding_worker_refuses_a_body_as_soon_as_it_is_read(
    path: str, body: dict[str, object], queue: str
) -> None:
    app = create_app(Settings(models_dir=MODELS))
    with TestClient(app) as client:
        runtime = app.state.runtime
        admission = runtime.batcher_admission if queue == "batcher" else runtime.cpu_admission
        admission.shedding = True
        admission.in_flight = 1  # work left in the queue: shedding holds
        response = client.post(path, json=body)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["type"] == "overloaded"
    assert "server busy" in response.json()["error"]["message"]


def test_a_shedding_worker_refuses_v2_infer_in_the_protocols_shape() -> None:
    app = create_app(Settings(models_dir=MODELS))
    tensor = {"name": "text", "shape": [1], "datatype": "BYTES", "data": ["fine"]}
    with TestClient(app) as client:
        admission = app.state.runtime.cpu_admission
        admission.shedding = True
        admission.in_flight = 1
        response = client.post("/v2/models/rnn2/infer", json={"inputs": [tensor]})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "server busy" in response.json()["error"]
