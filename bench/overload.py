"""`make overload`: the service at 3x its capacity. Every request must get an answer (200, or 429
or 503 with Retry-After), the p99 latency of the accepted ones must stay bounded, and resident
memory flat. Writes bench/overload.{md,json}.

Capacity is measured first, closed loop, with batch requests of 50 real reviews (heavy enough that
one Python client can offer three times what one server worker can take); then the same requests
arrive open loop at 3x that rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from bench.run import OUT, machine, rss_mb, server
from loadtest.mix import REVIEWS, Call
from loadtest.run import send_open_loop

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
    """Requests/s the server sustains closed loop (each client waits for its answer)."""
    body = json.dumps(batch_calls(1)[0].body).encode()
    headers = {"content-type": "application/json"}
    done = 0
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(url) as session:

        async def client() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                async with session.post("/predict/batch", data=body, headers=headers) as r:
                    await r.read()
                    done += r.status == 200

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        return done / (time.perf_counter() - start)


def offered_at(url: str, rate: float, seconds: float) -> dict[str, Any]:
    sent = asyncio.run(send_open_loop(url, batch_calls(int(rate * seconds)), rate))
    statuses: dict[str, int] = {}
    for s in sent:
        statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
    accepted = np.array([s.latency for s in sent if s.status == 200]) * 1000
    refused = np.array([s.latency for s in sent if s.status in (429, 503)]) * 1000
    # An unbounded queue shows in the last third: at 3x capacity its wait would be over a whole
    # run length by then. (The first second also holds the client opening its connections.)
    late = np.array([s.latency for s in sent if s.status == 200 and s.due >= 2 * seconds / 3])
    return {
        "requests": len(sent),
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


def overload(url: str, pid: int, seconds: float, factor: float = 3.0) -> dict[str, Any]:
    """Three identical runs at `factor` x capacity: answers and latency of each, and memory after
    each. The first runs raise the allocator's high-water mark; flat means the last run leaves
    memory where the one before did."""
    asyncio.run(capacity(url, 1.0))  # warm-up
    rss_start = rss_mb(pid)
    sustained = asyncio.run(capacity(url, max(2.0, seconds / 3)))
    rate = factor * sustained
    runs = []
    for _ in range(3):
        run = offered_at(url, rate, seconds)
        run["rss_mb_after"] = rss_mb(pid)
        runs.append(run)
    return {
        "capacity_rps": sustained,
        "offered_rps": rate,
        "factor": factor,
        "seconds": seconds,
        "rss_mb_start": rss_start,
        "runs": runs,
        "rss_growth_last_run": (runs[-1]["rss_mb_after"] - runs[-2]["rss_mb_after"])
        / runs[-2]["rss_mb_after"],
    }


def report(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "# Overload: 3x capacity",
        "",
        f"`make overload` on {m['date']}: {m['cpu']}, {m['cores']} cores; one uvicorn worker with "
        f"the default settings (max {r['max_in_flight']} requests in flight). Requests: "
        f"POST /predict/batch with {BATCH} real reviews each. Capacity {r['capacity_rps']:.0f}/s "
        f"(closed loop); offered {r['offered_rps']:.0f}/s ({r['factor']:g}x) open loop, "
        f"{r['seconds']:g} s, three times.",
        "",
        "| run | requests | statuses | unanswered | accepted p50 | accepted p99 | "
        "accepted p99, last third | refused p99 | RSS after |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for i, run in enumerate(r["runs"], 1):
        lines.append(
            f"| {i} | {run['requests']} | {run['statuses']} | {run['unanswered']} | "
            f"{run['accepted_p50_ms']:.0f} ms | {run['accepted_p99_ms']:.0f} ms | "
            f"{run['accepted_p99_ms_last_third']:.0f} ms | {run['refused_p99_ms']:.0f} ms | "
            f"{run['rss_mb_after']:.0f} MB |"
        )
    lines += [
        "",
        f"RSS at start {r['rss_mb_start']:.0f} MB; after the last run vs the one before: "
        f"{r['rss_growth_last_run']:+.1%}. Latency is timed from when each request was due "
        "(open loop), so waiting to be sent counts.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.overload", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    from service.settings import Settings

    with server("service") as (url, _, pid):
        result = overload(url, pid, args.seconds)
    result["machine"] = machine()
    result["max_in_flight"] = Settings().max_in_flight
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "overload.json").write_text(json.dumps(result, indent=2) + "\n")
    text = report(result)
    (args.out / "overload.md").write_text(text)
    print(text)
    answered = all(run["unanswered"] == 0 for run in result["runs"])
    return 0 if answered and result["rss_growth_last_run"] < MAX_RSS_GROWTH else 1


if __name__ == "__main__":
    sys.exit(main())
