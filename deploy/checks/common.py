"""What the deploy checks share: the repo, podman, HTTP on loopback, and the figures they report."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # the checks run as scripts; harness.py is shared with the tests
import harness  # noqa: E402
from harness import LOOPBACK as LOOPBACK  # noqa: E402 (re-exported: the checks import them here)
from harness import free_port as free_port  # noqa: E402
from harness import http as http  # noqa: E402

# Everything the checks create on the machine-wide podman is named with this prefix.
PREFIX = "imdb-sentiment"
IMAGE = f"localhost/{PREFIX}:0.1.0"
TRAIN_IMAGE = f"localhost/{PREFIX}-train:0.1.0"
BASE = f"localhost/{PREFIX}-base"
PYTHON_IMAGE = f"{BASE}/python:3.11-bookworm"
NGINX_IMAGE = f"{BASE}/nginx:bookworm"
PROMETHEUS_IMAGE = f"{BASE}/prometheus:bookworm"
FIGURES = REPO / "test-artifacts" / "deploy.json"


class CheckFailed(Exception):
    """A deploy check found a real problem."""


def check(condition: bool, what: str, detail: object = "") -> None:
    """Print what held, or fail with it and the detail."""
    if not condition:
        raise CheckFailed(f"{what}: {detail}" if detail else what)
    print(f"  ok  {what}", flush=True)


def record(section: str, figures: Any) -> None:
    """Add measured figures to test-artifacts/deploy.json (one key per section)."""
    FIGURES.parent.mkdir(exist_ok=True)
    saved = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    saved[section] = figures
    FIGURES.write_text(json.dumps(saved, indent=2) + "\n")


def podman(*args: str, check_exit: bool = True, timeout: float = 600) -> str:
    """Run podman; its stdout, or a failure with its stderr."""
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if args[0] == "logs":  # a container's stdout and stderr
        return done.stdout + done.stderr
    if check_exit and done.returncode != 0:
        raise CheckFailed(f"podman {' '.join(args)[:200]}: {done.stderr.strip()[-800:]}")
    return done.stdout


def inspect(name: str, template: str) -> str:
    return podman("inspect", "--format", template, name).strip()


def answers(url: str) -> bool:
    """Whether GET url answers 200 now."""
    try:
        return http("GET", url, timeout=2)[0] == 200
    except OSError:
        return False


def wait_for(what: str, condition: Callable[[], bool], timeout: float, every: float = 0.2) -> float:
    """Seconds until condition() holds; a failure naming `what` if it does not within timeout."""
    try:
        return harness.wait_until(condition, timeout, what, every)
    except harness.NotReady as e:
        raise CheckFailed(str(e)) from e


def golden(model: str) -> list[dict[str, Any]]:
    """A model's golden reviews: text and the Keras score its ONNX graph must reproduce."""
    reviews: list[dict[str, Any]] = json.loads(
        (REPO / "models" / model / "golden.json").read_text()
    )
    return reviews


def models() -> list[str]:
    """Every model the manifest publishes."""
    manifest = json.loads((REPO / "models" / "manifest.json").read_text())
    names: list[str] = manifest["models"]
    return names
