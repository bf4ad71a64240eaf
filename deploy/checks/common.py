"""What the deploy checks share: the repo's paths, HTTP on loopback, and the replicas they start."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from image import Image

REPO = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"


class CheckFailed(Exception):
    """A deploy check found a real problem."""


def check(condition: bool, what: str, detail: object = "") -> None:
    """Print what held, or fail with it and the detail."""
    if not condition:
        raise CheckFailed(f"{what}: {detail}" if detail else what)
    print(f"  ok  {what}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, body: object = None, timeout: float = 10) -> tuple[int, Any]:
    """One request: the status and the body, decoded from JSON when it is JSON."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"content-type": "application/json"}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> float:
    """Seconds until GET url answers 200; a failure if the process exits or time runs out."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process.poll() is not None:
            raise CheckFailed(f"the server exited with {process.returncode} before it was ready")
        with contextlib.suppress(OSError):
            if http("GET", url, timeout=2)[0] == 200:
                return time.monotonic() - start
        time.sleep(0.2)
    raise CheckFailed(f"{url} not ready within {timeout:.0f} s")


@contextlib.contextmanager
def replica(
    image: Image, port: int, log: Path, workers: int = 1
) -> Iterator[subprocess.Popen[bytes]]:
    """The image's own command on loopback:port, killed (its whole group) on the way out."""
    overrides = {"HOST": LOOPBACK, "PORT": str(port), "WEB_CONCURRENCY": str(workers)}
    with log.open("wb") as output:
        process = image.popen(image.command, overrides, output)
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def shut_down_gracefully(log: Path) -> bool:
    """Whether uvicorn's log tells of a complete graceful shutdown (lifespan included)."""
    text = log.read_text(errors="replace")
    return "Application shutdown complete." in text and "Finished server process" in text
