"""Single-review serving cost of published models, side by side, to choose a model by measurement.

    python -m bench.latency                       # rnn2 and fasttext, models/ of the repo
    python -m bench.latency --models rnn2,ff,fasttext --runs 20000

Each model is loaded as the service loads it (service.registry: one intra-op thread, all graph
optimisations) and timed on batches of one: onnxruntime alone on encoded ids; the tokenizer plus
onnxruntime on the golden reviews of the first model (real test reviews), and on reviews of
10,000 and 100,000 characters (the golden reviews joined). The models' runs are interleaved, so a
busy machine slows them alike; the figures are medians, the ratios against the first model.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from service.card import GOLDEN, GoldenSet
from service.registry import SentimentModel, load_registry

REPO_MODELS = Path(__file__).resolve().parents[1] / "models"
LONG_CHARS = (10_000, 100_000)


def median_us(calls: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median wall time of each call in microseconds, the calls interleaved run by run."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():  # warm up
        call()
    for _ in range(runs):
        for name, call in calls.items():
            start = time.perf_counter_ns()
            call()
            times[name].append((time.perf_counter_ns() - start) / 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def measure(
    models: list[SentimentModel], reviews: list[str], runs: int
) -> dict[str, dict[str, float]]:
    """Per case (column), each model's median µs."""
    joined = " <br /><br /> ".join(reviews)
    ids = {m.name: m.encode(reviews[:1]) for m in models}
    served = {m.name: 0 for m in models}

    def next_review(model: SentimentModel) -> object:
        served[model.name] += 1
        return model.score_texts([reviews[served[model.name] % len(reviews)]])

    cases: dict[str, dict[str, Callable[[], object]]] = {
        "onnxruntime": {m.name: partial(m.score_ids, ids[m.name]) for m in models},
        "review": {m.name: partial(next_review, m) for m in models},
    }
    for chars in LONG_CHARS:
        text = (joined * (chars // len(joined) + 1))[-chars:]
        cases[f"{chars:,} chars"] = {m.name: partial(m.score_texts, [text]) for m in models}
    return {case: median_us(calls, runs) for case, calls in cases.items()}


def report(models: list[SentimentModel], table: dict[str, dict[str, float]]) -> str:
    base = models[0].name
    lines = [
        "| model | window | " + " | ".join(table) + f" | vs {base}: onnxruntime | review |",
        "| --- | ---: |" + " ---: |" * (len(table) + 2),
    ]
    for model in models:
        cells = [f"{column[model.name]:.1f}" for column in table.values()]
        ratios = [
            f"{table[c][model.name] / table[c][base]:.2f}x" for c in ("onnxruntime", "review")
        ]
        lines.append(
            f"| {model.name} | {model.input_length} | " + " | ".join(cells + ratios) + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__)
    parser.add_argument("--models", default="rnn2,fasttext", help="comma-separated; first: base")
    parser.add_argument("--models-dir", type=Path, default=REPO_MODELS)
    parser.add_argument("--runs", type=int, default=10_000, help="timed runs per model and case")
    args = parser.parse_args(argv)
    names = [n for n in args.models.split(",") if n]
    registry = load_registry(args.models_dir, names[0])
    models = [registry.get(n) for n in names]
    golden = GoldenSet.validate_json((models[0].path.parent / GOLDEN).read_bytes())
    reviews = [g.text for g in golden]
    print(f"median µs per single review, {args.runs:,} interleaved runs")
    print(report(models, measure(models, reviews, args.runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
