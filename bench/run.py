"""`make bench`: every figure measured side by side in one run on this machine, as ratios.

    python -m bench.run [--seconds 5] [--rounds 3] [--data ../shared/data/imdb]

Servers run pinned to CPU 0 and the load generator (wrk) to CPU 1, so neither steals the other's
core. Results go to bench/results.md and bench/results.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from harness import free_port, wait_ready
from service.card import MANIFEST, Manifest
from service.registry import SentimentModel, load_registry
from service.tokenizer import encode_explained
from training.data import find_dataset, read_dataset

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench"
SERVER_CPU, CLIENT_CPU = "0", "1"
GRPC = "service over gRPC (ModelInfer, Python client)"
TRACED = "service, tracing on (OTLP/HTTP)"
JSON = {"content-type": "application/json"}
LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("BODY_FILE"), "r")
wrk.body = f:read("*a")
f:close()
"""


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    cpu_us: float = 0.0
    """The server's CPU time per request: steadier than throughput on a shared machine."""


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def wrk(url: str, body: Path, connections: int, seconds: float) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA)
    command = [
        "taskset",
        "-c",
        CLIENT_CPU,
        "wrk",
        "-t1",
        "--timeout",
        "30s",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-s",
        script.name,
        url,
    ]
    out = subprocess.run(
        command,
        env={**os.environ, "BODY_FILE": str(body)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    os.unlink(script.name)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return Load(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(latency["50"]),
        p99_ms=_ms(latency["99"]),
        requests=int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        errors=(int(non_2xx.group(1)) if non_2xx else 0)
        + (sum(map(int, sockets.groups())) if sockets else 0),
    )


def grpc_load(target: str, review: str, connections: int, seconds: float) -> Load:
    """bench/grpc_load.py, pinned to the client's core as wrk is."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as text:
        text.write(review)
    command = ["taskset", "-c", CLIENT_CPU, sys.executable, "-m", "bench.grpc_load", target]
    options = ["--text-file", text.name, "--connections", str(connections)]
    out = subprocess.run(
        [*command, *options, "--seconds", str(seconds)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    os.unlink(text.name)
    return Load(**json.loads(out))


class _Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that accepts every export and keeps nothing."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def otlp_sink() -> Iterator[str]:
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=sink.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sink.server_address[1]}"
    finally:
        sink.shutdown()
        sink.server_close()


@contextmanager
def server(
    kind: str,
    log: Path | None = None,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    **more_env: str,
) -> Iterator[tuple[str, float, int]]:
    """Start `python -m service` (with its default settings unless `env` says otherwise) or a
    baseline (`kind`) from `cwd`, its output into `log`; yield (url, start-to-ready s, pid)."""
    port = free_port()
    module = ["-m", "service"] if kind == "service" else ["-m", "bench.serve", kind]
    environ = {
        **os.environ,
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "SENTIMENT_GRPC_PORT": "0",  # unless a variant asks: 8001 may be taken
        "SENTIMENT_DRAIN_SECONDS": "0",  # benchmarks stop many servers; none measures the drain
        **(env or {}),
        **more_env,
    }
    started = time.monotonic()
    with open(log or os.devnull, "ab") as output:
        process = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, sys.executable, *module],
            cwd=cwd,
            env=environ,
            stdout=output,
            stderr=output,
        )
    try:
        path = "/health/ready" if kind in ("service", "refusing") else "/openapi.json"
        wait_ready(f"http://127.0.0.1:{port}{path}", process, interval=0.01)
        yield f"http://127.0.0.1:{port}", time.monotonic() - started, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a stuck shutdown must not lose the run's figures
            print(f"warning: {kind} ignored SIGTERM for 60 s; killed", file=sys.stderr)
            process.kill()
            process.wait()


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A memory figure of /proc/PID/status in MB: resident (VmRSS) or its peak (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


def workers(pid: int) -> list[int]:
    """uvicorn's worker processes under its supervisor (not multiprocessing's resource tracker)."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    pids = [int(p) for p in out.split()]
    return [p for p in pids if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]


def post_once(url: str, path: str, body: bytes) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=120)
    try:
        connection.request("POST", path, body, {"content-type": "application/json"})
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status}")


def write_body(path: Path, payload: dict[str, Any]) -> Path:
    path.write_text(json.dumps(payload))
    return path


def median_us(fn: Any, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


BARE = "bare FastAPI app (stock uvicorn)"
STARLETTE = "service, fast path off, /predict a plain Starlette Route"
MINIMAL = "15-line FastAPI app (tokenize + onnxruntime, stock uvicorn)"
SERVICE = "service (defaults: JSON access log, metrics)"


def publish(out: Path, name: str, result: Any, text: str) -> None:
    """A benchmark's figures as `out/name.json` and its report as `out/name.md`, and the report
    printed."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / f"{name}.md").write_text(text)
    print(text)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(url: str, pid: int, body: Path, connections: int, seconds: float) -> Load:
    """A wrk run after a one-second warm-up, with the server's CPU time per request."""
    wrk(f"{url}/predict", body, connections, 1)
    before = cpu_seconds(pid)
    load = wrk(f"{url}/predict", body, connections, seconds)
    load.cpu_us = (cpu_seconds(pid) - before) / max(load.requests, 1) * 1e6
    return load


Variants = dict[str, tuple[str, dict[str, str]]]


def interleaved(
    tmp: Path,
    body: Path,
    variants: Variants,
    connections: int,
    seconds: float,
    rounds: int,
    grpc: dict[str, tuple[str, str]] | None = None,
) -> dict[str, list[Load]]:
    """Every variant once per round, in turn, so drift in the machine hits each alike. The
    servers log (those that do) into a file, as they would in production. Variants named in
    `grpc` (name -> (target, review)) are loaded over gRPC instead of wrk."""
    runs: dict[str, list[Load]] = {name: [] for name in variants}
    for _ in range(rounds):
        for i, (name, (kind, env)) in enumerate(variants.items()):
            with server(kind, log=tmp / f"server-{i}.log", env=env) as (url, _, pid):
                if grpc and name in grpc:
                    before = cpu_seconds(pid)
                    load = grpc_load(*grpc[name], connections, seconds)
                    load.cpu_us = (cpu_seconds(pid) - before) / max(load.requests, 1) * 1e6
                    runs[name].append(load)
                    continue
                runs[name].append(measured(url, pid, body, connections, seconds))
    return runs


def summary(loads: list[Load], reference: list[Load]) -> dict[str, Any]:
    """The median round by throughput, every round's throughput and its ratio to the
    reference's in the same round, and the median of those ratios."""
    ordered = sorted(loads, key=lambda load: load.rps)
    chosen = ordered[len(ordered) // 2]
    ratios = [load.rps / ref.rps for load, ref in zip(loads, reference, strict=False)]
    return {
        **asdict(chosen),
        "cpu_us_per_request": statistics.median(load.cpu_us for load in loads),
        "rounds_rps": [round(load.rps, 1) for load in loads],
        "rounds_ratio": [round(r, 3) for r in ratios],
        "ratio": statistics.median(ratios),
    }


def single_review_throughput(tmp: Path, review: str, seconds: float, rounds: int) -> dict[str, Any]:
    """(a) and (c): POST /predict (rnn2, one worker, 16 connections) against the baselines, and
    the same review over gRPC (ModelInfer) and with tracing on."""
    body = write_body(tmp / "single.json", {"text": review, "model": "rnn2"})
    grpc_port = str(free_port())
    grpc = {GRPC: (f"127.0.0.1:{grpc_port}", review)}
    with otlp_sink() as collector:
        variants: Variants = {
            BARE: ("bare", {}),
            "noop endpoint, the service's uvicorn options": ("noop", {}),
            SERVICE: ("service", {}),
            "service, access log off (log level warning)": (
                "service",
                {"SENTIMENT_LOG_LEVEL": "warning"},
            ),
            "service, fast path off": ("service", {"SENTIMENT_FAST_PATH": "false"}),
            STARLETTE: ("starlette", {"SENTIMENT_FAST_PATH": "false"}),
            "service, micro-batching off": ("service", {"SENTIMENT_BATCH_MAX_SIZE": "1"}),
            GRPC: ("service", {"SENTIMENT_GRPC_PORT": grpc_port}),
            TRACED: ("service", {"OTEL_EXPORTER_OTLP_ENDPOINT": collector}),
        }
        runs = interleaved(tmp, body, variants, 16, seconds, rounds, grpc)
    with server("keras", log=tmp / "keras.log") as (url, _, pid):
        for _ in range(3):  # Keras traces its predict function on first use
            post_once(url, "/predict", body.read_bytes())
        runs["Keras model.predict in FastAPI"] = [measured(url, pid, body, 16, max(seconds, 10))]
    return {name: summary(loads, runs[BARE]) for name, loads in runs.items()}


def lone_request(tmp: Path, review: str, seconds: float, rounds: int) -> dict[str, Any]:
    """One connection: the service's latency against the 15-line app's, interleaved rounds."""
    body = write_body(tmp / "lone.json", {"text": review, "model": "rnn2"})
    variants: Variants = {MINIMAL: ("minimal", {}), SERVICE: ("service", {})}
    runs = interleaved(tmp, body, variants, 1, seconds, rounds)
    result = {name: summary(loads, runs[MINIMAL]) for name, loads in runs.items()}
    for name, loads in runs.items():
        result[name]["rounds_p50_ms"] = [load.p50_ms for load in loads]
        result[name]["rounds_p99_ms"] = [load.p99_ms for load in loads]
        result[name]["p50_ms"] = statistics.median(load.p50_ms for load in loads)
        result[name]["p99_ms"] = statistics.median(load.p99_ms for load in loads)
    return result


def batch_throughput(tmp: Path, texts: list[str], repeat: int) -> dict[str, Any]:
    """(b): POST /predict/batch with 1,000 reviews against the naive in-process pipeline.

    Two client connections, so sending and reading one batch overlaps scoring the other: the
    figure is what the service delivers, not one client's round trips."""
    payload = json.dumps({"texts": texts, "model": "rnn2"}).encode()
    with server("service") as (url, _, _pid):
        post_once(url, "/predict/batch", payload)
        port = int(url.rsplit(":", 1)[1])

        def client(count: int) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            try:
                for _ in range(count):
                    connection.request("POST", "/predict/batch", payload, JSON)
                    response = connection.getresponse()
                    response.read()
                    assert response.status == 200
            finally:
                connection.close()

        start = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(client, [repeat // 2, repeat - repeat // 2]))
        http_s = (time.perf_counter() - start) / repeat
    os.sched_setaffinity(0, {int(SERVER_CPU)})  # the naive pipeline gets the same single core
    model = load_registry(ROOT / "models", "rnn2").get("rnn2")

    def naive() -> None:
        ids = np.stack([encode_explained(t, model.vocabulary, 20).ids for t in texts])
        model.score_ids(ids)

    naive()
    start = time.perf_counter()
    for _ in range(repeat):
        naive()
    naive_s = (time.perf_counter() - start) / repeat
    os.sched_setaffinity(0, {0, 1})
    return {
        "texts": len(texts),
        "service_texts_per_s": len(texts) / http_s,
        "naive_in_process_texts_per_s": len(texts) / naive_s,
        "ratio": naive_s / http_s,
    }


def cost_by_length(reviews: list[str], models: list[str]) -> dict[str, Any]:
    """(d): tokenizer + inference time per text, by review length, for each model's window."""
    registry = load_registry(ROOT / "models", "rnn2")
    long_text = " ".join(reviews)
    table: dict[str, Any] = {}
    for name in models:
        model = registry.get(name)
        row = {}
        for length in (100, 1_000, 10_000, 100_000):
            text = long_text[-length:]

            def one(text: str = text, model: SentimentModel = model) -> None:
                ids, _ = model.encode_window(text)
                model.score_ids(ids[None, :])

            row[str(length)] = median_us(one, 300)
        table[name] = row
    return table


def latency_by_model(tmp: Path, review: str, models: list[str], seconds: float) -> dict[str, Any]:
    """Single-review latency at one connection, every model in the same server."""
    result = {}
    with server("service") as (url, _, _pid):
        for name in models:
            body = write_body(tmp / f"{name}.json", {"text": review, "model": name})
            wrk(f"{url}/predict", body, 1, 1)
            result[name] = asdict(wrk(f"{url}/predict", body, 1, seconds))
    return result


LATENCY_HEADER = "| model | p50 ms | p99 ms | requests/s | p50 vs rnn2 | may be the default |"
DEFAULT_BUDGET = 3.0
"""A model may be the default only if its single-review p50 is within this many times rnn2's."""


def latency_rows(latency: dict[str, Any]) -> list[str]:
    """One table row per model: p50, p99, requests/s, p50 against rnn2's, within the budget."""
    base = latency["rnn2"]["p50_ms"]
    rows = []
    for name, load in latency.items():
        within = "yes" if load["p50_ms"] <= DEFAULT_BUDGET * base else "no"
        rows.append(
            f"| {name} | {load['p50_ms']:.3f} | {load['p99_ms']:.3f} | {load['rps']:.0f} | "
            f"{load['p50_ms'] / base:.2f} | {within} |"
        )
    return rows


def startup_and_memory(tmp: Path, review: str) -> dict[str, Any]:
    """(e): start-to-ready, and resident memory per worker after some traffic."""
    body = write_body(tmp / "warm.json", {"text": review})
    with server("service") as (url, ready_s, pid):
        wrk(f"{url}/predict", body, 8, 2)
        one_worker = rss_mb(pid)
    with server("service", WEB_CONCURRENCY="2") as (url, ready2_s, pid):
        wrk(f"{url}/predict", body, 8, 2)
        per_worker = [round(rss_mb(child), 1) for child in workers(pid)]
    return {
        "start_to_ready_s_1_worker": ready_s,
        "start_to_ready_s_2_workers": ready2_s,
        "rss_mb_1_worker": one_worker,
        "rss_mb_per_worker_of_2": per_worker,
    }


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    import fastapi
    import onnxruntime
    import uvicorn

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "fastapi": fastapi.__version__,
        "uvicorn": uvicorn.__version__,
        "load_average_at_start": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def report(results: dict[str, Any]) -> str:
    single = results["single"]
    ours, keras = single[SERVICE], single["Keras model.predict in FastAPI"]
    m = results["machine"]
    load = m["load_average_at_start"]
    lines = [
        "# Benchmark results",
        "",
        f"Measured by `make bench` on {m['date']}: {m['cpu']}, {m['cores']} cores, Python "
        f"{m['python']}, onnxruntime {m['onnxruntime']}, FastAPI {m['fastapi']}, uvicorn "
        f"{m['uvicorn']}; load average at start {', '.join(f'{x:.2f}' for x in load)}. "
        "Servers pinned to CPU 0, wrk to CPU 1; one uvicorn worker; every figure of a table comes "
        "from the same run. The services run with their default settings (JSON access log into "
        "a file, metrics on) unless a row says otherwise.",
        "",
        "## (a, c) Single review, POST /predict, rnn2, 16 connections",
        "",
        f"A real review of {results['review_chars']} characters. {results['rounds']} interleaved "
        f"rounds of {results['seconds']} s; the row shows the median round, and the ratio to the "
        "bare app is taken in each round, then the median of those. CPU is the server's CPU time "
        "per request (steadier than requests/s when other work shares the machine).",
        "",
        "| server | requests/s | p50 ms | p99 ms | errors | CPU us/request | vs bare | "
        "each round vs bare |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, row in single.items():
        lines.append(
            f"| {name} | {row['rps']:.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | "
            f"{row['errors']} | {row['cpu_us_per_request']:.0f} | {row['ratio']:.2f} | "
            f"{', '.join(f'{r:.2f}' for r in row['rounds_ratio'])} |"
        )
    lines += [
        "",
        f"- (a) service / bare FastAPI app throughput: **{ours['ratio']:.2f}** (goal >= 0.80, "
        "moonshot 0.90)",
        f"- (c) service / Keras-in-FastAPI throughput: **{ours['rps'] / keras['rps']:.1f}x** "
        "(goal >= 20x)",
        f"- gRPC / REST throughput: **{single[GRPC]['rps'] / ours['rps']:.2f}** (ModelInfer "
        "with the same review, tritonclient's raw encoding; the load comes from "
        "bench/grpc_load.py, a Python asyncio client, as no gRPC load generator is packaged)",
        f"- tracing on / off throughput: **{single[TRACED]['rps'] / ours['rps']:.2f}** (every "
        "request traced and exported to a local OTLP/HTTP sink)",
        f"- plain Starlette Route / fast path throughput: "
        f"**{single[STARLETTE]['ratio'] / ours['ratio']:.2f}** (issue 12: the fast path stays "
        "unless the route reaches 0.9)",
    ]
    lone = results["lone"]
    lines += [
        "",
        "## Lone request: POST /predict at 1 connection",
        "",
        "| server | p50 ms | p99 ms | requests/s | CPU us/request | each round p50 / p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, row in lone.items():
        rounds = ", ".join(
            f"{a:.3f} / {b:.3f}"
            for a, b in zip(row["rounds_p50_ms"], row["rounds_p99_ms"], strict=True)
        )
        lines.append(
            f"| {name} | {row['p50_ms']:.3f} | {row['p99_ms']:.3f} | {row['rps']:.0f} | "
            f"{row['cpu_us_per_request']:.0f} | {rounds} |"
        )
    mine, minimal = lone[SERVICE], lone[MINIMAL]
    lines += [
        "",
        f"- service / 15-line app: p50 **{mine['p50_ms'] / minimal['p50_ms']:.2f}**, p99 "
        f"**{mine['p99_ms'] / minimal['p99_ms']:.2f}** (goal <= 1)",
    ]
    batch = results["batch"]
    lines += [
        "",
        "## (b) POST /predict/batch with 1,000 real reviews",
        "",
        "| pipeline | texts/s |",
        "| --- | ---: |",
        f"| service over HTTP | {batch['service_texts_per_s']:.0f} |",
        f"| naive in-process: tokenize every whole review, then onnxruntime | "
        f"{batch['naive_in_process_texts_per_s']:.0f} |",
        "",
        f"- service / naive: **{batch['ratio']:.2f}x** (goal >= 2x)",
    ]
    lengths = results["length"]
    sizes = list(next(iter(lengths.values())))
    lines += [
        "",
        "## (d) Tokenizer + inference per text, by review length (microseconds, median)",
        "",
        "| model | " + " | ".join(f"{int(s):,} chars" for s in sizes) + " | 100,000 / 100 |",
        "| --- |" + " ---: |" * (len(sizes) + 1),
    ]
    for name, row in lengths.items():
        lines.append(
            f"| {name} | "
            + " | ".join(f"{row[s]:.0f}" for s in sizes)
            + f" | {row[sizes[-1]] / row[sizes[0]]:.2f} |"
        )
    latency = results["latency"]
    lines += [
        "",
        "## Single-review latency by model (1 connection)",
        "",
        LATENCY_HEADER,
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    lines += latency_rows(latency)
    start = results["startup"]
    lines += [
        "",
        "## (e) Start-up and memory",
        "",
        "- start to ready (process start to /health/ready 200): "
        f"{start['start_to_ready_s_1_worker']:.2f} s "
        f"with 1 worker, {start['start_to_ready_s_2_workers']:.2f} s with 2",
        f"- resident memory after traffic: {start['rss_mb_1_worker']:.0f} MB with 1 worker; "
        f"{', '.join(f'{x:.0f}' for x in start['rss_mb_per_worker_of_2'])} MB per worker with 2",
        "",
    ]
    return "\n".join(lines)


def latency_only(out: Path, review: str, seconds: float, rounds: int) -> int:
    """Every model's single-review latency, `rounds` times in one server; the median round's
    figures per model (rounds interleave the models, so a busy machine slows them alike)."""
    models = Manifest.read(ROOT / "models" / MANIFEST).models
    with tempfile.TemporaryDirectory() as tmp:
        runs = [latency_by_model(Path(tmp), review, models, seconds) for _ in range(rounds)]
    latency = {
        name: sorted((run[name] for run in runs), key=lambda load: load["p50_ms"])[rounds // 2]
        for name in models
    }
    results = {
        "machine": machine(),
        "review_chars": len(review),
        "rounds": runs,
        "latency": latency,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "latency.json").write_text(json.dumps(results, indent=2) + "\n")
    text = "\n".join(
        [
            f"# Single-review latency by model ({len(review)}-character review, 1 connection,"
            f" median of {rounds} rounds)",
            "",
            LATENCY_HEADER,
            "| --- | ---: | ---: | ---: | ---: | --- |",
            *latency_rows(latency),
            "",
        ]
    )
    (out / "latency.md").write_text(text)
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "imdb")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--latency-only",
        action="store_true",
        help="only the single-review latency of every model (1 connection); "
        "writes latency.{md,json} in --out",
    )
    args = parser.parse_args(argv)
    test = read_dataset(find_dataset(args.data))["test"]
    review = min(test.texts, key=lambda t: (abs(len(t) - 1000), t))
    if args.latency_only:
        return latency_only(args.out, review, args.seconds, args.rounds)
    rng = np.random.default_rng(0)
    thousand = [test.texts[i] for i in rng.choice(len(test.texts), 1000, replace=False)]
    models = Manifest.read(ROOT / "models" / MANIFEST).models
    results: dict[str, Any] = {
        "machine": machine(),
        "review_chars": len(review),
        "seconds": args.seconds,
        "rounds": args.rounds,
    }
    with tempfile.TemporaryDirectory() as tmp:
        results["single"] = single_review_throughput(Path(tmp), review, args.seconds, args.rounds)
        results["lone"] = lone_request(Path(tmp), review, args.seconds, args.rounds)
        results["batch"] = batch_throughput(Path(tmp), thousand, repeat=10)
        results["length"] = cost_by_length(thousand, models)
        results["latency"] = latency_by_model(Path(tmp), review, models, args.seconds / 2)
        results["startup"] = startup_and_memory(Path(tmp), review)
    publish(args.out, "results", results, report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
