"""Where one POST /predict spends its time: py-spy on a loaded worker, split into layers.

    python -m bench.profile [--seconds 10] [--connections 16] [--root .] [--out FILE.json]

One worker (the service with its default settings, logs into a file) is pinned to CPU 0 and
loaded by wrk on CPU 1 with the same 1,000-character review as `make bench`. The worker's CPU
time over the run, divided by the requests served, is the cost of one request; py-spy's samples
of the worker's stacks split that cost between the layers below (each sample goes to the
innermost frame that belongs to a layer). `--root` profiles another checkout (say, the code
before a change) with the same script.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.run import CLIENT_CPU, ROOT, cpu_seconds, server, write_body, wrk
from training.data import find_dataset, read_dataset

# The ASGI layers between uvicorn and the route: FastAPI's and Starlette's, and the service's own.
MIDDLEWARE = (
    "run_asgi (",
    "uvicorn/middleware",
    "starlette/",
    "fastapi/",
    "anyio/",
    "service/middleware/observability.py",
    "service/middleware/limits.py",
    "service/overload.py",
    "service/middleware/api_key.py",
    "service/middleware/fastpath.py",
    "service/inference.py",
    "service/routes/",
)

# Each sample goes to the first layer in this list with a frame anywhere in the sample's stack
# ("function (file:line)") containing one of its strings: the logging module's own json.dumps
# is "log", not "response"; the application's frames (uvicorn's `run_asgi` and below) around
# every sample of the request's own work come last but one; uvicorn's protocol outside them is
# HTTP parsing.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("onnxruntime", ("onnxruntime", "score_ids (")),
    ("tokenizer", ("service/tokenizer.py",)),
    ("log", ("logging/", "pythonjsonlogger", "service/logs.py", "access_record (")),
    ("metrics", ("prometheus_client", "service/metrics.py", "record_inputs (")),
    ("batcher", ("service/batching.py",)),
    ("body parse", ("pydantic", "_read_body (", "receive (", "_plain_request_model (")),
    (
        "response",
        ("json/", "CoalescingTransport", "send (", "send_with_headers (", "server_timing ("),
    ),
    ("middleware", MIDDLEWARE),
    ("HTTP parsing", ("httptools_impl.py", "h11_impl.py", "service/protocol.py")),
]
OTHER = "event loop and sockets"
ORDER = [
    "HTTP parsing",
    "middleware",
    "body parse",
    "tokenizer",
    "batcher",
    "onnxruntime",
    "metrics",
    "log",
    "response",
    OTHER,
]


def layer_of(stack: list[str]) -> str:
    for layer, needles in LAYERS:
        if any(n in frame for frame in stack for n in needles):
            return layer
    return OTHER


def split_samples(raw: str) -> Counter[str]:
    """py-spy's raw (collapsed) output -> samples per layer."""
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, n = line.rpartition(" ")
        if stack:
            counts[layer_of(stack.split(";"))] += int(n)
    return counts


def profile(
    kind: str, root: Path, body: Path, seconds: float, connections: int, log: Path
) -> dict[str, Any]:
    with server(kind, log=log, cwd=root, PYTHONPATH=str(root)) as (url, _, pid):
        wrk(f"{url}/predict", body, connections, 2)  # warm-up
        raw = Path(tempfile.mkstemp(suffix=".txt")[1])
        py_spy = str(Path(sys.executable).parent / "py-spy")
        record = ["record", "--pid", str(pid), "--rate", "200", "--format", "raw", "--output"]
        spy = subprocess.Popen(
            [
                "taskset",
                "-c",
                CLIENT_CPU,
                py_spy,
                *record,
                str(raw),
                "--duration",
                str(int(seconds) + 2),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1)
        before = cpu_seconds(pid)
        load = wrk(f"{url}/predict", body, connections, seconds)
        used = cpu_seconds(pid) - before
        spy.wait(timeout=seconds + 60)
    samples = split_samples(raw.read_text())
    raw.unlink()
    total = sum(samples.values())
    per_request_us = used / load.requests * 1e6
    return {
        "requests_per_s": load.rps,
        "cpu_us_per_request": per_request_us,
        "cpu_share": used / seconds,
        "samples": total,
        "layers_us": {k: per_request_us * samples[k] / total for k in ORDER},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--kind", default="service", help="service, or a baseline of bench.serve")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "imdb")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    test = read_dataset(find_dataset(args.data))["test"]
    review = min(test.texts, key=lambda t: (abs(len(t) - 1000), t))
    with tempfile.TemporaryDirectory() as tmp:
        body = write_body(Path(tmp) / "single.json", {"text": review, "model": "rnn2"})
        log = Path(tmp) / "log"
        result = profile(args.kind, args.root.resolve(), body, args.seconds, args.connections, log)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
