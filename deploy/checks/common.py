"""What the deploy checks share: the repo's paths, HTTP on loopback, and the replicas they start."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from image import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # the checks run as scripts; harness.py is shared with the tests
import harness  # noqa: E402
from harness import LOOPBACK as LOOPBACK  # noqa: E402 (re-exported: the checks import them here)
from harness import free_port as free_port  # noqa: E402
from harness import http as http  # noqa: E402


class CheckFailed(Exception):
    """A deploy check found a real problem."""


def check(condition: bool, what: str, detail: object = "") -> None:
    """Print what held, or fail with it and the detail."""
    if not condition:
        raise CheckFailed(f"{what}: {detail}" if detail else what)
    print(f"  ok  {what}", flush=True)


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> float:
    """Seconds until GET url answers 200; a failure if the process exits or time runs out."""
    try:
        return harness.wait_ready(url, process, timeout)
    except harness.NotReady as e:
        raise CheckFailed(str(e)) from e


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
