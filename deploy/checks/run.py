"""`make check-deploy` on real containers (podman): build, image, compose, faults, Kubernetes.

    .venv/bin/python deploy/checks/run.py      # as root, once deploy/base-images.sh has run

Everything it creates is named `imdb-sentiment-*` and removed on the way out (also after a
failure or Ctrl-C); images stay, as the next build's cache. Figures: test-artifacts/deploy.json.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType

from build import build_runtime, build_train
from common import FIGURES, PREFIX, REPO, CheckFailed, check, podman, record, wait_for
from compose import NETWORK, Stack
from faults import run_faults
from image import check_runtime, check_train
from kube import check_kube
from load import Load, PredictClient

REPLICAS = 3


def clean_up() -> None:
    """Remove every pod, container and network of ours, whatever state a run left them in."""
    for kind, listing in (("pod", ("pod", "ps")), ("container", ("ps", "--all"))):
        names = podman(*listing, "--format", "{{.Name}}" if kind == "pod" else "{{.Names}}")
        ours = [n for n in names.split() if n.startswith(PREFIX)]
        if ours:
            podman(kind, "rm", "--force", *ours, check_exit=False)
    podman("network", "rm", "--force", NETWORK, check_exit=False)


def check_spread(stack: Stack) -> dict[str, int]:
    """Load through nginx reaches every replica."""
    since = time.time()
    with Load(lambda: PredictClient(stack.lb_port)) as load:
        wait_for("600 answers", lambda: load.answered() >= 600, 120)
    served = stack.served(since)
    figures = load.figures()
    check(figures["failed"] == 0, f"{figures['requests']} requests through nginx, 0 failed")
    check(all(served.values()), f"every replica served some: {served}")
    return served


def main() -> int:
    start = time.monotonic()
    FIGURES.unlink(missing_ok=True)
    clean_up()
    pool = ThreadPoolExecutor(1)
    try:
        with tempfile.TemporaryDirectory(prefix=f"{PREFIX}-check-") as root:
            # The train image (TensorFlow: minutes when cold) builds while the rest runs.
            print("build: the repo's Dockerfile, runtime target (train target meanwhile)")
            train = pool.submit(build_train)
            record("build_runtime", build_runtime())
            print("image: the runtime image, from inside containers")
            record("image", check_runtime())
            print(
                f"compose: api x{REPLICAS} + lb (nginx) + prometheus, through podman's Docker API"
            )
            with Stack(Path(root)) as stack:
                record("compose", {**stack.up(REPLICAS), "served": check_spread(stack)})
                record("grpc", stack.check_grpc())
                stack.start_monitoring()  # scraping starts while the faults run
                print("faults under load through nginx")
                record("faults", run_faults(stack, lambda: PredictClient(stack.lb_port)))
                record("monitoring", stack.check_monitoring(REPLICAS))
            print("kubernetes: podman kube play deploy/k8s/deployment.yaml")
            record("kube", check_kube())
            print("train: the train target")
            record("build_train", train.result())
            check_train()
    finally:
        pool.shutdown(cancel_futures=True)
        clean_up()
    seconds = time.monotonic() - start
    record("seconds", round(seconds))
    print(f"deploy checks passed in {seconds:.0f} s; figures in {FIGURES.relative_to(REPO)}")
    return 0


def interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # so that the clean-up runs


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, interrupted)
    try:
        sys.exit(main())
    except CheckFailed as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
