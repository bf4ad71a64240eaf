"""`python -m bench.hostile`: what hostile request bodies cost one worker. For each body, the
status and size of the answer, the time it took, the worker's peak resident memory above its idle
level while answering (VmHWM, reset before each request through /proc/PID/clear_refs), and the
slowest `/health/live` answer meanwhile (a probe every 10 ms). Writes bench/hostile.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.run import OUT, machine, publish, rss_mb, server

MB = 1024 * 1024


_REVIEW = "A slow, strange and often wonderful film; the cast is fine, the ending weak. " * 140


def _items(item: str, size: int) -> str:
    return ",".join([item] * (size // (len(item) + 1)))


HOSTILE: dict[str, tuple[str, Callable[[int], bytes]]] = {
    "batch of integers": ("/predict/batch", lambda n: f'{{"texts":[{_items("1", n)}]}}'.encode()),
    "batch of short strings": (
        "/predict/batch",
        lambda n: f'{{"texts":[{_items(chr(34) + "ab" + chr(34), n)}]}}'.encode(),
    ),
    "compare of integers": ("/compare", lambda n: f'{{"texts":[{_items("1", n)}]}}'.encode()),
    "v2 inputs of integers": (
        "/v2/models/rnn2/infer",
        lambda n: f'{{"inputs":[{_items("1", n)}]}}'.encode(),
    ),
    "predict with a million keys": (
        "/predict",
        lambda n: ('{"text":"a",' + ",".join(f'"k{i}":1' for i in range(n // 10)) + "}").encode(),
    ),
    "nested arrays": ("/predict/batch", lambda n: b'{"texts":' + b"[" * n + b"]" * n + b"}"),
    "one long text": ("/predict", lambda n: b'{"text":"' + b"a" * n + b'"}'),
    "explain, 32 texts of 9,900 characters (fasttext)": (
        "/predict/batch",
        lambda _n: json.dumps(
            {"texts": [_REVIEW[:9900]] * 32, "model": "fasttext", "explain": True}
        ).encode(),
    ),
}


def _post(port: int, path: str, body: bytes) -> tuple[int, int]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        # Refused before the body was all sent: the answer is waiting to be read all the same.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.request("POST", path, body, {"content-type": "application/json"})
        response = connection.getresponse()
        return response.status, len(response.read())
    finally:
        connection.close()


def measure(url: str, pid: int, name: str, size: int) -> dict[str, Any]:
    """One hostile request of `size` bytes (about), measured as the module docstring says."""
    port = int(url.rsplit(":", 1)[1])
    path, make = HOSTILE[name]
    body = make(size)
    idle = rss_mb(pid)
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    slowest = 0.0
    done = threading.Event()

    def probe() -> None:
        nonlocal slowest
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not done.is_set():
            start = time.perf_counter()
            connection.request("GET", "/health/live")
            connection.getresponse().read()
            slowest = max(slowest, time.perf_counter() - start)
            time.sleep(0.01)
        connection.close()

    prober = threading.Thread(target=probe)
    prober.start()
    start = time.perf_counter()
    status, answer_bytes = _post(port, path, body)
    seconds = time.perf_counter() - start
    done.set()
    prober.join()
    return {
        "request": name,
        "path": path,
        "body_mb": len(body) / MB,
        "status": status,
        "answer_bytes": answer_bytes,
        "seconds": seconds,
        "peak_rss_above_idle_mb": rss_mb(pid, "VmHWM") - idle,
        "slowest_live_ms": slowest * 1000,
    }


def report(rows: list[dict[str, Any]], m: dict[str, Any]) -> str:
    lines = [
        "# Hostile requests",
        "",
        f"`python -m bench.hostile` on {m['date']}: {m['cpu']}, {m['cores']} cores; one worker. "
        "Peak RSS is the worker's VmHWM above its idle RSS while answering; the slowest "
        "`/health/live` is from a probe every 10 ms meanwhile.",
        "",
        "| request | path | body | status | answer | time | peak RSS above idle | slowest live |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['request']} | `{r['path']}` | {r['body_mb']:.1f} MB | {r['status']} | "
            f"{r['answer_bytes']:,} B | {r['seconds'] * 1000:.0f} ms | "
            f"{r['peak_rss_above_idle_mb']:.0f} MB | {r['slowest_live_ms']:.0f} ms |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rows = []
    with server("service") as (url, _, pid):
        for name in HOSTILE:
            if name == "nested arrays" or name.startswith("explain"):
                rows.append(measure(url, pid, name, 100_000))
                continue
            for size in (150_000, MB, 10 * MB - 1024):
                rows.append(measure(url, pid, name, size))
    publish(args.out, "hostile", rows, report(rows, machine()))
    return 0 if all(r["status"] < 500 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
