"""`python -m bench.refusal`: what one refusal costs the worker. Writes bench/refusal.{md,json}.

At five times capacity a worker refuses four requests for each one it serves, so the cost of a
refusal sets how much of the core is left for scoring (docs/overload.md). Measured here apart:
the service with admission refusing every scoring request at its headers (as a shedding worker
does: `python -m bench.serve refusing`), against the floor of this stack, uvloop and httptools
answering the same requests with a fixed 503 and no framework (`refuse-floor`). Each gets the
open loop of `make overload` (batches of 50 real reviews, three senders on the other core) at a
fixed rate; the figure is the worker's CPU time (user and system, from /proc) over the middle of
the run, per refusal. Every variant once per round, in turn.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from statistics import median
from typing import Any

from bench.overload import SENDERS, _send_share
from bench.run import CLIENT_CPU, OUT, cpu_seconds, machine, publish, server

SERVICE = "service (default settings)"
VARIANTS = {SERVICE: "refusing", "uvloop + httptools, fixed 503": "refuse-floor"}


def cost_us(url: str, pid: int, rate: float, seconds: float, pool: ProcessPoolExecutor) -> float:
    """Worker CPU per refusal at `rate` refusals/s, measured over the run less its first and last
    half second (connections opening, the last answers)."""
    count = int(rate * seconds / SENDERS)
    shares = [pool.submit(_send_share, url, rate / SENDERS, count) for _ in range(SENDERS)]
    time.sleep(0.2 + 0.5)  # the senders' clocks start 0.2 s after their sessions
    before, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds - 1.0)
    used, elapsed = cpu_seconds(pid) - before, time.monotonic() - start
    sent = [s for share in shares for s in share.result()]
    unrefused = [s.status for s in sent if s.status != 503]
    if unrefused:
        raise RuntimeError(f"{len(unrefused)} answers were not refusals: {unrefused[:5]}")
    return used / elapsed / rate * 1e6


def measure(rate: float, seconds: float, rounds: int) -> dict[str, list[float]]:
    costs: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with ProcessPoolExecutor(SENDERS) as pool:
        for _ in range(rounds):
            for name, kind in VARIANTS.items():
                with server(kind) as (url, _, pid):
                    cost_us(url, pid, rate, 2.0, pool)  # warm-up
                    costs[name].append(cost_us(url, pid, rate, seconds, pool))
    return costs


def report(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "# What one refusal costs the worker",
        "",
        f"`python -m bench.refusal` on {m['date']}: {m['cpu']}, {m['cores']} cores; one worker "
        f"pinned to one core, the load on the other. POST /predict/batch with 50 real reviews "
        f"(53 to 70 KB), open loop at {r['rate']:g} requests/s for {r['seconds']:g} s per run, "
        f"{r['rounds']} interleaved rounds. Every request is refused; the figure is the worker's "
        "CPU time (user + system) per refusal.",
        "",
        "| server | us per refusal (median) | each round |",
        "| --- | ---: | --- |",
    ]
    for name, costs in r["costs"].items():
        rounds = ", ".join(f"{c:.0f}" for c in costs)
        lines.append(f"| {name} | {median(costs):.0f} | {rounds} |")
    lines += ["", f"Service / floor: **{r['ratio']:.2f}**.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.refusal", description=__doc__)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {int(CLIENT_CPU)})
    costs = measure(args.rate, args.seconds, args.rounds)
    service, floor = (median(costs[name]) for name in VARIANTS)
    result = {
        "rate": args.rate,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "costs": costs,
        "ratio": service / floor,
        "machine": machine(),
    }
    publish(args.out, "refusal", result, report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
