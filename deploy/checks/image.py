"""The built images, checked from inside real containers.

Runtime image: exactly serve.lock's pins and no TensorFlow; uid 10001 and a read-only root;
ready, healthy (`podman healthcheck run`: no systemd here to run it periodically), every model
within 1e-5 of its golden scores; SIGTERM (`podman stop`) answers the requests in flight and exits
0 within the grace period. Train image: TensorFlow and the training package import.
"""

from __future__ import annotations

import json
import re
import threading
import time

from common import (
    IMAGE,
    LOOPBACK,
    PREFIX,
    REPO,
    TRAIN_IMAGE,
    CheckFailed,
    answers,
    check,
    free_port,
    golden,
    http,
    inspect,
    models,
    podman,
    wait_for,
)

CONTAINER = f"{PREFIX}-check-image"
FORBIDDEN = ("tensorflow", "keras", "tf2onnx")
GRACE_SECONDS = 40  # compose's stop_grace_period
PROBE = f"""
import importlib.util, json, os, subprocess, sys
frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"], capture_output=True,
                        text=True, check=True).stdout.splitlines()
try:
    open("/app/written", "w")
    written = True
except OSError:
    written = False
print(json.dumps({{
    "uid": os.getuid(), "gid": os.getgid(), "frozen": frozen, "root_written": written,
    "found": [m for m in {FORBIDDEN!r} if importlib.util.find_spec(m)],
    "secret_left": os.path.exists("/run/secrets/ca-bundle"),
}}))
"""


def pins(lines: list[str]) -> set[str]:
    """`name==version` lines, with names normalized as pip does (PyYAML is pyyaml)."""
    found = set()
    for line in lines:
        name, sep, version = line.strip().partition("==")
        if sep and not line.lstrip().startswith("#"):
            found.add(f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}")
    return found


def check_contents() -> None:
    report = json.loads(podman("run", "--rm", "--read-only", IMAGE, "python", "-c", PROBE))
    locked = pins((REPO / "requirements" / "serve.lock").read_text().splitlines())
    installed = {p for p in pins(report["frozen"]) if not p.startswith(("pip==", "setuptools=="))}
    difference = sorted(installed ^ locked)
    check(not difference, f"the venv holds exactly serve.lock's {len(locked)} pins", difference)
    check(not report["found"], f"none of {', '.join(FORBIDDEN)} is importable", report["found"])
    check((report["uid"], report["gid"]) == (10001, 10001), "it runs as uid 10001", report["uid"])
    check(not report["root_written"], "--read-only: the root filesystem refuses writes")
    check(not report["secret_left"], "the build's CA bundle secret is in no layer")


def check_golden(url: str) -> None:
    for model in models():
        worst = 0.0
        for review in golden(model):
            status, body = http("POST", f"{url}/predict", {"text": review["text"], "model": model})
            if status != 200 or body["model"] != model:
                raise CheckFailed(f"POST /predict ({model}): {status} {body}")
            worst = max(worst, abs(body["score"] - review["keras_score"]))
        check(
            worst <= 1e-5, f"POST /predict ({model}): every golden review within 1e-5 ({worst:.1e})"
        )


def check_sigterm(url: str) -> dict[str, float]:
    """Requests in flight when `podman stop` sends SIGTERM are answered; the container exits 0.

    Four clients send batches back to back until the signal; each batch sent before it must be
    answered: 200, or 503 `overloaded` (admission control refusing what it cannot start soon,
    with Retry-After); and some must have been in flight when it came.
    """
    body = {"texts": [r["text"] for m in models() for r in golden(m)], "model": "rnn3"}
    sent: list[tuple[float, float, str]] = []  # (sent, answered, outcome)
    signalled = threading.Event()

    def send() -> None:
        while not signalled.is_set():
            began = time.monotonic()
            try:
                status, answer = http("POST", f"{url}/predict/batch", body, timeout=60)
                refused = status == 503 and answer["error"]["type"] == "overloaded"
                outcome = "refused" if refused else f"{status} {str(answer)[:120]}"
            except (OSError, TypeError, KeyError) as e:
                outcome = repr(e)
            sent.append((began, time.monotonic(), outcome))

    senders = [threading.Thread(target=send) for _ in range(4)]
    for sender in senders:
        sender.start()
    time.sleep(1)
    start = time.monotonic()
    signalled.set()
    podman("stop", "--time", str(GRACE_SECONDS), CONTAINER)
    seconds = time.monotonic() - start
    for sender in senders:
        sender.join()
    before = [outcome for began, _, outcome in sent if began < start]
    in_flight = [outcome for began, answered, outcome in sent if began < start < answered]
    refused = before.count("refused")
    what = f"SIGTERM: all {len(before)} batches sent before it answered ({refused} refused: 503)"
    answered = [o for o in before if o.startswith("200 ") or o == "refused"]
    check(len(answered) == len(before) > refused, what, sorted(set(before) - set(answered)))
    check(bool(in_flight), f"SIGTERM: {len(in_flight)} of them were in flight when it came")
    code = int(inspect(CONTAINER, "{{.State.ExitCode}}"))
    # uvicorn re-raises SIGTERM once it has shut down: under an init, exit 143 is as clean as 0.
    clean = code in (0, 128 + 15) and "Application shutdown complete." in podman("logs", CONTAINER)
    what = f"SIGTERM: graceful shutdown, exit {code} in {seconds:.1f} s"
    check(clean and seconds < GRACE_SECONDS, what)
    return {"sigterm_exit_seconds": round(seconds, 1), "in_flight_at_sigterm": len(in_flight)}


def check_early_sigterm() -> None:
    """SIGTERM before uvicorn has its handler (while the models load) ends the container at once.

    That takes an init process (`--init`: podman's is catatonit): python as PID 1 would ignore a
    signal it has no handler for, and wait for SIGKILL at the end of the grace period.
    """
    podman("run", "--detach", "--init", "--name", CONTAINER, IMAGE)
    start = time.monotonic()
    podman("stop", "--time", str(GRACE_SECONDS), CONTAINER)
    seconds = time.monotonic() - start
    podman("rm", "--force", CONTAINER)
    check(seconds < GRACE_SECONDS / 4, f"--init: SIGTERM while starting ends it in {seconds:.1f} s")


def check_runtime() -> dict[str, float]:
    check_contents()
    check_early_sigterm()
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    start = time.monotonic()
    podman(
        "run", "--detach", "--init", "--name", CONTAINER, "--read-only", "--tmpfs", "/tmp",  # noqa: S108 (the container's)
        "--publish", f"{LOOPBACK}:{port}:8000", IMAGE,
    )  # fmt: skip
    try:
        ready = time.monotonic() - start
        ready += wait_for("the container ready", lambda: answers(f"{url}/health/ready"), 120)
        check(True, f"podman run to /health/ready 200: {ready:.1f} s")
        health = podman("healthcheck", "run", CONTAINER, check_exit=False)
        check(inspect(CONTAINER, "{{.State.Health.Status}}") == "healthy", "HEALTHCHECK", health)
        check_golden(url)
        figures = check_sigterm(url)
    finally:
        podman("rm", "--force", CONTAINER, check_exit=False)
    return {"start_to_ready_seconds": round(ready, 1), **figures}


def check_train() -> None:
    script = "import tensorflow, training.pipeline; print(tensorflow.__version__)"
    version = podman("run", "--rm", "--entrypoint", "python", TRAIN_IMAGE, "-c", script).strip()
    check(bool(version), f"the train image imports TensorFlow {version} and the training package")
