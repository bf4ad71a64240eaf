"""The scale-out test: two replicas behind real nginx with the repo's config, one stopped mid-load.

    .venv/bin/python deploy/checks/scaleout.py ROOT    # ROOT: as left by smoke.py

Starts two replicas of the replayed image (the Dockerfile's CMD, as its USER) on loopback, renders
deploy/nginx/nginx.conf with them as the upstream servers and a loopback listen address (nothing
else changes), runs real nginx in the foreground with its pid file and temp folders under ROOT,
sends a bounded load of POST /predict through it, and stops one replica halfway, twice:
- SIGKILL (a crash): no request may fail; each one the dead replica did not answer is retried on
  the other. (A response whose head nginx had already forwarded could not be retried by any proxy;
  service/protocol.py makes a replica send each response in one write, so none is cut in two.)
- SIGTERM (docker stop, a rolling update): no request may fail at all, and the replica exits 0.
The figures go to stdout and to test-artifacts/scaleout.json.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from common import (
    LOOPBACK,
    REPO,
    CheckFailed,
    check,
    free_port,
    replica,
    shut_down_gracefully,
    tail,
    wait_ready,
)
from dockerfile import DockerfileError
from image import Image, Replay
from load import MODELS, Load

REQUESTS = 4000
CLIENTS = 4
UPSTREAM = re.compile(
    r"(# --- upstream servers: begin ---\n)(.*?)(\s*# --- upstream servers: end)", re.S
)
LISTEN = re.compile(r"(# --- listen: begin ---\n)(.*?)(\s*# --- listen: end)", re.S)


def render(config: str, servers: list[str], listen: str) -> str:
    """The repo's nginx config with other upstream servers and listen address, nothing else."""
    marked = UPSTREAM.search(config)
    lines = re.findall(r"^\s*server \S+(.*);$", marked.group(2) if marked else "", re.M)
    if not (marked and len(lines) == 1 and len(LISTEN.findall(config)) == 1):
        raise CheckFailed("nginx.conf lost its marked upstream server line or listen block")
    block = "".join(f"        server {s}{lines[0]};\n" for s in servers)
    config = UPSTREAM.sub(lambda m: m.group(1) + block + m.group(3), config)
    return LISTEN.sub(lambda m: f"{m.group(1)}        listen {listen};{m.group(3)}", config)


def start_nginx(config: str, prefix: Path) -> subprocess.Popen[bytes]:
    """Real nginx with the rendered config, its pid file and temp folders under prefix."""
    prefix.mkdir(exist_ok=True)
    (prefix / "nginx.conf").write_text(config)
    command = ["nginx", "-p", f"{prefix}/", "-c", f"{prefix}/nginx.conf", "-e", "stderr"]
    test = subprocess.run([*command, "-t"], capture_output=True, text=True)
    check(test.returncode == 0, "nginx -t accepts the rendered config", test.stderr[-500:])
    with (prefix / "access.log").open("wb") as out, (prefix / "error.log").open("wb") as err:
        return subprocess.Popen([*command, "-g", "daemon off;"], stdout=out, stderr=err)


def tried(prefix: Path) -> list[list[str]]:
    """For each proxied POST /predict, the replicas nginx tried, in order."""
    pattern = r'"POST /predict HTTP/1.1" \d+ \d+ upstream=(.*?) upstream_status='
    return [t.split(", ") for t in re.findall(pattern, (prefix / "access.log").read_text())]


def run_phase(image: Image, root: Path, stop: signal.Signals, texts: list[str]) -> dict[str, Any]:
    """Two replicas behind nginx under load; the first gets `stop` halfway."""
    ports, prefix = [free_port(), free_port()], root / f"nginx-{stop.name}"
    logs = [root / f"replica-{stop.name}-{i}.log" for i in (0, 1)]
    with replica(image, ports[0], logs[0]) as victim, replica(image, ports[1], logs[1]) as other:
        for port, process in zip(ports, (victim, other), strict=True):
            wait_ready(f"http://{LOOPBACK}:{port}/health/ready", process)
        listen = free_port()
        template = (REPO / "deploy" / "nginx" / "nginx.conf").read_text()
        servers = [f"{LOOPBACK}:{port}" for port in ports]
        nginx = start_nginx(render(template, servers, f"{LOOPBACK}:{listen}"), prefix)
        try:
            wait_ready(f"http://{LOOPBACK}:{listen}/health/ready", nginx, timeout=30)
            load = Load(listen, texts, REQUESTS, CLIENTS)
            # As `docker kill` and `docker stop` do: the signal goes to the container's PID 1.
            seconds = load.run(lambda: victim.send_signal(stop))
        finally:
            nginx.send_signal(signal.SIGQUIT)
            nginx.wait(timeout=30)
        code = victim.wait(timeout=40)
        check(other.poll() is None, f"{stop.name}: the other replica still runs")
    attempts = tried(prefix)
    served = [sum(t[-1] == server for t in attempts) for server in servers]
    premature = re.findall(
        rf"upstream prematurely closed connection while reading upstream, .*:{ports[0]}/",
        (prefix / "error.log").read_text(),
    )
    return {
        "signal": stop.name,
        "requests": load.done,
        "logged_by_nginx": len(attempts),
        "failures": dict(load.failures),
        "examples": load.examples[:3],
        "seconds": round(seconds, 2),
        "requests_per_second": round(load.done / seconds),
        **{k: round(v, 1) for k, v in load.percentiles_ms().items()},
        "retried_on_other_replica": sum(len(t) > 1 for t in attempts),
        "served_by_stopped_replica": served[0],
        "served_by_other_replica": served[1],
        "stopped_replica_exit_code": code,
        "stopped_replica_shut_down_gracefully": shut_down_gracefully(logs[0]),
        "nginx_cut_upstream_responses": len(premature),
    }


def check_phase(f: dict[str, Any]) -> None:
    name, failures = f["signal"], f["failures"]
    check(f["logged_by_nginx"] == REQUESTS, f"{name}: nginx proxied all {REQUESTS} requests")
    served = f["served_by_stopped_replica"], f["served_by_other_replica"]
    check(min(served) > 0, f"{name}: both replicas served ({served[0]} and {served[1]})")
    if name == "SIGKILL":
        check(f["stopped_replica_exit_code"] == -signal.SIGKILL, "SIGKILL: the replica died")
        retried = f["retried_on_other_replica"]
        check(retried > 0, f"SIGKILL: nginx sent {retried} requests on to the other replica")
    check(not failures, f"{name}: 0 of {f['requests']} client requests failed", f["examples"])
    if name == "SIGTERM":
        # uvicorn re-raises SIGTERM once it has shut down: -15, like a plain 0, is a clean exit.
        clean = f["stopped_replica_exit_code"] in (0, -signal.SIGTERM)
        graceful = f["stopped_replica_shut_down_gracefully"]
        check(clean and graceful, "SIGTERM: the replica finished its requests and shut down")


def main(root: Path) -> int:
    print(f"scale-out test: two replicas of the image replayed under {root}, behind nginx")
    image = Replay(REPO, root, execute=False).replay("runtime")
    golden = [json.loads((REPO / "models" / m / "golden.json").read_text()) for m in MODELS]
    texts = [review["text"] for reviews in golden for review in reviews]
    results = []
    for stop in (signal.SIGKILL, signal.SIGTERM):
        try:
            figures = run_phase(image, root, stop, texts)
        except (CheckFailed, OSError, subprocess.SubprocessError):
            for log in sorted(root.glob(f"*{stop.name}*/error.log")) + sorted(
                root.glob(f"replica-{stop.name}-*.log")
            ):
                print(f"{log}:\n{tail(log)}", file=sys.stderr)
            raise
        print(json.dumps(figures, indent=2))
        results.append(figures)
        check_phase(figures)
    (REPO / "test-artifacts").mkdir(exist_ok=True)
    (REPO / "test-artifacts" / "scaleout.json").write_text(json.dumps(results, indent=2))
    print("scale-out test passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(Path(sys.argv[1]).resolve()))
    except (CheckFailed, DockerfileError) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
