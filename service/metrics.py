"""Prometheus metrics (prometheus-client), in its multiprocess mode when several workers serve.

`python -m service` points PROMETHEUS_MULTIPROC_DIR at a fresh folder before the workers start;
each worker then writes its samples there and `/metrics` adds them up across workers.
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_left
from collections.abc import Iterable
from functools import lru_cache

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from service.turns import EndOfTurn

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
REQUESTS = Counter(
    "sentiment_requests_total",
    "HTTP requests by route, method, status and model.",
    ["route", "method", "status", "model"],
)
LATENCY = Histogram(
    "sentiment_request_duration_seconds",
    "Time from request to response, by route.",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge(
    "sentiment_requests_in_flight", "Requests being served right now.", multiprocess_mode="livesum"
)
INFERENCE = Histogram(
    "sentiment_inference_seconds",
    "Duration of one onnxruntime call, by model.",
    ["model"],
    buckets=LATENCY_BUCKETS,
)
BATCH_SIZE = Histogram(
    "sentiment_batch_size",
    "Rows per onnxruntime call, by model.",
    ["model"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
INPUT_CHARS = Histogram(
    "sentiment_input_chars",
    "Length of each review text, in characters.",
    buckets=(100, 300, 1_000, 3_000, 10_000, 30_000, 100_000),
)
OOV_RATE = Histogram(
    "sentiment_oov_rate",
    "Share of the words in the model's window that are out of vocabulary.",
    ["model"],
    buckets=(0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0),
)
TRUNCATED = Counter(
    "sentiment_truncated_inputs_total",
    "Texts with words cut from the front to fit the window.",
    ["model"],
)
REJECTED = Counter(
    "sentiment_rejected_total",
    "Work refused or dropped unscored, by reason: queue_delay (admission control shedding), "
    "in_flight_cap (the memory guard), explain_busy, deadline, client_gone.",
    ["reason"],
)
QUEUE_DELAY = Histogram(
    "sentiment_queue_delay_seconds",
    "Time from a request being ready to score (body read and parsed) to its scoring starting, "
    "by queue: batcher (single reviews, on the event loop) or cpu (everything else, a thread).",
    ["queue"],
    buckets=LATENCY_BUCKETS,
)
ADMISSION_SHEDDING = Gauge(
    "sentiment_admission_shedding",
    "1 while admission control refuses new work (a standing queue above target), else 0; "
    "summed over workers, by queue.",
    ["queue"],
    multiprocess_mode="livesum",
)

MODEL_RELOADS = Counter(
    "sentiment_model_reloads_total",
    "Model loads and unloads through /v2/repository, by model and outcome.",
    ["model", "outcome"],
)
MODEL_INFO = Gauge(
    "sentiment_model_info",
    "1 for the sha256 of the ONNX file each model serves now (0 or absent: no longer served).",
    ["model", "sha256"],
    multiprocess_mode="livemax",
)


def model_served(model: str, old_sha256: str | None, new_sha256: str | None) -> None:
    """The info metric follows a swap; in multiprocess mode a removed child keeps its last
    value in its worker's file, hence the 0 first."""
    if old_sha256 is not None and old_sha256 != new_sha256:
        MODEL_INFO.labels(model, old_sha256).set(0)
        MODEL_INFO.remove(model, old_sha256)
    if new_sha256 is not None:
        MODEL_INFO.labels(model, new_sha256).set(1)


# `labels()` costs a lock and a few allocations on every call; the label sets are few and fixed
# (routes, methods, statuses, models), so each child is looked up once and kept.
@lru_cache(maxsize=4096)
def requests_child(route: str, method: str, status: str, model: str) -> Counter:
    return REQUESTS.labels(route, method, status, model)


@lru_cache(maxsize=256)
def _latency(route: str) -> Histogram:
    return LATENCY.labels(route)


@lru_cache(maxsize=256)
def model_children(model: str) -> tuple[Histogram, Histogram, Histogram, Counter]:
    """(inference seconds, batch size, OOV rate, truncated inputs) of one model."""
    return (
        INFERENCE.labels(model),
        BATCH_SIZE.labels(model),
        OOV_RATE.labels(model),
        TRUNCATED.labels(model),
    )


def observe_batch(model: str, size: int, seconds: float) -> None:
    inference, batch_size, _, _ = model_children(model)
    inference.observe(seconds)
    batch_size.observe(size)


def observe_many(histogram: Histogram, values: Iterable[float]) -> None:
    """`histogram.observe(v)` for each value, with one update per bucket touched instead of two
    per value. Uses prometheus-client's bucket list; a test holds it equal to `observe`."""
    bounds: list[float] = histogram._upper_bounds
    counts: dict[int, int] = {}
    total = 0.0
    for value in values:
        i = bisect_left(bounds, value)  # `observe` counts a value in the first bucket >= it
        counts[i] = counts.get(i, 0) + 1
        total += value
    for i, n in counts.items():
        histogram._buckets[i].inc(n)
    histogram._sum.inc(total)


class PerTurn:
    """The per-request and per-text metrics, handed to prometheus-client at the end of an
    event-loop turn, at most every `SENTIMENT_TELEMETRY_FLUSH_MS` (service/turns.py).

    Each prometheus-client update takes a lock; a request made nine. Gathered (all the requests
    of a turn, or of 10 ms), they become one update per metric and bucket touched.
    Updates from a thread with no event loop are applied at once; `/metrics` applies what is
    pending before it reads, so a scrape never misses a finished request.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turn = EndOfTurn(self.apply)
        self._in_flight = 0
        self._requests: list[tuple[str, str, int, str, float]] = []
        self._inputs: list[tuple[str, list[int], list[float], int]] = []

    def set_flush_interval(self, seconds: float) -> None:
        with self._lock:
            self._turn.interval_s = seconds

    def request_started(self) -> None:
        with self._lock:
            self._in_flight += 1
            now = not self._turn.ask()
        if now:
            self.apply()

    def request_finished(
        self, route: str, method: str, status: int, model: str, seconds: float
    ) -> None:
        with self._lock:
            self._in_flight -= 1
            self._requests.append((route, method, status, model, seconds))
            now = not self._turn.ask()
        if now:
            self.apply()

    def request_answered(
        self, route: str, method: str, status: int, model: str, seconds: float
    ) -> None:
        """A request that started and finished in one go (a refusal at the door)."""
        with self._lock:
            self._requests.append((route, method, status, model, seconds))
            now = not self._turn.ask()
        if now:
            self.apply()

    def inputs(self, model: str, chars: list[int], oov_rates: list[float], truncated: int) -> None:
        """Text lengths, OOV shares of the windows, and how many texts were cut, of one call."""
        with self._lock:
            self._inputs.append((model, chars, oov_rates, truncated))
            now = not self._turn.ask()
        if now:
            self.apply()

    def apply(self) -> None:
        with self._lock:
            in_flight, self._in_flight = self._in_flight, 0
            requests, self._requests = self._requests, []
            inputs, self._inputs = self._inputs, []
            self._turn.flushed()
        if in_flight:
            IN_FLIGHT.inc(in_flight)
        latencies: dict[str, list[float]] = {}
        counts: dict[tuple[str, str, int, str], int] = {}
        for route, method, status, model, seconds in requests:
            latencies.setdefault(route, []).append(seconds)
            key = (route, method, status, model)
            counts[key] = counts.get(key, 0) + 1
        for key, n in counts.items():
            route, method, status, model = key
            requests_child(route, method, str(status), model).inc(n)
        for route, values in latencies.items():
            observe_many(_latency(route), values)
        if inputs:
            observe_many(INPUT_CHARS, [n for _, chars, _, _ in inputs for n in chars])
        by_model: dict[str, tuple[list[float], list[int]]] = {}
        for model, _, oov_rates, truncated in inputs:
            rates, cuts = by_model.setdefault(model, ([], []))
            rates += oov_rates
            cuts.append(truncated)
        for model, (rates, cuts) in by_model.items():
            _, _, oov, cut = model_children(model)
            observe_many(oov, rates)
            if any(cuts):
                cut.inc(sum(cuts))


PER_TURN = PerTurn()


def render() -> tuple[bytes, str]:
    """The exposition text, summed over every worker in multiprocess mode."""
    PER_TURN.apply()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
