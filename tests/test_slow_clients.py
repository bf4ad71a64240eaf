"""Slow and stalled clients on real sockets (service/protocol.py): a connection that never sends
a request, half a request line, headers or a body dribbled in, or a giant header line is closed
after its deadline, and while forty clients dribble bodies, everyone else is still answered."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import pytest

from harness import live_service, wait_until

pytestmark = pytest.mark.slow
HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 3.0


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with live_service(
        env={
            "SENTIMENT_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
            "SENTIMENT_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
        }
    ) as url:
        yield url


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=15)
    return sock


def read_until_closed(sock: socket.socket, within_s: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    start = time.monotonic()
    sock.settimeout(within_s)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks), time.monotonic() - start


def test_a_connection_that_sends_nothing_is_closed(server: str) -> None:
    with connect(server) as sock:
        answer, waited = read_until_closed(sock, within_s=10)
    assert answer == b""
    assert waited < HEADER_TIMEOUT_S + 5


def test_half_a_request_line_gets_408_and_is_closed(server: str) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST /predi")
        answer, waited = read_until_closed(sock, within_s=10)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"type": "request_timeout"' in answer
    assert waited < HEADER_TIMEOUT_S + 5


def test_headers_dribbled_in_get_408_and_are_closed(server: str) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        with pytest.raises((BrokenPipeError, ConnectionResetError)):  # noqa: PT012
            while time.monotonic() - start < HEADER_TIMEOUT_S + 5:
                sock.sendall(b"X-Slow: 1\r\n")
                time.sleep(0.2)
        assert time.monotonic() - start < HEADER_TIMEOUT_S + 5


def test_a_giant_header_line_gets_431_at_once(server: str) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000)
        answer, waited = read_until_closed(sock, within_s=10)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert waited < HEADER_TIMEOUT_S


def test_a_dribbled_body_gets_408_after_the_body_deadline(server: str) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        answer, waited = read_until_closed(sock, within_s=BODY_TIMEOUT_S + 10)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert BODY_TIMEOUT_S - 0.5 < waited < BODY_TIMEOUT_S + 5


def test_forty_dribbling_bodies_do_not_stop_anyone_else(server: str) -> None:
    head = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n"
    )

    started: list[int] = []

    def dribble() -> bytes:
        with connect(server) as sock:
            sock.sendall(head)
            started.append(1)
            try:
                for _ in range(int(BODY_TIMEOUT_S / 0.25) + 8):
                    sock.sendall(b" ")
                    time.sleep(0.25)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return read_until_closed(sock, within_s=10)[0]

    with ThreadPoolExecutor(max_workers=40) as pool:
        dribblers = [pool.submit(dribble) for _ in range(40)]
        wait_until(lambda: len(started) == 40, 30, "every dribbler sending its body")
        statuses = []
        with httpx.Client(base_url=server, timeout=10) as client:
            deadline = time.monotonic() + BODY_TIMEOUT_S - 1
            while time.monotonic() < deadline:
                statuses.append(client.post("/predict", json={"text": "A fine film."}).status_code)
        answers = [d.result() for d in dribblers]
    assert len(statuses) > 10
    assert set(statuses) == {200}
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers)
