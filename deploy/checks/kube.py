"""`podman kube play` of the Kubernetes Deployment: every replica ready as the manifest says.

One change to the manifest, forced by podman 4.3: it publishes each `containerPort` on every
interface of the host (0.0.0.0:8000), where two replicas collide, so the container's `ports` list
is left out and the probes' named port `http` is given as its number. Everything else plays as
written: replicas, probes' paths, securityContext, resources, the /tmp volume. Podman runs only
the liveness probe (as a curl healthcheck, and curl is not in the image) and no readiness or
startup probe, so this check runs each probe's request inside each pod, on its loopback.
docs/deploy.md lists what podman does not honour.
"""

from __future__ import annotations

import json
import tempfile
import time
from typing import Any

import yaml  # type: ignore[import-untyped]
from common import REPO, CheckFailed, check, golden, inspect, podman, wait_for

MANIFEST = REPO / "deploy" / "k8s" / "deployment.yaml"
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
# Run inside a pod, on its loopback: each httpGet probe's GET, a connection to each gRPC probe's
# port (accepting only: the image has no gRPC health client), and one POST /predict.
INSIDE = """
import json, socket, sys, urllib.request as u
port, paths, grpc_ports, text = json.loads(sys.argv[1])
url = f"http://127.0.0.1:{port}"
status = {p: u.urlopen(url + p, timeout=2).status for p in paths}
for p in grpc_ports:
    socket.create_connection(("127.0.0.1", p), 2).close()
    status[f"grpc:{p}"] = 200
body = json.dumps({"text": text}).encode()
request = u.Request(url + "/predict", body, {"content-type": "application/json"})
print(json.dumps({"probes": status, "predict": json.load(u.urlopen(request, timeout=5))}))
"""


def playable(deployment: dict[str, Any]) -> dict[str, Any]:
    """The Deployment without the container's ports (see the module docstring)."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container.pop("ports")}
    for get in (container[p]["httpGet"] for p in PROBES if "httpGet" in container[p]):
        get["port"] = ports.get(get["port"], get["port"])
    return deployment


def probe(container: str, spec: dict[str, Any]) -> dict[str, Any] | None:
    """Each probe's answer and a prediction, from inside the pod; None while it is not ready."""
    gets = [spec[p]["httpGet"] for p in PROBES if "httpGet" in spec[p]]
    grpc_ports = [spec[p]["grpc"]["port"] for p in PROBES if "grpc" in spec[p]]
    text = golden("rnn2")[0]["text"]
    argument = json.dumps([gets[0]["port"], [g["path"] for g in gets], grpc_ports, text])
    try:
        answer: dict[str, Any] = json.loads(
            podman("exec", container, "python", "-c", INSIDE, argument)
        )
    except (CheckFailed, ValueError):
        return None
    return answer


def check_honoured(container: str, spec: dict[str, Any], pod: dict[str, Any]) -> None:
    """securityContext and resources, as podman applied them."""
    context, limits = pod["securityContext"], spec["resources"]["limits"]
    user = f"{context['runAsUser']}:{context['runAsGroup']}"
    config = inspect(
        container,
        "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.SecurityOpt}} "
        "{{len .EffectiveCaps}} {{.HostConfig.Memory}} {{.HostConfig.CpuQuota}}",
    )
    memory = int(limits["memory"].removesuffix("Mi")) * 2**20
    expected = f"{user} true [no-new-privileges] 0 {memory} {int(float(limits['cpu']) * 100000)}"
    check(
        config == expected,
        f"{container}: uid:gid, read-only root, no privilege, caps, limits",
        config,
    )


def check_kube() -> dict[str, Any]:
    deployment = yaml.safe_load(MANIFEST.read_text())
    pod = deployment["spec"]["template"]["spec"]
    spec = pod["containers"][0]
    replicas = deployment["spec"]["replicas"]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as manifest:
        yaml.safe_dump(playable(deployment), manifest)
        manifest.flush()
        start = time.monotonic()
        podman("kube", "play", manifest.name)
        try:
            name = deployment["metadata"]["name"]
            containers = [f"{name}-pod-{i}-{spec['name']}" for i in range(replicas)]
            answers: dict[str, dict[str, Any]] = {}

            def all_ready() -> bool:
                for container in containers:
                    answers[container] = answers.get(container) or probe(container, spec) or {}
                return all(answers.values())

            seconds = wait_for(f"{replicas} replicas ready", all_ready, 120, every=1)
            for container, answer in answers.items():
                ok = set(answer["probes"].values()) == {200} and answer["predict"]["model"]
                check(bool(ok), f"{container}: every probe answers and it predicts", answer)
                check_honoured(container, spec, pod)
            took = time.monotonic() - start
            check(True, f"kube play: {replicas} of {replicas} replicas ready in {took:.1f} s")
        finally:
            podman("kube", "down", manifest.name, check_exit=False)
    return {
        "replicas": replicas,
        "ready_seconds": round(took, 1),
        "wait_seconds": round(seconds, 1),
    }
