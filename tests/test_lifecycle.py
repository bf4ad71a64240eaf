"""Not one request lost across the service's lifecycle, on real sockets: SIGTERM with keep-alive
clients (no reset, no request left unanswered, exit 0), a multi-worker drain (new connections
refused, not left hanging; the metrics folder removed), and a model reload under load (no failed
request, each answer wholly from the old or wholly from the new model)."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from bench.drain import classify, run_once, start_server
from bench.reload import copy_models, put_model_as, reload_under_load
from harness import free_port, live_service, wait_ready

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_with_keep_alive_clients_resets_nothing_and_answers_every_request(
    workers: int, tmp_path: Path
) -> None:
    # The scenario of bench/drain.py (8 clients, 300 reviews, SIGTERM after 1.5 s), 3 times;
    # `python -m bench.drain` runs it 20 times with the default drain.
    env = {"SENTIMENT_DRAIN_SECONDS": "2", "TMPDIR": str(tmp_path)}
    for _ in range(3):
        run = run_once(workers, env=env)
        assert run.errors == []
        assert (run.reset, run.no_response) == (0, 0)
        assert run.exit_code == 0
        assert run.not_ready_after_s is not None
        assert run.not_ready_after_s < 1.0
        # 503 `overloaded` is admission control refusing work past its queueing target (8
        # clients of 300 reviews each keep a standing queue): an answer, with Retry-After.
        assert "200" in run.statuses
        assert set(run.statuses) <= {"200", "503"}
        assert run.sent_after_not_ready > 0, "requests are served during the drain"
        assert run.connection_close_after_not_ready == run.sent_after_not_ready
    assert list(tmp_path.glob("sentiment-metrics-*")) == [], "the metrics folder is removed"


def test_new_connections_after_a_multi_worker_drain_are_refused_not_left_hanging(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    port = free_port()
    env = {"SENTIMENT_DRAIN_SECONDS": "1", "TMPDIR": str(tmp_path)}
    server = start_server(port, 2, env)
    try:
        wait_ready(f"http://127.0.0.1:{port}/health/ready", server)
        assert len(list(tmp_path.glob("sentiment-metrics-*"))) == 1
        body = json.dumps({"text": "A fine film."}).encode()
        slow = socket.create_connection(("127.0.0.1", port), timeout=30)
        request.addfinalizer(slow.close)
        head = "POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        slow.sendall(f"{head}content-length: {len(body)}\r\n\r\n".encode() + body[:5])
        time.sleep(0.5)  # the request is in flight: its worker must wait for the rest of it
        server.send_signal(signal.SIGTERM)
        time.sleep(3.5)  # past the drain: every worker has closed its listener
        assert server.poll() is None, "a worker still waits for the request in flight"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        slow.sendall(body[5:])
        answer = slow.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert b"connection: close" in answer.lower()
        slow.close()
        assert server.wait(timeout=30) == 0
        assert list(tmp_path.glob("sentiment-metrics-*")) == []
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_a_request_sent_on_an_idle_connection_as_the_listener_closes_is_answered() -> None:
    # uvicorn alone closes idle connections at once at shutdown; the grace lets this one in.
    port = free_port()
    server = start_server(port, 1, {"SENTIMENT_DRAIN_SECONDS": "0"})
    try:
        wait_ready(f"http://127.0.0.1:{port}/health/ready", server)
        body = json.dumps({"text": "A fine film."}).encode()
        request = (
            f"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode() + body
        kept_alive = socket.create_connection(("127.0.0.1", port), timeout=30)
        kept_alive.sendall(request)
        assert kept_alive.recv(65536).startswith(b"HTTP/1.1 200")
        fresh = socket.create_connection(("127.0.0.1", port), timeout=30)
        time.sleep(0.3)  # both are idle, one after a response, one before any request
        server.send_signal(signal.SIGTERM)
        time.sleep(0.6)  # the listener closed after 0.1-0.3 s; the grace (1 s) runs
        for connection in (kept_alive, fresh):
            with connection:
                connection.sendall(request)
                answer = connection.recv(65536)
                assert answer.startswith(b"HTTP/1.1 200"), answer
                assert b"connection: close" in answer.lower()
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_reload_under_load_fails_no_request_and_each_answer_is_one_models(
    tmp_path: Path,
) -> None:
    # bench/reload.py: 16 connections on rnn2 through /predict, /predict/batch and v2 infer,
    # rnn2 reloaded 4 times, alternately as ff and as itself.
    result = reload_under_load(copy_models(tmp_path), reloads=4)
    assert result["load_statuses"] == {"200": 4}
    assert result["failures"] == []
    assert result["mixed"] == 0
    assert result["answers"] > 100
    served_by = {k.split(":")[1] for k in result["by_path_and_model"]}
    assert served_by == {"rnn2", "ff"}


def test_sighup_reloads_every_model_from_disk(tmp_path: Path) -> None:
    models = copy_models(tmp_path)
    port = free_port()
    env = {
        "SENTIMENT_MODELS_DIR": str(models),
        "SENTIMENT_DEFAULT_MODEL": "rnn2",
        "SENTIMENT_MODEL_CONTROL": "1",
    }
    server = start_server(port, 1, env)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(f"{url}/health/ready", server)
        new_sha = put_model_as(models, "ff", "rnn2")
        server.send_signal(signal.SIGHUP)
        served: dict[str, Any] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and served.get("rnn2") != new_sha:
            time.sleep(0.2)
            index = httpx.get(f"{url}/v2/repository/index").json()
            served = {m["name"]: m["sha256"] for m in index}
        assert served["rnn2"] == new_sha
        assert httpx.get(f"{url}/health/ready").status_code == 200
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_tritonclient_reads_the_index_loads_and_unloads(tmp_path: Path) -> None:
    models = copy_models(tmp_path)
    env = {
        "SENTIMENT_MODELS_DIR": str(models),
        "SENTIMENT_DEFAULT_MODEL": "rnn2",
        "SENTIMENT_MODEL_CONTROL": "1",
    }
    with live_service(env=env) as url:
        triton = httpclient.InferenceServerClient(url=url.removeprefix("http://"))
        try:
            assert "model_repository" in triton.get_server_metadata()["extensions"]
            index = {m["name"]: m for m in triton.get_model_repository_index()}
            assert {n: m["state"] for n, m in index.items()} == {"ff": "READY", "rnn2": "READY"}
            triton.unload_model("ff")
            assert not triton.is_model_ready("ff")
            states = {m["name"]: m["state"] for m in triton.get_model_repository_index()}
            assert states["ff"] == "UNAVAILABLE"
            triton.load_model("ff")
            states = {m["name"]: m["state"] for m in triton.get_model_repository_index()}
            assert states["ff"] == "READY"
            with pytest.raises(InferenceServerException, match="default"):
                triton.unload_model("rnn2")
        finally:
            triton.close()


def test_scenario_helper_counts_a_refused_connection_apart() -> None:
    port = free_port()  # nothing listens here
    with pytest.raises(httpx.ConnectError) as refused:
        httpx.post(f"http://127.0.0.1:{port}/predict/batch", content=b"{}")
    assert classify(refused.value) == "refused"
