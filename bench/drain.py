"""Shutdown under keep-alive load: does any request sent to the service go unanswered?

8 httpx clients, one keep-alive connection each, post /predict/batch with 300 real reviews in a
loop; after 1.5 s the server (`python -m service`, pinned to core 0) gets SIGTERM. Each request
ends as one of: answered; refused (the listener had closed: a client or proxy retries it
elsewhere, allowed); reset (sent, then ECONNRESET: the client cannot tell if it was processed);
no response (the connection closed, or nothing came back). A run passes with 0 resets and 0
requests without a response, and the server exiting 0. tests/test_lifecycle.py runs it a few
times; this script runs it many, for each worker count, and writes bench/drain.{md,json}.

    python -m bench.drain [--runs 20] [--workers 1 2] [--drain SECONDS]
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx2 as httpx

from harness import ROOT, free_port, wait_ready

OUT = Path(__file__).resolve().parent
SERVER_CPU = "0"


def reviews(n: int = 300) -> list[str]:
    """n real test reviews: the golden sets of the committed models, repeated as needed."""
    manifest = json.loads((ROOT / "models" / "manifest.json").read_text(encoding="utf-8"))
    texts = [
        g["text"]
        for name in manifest["models"]
        for g in json.loads((ROOT / "models" / name / "golden.json").read_text(encoding="utf-8"))
    ]
    return [texts[i % len(texts)] for i in range(n)]


@dataclass
class Run:
    workers: int
    answered: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    refused: int = 0
    reset: int = 0
    no_response: int = 0
    errors: list[str] = field(default_factory=list)
    sent_after_not_ready: int = 0
    """Requests sent after a readiness probe, itself sent after SIGTERM, got its 503."""
    connection_close_after_not_ready: int = 0
    not_ready_after_s: float | None = None
    """From SIGTERM to the sending of the first readiness probe answered 503 (20 ms apart)."""
    exit_code: int | None = None
    shutdown_s: float = 0.0

    @property
    def ok(self) -> bool:
        every_closing = self.connection_close_after_not_ready == self.sent_after_not_ready
        return self.reset == 0 and self.no_response == 0 and self.exit_code == 0 and every_closing


def classify(error: Exception) -> str:
    """refused, reset or no_response, for an exception httpx raised on one request."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "refused"
        if isinstance(cause, ConnectionResetError) or (
            isinstance(cause, OSError) and cause.errno == errno.ECONNRESET
        ):
            return "reset"
        cause = cause.__cause__ or cause.__context__
    if isinstance(error, httpx.ConnectError) and "refused" in str(error).lower():
        return "refused"
    if "reset" in str(error).lower():
        return "reset"
    return "no_response"


def start_server(port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    environ = {
        **os.environ,
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "SENTIMENT_LOG_LEVEL": "warning",
        **env,
    }
    command = [sys.executable, "-m", "service"]
    if os.cpu_count() and os.cpu_count() > 1:  # type: ignore[operator]
        command = ["taskset", "-c", SERVER_CPU, *command]
    return subprocess.Popen(command, cwd=ROOT, env=environ)


def run_once(
    workers: int,
    clients: int = 8,
    texts: int = 300,
    sigterm_after: float = 1.5,
    env: dict[str, str] | None = None,
) -> Run:
    """One scenario: start a server, load it, SIGTERM it, and count what each request got."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_server(port, workers, env or {})
    run = Run(workers)
    try:
        wait_ready(f"{url}/health/ready", process)
        body = json.dumps({"texts": reviews(texts)}).encode()
        lock = threading.Lock()
        sigterm_at: list[float] = []
        not_ready_at: list[float] = []

        def client() -> None:
            limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
            with httpx.Client(base_url=url, limits=limits, timeout=60) as http:
                while process.poll() is None:
                    sent = time.monotonic()
                    try:
                        response = http.post(
                            "/predict/batch",
                            content=body,
                            headers={"content-type": "application/json"},
                        )
                    except httpx.HTTPError as e:
                        kind = classify(e)
                        with lock:
                            setattr(run, kind, getattr(run, kind) + 1)
                            if kind != "refused":
                                run.errors.append(repr(e))
                        return  # the listener is closed, or the request failed: this client ends
                    with lock:
                        run.answered += 1
                        key = str(response.status_code)
                        run.statuses[key] = run.statuses.get(key, 0) + 1
                        if not_ready_at and sent > not_ready_at[0]:
                            run.sent_after_not_ready += 1
                            closing = response.headers.get("connection", "").lower() == "close"
                            run.connection_close_after_not_ready += closing

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for t in threads:
            t.start()
        time.sleep(sigterm_after)
        sigterm_at.append(time.monotonic())
        process.send_signal(signal.SIGTERM)  # as docker stop and the kubelet do: to PID 1
        while process.poll() is None and run.not_ready_after_s is None:
            probe = time.monotonic()
            try:
                if httpx.get(f"{url}/health/ready", timeout=10).status_code == 503:
                    run.not_ready_after_s = probe - sigterm_at[0]
                    not_ready_at.append(probe)
            except httpx.HTTPError:
                break
            time.sleep(0.02)
        run.exit_code = process.wait(timeout=120)
        run.shutdown_s = time.monotonic() - sigterm_at[0]
        for t in threads:
            t.join(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return run


WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"text": "A wonderful film, moving and beautifully acted."}'
"""


@dataclass
class WrkRun:
    workers: int
    past_drain: bool
    requests: int
    non_2xx: int
    connect: int
    read: int
    write: int
    timeout: int
    exit_code: int

    @property
    def lost(self) -> int:
        """Requests that got no answer (a non-2xx, such as admission control's 503, is one);
        past the drain, write errors are refusals (allowed)."""
        refusals = 0 if self.past_drain else self.write + self.connect
        return self.read + self.timeout + refusals


def run_wrk(
    workers: int,
    sigterm_after: float = 2.0,
    env: dict[str, str] | None = None,
    past_drain: bool = True,
) -> WrkRun:
    """wrk's keep-alive load (16 connections, POST /predict) through a SIGTERM: wrk counts
    connect errors, read errors (a reset, or a connection closed with no response) and write
    errors, where it also counts each connection refused once the listener closed (its connect is
    non-blocking: the refusal shows on the first write). So a run that ends 1 s before the drain
    does (`past_drain=False`) must have no error at all."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_server(port, workers, env or {})
    script = OUT / ".drain-wrk.lua"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    try:
        wait_ready(f"{url}/health/ready", process)
        drain = float((env or {}).get("SENTIMENT_DRAIN_SECONDS", 6))
        seconds = int(sigterm_after + drain + 4) if past_drain else int(sigterm_after + drain - 1)
        command = ["wrk", "-t1", "-c16", f"-d{seconds}s", "--timeout", "10s", "-s", str(script)]
        if os.cpu_count() and os.cpu_count() > 1:  # type: ignore[operator]
            command = ["taskset", "-c", "1", *command]
        wrk = subprocess.Popen([*command, f"{url}/predict"], stdout=subprocess.PIPE, text=True)
        time.sleep(sigterm_after)
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=120)
        out, _ = wrk.communicate(timeout=120)
    finally:
        script.unlink(missing_ok=True)
        if process.poll() is None:
            process.kill()
            process.wait()
    errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    for line in out.splitlines():
        if "Socket errors:" in line:
            for part in line.split(":", 1)[1].split(","):
                name, value = part.split()
                errors[name] = int(value)
    requests = next(int(line.split()[0]) for line in out.splitlines() if "requests in" in line)
    non_2xx = next((int(line.split(":")[1]) for line in out.splitlines() if "Non-2xx" in line), 0)
    return WrkRun(workers, past_drain, requests, non_2xx, exit_code=exit_code, **errors)


def summarize(runs: list[Run]) -> dict[str, object]:
    total: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for r in runs:
        statuses.update(r.statuses)
        total.update(
            answered=r.answered, refused=r.refused, reset=r.reset, no_response=r.no_response
        )
    return {
        "runs": len(runs),
        "passed": sum(r.ok for r in runs),
        **total,
        "statuses": dict(sorted(statuses.items())),
        "exit_codes": sorted({r.exit_code for r in runs if r.exit_code is not None}),
        "sent_after_not_ready": sum(r.sent_after_not_ready for r in runs),
        "connection_close_after_not_ready": sum(r.connection_close_after_not_ready for r in runs),
        "max_not_ready_after_s": max((r.not_ready_after_s or 0.0) for r in runs),
        "median_shutdown_s": sorted(r.shutdown_s for r in runs)[len(runs) // 2],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--drain", type=float, help="SENTIMENT_DRAIN_SECONDS (default: the service's)"
    )
    parser.add_argument("--out", default="drain", help="bench/<out>.{md,json}")
    parser.add_argument("--wrk-runs", type=int, default=3, help="wrk runs per worker count")
    args = parser.parse_args(argv)
    env = {} if args.drain is None else {"SENTIMENT_DRAIN_SECONDS": str(args.drain)}
    results: dict[str, object] = {}
    lines = [
        "# Shutdown under keep-alive load (`python -m bench.drain`)",
        "",
        "8 httpx clients, one keep-alive connection each, POST /predict/batch with 300 real "
        "reviews in a loop, SIGTERM after 1.5 s; measured while other work ran.",
        "",
        "| workers | runs | passed | answered (by status) | refused (allowed) | reset "
        "| no response | "
        "sent once readiness said 503 (answered with Connection: close) | exit codes | "
        "readiness 503 for a probe sent after | "
        "median SIGTERM to exit |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    all_runs: list[Run] = []
    for workers in args.workers:
        runs = [run_once(workers, env=env) for _ in range(args.runs)]
        all_runs += runs
        s = summarize(runs)
        results[str(workers)] = {"summary": s, "runs": [asdict(r) for r in runs]}
        print(workers, json.dumps(s), file=sys.stderr)
        lines.append(
            f"| {workers} | {s['runs']} | {s['passed']} | {s['answered']} {s['statuses']} | "
            f"{s['refused']} | "
            f"{s['reset']} | {s['no_response']} | {s['sent_after_not_ready']} "
            f"({s['connection_close_after_not_ready']}) | {s['exit_codes']} | "
            f"<= {s['max_not_ready_after_s']:.2f} s | {s['median_shutdown_s']:.1f} s |"
        )
    lines += [
        "",
        "wrk keep-alive load (16 connections, POST /predict), SIGTERM after 2 s, until 1 s before "
        "the drain ends, then past it. wrk counts a connection refused once the listener closed "
        "as a write error (its connect is non-blocking); read errors are resets or connections "
        "closed without a response:",
        "",
        "| workers | until | requests | non-2xx | connect errors | read errors | write errors "
        "| timeouts | exit code |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    wrk_runs = []
    for workers in args.workers:
        for past_drain in [False] * args.wrk_runs + [True] * args.wrk_runs:
            w = run_wrk(workers, env=env, past_drain=past_drain)
            wrk_runs.append(w)
            print(json.dumps(asdict(w)), file=sys.stderr)
            until = "past the drain" if past_drain else "1 s before the drain ends"
            lines.append(
                f"| {workers} | {until} | {w.requests} | {w.non_2xx} | {w.connect} "
                f"| {w.read} | {w.write} | {w.timeout} | {w.exit_code} |"
            )
    results["wrk"] = [asdict(w) for w in wrk_runs]
    (OUT / f"{args.out}.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (OUT / f"{args.out}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    failed = sum(not r.ok for r in all_runs)
    lost = sum(w.lost for w in wrk_runs)
    return 1 if failed or lost else 0


if __name__ == "__main__":
    sys.exit(main())
