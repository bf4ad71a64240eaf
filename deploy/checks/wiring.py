"""The deploy files agree with each other and with the image: ports, user, probes' port, metrics.

Static: read the Dockerfile (replayed), docker-compose.yml, the Kubernetes Deployment, the
Prometheus and nginx configs, and compare what each says about the same thing.
"""

from __future__ import annotations

import re
from typing import Any

import yaml  # type: ignore[import-untyped]
from common import REPO, check
from image import Image


def load_yaml(relative: str) -> Any:
    return yaml.safe_load((REPO / relative).read_text())


def check_wiring(image: Image) -> None:
    port = image.env["PORT"]
    check(image.exposed == [int(port)], f"the Dockerfile serves and EXPOSEs port {port}")
    api = load_yaml("docker-compose.yml")["services"]["api"]
    check(api["environment"]["PORT"] == port and port in api["expose"], "compose's api: same port")
    pod = load_yaml("deploy/k8s/deployment.yaml")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    ports = [p["containerPort"] for p in container["ports"]]
    check(env["PORT"] == port and ports == [int(port)], "the Kubernetes container: same port")
    user = pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]
    check(user == image.user, f"Kubernetes runs as the Dockerfile's USER {image.user}")
    scrape = load_yaml("deploy/prometheus/prometheus.yml")["scrape_configs"][0]
    target = scrape["dns_sd_configs"][0]
    right = target["names"] == ["api"] and str(target["port"]) == port
    check(right and scrape["metrics_path"] == "/metrics", f"Prometheus scrapes api:{port}/metrics")
    nginx = (REPO / "deploy" / "nginx" / "nginx.conf").read_text()
    upstream = re.findall(r"^\s*server (\S+) ", nginx, re.M)
    check(upstream == [f"api:{port}"], f"nginx's upstream is api:{port}")
