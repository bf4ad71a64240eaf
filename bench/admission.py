"""`python -m bench.admission` (part of `make overload`): admission control, closed loop. One
worker pinned to CPU 0, wrk on CPU 1, a real 1,000-character review to `POST /predict`:

- 16, 64, 256 and 1,024 connections for 10 s each: non-2xx answers (none expected up to 256;
  at 1,024 only while the queue delay is above target), throughput, p50 and p99;
- the cost of admission: 16 connections against the same build with
  SENTIMENT_ADMISSION_CONTROL=false, interleaved rounds, median ratio (goal >= 0.97).

Writes bench/admission.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.run import OUT, ROOT, machine, server, write_body, wrk
from training.data import find_dataset, read_dataset

CONNECTIONS = (16, 64, 256, 1024)


def sweep(body: Path, seconds: float) -> list[dict[str, Any]]:
    rows = []
    with server("service") as (url, _, _pid):
        wrk(f"{url}/predict", body, 16, 2)  # warm-up
        for connections in CONNECTIONS:
            load = wrk(f"{url}/predict", body, connections, seconds)
            rows.append({"connections": connections, **asdict(load)})
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
        f"review, {r['seconds']:g} s per row.",
        "",
        "| connections | requests | non-2xx | req/s | p50 | p99 |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in r["sweep"]:
        lines.append(
            f"| {row['connections']} | {row['requests']} | {row['errors']} | {row['rps']:.0f} | "
            f"{row['p50_ms']:.1f} ms | {row['p99_ms']:.1f} ms |"
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
    parser.add_argument("--seconds", type=float, default=10)
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
            "sweep": sweep(body, args.seconds),
            "cost": cost(body, args.seconds / 2, args.rounds),
        }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "admission.json").write_text(json.dumps(result, indent=2) + "\n")
    text = report(result)
    (args.out / "admission.md").write_text(text)
    print(text)
    return 0 if all(row["errors"] == 0 for row in result["sweep"][:3]) else 1


if __name__ == "__main__":
    sys.exit(main())
