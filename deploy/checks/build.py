"""Build the repo's Dockerfile with podman: the runtime image and the train target.

The base is the local Debian image (deploy/base-images.sh) through PYTHON_IMAGE. pip inside the
build reaches the package index as this machine does: through its TLS-inspecting proxy, whose CA
is in the host's bundle. That bundle goes to the RUN steps as the build secret `ca-bundle` (never
into a layer), and only when the host has one.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from common import IMAGE, PYTHON_IMAGE, REPO, TRAIN_IMAGE, check, inspect, podman

HOST_CA_BUNDLES = (os.environ.get("PIP_CERT", ""), "/etc/ssl/certs/ca-certificates.crt")


def ca_secret() -> list[str]:
    """`--secret` for the host's CA bundle, or nothing when it has none."""
    bundle = next((b for b in HOST_CA_BUNDLES if b and Path(b).is_file()), None)
    return ["--secret", f"id=ca-bundle,src={bundle}"] if bundle else []


def build(target: str, tag: str) -> dict[str, float]:
    """Build one target (cached layers are reused); its build time and size."""
    start = time.monotonic()
    podman(
        "build", "--format", "docker", "--build-arg", f"PYTHON_IMAGE={PYTHON_IMAGE}",
        *ca_secret(), "--target", target, "--tag", tag, str(REPO),
    )  # fmt: skip
    seconds = time.monotonic() - start
    size = int(inspect(tag, "{{.Size}}")) / 1e6
    check(True, f"built target {target} as {tag}: {seconds:.0f} s, {size:.0f} MB")
    return {"build_seconds": round(seconds, 1), "size_mb": round(size)}


def build_runtime() -> dict[str, float]:
    return build("runtime", IMAGE)


def build_train() -> dict[str, float]:
    return build("train", TRAIN_IMAGE)
