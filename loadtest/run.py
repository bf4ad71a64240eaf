"""Headless load test with a report: requests/s, p50/p95/p99 latency, errors, and a plot over time.

    python -m loadtest.run --url http://127.0.0.1:8000 --users 16 --duration 30
    python -m loadtest.run --url http://127.0.0.1:8000 --rate 500 --duration 30   # open loop
    python -m loadtest.run --url http://127.0.0.1:8000 --grpc 127.0.0.1:8001 [--rate 500]

Closed loop (default) runs locust with loadtest/locustfile.py: each user waits for its answer
before sending again, so an overloaded server slows the clients down. Open loop sends at a fixed
arrival rate whatever the answers, and times each request from when it was due, so tail latency
under overload is reported honestly instead of hidden by waiting clients.
With --grpc the same mix goes to the gRPC server as ModelInfer calls (loadtest/grpc_mix.py;
--url still names the HTTP side, for the list of models), closed or open loop as above.
Writes report.md, report.json and report.png into --out.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from loadtest.mix import CHAPTER_MODELS, REFUSED, Call, is_refusal, mix_models, next_call
from loadtest.report import write_report

HERE = Path(__file__).resolve().parent


def run_closed(url: str, users: int, duration_s: int, out: Path) -> dict[str, Any]:
    prefix = out / "locust"
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(HERE / "locustfile.py"),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{duration_s}s",
        "--host",
        url,
        "--csv",
        str(prefix),
        "--csv-full-history",
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    subprocess.run(command, cwd=HERE.parent, check=False)  # exits 1 when any request failed
    with open(f"{prefix}_stats.csv", newline="") as f:
        rows = {row["Name"]: row for row in csv.DictReader(f)}
    total = rows["Aggregated"]
    by_kind = {
        name: {
            "requests": int(r["Request Count"]),
            "failures": int(r["Failure Count"]),
            "p50_ms": float(r["50%"]),
            "p99_ms": float(r["99%"]),
        }
        for name, r in rows.items()
        if name != "Aggregated"
    }
    with open(f"{prefix}_failures.csv", newline="") as f:
        refused = sum(int(r["Occurrences"]) for r in csv.DictReader(f) if REFUSED in r["Error"])
    with open(f"{prefix}_stats_history.csv", newline="") as f:
        history = [r for r in csv.DictReader(f) if r["Name"] == "Aggregated" and r["50%"] != "N/A"]
    start = float(history[0]["Timestamp"]) if history else 0.0
    timeline = [
        {
            "t": float(r["Timestamp"]) - start,
            "rps": float(r["Requests/s"]),
            "p50_ms": float(r["50%"]),
            "p95_ms": float(r["95%"]),
            "p99_ms": float(r["99%"]),
        }
        for r in history
    ]
    return {
        "mode": "closed loop (locust)",
        "url": url,
        "users": users,
        "duration_s": duration_s,
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]) - refused,
        "refused": refused,
        "expected_4xx": by_kind.get("bad input (expected 4xx)", {}).get("requests", 0),
        "rps": float(total["Requests/s"]),
        "p50_ms": float(total["50%"]),
        "p95_ms": float(total["95%"]),
        "p99_ms": float(total["99%"]),
        "by_kind": by_kind,
        "timeline": timeline,
    }


@dataclass(frozen=True)
class Sent:
    due: float
    """When the request was due, in seconds from the start."""
    latency: float
    """Seconds from when it was due to its answer: waiting to be sent counts too."""
    kind: str
    status: int | None
    """The HTTP status, or None when no answer came (connection error, timeout)."""
    expected: int
    refused: bool = False
    """503 or 429 with Retry-After: the server refused in time, counted apart from errors."""


async def send_open_loop(url: str, calls: list[Call], rate: float) -> list[Sent]:
    """Send `calls` at a fixed arrival rate, whatever the answers, and time each from when due."""
    connector = aiohttp.TCPConnector(limit=1024)
    timeout = aiohttp.ClientTimeout(total=30)
    # Bodies are encoded before the clock starts: the client stays cheap.
    bodies = [json.dumps(call.body).encode() for call in calls]
    headers = {"content-type": "application/json"}
    results: list[Sent] = []
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:
        start = time.perf_counter() + 0.2

        async def one(i: int) -> None:
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            status: int | None = None
            refused = False
            try:
                async with session.post(calls[i].path, data=bodies[i], headers=headers) as response:
                    await response.read()
                    status = response.status
                    refused = is_refusal(status, response.headers)
            except (aiohttp.ClientError, TimeoutError):
                pass
            latency = time.perf_counter() - due
            results.append(
                Sent(due - start, latency, calls[i].kind, status, calls[i].expected_status, refused)
            )

        await asyncio.gather(*(one(i) for i in range(len(calls))))
    return results


async def _models(url: str) -> list[str]:
    async with aiohttp.ClientSession(url) as session, session.get("/models") as response:
        return mix_models((await response.json())["models"]) or CHAPTER_MODELS


async def _mixed_calls(url: str, count: int) -> list[Call]:
    models = await _models(url)
    rng = random.Random(0)
    return [next_call(rng, models) for _ in range(count)]


def run_open(url: str, rate: float, duration_s: int) -> dict[str, Any]:
    calls = asyncio.run(_mixed_calls(url, int(rate * duration_s)))
    results = asyncio.run(send_open_loop(url, calls, rate))
    extra = {"rate": rate, "duration_s": duration_s}
    return summarize(results, "open loop (fixed arrival rate)", url, extra)


def run_grpc(
    url: str, target: str, users: int, rate: float | None, duration_s: int
) -> dict[str, Any]:
    """The same mix as ModelInfer calls to the gRPC server at `target` (host:port)."""
    from loadtest import grpc_mix  # grpc only when asked for

    models = asyncio.run(_models(url))
    rng = random.Random(0)
    default = models[0]
    if rate:
        calls = [next_call(rng, models) for _ in range(int(rate * duration_s))]
        results = asyncio.run(grpc_mix.open_loop(target, calls, rate, default))
        extra: dict[str, Any] = {"rate": rate, "duration_s": duration_s}
        return summarize(results, "gRPC ModelInfer, open loop", f"grpc://{target}", extra)
    loop = grpc_mix.closed_loop(target, users, duration_s, lambda: next_call(rng, models), default)
    results = asyncio.run(loop)
    extra = {"users": users, "duration_s": duration_s}
    return summarize(results, "gRPC ModelInfer, closed loop", f"grpc://{target}", extra)


def summarize(results: list[Sent], mode: str, url: str, extra: dict[str, Any]) -> dict[str, Any]:
    """Counts, throughput and latency percentiles, overall, by kind and second by second."""
    due = np.array([r.due for r in results])
    latency_ms = np.array([r.latency for r in results]) * 1000
    refused = np.array([r.refused for r in results])
    ok = np.array([r.status == r.expected for r in results]) | refused
    kinds = sorted({r.kind for r in results})
    by_kind = {}
    for kind in kinds:
        mask = np.array([r.kind == kind for r in results])
        by_kind[kind] = {
            "requests": int(mask.sum()),
            "failures": int((~ok[mask]).sum()),
            "p50_ms": float(np.percentile(latency_ms[mask], 50)),
            "p99_ms": float(np.percentile(latency_ms[mask], 99)),
        }
    timeline = []
    for second in range(int(np.ceil(due.max())) if len(due) else 0):
        mask = (due >= second) & (due < second + 1)
        if mask.any():
            lat = latency_ms[mask]
            timeline.append(
                {
                    "t": second + 1,
                    "rps": int(mask.sum()),
                    "p50_ms": float(np.percentile(lat, 50)),
                    "p95_ms": float(np.percentile(lat, 95)),
                    "p99_ms": float(np.percentile(lat, 99)),
                }
            )
    span = float(due.max() + latency_ms[np.argmax(due)] / 1000) if len(due) else 1.0
    return {
        "mode": mode,
        "url": url,
        **extra,
        "requests": len(results),
        "failures": int((~ok).sum()),
        "refused": int(refused.sum()),
        "expected_4xx": by_kind.get("bad input (expected 4xx)", {}).get("requests", 0),
        "rps": len(results) / span,
        "p50_ms": float(np.percentile(latency_ms, 50)),
        "p95_ms": float(np.percentile(latency_ms, 95)),
        "p99_ms": float(np.percentile(latency_ms, 99)),
        "by_kind": by_kind,
        "timeline": timeline,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--users", type=int, default=16, help="closed loop: concurrent users")
    parser.add_argument("--rate", type=float, help="open loop: requests per second")
    parser.add_argument("--duration", type=int, default=30, help="seconds")
    parser.add_argument(
        "--grpc", metavar="HOST:PORT", help="send the mix to this gRPC server (ModelInfer)"
    )
    parser.add_argument(
        "--out", type=Path, default=HERE / "reports" / time.strftime("%Y%m%d-%H%M%S")
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.grpc:
        result = run_grpc(args.url, args.grpc, args.users, args.rate, args.duration)
    elif args.rate:
        result = run_open(args.url, args.rate, args.duration)
    else:
        result = run_closed(args.url, args.users, args.duration, args.out)
    text = write_report(result, args.out)
    print(text)
    print(f"report: {args.out}/report.md, report.json, report.png")
    return 0 if result["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
