"""What the tests, the benchmarks and the deploy checks share: a free port on loopback, one HTTP
call, waiting for a server to be ready, the service started as `python -m service`, and the
Chromium of the browser test.

Standard library only, so that every tier can import it (deploy/checks puts the repo on its path).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"


class NotReady(RuntimeError):
    """A server exited, or did not answer 200, before its deadline."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def http(
    method: str,
    url: str,
    body: object = None,
    timeout: float = 10,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One request: the status and the body, decoded from JSON when it is JSON."""
    data = None if body is None else json.dumps(body).encode()
    all_headers = {"content-type": "application/json", **(headers or {})}
    request = urllib.request.Request(url, data, all_headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> float:
    """Seconds until `condition()` holds, polled; NotReady naming `what` past the deadline."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(interval)
    raise NotReady(f"{what}: not within {timeout:.0f} s")


def wait_ready(
    url: str,
    process: subprocess.Popen[bytes] | None = None,
    timeout: float = 120,
    interval: float = 0.05,
) -> float:
    """Seconds until GET url answers 200; NotReady if the process exits or time runs out."""

    def answered() -> bool:
        if process is not None and process.poll() is not None:
            raise NotReady(f"the server exited with {process.returncode} before it was ready")
        with contextlib.suppress(OSError):
            return http("GET", url, timeout=2)[0] == 200
        return False

    return wait_until(answered, timeout, f"{url} ready", interval)


@contextlib.contextmanager
def live_service(*flags: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`python -m service` on a free port of loopback with the committed models; yields its URL
    once ready, and stops it (SIGTERM to its process group) on the way out."""
    port = free_port()
    command = [sys.executable, "-m", "service", "--host", LOOPBACK, "--port", str(port), *flags]
    process = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **(env or {})}, start_new_session=True
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        wait_ready(f"{url}/health/ready", process)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have exited on its own
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """A Chromium for the browser test: the system's (Debian's `chromium`, ...) first, else the
    one `playwright install chromium` downloaded; None if neither is there."""
    for name in SYSTEM_CHROMIUMS:
        if found := shutil.which(name):
            return found
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as playwright:
        path = playwright.chromium.executable_path
    return path if Path(path).is_file() else None


MISSING_CHROMIUM = (
    "no Chromium for the browser test: install Debian's (`sudo apt-get install chromium`) or "
    "Playwright's own (`.venv/bin/python -m playwright install chromium`); `make browser` "
    "tries the first as root with apt, else the second"
)
