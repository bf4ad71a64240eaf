"""SIGTERM under load: readiness turns 503, requests in flight finish, nothing accepted is lost."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
from pathlib import Path

import pytest

import harness
from harness import free_port, wait_ready, wait_until
from tests.conftest import ROOT, golden

pytestmark = pytest.mark.slow


def readiness(url: str) -> int:
    try:
        return harness.http("GET", f"{url}/health/ready", timeout=2)[0]
    except OSError:
        return 0  # listener closed


def test_sigterm_under_load_drains_then_finishes_in_flight_requests() -> None:
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "SENTIMENT_DRAIN_SECONDS": "1.5",
        "SENTIMENT_LOG_LEVEL": "warning",
    }
    server = subprocess.Popen([sys.executable, "-m", "service"], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/health/ready", server)
    body = json.dumps({"texts": [g["text"] for g in golden("rnn2")] * 10}).encode()
    stop = threading.Event()
    results: list[tuple[float, object]] = []

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not stop.is_set():
            try:
                connection.request(
                    "POST", "/predict/batch", body, {"content-type": "application/json"}
                )
                response = connection.getresponse()
                response.read()
                results.append((time.monotonic(), response.status))
            except Exception as e:  # any failure of an accepted request is a finding
                results.append((time.monotonic(), repr(e)))
                return
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: len(results) >= 8, 60, "8 batches answered before SIGTERM")
    sigterm_at = time.monotonic()
    server.send_signal(signal.SIGTERM)
    # Like a load balancer: keep sending until readiness stops answering 200, then stop. Its
    # first other answer is 503 (not a closed listener): readiness failed while draining.
    answers: list[int] = []

    def not_ready() -> bool:
        answers.append(readiness(url))
        return answers[-1] != 200

    wait_until(not_ready, 30, "readiness turning")
    assert answers[-1] == 503, "readiness must answer 503 while draining"
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert server.wait(timeout=30) == 0
    statuses = [status for _, status in results]
    assert len(statuses) >= 8
    assert set(statuses) == {200}, statuses
    assert any(at > sigterm_at for at, _ in results), "requests kept being served after SIGTERM"


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper has exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_workers_drain_and_exit_when_their_supervisor_is_killed() -> None:
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "SENTIMENT_DRAIN_SECONDS": "0.5",
    }
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "service"], cwd=ROOT, env=env, start_new_session=True
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(f"{url}/health/ready", supervisor)
        children = Path(f"/proc/{supervisor.pid}/task/{supervisor.pid}/children").read_text()
        workers = [int(pid) for pid in children.split()]
        assert len(workers) >= 2, workers
        supervisor.kill()  # SIGKILL: no chance to stop its workers itself
        supervisor.wait(timeout=10)
        wait_until(lambda: not any(map(alive, workers)), 30, "the orphaned workers exiting")
        with pytest.raises(urllib.error.URLError, match="refused"):  # no one serves the port
            harness.http("GET", f"{url}/health/live", timeout=2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(supervisor.pid, signal.SIGKILL)
        supervisor.wait(timeout=30)
