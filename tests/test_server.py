"""The real server, started with `make serve`'s own command on a free port, called over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import free_port, wait_ready
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def post(url: str, body: object) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "SENTIMENT_MAX_BODY_BYTES": "100000"}
    process = subprocess.Popen(
        ["make", "-s", "serve", "HOST=127.0.0.1", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{url}/health/ready", process)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_served_over_http_ready_and_predicting(server: str) -> None:
    with urllib.request.urlopen(f"{server}/health/live") as r:
        assert r.status == 200
    status, body = post(
        f"{server}/predict", {"text": "One of the best films I have seen.", "model": "ff"}
    )
    assert status == 200
    assert body["model"] == "ff"
    assert body["label"] in ("positive", "negative")


def test_errors_over_http_keep_their_shape(server: str) -> None:
    status, body = post(f"{server}/predict", {"text": ""})
    assert status == 422
    assert body["error"]["type"] == "validation_error"  # type: ignore[index]


def test_oversized_streamed_body_is_refused_before_it_is_all_sent(server: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sent = 0
        s.settimeout(0.002)
        answer = b""
        for _ in range(1_000):  # up to 1 MB in 1 kB chunks, against a 100 kB limit
            try:
                s.sendall(b"400\r\n" + b"x" * 1024 + b"\r\n")
                sent += 1024
                answer += s.recv(4096)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if answer:
                break
        s.settimeout(5)
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            answer += s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 1_000 * 1024, sent


def test_broken_models_folder_refuses_to_start_naming_the_file(tmp_path: Path) -> None:
    models = tmp_path / "models"
    subprocess.run(["cp", "-r", str(ROOT / "models"), str(models)], check=True)
    (models / "rnn3" / "model.onnx").write_bytes(b"not a model")
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "service"],
        cwd=ROOT,
        env={**os.environ, "SENTIMENT_MODELS_DIR": str(models), "PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(models / "rnn3" / "model.onnx") in lines[0]
