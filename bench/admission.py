"""`python -m bench.admission` (part of `make overload`): admission control, closed loop. One
worker pinned to CPU 0, wrk on CPU 1, a real 1,000-character review to `POST /predict`:

- 16, 64, 256 and 1,024 connections for 12 s each, in three interleaved rounds: non-2xx answers
  (none expected up to 256; at 1,024 only while the queue delay is above target), throughput
  and its ratio to 16 connections' (at least 1 at 64 and 256), p50 and p99;
- the cost of admission: 16 connections against the same build with
  SENTIMENT_ADMISSION_CONTROL=false, interleaved rounds, median ratio (goal >= 0.97).

Writes bench/admission.{md,json}.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.run import OUT, ROOT, Load, machine, publish, server, write_body, wrk
from training.data import find_dataset, read_dataset

CONNECTIONS = (16, 64, 256, 1024)


def sweep(body: Path, seconds: float, rounds: int) -> list[dict[str, Any]]:
    """Each connection count once a round, in turn, `seconds` in all: one 10-second pass per
    count swung by 5% from run to run on this machine, enough to flip "256 is at least 16"."""
    loads: dict[int, list[Load]] = {connections: [] for connections in CONNECTIONS}
    with server("service") as (url, _, _pid):
        wrk(f"{url}/predict", body, 16, 2)  # warm-up
        for _ in range(rounds):
            for connections in CONNECTIONS:
                load = wrk(f"{url}/predict", body, connections, seconds / rounds)
                loads[connections].append(load)
    rows = []
    for connections, runs in loads.items():
        median = sorted(runs, key=lambda load: load.rps)[len(runs) // 2]
        vs_16 = [load.rps / base.rps for load, base in zip(runs, loads[16], strict=True)]
        rows.append(
            {
                "connections": connections,
                **asdict(median),
                "requests": sum(load.requests for load in runs),
                "errors": sum(load.errors for load in runs),
                "rounds_rps": [load.rps for load in runs],
                "vs_16": statistics.median(vs_16),
            }
        )
    return rows


def cost(body: Path, seconds: float, rounds: int) -> dict[str, Any]:
    ratios, on, off = [], [], []
    for _ in range(rounds):
        for enabled, into in (("true", on), ("false", off)):
            with server("service", SENTIMENT_ADMISSION_CONTROL=enabled) as (url, _, _pid):
                wrk(f"{url}/predict", body, 16, 1)
                into.append(wrk(f"{url}/predict", body, 16, seconds).rps)
        ratios.append(on[-1] / off[-1])
    return {"on_rps": on, "off_rps": off, "ratios": ratios, "median": statistics.median(ratios)}


def report(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "# Admission control, closed loop",
        "",
        f"`python -m bench.admission` on {m['date']}: {m['cpu']}, {m['cores']} cores; one worker "
        f"pinned to CPU 0, wrk to CPU 1; `POST /predict` with a {r['review_chars']}-character "
        f"review, {r['seconds']:g} s per row in {r['rounds']} interleaved rounds. Requests and "
        "non-2xx: all rounds; req/s, p50 and p99: the median round; vs 16: the median of each "
        "round's throughput over the 16-connection row's in the same round.",
        "",
        "| connections | requests | non-2xx | req/s | vs 16 | each round req/s | p50 | p99 |",
        "| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for row in r["sweep"]:
        each = ", ".join(f"{x:.0f}" for x in row["rounds_rps"])
        lines.append(
            f"| {row['connections']} | {row['requests']} | {row['errors']} | {row['rps']:.0f} | "
            f"{row['vs_16']:.2f} | {each} | {row['p50_ms']:.1f} ms | {row['p99_ms']:.1f} ms |"
        )
    c = r["cost"]
    lines += [
        "",
        "Cost of admission at 16 connections, on/off per interleaved round: "
        + ", ".join(f"{x:.2f}" for x in c["ratios"])
        + f"; median **{c['median']:.2f}** (on "
        + ", ".join(f"{x:.0f}" for x in c["on_rps"])
        + " req/s; off "
        + ", ".join(f"{x:.0f}" for x in c["off_rps"])
        + " req/s).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.admission", description=__doc__)
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "imdb")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    test = read_dataset(find_dataset(args.data))["test"]
    review = min(test.texts, key=lambda t: (abs(len(t) - 1000), t))
    with tempfile.TemporaryDirectory() as tmp:
        body = write_body(Path(tmp) / "review.json", {"text": review})
        result = {
            "machine": machine(),
            "review_chars": len(review),
            "seconds": args.seconds,
            "rounds": args.rounds,
            "sweep": sweep(body, args.seconds, args.rounds),
            "cost": cost(body, args.seconds / 2, args.rounds),
        }
    publish(args.out, "admission", result, report(result))
    return 0 if all(row["errors"] == 0 for row in result["sweep"][:3]) else 1


if __name__ == "__main__":
    sys.exit(main())
