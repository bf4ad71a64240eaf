"""Admission asked at the headers by the HTTP protocol itself (service/protocol.py and the
AdmissionDoor of service/middleware/limits.py), on real servers in this process: a refused
request is answered before the body checks and the framework run, by default as bytes written by
the protocol, and through the outer layers (here an API key) when they do more than observe."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.client import HTTPConnection

import pytest
import uvicorn
from fastapi import FastAPI

from harness import LOOPBACK, free_port, http, wait_ready
from service.app import create_app
from service.dependencies import Runtime
from service.logs import ACCESS
from service.middleware import plain_outer_layers
from service.protocol import CoalescingHttpToolsProtocol
from service.settings import Settings
from tests.conftest import MODELS, metric

pytestmark = pytest.mark.slow

TEXTS = {"texts": ["A fine film, warmly acted.", "Dull and far too long."] * 500}


@contextmanager
def serving(settings: Settings) -> Iterator[tuple[Runtime, int]]:
    app: FastAPI = create_app(settings)
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


KEY = "door-test-key"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Runtime, int]]:
    with serving(Settings(models_dir=MODELS, grpc_port=0)) as runtime_and_port:
        yield runtime_and_port


@contextmanager
def shedding(runtime: Runtime) -> Iterator[None]:
    """The CPU queue shedding, with work admitted and no measured service time: refuse all."""
    admission = runtime.cpu_admission
    admission.shedding, admission.in_flight = True, 3
    try:
        yield
    finally:
        admission.shedding, admission.in_flight = False, 0


@pytest.fixture
def cpu_shedding(served: tuple[Runtime, int]) -> Iterator[int]:
    runtime, port = served
    with shedding(runtime):
        yield port


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


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_refusal_carries_the_clients_request_id_into_its_access_line(cpu_shedding: int) -> None:
    # On the access logger itself: other tests may have configured "service" not to propagate.
    records, level = Records(), ACCESS.level
    ACCESS.addHandler(records)
    ACCESS.setLevel(logging.INFO)
    try:
        _refused_with_request_id(cpu_shedding)
    finally:
        ACCESS.removeHandler(records)
        ACCESS.setLevel(level)
    lines = [r for r in records.records if getattr(r, "request_id", None) == "trace-me-42"]
    assert [(r.status, r.path) for r in lines] == [(503, "/predict/batch")]  # type: ignore[attr-defined]


def _refused_with_request_id(port: int) -> None:
    connection = HTTPConnection(LOOPBACK, port, timeout=10)
    headers = {"content-type": "application/json", "x-request-id": "trace-me-42"}
    connection.request("POST", "/predict/batch", json.dumps(TEXTS), headers)
    response = connection.getresponse()
    response.read()
    assert response.status == 503
    assert response.getheader("x-request-id") == "trace-me-42"
    assert response.getheader("connection") is None  # kept alive
    connection.close()


def test_while_draining_a_refusal_closes_its_connection(served: tuple[Runtime, int]) -> None:
    runtime, port = served
    connection = HTTPConnection(LOOPBACK, port, timeout=10)
    with shedding(runtime):
        runtime.shutting_down = True
        try:
            connection.request(
                "POST", "/predict/batch", json.dumps(TEXTS), {"content-type": "application/json"}
            )
            response = connection.getresponse()
            response.read()
        finally:
            runtime.shutting_down = False
    assert response.status == 503
    assert response.getheader("connection") == "close"
    assert connection.sock is None  # http.client closed its side on `Connection: close`
    connection.close()


def test_only_observing_outer_layers_let_the_door_answer_in_bytes() -> None:
    assert plain_outer_layers(create_app(Settings(models_dir=MODELS, grpc_port=0)))
    with_key = create_app(Settings(models_dir=MODELS, grpc_port=0, api_key=KEY))
    assert not plain_outer_layers(with_key)
    with_cors = Settings(models_dir=MODELS, grpc_port=0, cors_origins=["https://example.org"])
    assert not plain_outer_layers(create_app(with_cors))


def test_behind_an_api_key_a_refusal_passes_the_key_check_first() -> None:
    with serving(Settings(models_dir=MODELS, grpc_port=0, api_key=KEY)) as (runtime, port):
        url = f"http://{LOOPBACK}:{port}/predict/batch"
        with shedding(runtime):
            assert http("POST", url, TEXTS)[0] == 401
            status, answer = http("POST", url, TEXTS, headers={"x-api-key": KEY})
        assert status == 503, answer
        assert answer["error"]["type"] == "overloaded"


Answer = tuple[int, dict[str, str], bytes]


class RawConnection:
    """One HTTP/1.1 connection spoken by hand: requests written as given (several in one write
    pipelines them), answers read off the socket in order."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((LOOPBACK, port), timeout=10)
        self.reader = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self) -> Answer:
        status_line = self.reader.readline()
        assert status_line.startswith(b"HTTP/1.1 "), status_line
        headers = {}
        while (line := self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = self.reader.read(int(headers["content-length"]))
        return int(status_line.split()[1]), headers, body

    def closed_by_server(self) -> bool:
        return self.reader.read() == b""  # an open connection would time out instead

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def _post(path: str, body: Mapping[str, object], *extra_headers: str) -> bytes:
    payload = json.dumps(body).encode()
    head = [f"POST {path} HTTP/1.1", "host: test", "content-type: application/json"]
    head += [f"content-length: {len(payload)}", *extra_headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


LIVE = b"GET /health/live HTTP/1.1\r\nhost: test\r\n\r\n"


def test_a_refusal_pipelined_behind_a_request_in_flight_is_answered_in_its_turn(
    served: tuple[Runtime, int],
) -> None:
    # Two requests in one write: the door may not answer the second before the first's answer.
    runtime, port = served
    connection = RawConnection(port)
    with shedding(runtime):
        connection.send(_post("/predict", {"text": "Superb."}) + _post("/predict/batch", TEXTS))
        first, second = connection.answer(), connection.answer()
    connection.close()
    assert (first[0], json.loads(first[2])["label"]) == (200, "positive")
    assert (second[0], json.loads(second[2])["error"]["type"]) == (503, "overloaded")


@pytest.mark.parametrize(
    "path", ["/predict/batch?verbose=1", "/predict/%62atch", "/v2/models/rnn2/infer"]
)
def test_the_door_refuses_what_the_route_would_queue_and_keeps_the_connection(
    cpu_shedding: int, path: str
) -> None:
    texts = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["Fine."]}]}
    connection = RawConnection(cpu_shedding)
    connection.send(_post(path, texts if path.startswith("/v2/") else TEXTS))
    status, headers, answer = connection.answer()
    assert status == 503, answer
    assert headers["retry-after"] == "1"
    assert "connection" not in headers
    connection.send(LIVE)  # the refused body was read past: the next request is served
    assert connection.answer()[0] == 200
    connection.close()


def test_a_refusal_to_a_client_that_asked_to_close_closes_the_connection(
    cpu_shedding: int,
) -> None:
    connection = RawConnection(cpu_shedding)
    connection.send(_post("/predict/batch", TEXTS, "connection: close"))
    assert connection.answer()[0] == 503
    assert connection.closed_by_server()
    connection.close()
