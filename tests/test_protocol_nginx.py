"""service/protocol.py on real sockets behind real nginx, run with deploy/nginx/nginx.conf: a worker
SIGKILLed right after it wrote a response's head (tests/mid_response.py) still gives the client
that whole response, and nginx sends the next request to the other replica. The same kill under
uvicorn's own protocol, which writes head and body apart, cuts the response in two: the control
that shows the first case is not luck.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from http.client import HTTPConnection, HTTPException, IncompleteRead
from pathlib import Path
from typing import Any

import pytest

from harness import LOOPBACK, ROOT, free_port, http, live_service, wait_ready
from tests.mid_response import KILL_ID

pytestmark = pytest.mark.slow

REVIEW = {"text": "A warm, funny film with a cast that clearly enjoyed making it.", "model": "ff"}
FAST = {"SENTIMENT_DRAIN_SECONDS": "0", "SENTIMENT_GRPC_PORT": "0"}


@pytest.fixture(scope="module")
def nginx() -> str:
    """Debian's nginx (or any on PATH). Missing: a failure in CI, a skip elsewhere."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        message = "nginx is missing: `sudo apt-get install nginx-light` (or any nginx >= 1.19)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def spare() -> Iterator[str]:
    """The replica nginx turns to once the first has died."""
    with live_service(env=FAST) as url:
        yield url


def nginx_conf(victim: int, spare: int, port: int) -> str:
    """deploy/nginx/nginx.conf with its replicas on loopback: the victim, then the spare as a
    backup (so the marked request is sure to reach the victim first)."""
    conf = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    spare_port = spare
    for old, new in [
        (
            "server api:8000 max_fails=1 fail_timeout=5s;",
            f"server {LOOPBACK}:{victim} max_fails=1 fail_timeout=5s;\n"
            f"        server {LOOPBACK}:{spare_port} backup;",
        ),
        ("listen 8080;", f"listen {LOOPBACK}:{port};"),
        ("server api:8001 ", f"server {LOOPBACK}:{free_port()} "),
        ("listen 8081 http2;", f"listen {LOOPBACK}:{free_port()} http2;"),
    ]:
        assert conf.count(old) == 1, f"deploy/nginx/nginx.conf no longer has {old!r}"
        conf = conf.replace(old, new)
    return conf


@contextlib.contextmanager
def running(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def post(port: int, body: object, request_id: str) -> tuple[int, dict[str, Any]]:
    """POST /predict through nginx; raises if the response is cut short."""
    connection = HTTPConnection(LOOPBACK, port, timeout=30)
    try:
        headers = {"content-type": "application/json", "x-request-id": request_id}
        connection.request("POST", "/predict", json.dumps(body), headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())  # IncompleteRead if cut
    finally:
        connection.close()


@pytest.mark.parametrize("protocol", ["service", "uvicorn"])
def test_a_worker_killed_mid_response_behind_nginx(
    protocol: str, nginx: str, spare: str, tmp_path: Path
) -> None:
    expected = http("POST", f"{spare}/predict", REVIEW)
    assert expected[0] == 200
    victim, port = free_port(), free_port()
    env = {**FAST, "SENTIMENT_HOST": LOOPBACK, "SENTIMENT_PORT": str(victim)}
    command = [sys.executable, "-m", "tests.mid_response", protocol]
    with running(command, env, tmp_path / "victim.log") as worker:
        wait_ready(f"http://{LOOPBACK}:{victim}/health/ready", worker)
        (tmp_path / "nginx.conf").write_text(nginx_conf(victim, int(spare.rsplit(":", 1)[1]), port))
        lb = [nginx, "-p", f"{tmp_path}/", "-c", "nginx.conf", "-e", "stderr", "-g", "daemon off;"]
        with running(lb, {}, tmp_path / "nginx.log"):
            wait_ready(f"http://{LOOPBACK}:{port}/health/ready")
            assert post(port, REVIEW, "warm-up") == expected  # the victim serves through nginx

            try:
                answer: object = post(port, REVIEW, KILL_ID)
            except (HTTPException, ConnectionError) as cut:
                answer = cut
            assert worker.wait(timeout=30) == -signal.SIGKILL  # it died right after the head

            assert post(port, REVIEW, "next") == expected  # nginx took it to the spare
        nginx_log = (tmp_path / "nginx.log").read_text()
    if protocol == "service":
        assert answer == expected, nginx_log  # the whole response, sent before the kill
    else:
        assert isinstance(answer, IncompleteRead), (answer, nginx_log)
        assert "upstream prematurely closed connection" in nginx_log
