"""A load-test result as markdown, JSON and a PNG of latency and throughput over time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def markdown(result: dict[str, Any]) -> str:
    load = f"{result['users']} users" if "users" in result else f"{result['rate']:g} requests/s"
    lines = [
        f"# Load test: {result['mode']}",
        "",
        f"{result['url']}, {load}, {result['duration_s']} s.",
        "",
        "| requests | requests/s | p50 ms | p95 ms | p99 ms | failures | refused | expected 4xx |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {result['requests']} | {result['rps']:.1f} | {result['p50_ms']:.1f} | "
        f"{result['p95_ms']:.1f} | {result['p99_ms']:.1f} | {result['failures']} | "
        f"{result['refused']} | {result['expected_4xx']} |",
        "",
        "| kind | requests | failures | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for kind, row in sorted(result["by_kind"].items()):
        lines.append(
            f"| {kind} | {row['requests']} | {row['failures']} | {row['p50_ms']:.1f} | "
            f"{row['p99_ms']:.1f} |"
        )
    lines += [
        "",
        "Failures are unexpected answers (errors, no answer); refusals (503 or 429 with "
        "Retry-After: the server's overload protection) are counted apart, and so are bad "
        "inputs answered with their expected 4xx, as successes.",
        "",
    ]
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    timeline = result["timeline"]
    fig, (latency, throughput) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    t = [p["t"] for p in timeline]
    for key in ("p50_ms", "p95_ms", "p99_ms"):
        latency.plot(t, [p[key] for p in timeline], label=key.removesuffix("_ms"))
    latency.set_ylabel("latency (ms)")
    latency.legend()
    latency.grid(alpha=0.3)
    throughput.plot(t, [p["rps"] for p in timeline], color="tab:green")
    throughput.set_ylabel("requests/s")
    throughput.set_xlabel("seconds")
    throughput.grid(alpha=0.3)
    fig.suptitle(result["mode"])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(result: dict[str, Any], out: Path) -> str:
    text = markdown(result)
    (out / "report.md").write_text(text)
    (out / "report.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, out / "report.png")
    return text
