"""The checks made before a body is read take their rules from the app's routes (service/
middleware/limits.py reads each POST route's `scores_in` mark): every route that queues scoring
work is admitted at its headers by that queue, and no other route is. A new POST route without an
example below fails the first test; a new scoring route without its mark fails the second."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from service.admission import Overloaded
from service.app import create_app
from service.dependencies import Queue
from service.middleware.limits import NO_RULES, PostRoutes
from service.settings import Settings
from tests.conftest import MODELS

QUEUES: tuple[Queue, ...] = ("batcher", "cpu")
TWO = ["A fine film, warmly acted.", "Dull and far too long."]
# Each POST route (as the app declares it): a request that takes its usual, heaviest path.
EXAMPLES: dict[str, tuple[str, Any]] = {
    "/predict": ("/predict", {"text": TWO[0]}),
    "/predict/batch": ("/predict/batch", {"texts": TWO}),
    "/compare": ("/compare", {"texts": TWO}),
    "/v2/models/{name}/infer": (
        "/v2/models/rnn2/infer",
        {"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": TWO}]},
    ),
    "/v2/repository/index": ("/v2/repository/index", {}),
    "/v2/repository/models/{name}/load": ("/v2/repository/models/rnn2/load", {}),
    "/v2/repository/models/{name}/unload": ("/v2/repository/models/rnn2/unload", {}),
    "/v2/{path:path}": ("/v2/no/such/endpoint", {}),
}


def post_routes(app: FastAPI) -> list[str]:
    return [
        str(r.path)
        for r in iter_route_contexts(app.routes)
        if isinstance(r.original_route, APIRoute) and "POST" in (r.methods or ())
    ]


@pytest.fixture(scope="module")
def app() -> Iterator[FastAPI]:
    app = create_app(Settings(models_dir=MODELS))
    with TestClient(app):
        yield app


def test_every_post_route_has_an_example(app: FastAPI) -> None:
    assert sorted(post_routes(app)) == sorted(EXAMPLES)


def test_every_scoring_route_is_marked_with_the_queue_it_joins(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ground truth from the routes themselves: with the early check off, a refusal forced on
    one queue turns a request into 503 exactly when its route queues work there."""
    derived = PostRoutes(app.routes)
    marked = {t: derived.rules(path).queue for t, (path, _) in EXAMPLES.items()}
    monkeypatch.setattr(PostRoutes, "rules", lambda self, path: NO_RULES)
    runtime = app.state.runtime
    client = TestClient(app)
    for template, (path, body) in EXAMPLES.items():
        joined = set()
        for queue in QUEUES:
            with monkeypatch.context() as patch:
                refusal = Overloaded("forced by the test", headers={"Retry-After": "1"})
                patch.setattr(runtime.admission(queue), "refusal", lambda r=refusal: r)
                response = client.post(path, json=body)
            if response.status_code == 503:
                joined.add(queue)
            else:
                assert response.status_code < 500, (template, response.text)
        assert joined == ({marked[template]} if marked[template] else set()), template


async def post_unread(app: FastAPI, path: str, body: bytes) -> tuple[int, bool]:
    """POST straight into the ASGI app: the status, and whether the body was ever asked for."""
    read = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        read = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return status, read


def test_a_shedding_queue_refuses_its_routes_before_their_body_is_read() -> None:
    app = create_app(Settings(models_dir=MODELS))  # no lifespan needed: refused at the door
    runtime = app.state.runtime
    rules = PostRoutes(app.routes)
    scoring = {t: rules.rules(path).queue for t, (path, _) in EXAMPLES.items()}
    assert {t for t, queue in scoring.items() if queue} == {
        "/predict",
        "/predict/batch",
        "/compare",
        "/v2/models/{name}/infer",
    }
    for template, queue in scoring.items():
        if queue is None:
            continue
        admission = runtime.admission(queue)
        admission.shedding, admission.in_flight = True, 1  # a standing queue: shedding holds
        path, body = EXAMPLES[template]
        answer = asyncio.run(post_unread(app, path, json.dumps(body).encode()))
        assert answer == (503, False), template
        admission.shedding, admission.in_flight = False, 0


def test_a_single_review_route_has_the_single_text_body_limit(app: FastAPI) -> None:
    rules = PostRoutes(app.routes)
    assert [t for t, (path, _) in EXAMPLES.items() if rules.rules(path).single_text] == ["/predict"]
    assert [t for t, (path, _) in EXAMPLES.items() if rules.rules(path).json_only] == [
        "/predict",
        "/predict/batch",
        "/compare",
    ]
