"""The container-equivalent smoke test: the Dockerfile's own steps and command, without Docker.

    .venv/bin/python deploy/checks/smoke.py ROOT    # ROOT: an empty folder, kept for scaleout.py

Replays the Dockerfile under ROOT (image.py): a fresh venv built by the build stage's RUN line,
service/ and models/ copied through .dockerignore, then the runtime stage's CMD started as its
USER with its ENV (HOST and PORT moved to loopback, WEB_CONCURRENCY=2), and checks it like
Docker, Compose and Kubernetes would: health, predictions, healthchecks, probes, SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path

from common import (
    REPO,
    CheckFailed,
    check,
    free_port,
    http,
    replica,
    shut_down_gracefully,
    tail,
    wait_ready,
)
from dockerfile import DockerfileError
from image import Image, Replay
from wiring import check_wiring, load_yaml

FORBIDDEN = ("tensorflow", "keras", "tf2onnx")
WORKERS = 2


def build(root: Path) -> Image:
    for stage in Replay(REPO, root, execute=False).stages:  # every stage's COPY sources exist
        Replay(REPO, root, execute=False).replay(stage.name, target=stage.name == "runtime")
    check(True, "every COPY source of every stage is in the build context (.dockerignore)")
    start = time.monotonic()
    image = Replay(REPO, root).replay("runtime")
    check(
        bool(image.command),
        f"replayed the build and runtime stages ({time.monotonic() - start:.0f} s)",
    )
    return image


def pins(lines: list[str]) -> set[str]:
    """`name==version` lines, with names normalized as pip does (PyYAML is pyyaml)."""
    found = set()
    for line in lines:
        name, sep, version = line.strip().partition("==")
        if sep and not line.lstrip().startswith("#"):
            found.add(f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}")
    return found


def check_venv(image: Image) -> None:
    code, frozen = image.call(["python", "-m", "pip", "freeze", "--all"], {})
    locked = pins((REPO / "requirements" / "serve.lock").read_text().splitlines())
    installed = {
        p for p in pins(frozen.splitlines()) if not p.startswith(("pip==", "setuptools=="))
    }
    difference = sorted(installed ^ locked)
    what = f"the venv holds exactly serve.lock's {len(locked)} pins"
    check(code == 0 and not difference, what, difference or frozen)
    for module in FORBIDDEN:
        code, output = image.call(["python", "-c", f"import {module}"], {})
        check(code != 0 and "ModuleNotFoundError" in output, f"`import {module}` fails in it")


def check_serving(image: Image, url: str) -> None:
    check(http("GET", f"{url}/health/live")[0] == 200, "GET /health/live is 200")
    check(
        http("GET", f"{url}/health/ready") == (200, {"status": "ready"}), "GET /health/ready is 200"
    )
    models_dir = Path(image.host(image.workdir)) / "models"
    for name in ("ff", "rnn", "rnn2", "rnn3"):
        golden = json.loads((models_dir / name / "golden.json").read_text())[0]
        status, body = http("POST", f"{url}/predict", {"text": golden["text"], "model": name})
        close = status == 200 and abs(body["score"] - golden["keras_score"]) <= 1e-5
        check(close and body["model"] == name, f"POST /predict ({name}) gives Keras' score +-1e-5")


def check_user(image: Image, process_id: int) -> None:
    status = Path(f"/proc/{process_id}/status").read_text()
    uid = int(re.findall(r"^Uid:\s+(\d+)", status, re.M)[0])
    expected = image.user[0] if image.user and os.geteuid() == 0 else os.geteuid()
    check(uid == expected != 0, f"the server runs as uid {uid}, not root")


def check_metrics(url: str) -> None:
    status, body = http("GET", f"{url}/metrics")
    check(status == 200 and "# TYPE" in str(body), "GET /metrics answers for Prometheus")


def check_healthchecks(image: Image, url: str, port: int) -> None:
    env = {"PORT": str(port)}
    check(image.call(image.healthcheck, env)[0] == 0, "the Dockerfile's HEALTHCHECK passes")
    test = load_yaml("docker-compose.yml")["services"]["api"]["healthcheck"]["test"]
    code = image.call(test[1:], env)[0]
    check(test[0] == "CMD" and code == 0, "docker-compose.yml's api healthcheck passes")
    deployment = load_yaml("deploy/k8s/deployment.yaml")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        path = container[probe]["httpGet"]["path"]
        check(http("GET", f"{url}{path}")[0] == 200, f"the Kubernetes {probe} ({path}) passes")


def check_workers(process_id: int) -> None:
    children = []
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            parent = int(stat.with_name("stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == process_id and b"spawn_main" in stat.read_bytes():
                children.append(stat.parent.name)
        except (OSError, IndexError, ValueError):
            continue
    check(len(children) == WORKERS, f"WEB_CONCURRENCY={WORKERS} gives {len(children)} workers")


def rss_megabytes(group: int) -> float:
    """The resident memory of a process group (the server and its workers)."""
    kilobytes = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if os.getpgid(int(status.parent.name)) != group:
                continue
            lines = status.read_text().splitlines()
        except OSError:
            continue
        kilobytes += sum(int(line.split()[1]) for line in lines if line.startswith("VmRSS:"))
    return kilobytes / 1024


def main(root: Path) -> int:
    print(f"smoke test of the Dockerfile, replayed under {root}")
    if any(root.iterdir()):
        raise CheckFailed(f"{root} is not empty")
    root.chmod(0o755)  # the image's user must reach the venv and the app
    image = build(root)
    check_wiring(image)
    check_venv(image)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "smoke-server.log"
    with replica(image, port, log, WORKERS) as server:
        try:
            seconds = wait_ready(f"{url}/health/ready", server)
            check(
                True, f"`{' '.join(image.command)}` as uid {image.user} is ready in {seconds:.1f} s"
            )
            check_user(image, server.pid)
            check_workers(server.pid)
            check_serving(image, url)
            check_metrics(url)
            check_healthchecks(image, url, port)
            print(f"  --  memory: {rss_megabytes(server.pid):.0f} MB RSS with {WORKERS} workers")
            start = time.monotonic()
            server.send_signal(signal.SIGTERM)
            code = server.wait(timeout=40)
            seconds = time.monotonic() - start
            # uvicorn re-raises SIGTERM once it has shut down: -15, like a plain 0, is clean.
            clean = code in (0, -signal.SIGTERM) and shut_down_gracefully(log)
            check(clean, f"SIGTERM: graceful shutdown in {seconds:.1f} s (exit {code}; grace 40 s)")
            code = image.call(image.healthcheck, {"PORT": str(port)})[0]
            check(code != 0, f"then the HEALTHCHECK fails (exit code {code})")
        except (CheckFailed, OSError, ValueError) as e:
            print(f"server log:\n{tail(log)}", file=sys.stderr)
            raise CheckFailed(str(e)) from e
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(Path(sys.argv[1]).resolve()))
    except (CheckFailed, DockerfileError) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
