"""`make soak`: at least 100,000 requests of mixed sizes and models against one server; 0 errors,
and resident memory after warm-up must grow by less than 10%. Writes bench/soak.{md,json,png}.

    python -m bench.soak [--requests 100000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.run import OUT, machine, publish, rss_mb, server
from loadtest.mix import next_call

WARM_UP_SHARE = 0.1


async def soak(url: str, pid: int, requests: int, concurrency: int) -> dict[str, Any]:
    rng = random.Random(0)
    models = ["ff", "rnn", "rnn2", "rnn3"]
    async with aiohttp.ClientSession(url) as session:
        async with session.get("/models") as response:
            models = [m["name"] for m in (await response.json())["models"]]
        calls = [next_call(rng, models) for _ in range(requests)]
        bodies = [json.dumps(c.body).encode() for c in calls]
        headers = {"content-type": "application/json"}
        done = 0
        errors: dict[str, int] = {}
        memory: list[tuple[float, int, float]] = []
        start = time.perf_counter()

        async def worker(offset: int) -> None:
            nonlocal done
            for i in range(offset, requests, concurrency):
                call = calls[i]
                try:
                    async with session.post(call.path, data=bodies[i], headers=headers) as r:
                        await r.read()
                        ok = r.status == call.expected_status
                        key = f"{call.kind}: {r.status}"
                except aiohttp.ClientError as e:
                    ok, key = False, f"{call.kind}: {type(e).__name__}"
                if not ok:
                    errors[key] = errors.get(key, 0) + 1
                done += 1

        async def sample_memory() -> None:
            while done < requests:
                memory.append((time.perf_counter() - start, done, rss_mb(pid)))
                await asyncio.sleep(0.5)
            memory.append((time.perf_counter() - start, done, rss_mb(pid)))

        sampler = asyncio.create_task(sample_memory())
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        await sampler
    elapsed = time.perf_counter() - start
    warm = next(m for m in memory if m[1] >= WARM_UP_SHARE * requests)
    growth = (memory[-1][2] - warm[2]) / warm[2]
    return {
        "requests": requests,
        "concurrency": concurrency,
        "seconds": elapsed,
        "rps": requests / elapsed,
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "rss_mb_after_warm_up": warm[2],
        "rss_mb_at_end": memory[-1][2],
        "rss_mb_max": max(m[2] for m in memory),
        "rss_growth_after_warm_up": growth,
        "memory": memory,
    }


def report(result: dict[str, Any]) -> str:
    verdict = result["errors"] == 0 and result["rss_growth_after_warm_up"] < 0.10
    return "\n".join(
        [
            "# Soak test",
            "",
            f"`make soak` on {result['machine']['date']}: {result['machine']['cpu']}, "
            f"{result['machine']['cores']} cores. One uvicorn worker; the load-test mix (single "
            "reviews of real lengths, batches of 2-32, all models at random, 5% bad inputs that "
            f"must get their expected 4xx) from {result['concurrency']} concurrent connections.",
            "",
            "| requests | seconds | requests/s | errors | RSS after warm-up (10%) | RSS at end | "
            "max RSS | growth after warm-up |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| {result['requests']:,} | {result['seconds']:.0f} | {result['rps']:.0f} | "
            f"{result['errors']} | {result['rss_mb_after_warm_up']:.1f} MB | "
            f"{result['rss_mb_at_end']:.1f} MB | {result['rss_mb_max']:.1f} MB | "
            f"{result['rss_growth_after_warm_up']:+.1%} |",
            "",
            f"Goal: 0 errors and growth under 10%: **{'met' if verdict else 'NOT met'}**. "
            "Memory over the run: soak.png.",
            "",
        ]
    )


def plot(result: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot([m[1] for m in result["memory"]], [m[2] for m in result["memory"]])
    ax.set_xlabel("requests served")
    ax.set_ylabel("resident memory (MB)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    with server("service") as (url, _, pid):
        result = asyncio.run(soak(url, pid, args.requests, args.concurrency))
    result["machine"] = machine()
    publish(args.out, "soak", result, report(result))
    plot(result, args.out / "soak.png")
    return 0 if result["errors"] == 0 and result["rss_growth_after_warm_up"] < 0.10 else 1


if __name__ == "__main__":
    sys.exit(main())
