"""Admission asked at the headers by the HTTP protocol itself (service/protocol.py and the
AdmissionDoor of service/middleware/limits.py), on a real server in this process: a refused
request is answered by the door's small app, before the body checks and the framework run."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.client import HTTPConnection

import pytest
import uvicorn
from fastapi import FastAPI

from harness import LOOPBACK, free_port, http, wait_ready
from service.app import create_app
from service.dependencies import Runtime
from service.protocol import CoalescingHttpToolsProtocol
from service.settings import Settings
from tests.conftest import MODELS, metric

pytestmark = pytest.mark.slow

TEXTS = {"texts": ["A fine film, warmly acted.", "Dull and far too long."] * 500}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Runtime, int]]:
    app: FastAPI = create_app(Settings(models_dir=MODELS, grpc_port=0))
    port = free_port()
    config = uvicorn.Config(
        app, host=LOOPBACK, port=port, http=CoalescingHttpToolsProtocol, log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        wait_ready(f"http://{LOOPBACK}:{port}/health/ready")
        yield app.state.runtime, port
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def cpu_shedding(served: tuple[Runtime, int]) -> Iterator[int]:
    """The CPU queue shedding, with work admitted and no measured service time: refuse all."""
    runtime, port = served
    admission = runtime.cpu_admission
    admission.shedding, admission.in_flight = True, 3
    try:
        yield port
    finally:
        admission.shedding, admission.in_flight = False, 0


def test_a_refusal_is_answered_at_the_headers_and_counted_under_its_route(
    cpu_shedding: int,
) -> None:
    port = cpu_shedding
    url = f"http://{LOOPBACK}:{port}"
    before = metric(url, "sentiment_requests_total", route="/predict/batch", status="503")
    connection = HTTPConnection(LOOPBACK, port, timeout=10)
    # Not declared JSON: past the door, the body checks would answer 415.
    body = json.dumps(TEXTS).encode()
    connection.request("POST", "/predict/batch", body, {"content-type": "text/plain"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    assert response.status == 503, answer
    assert answer["error"]["type"] == "overloaded"
    assert response.getheader("retry-after") == "1"
    assert response.getheader("x-request-id")  # the observability layer ran
    # Kept alive: the refused body was read past, and the next request on it is served.
    connection.request(
        "POST", "/predict", json.dumps({"text": "Superb."}), {"content-type": "application/json"}
    )
    response = connection.getresponse()
    assert response.status == 200, response.read()  # the micro-batcher's queue is open
    response.read()
    connection.close()
    after = metric(url, "sentiment_requests_total", route="/predict/batch", status="503")
    assert after == before + 1


def test_v2_refusals_keep_the_v2_error_shape(cpu_shedding: int) -> None:
    request = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["Fine."]}]}
    status, answer = http("POST", f"http://{LOOPBACK}:{cpu_shedding}/v2/models/rnn2/infer", request)
    assert status == 503
    assert isinstance(answer["error"], str)
    assert "busy" in answer["error"]


def test_requests_that_queue_nothing_pass_the_door(cpu_shedding: int) -> None:
    url = f"http://{LOOPBACK}:{cpu_shedding}"
    assert http("GET", f"{url}/health/ready")[0] == 200
    assert http("POST", f"{url}/predict", {"text": "Superb."})[0] == 200


def test_once_the_queue_is_open_the_same_request_is_served(served: tuple[Runtime, int]) -> None:
    status, answer = http("POST", f"http://{LOOPBACK}:{served[1]}/predict/batch", TEXTS)
    assert status == 200
    assert len(answer["predictions"]) == len(TEXTS["texts"])
