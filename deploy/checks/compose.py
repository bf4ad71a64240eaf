"""docker-compose.yml brought up by Debian's docker-compose (v1) through podman's Docker API.

`podman system service` serves the Docker API on a unix socket of our own; docker-compose talks to
it through DOCKER_HOST. The lb and prometheus images come from NGINX_IMAGE and PROMETHEUS_IMAGE
(the local Debian ones), the api image is the one just built, and only loopback ports are published.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from common import (
    LOOPBACK,
    NGINX_IMAGE,
    PREFIX,
    PROMETHEUS_IMAGE,
    REPO,
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

PROJECT = f"{PREFIX}-check"
NETWORK = f"{PROJECT}_default"
ACCESS = re.compile(
    r'"(\w+) (\S+) HTTP/[\d.]+" (\d+) .*?upstream=(.*?) upstream_status=.* msec=([\d.]+)'
)


class Stack:
    """The compose project on podman: its API service, its containers and the lb's access log."""

    def __init__(self, root: Path) -> None:
        self.socket = root / "podman.sock"
        self.lb_port, self.prometheus_port = free_port(), free_port()
        self.lb_grpc_port = free_port()
        self.service: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "DOCKER_HOST": f"unix://{self.socket}",
            "NGINX_IMAGE": NGINX_IMAGE,
            "PROMETHEUS_IMAGE": PROMETHEUS_IMAGE,
            "LB_PORT": str(self.lb_port),
            "LB_GRPC_PORT": str(self.lb_grpc_port),
            "PROMETHEUS_PORT": str(self.prometheus_port),
        }

    def __enter__(self) -> Stack:
        command = ["podman", "system", "service", "--time=0", f"unix://{self.socket}"]
        self.service = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        wait_for("podman's API socket", self.socket.exists, 30)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.compose("--profile", "monitoring", "down", "--volumes", "--timeout", "5")
        finally:
            if self.service:
                self.service.terminate()
                self.service.wait(timeout=30)

    def compose(self, *args: str) -> str:
        command = [
            "docker-compose",
            "--project-name",
            PROJECT,
            "--file",
            str(REPO / "docker-compose.yml"),
        ]
        done = subprocess.run([*command, *args], env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise CheckFailed(f"docker-compose {' '.join(args)}: {done.stderr.strip()[-800:]}")
        return done.stdout

    def containers(self, service: str) -> list[str]:
        names = podman(
            "ps", "--all", "--format", "{{.Names}}",
            "--filter", f"label=com.docker.compose.project={PROJECT}",
            "--filter", f"label=com.docker.compose.service={service}",
        )  # fmt: skip
        return sorted(names.split())

    def ip(self, container: str) -> str:
        return inspect(
            container, f'{{{{(index .NetworkSettings.Networks "{NETWORK}").IPAddress}}}}'
        )

    def make_healthy(self, containers: list[str], timeout: float = 120) -> float:
        """Run each one's healthcheck until it passes (no systemd here to run it periodically)."""

        def healthy() -> bool:
            for name in containers:
                podman("healthcheck", "run", name, check_exit=False)
            return all(inspect(n, "{{.State.Health.Status}}") == "healthy" for n in containers)

        return wait_for(f"{', '.join(containers)} healthy", healthy, timeout, every=0.5)

    def access_log(self, since: float = 0) -> list[dict[str, Any]]:
        """The lb's access log lines answered after `since` (time.time())."""
        lines = []
        for name in self.containers("lb"):
            for match in ACCESS.finditer(podman("logs", name, check_exit=False)):
                method, path, status, upstreams, msec = match.groups()
                if float(msec) > since:
                    lines.append(
                        {"request": f"{method} {path}", "status": int(status), "msec": float(msec),
                         "upstreams": [u.split(":")[0] for u in upstreams.split(", ")]}
                    )  # fmt: skip
        return lines

    def served(self, since: float = 0) -> dict[str, int]:
        """Requests each api replica answered (the last one nginx tried) since an instant."""
        ips = {self.ip(name): name for name in self.containers("api")}
        counts = dict.fromkeys(ips.values(), 0)
        for line in self.access_log(since):
            if line["upstreams"][-1] in ips:
                counts[ips[line["upstreams"][-1]]] += 1
        return counts

    def up(self, replicas: int) -> dict[str, float]:
        start = time.monotonic()
        self.compose("up", "--detach", "--no-build", "--scale", f"api={replicas}", "api")
        api = self.containers("api")
        check(len(api) == replicas, f"compose up: {replicas} api replicas", api)
        ready = time.monotonic() - start + self.make_healthy(api)
        check(True, f"all {replicas} replicas healthy {ready:.1f} s after compose up")
        self.compose("up", "--detach", "--no-build", "--scale", f"api={replicas}", "lb")
        url = f"http://{LOOPBACK}:{self.lb_port}/health/ready"
        wait_for("nginx answering", lambda: answers(url), 60)
        check(True, f"lb (nginx) answers on {LOOPBACK}:{self.lb_port}")
        return {"replicas_healthy_seconds": round(ready, 1)}

    def check_grpc(self) -> dict[str, Any]:
        """The Open Inference Protocol over gRPC through nginx: readiness, and every golden
        review of every model scored as Keras scored it (within 1e-5)."""
        import numpy as np
        import tritonclient.grpc as tc  # the dev venv's; the image needs no gRPC client

        client = tc.InferenceServerClient(f"{LOOPBACK}:{self.lb_grpc_port}")
        wait_for("gRPC through nginx", client.is_server_ready, 30)
        worst = 0.0
        for model in models():
            reviews = golden(model)
            tensor = tc.InferInput("text", [len(reviews)], "BYTES")
            texts = [r["text"].encode() for r in reviews]
            tensor.set_data_from_numpy(np.array(texts, dtype=np.object_))
            scores = client.infer(model, [tensor]).as_numpy("score")
            expected = np.array([r["keras_score"] for r in reviews])
            worst = max(worst, float(np.abs(scores - expected).max()))
        client.close()
        check(
            worst <= 1e-5, f"gRPC ModelInfer through nginx: every model within 1e-5 ({worst:.1e})"
        )
        return {"grpc_through_nginx_max_diff": worst}

    def start_monitoring(self) -> None:
        self.compose("--profile", "monitoring", "up", "--detach", "--no-build", "prometheus")

    def check_monitoring(self, replicas: int) -> dict[str, Any]:
        """Prometheus finds every replica through compose's DNS and scrapes it."""
        url = f"http://{LOOPBACK}:{self.prometheus_port}/api/v1/targets"
        targets: list[dict[str, Any]] = []

        def all_up() -> bool:
            nonlocal targets
            try:
                targets = http("GET", url)[1]["data"]["activeTargets"]
            except (OSError, TypeError, KeyError):
                return False
            return len(targets) == replicas and all(t["health"] == "up" for t in targets)

        seconds = wait_for("prometheus: every replica's target up", all_up, 90, every=1)
        check(True, f"prometheus scrapes {replicas} targets, all up ({seconds:.0f} s more)")
        return {"targets": [t["scrapeUrl"] for t in targets]}
