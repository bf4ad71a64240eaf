"""`make overload`: the service at 1x, 2x, 3x and 5x its capacity, open loop. Every request must
get an answer (200, or 503 with Retry-After), goodput (200s per second) must stay at 90% of
capacity or more at every level (no congestion collapse), the accepted requests' p99 within the
admission target plus one service time, and resident memory flat. Writes bench/overload.{md,json}.

Capacity is measured first, closed loop, with batch requests of 50 real reviews (heavy enough that
one Python client can offer five times what one server worker can take); then the same requests
arrive open loop at each multiple of that rate; the last level runs twice, for memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from bench.run import CLIENT_CPU, OUT, cpu_seconds, machine, publish, rss_mb, server
from loadtest.mix import REVIEWS, Call
from loadtest.run import Sent, send_open_loop

SENDERS = 3
"""Client processes sharing the open-loop rate (on the client's core): one Python process lags
behind five times capacity (its refusals then looked 30 ms slow, sent late, not answered late)."""

BATCH = 50


def batch_calls(count: int) -> list[Call]:
    return [
        Call(
            "batch",
            "/predict/batch",
            {"texts": [REVIEWS[(i * BATCH + k) % len(REVIEWS)] for k in range(BATCH)]},
            200,
        )
        for i in range(count)
    ]


async def capacity(url: str, seconds: float, concurrency: int = 8) -> float:
    """Requests/s the server sustains closed loop (each client waits for its answer), on the
    same requests, in the same rotation, as the open-loop runs: its batches differ in length
    (53 to 70 KB of text), so one repeated batch would misstate the capacity they are offered at."""
    bodies = [json.dumps(call.body).encode() for call in batch_calls(CAPACITY_BODIES)]
    headers = {"content-type": "application/json"}
    done = sent = 0
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(url) as session:

        async def client() -> None:
            nonlocal done, sent
            while time.perf_counter() < deadline:
                body = bodies[sent % len(bodies)]
                sent += 1
                async with session.post("/predict/batch", data=body, headers=headers) as r:
                    await r.read()
                    done += r.status == 200

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        return done / (time.perf_counter() - start)


CAPACITY_BODIES = len(REVIEWS) // math.gcd(len(REVIEWS), BATCH)
"""Distinct batches `batch_calls` cycles through."""


def _send_share(url: str, rate: float, count: int) -> list[Sent]:
    return asyncio.run(send_open_loop(url, batch_calls(count), rate))


def offered_at(url: str, rate: float, seconds: float) -> dict[str, Any]:
    share = int(rate * seconds / SENDERS)  # each sender's clock starts at its first request
    with ProcessPoolExecutor(SENDERS) as pool:
        shares = [pool.submit(_send_share, url, rate / SENDERS, share) for _ in range(SENDERS)]
        sent = [s for f in shares for s in f.result()]
    statuses: dict[str, int] = {}
    for s in sent:
        statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
    accepted = np.array([s.latency for s in sent if s.status == 200]) * 1000
    refused = np.array([s.latency for s in sent if s.status in (429, 503)]) * 1000
    # An unbounded queue shows in the last third: at 3x capacity its wait would be over a whole
    # run length by then. (The first second also holds the client opening its connections.)
    late = np.array([s.latency for s in sent if s.status == 200 and s.due >= 2 * seconds / 3])
    # Goodput counts the 200s answered while the load was offered: the queue's last work,
    # answered after the arrivals stopped, is not overload (at 0.5 s of queue it added 2.5%).
    in_period = sum(1 for s in sent if s.status == 200 and s.due + s.latency <= seconds)
    return {
        "requests": len(sent),
        "goodput_rps": in_period / seconds,
        "statuses": statuses,
        "unanswered": statuses.get("None", 0),
        "other_statuses": sum(v for k, v in statuses.items() if k not in ("200", "429", "503")),
        "accepted_p50_ms": float(np.percentile(accepted, 50)) if len(accepted) else 0.0,
        "accepted_p99_ms": float(np.percentile(accepted, 99)) if len(accepted) else 0.0,
        "refused_p99_ms": float(np.percentile(refused, 99)) if len(refused) else 0.0,
        "accepted_p99_ms_last_third": float(np.percentile(late, 99)) * 1000 if len(late) else 0.0,
    }


# Memory is flat when the last run leaves RSS within this fraction of the run before it.
MAX_RSS_GROWTH = 0.10


def price_refusals(runs: list[dict[str, Any]]) -> None:
    """Where the worker's CPU went at each level: per request served (200), and per refusal in
    place, as the level's CPU less its 200s at the first level's CPU per 200, over its refusals.
    The first level (1x) refuses few, so its CPU per 200 is what serving one costs; a refusal's
    in-place price then counts what it costs the work around it too (bench/refusal.py measures
    one alone)."""
    first = runs[0]
    per_200 = first["worker_cpu_s"] / max(first["statuses"].get("200", 0), 1)
    for run in runs:
        served = run["statuses"].get("200", 0)
        refused = run["statuses"].get("503", 0) + run["statuses"].get("429", 0)
        run["worker_cpu_ms_per_200"] = run["worker_cpu_s"] / max(served, 1) * 1000
        left = run["worker_cpu_s"] - served * per_200
        run["refusal_us_in_place"] = left / refused * 1e6 if run is not first and refused else None


def overload(
    url: str, pid: int, seconds: float, factors: tuple[float, ...] = (1, 2, 3, 5)
) -> dict[str, Any]:
    """One open-loop run at each `factor` x capacity, the last one twice: answers, goodput and
    latency of each, and memory after each. Flat memory: the repeated last run leaves RSS where
    the run before it did (the first runs raise the allocator's high-water mark)."""
    asyncio.run(capacity(url, 1.0))  # warm-up
    rss_start = rss_mb(pid)
    sustained = asyncio.run(capacity(url, max(2.0, seconds / 3)))
    runs = []
    for factor in (*factors, factors[-1]):
        cpu_before = cpu_seconds(pid)
        run = offered_at(url, factor * sustained, seconds)
        run["worker_cpu_s"] = cpu_seconds(pid) - cpu_before
        run["factor"] = factor
        run["rss_mb_after"] = rss_mb(pid)
        runs.append(run)
    price_refusals(runs)
    return {
        "capacity_rps": sustained,
        "service_ms": 1000 / sustained,
        "seconds": seconds,
        "rss_mb_start": rss_start,
        "runs": runs,
        "rss_growth_last_run": (runs[-1]["rss_mb_after"] - runs[-2]["rss_mb_after"])
        / runs[-2]["rss_mb_after"],
    }


def report(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "# Overload: 1x to 5x capacity, open loop",
        "",
        f"`make overload` on {m['date']}: {m['cpu']}, {m['cores']} cores; one uvicorn worker with "
        f"the default settings (admission target {r['target_ms']:g} ms). Requests: "
        f"POST /predict/batch with {BATCH} real reviews each. Capacity {r['capacity_rps']:.0f}/s "
        f"(closed loop; one service time {r['service_ms']:.1f} ms); each level offered open loop "
        f"for {r['seconds']:g} s.",
        "",
        "| offered | requests | statuses | unanswered | goodput | of capacity | accepted p50 | "
        "accepted p99 | refused p99 | worker CPU per 200 | per refusal, in place | RSS after |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in r["runs"]:
        in_place = run.get("refusal_us_in_place")
        lines.append(
            f"| {run['factor']:g}x | {run['requests']} | {run['statuses']} | "
            f"{run['unanswered']} | {run['goodput_rps']:.0f}/s | "
            f"{run['goodput_rps'] / r['capacity_rps']:.1%} | {run['accepted_p50_ms']:.0f} ms | "
            f"{run['accepted_p99_ms']:.0f} ms | {run['refused_p99_ms']:.0f} ms | "
            f"{run['worker_cpu_ms_per_200']:.2f} ms | "
            f"{'-' if in_place is None else f'{in_place:.0f} us'} | {run['rss_mb_after']:.0f} MB |"
        )
    lines += [
        "",
        f"RSS at start {r['rss_mb_start']:.0f} MB; after the repeated last run vs the one before: "
        f"{r['rss_growth_last_run']:+.1%}. Latency is timed from when each request was due "
        "(open loop), so waiting to be sent counts. Goodput: the 200s answered while the load "
        "was offered, per second (not the queue's last work, answered after the arrivals stop). "
        "Worker CPU: user and system time of the worker over each level, per 200 answered; per "
        "refusal in place: that CPU less the 200s at the first level's CPU per 200, over the "
        "refusals (what a refusal costs with the scoring around it; bench/refusal.md prices one "
        "alone).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.overload", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    from service.settings import Settings

    os.sched_setaffinity(0, {int(CLIENT_CPU)})  # the server has the other core to itself
    with server("service") as (url, _, pid):
        result = overload(url, pid, args.seconds)
    result["machine"] = machine()
    result["target_ms"] = Settings().admission_batch_target_ms
    publish(args.out, "overload", result, report(result))
    answered = all(run["unanswered"] == 0 for run in result["runs"])
    return 0 if answered and result["rss_growth_last_run"] < MAX_RSS_GROWTH else 1


if __name__ == "__main__":
    sys.exit(main())
