"""Metrics, request ids, Server-Timing and structured logs."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, CollectorRegistry, Histogram

from service import metrics
from service.middleware.observability import fresh_request_id


def test_metrics_count_requests_by_route_status_and_model(client: TestClient) -> None:
    client.post("/predict", json={"text": "A fine film " * 30, "model": "rnn3"})
    client.post("/predict", json={"text": "x", "model": "nope"})
    body = client.get("/metrics").text
    assert (
        'sentiment_requests_total{method="POST",model="rnn3",route="/predict",status="200"}' in body
    )
    assert 'route="/predict",status="404"' in body
    for name in (
        "sentiment_request_duration_seconds_bucket",
        "sentiment_inference_seconds_bucket",
        "sentiment_batch_size_bucket",
        "sentiment_requests_in_flight",
        "sentiment_input_chars_bucket",
        "sentiment_oov_rate_bucket",
        'sentiment_truncated_inputs_total{model="rnn3"}',
    ):
        assert name in body


def test_truncation_counter_grows_with_long_inputs(client: TestClient) -> None:
    def truncated() -> float:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith('sentiment_truncated_inputs_total{model="ff"}'):
                return float(line.split()[-1])
        return 0.0

    before = truncated()
    client.post("/predict", json={"text": "word " * 25, "model": "ff"})
    client.post("/predict", json={"text": "word " * 5, "model": "ff"})
    assert truncated() == before + 1


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    given = client.post("/predict", json={"text": "ok"}, headers={"x-request-id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    generated = client.get("/health/live")
    assert len(generated.headers["x-request-id"]) == 32
    hostile = client.get("/health/live", headers={"x-request-id": "bad id\twith spaces"})
    assert hostile.headers["x-request-id"] != "bad id\twith spaces"


def test_server_timing_names_tokenize_queue_and_inference(client: TestClient) -> None:
    response = client.post("/predict", json={"text": "A fine film."})
    assert response.status_code == 200
    parts = dict(p.strip().split(";dur=") for p in response.headers["server-timing"].split(","))
    assert set(parts) == {"tokenize", "queue", "inference", "total"}
    assert all(float(v) >= 0 for v in parts.values())


def test_observe_many_equals_observe_one_by_one() -> None:
    """`observe_many` writes prometheus-client's buckets itself: held equal to `observe` here."""
    registry = CollectorRegistry()
    one, many = (
        Histogram(name, "test", buckets=metrics.LATENCY_BUCKETS, registry=registry)
        for name in ("one_by_one", "many")
    )
    values = [0.0, 0.0005, 0.0007, 0.001, 0.3, 5.0, 7.5, -1.0, 0.0005, 1e9]
    for value in values:
        one.observe(value)
    metrics.observe_many(many, values)
    samples = {
        m.name: [
            (s.name[len(m.name) :], s.labels, s.value) for s in m.samples if "created" not in s.name
        ]
        for m in registry.collect()
    }
    assert samples["many"] == samples["one_by_one"]


def test_metrics_outside_an_event_loop_apply_at_once() -> None:
    """The batch route's thread records its inputs with no event loop to apply them later."""
    labels = {"route": "/t", "method": "GET", "status": "200", "model": ""}

    def count() -> float:
        return REGISTRY.get_sample_value("sentiment_requests_total", labels) or 0.0

    metrics.PER_TURN.apply()  # a flush another test's event loop arranged would take these too
    before = count()
    metrics.PER_TURN.request_started()
    metrics.PER_TURN.request_finished("/t", "GET", 200, "", 0.01)
    assert count() == before + 1


def test_fresh_request_ids_are_distinct_hex() -> None:
    ids = [fresh_request_id() for _ in range(600)]  # more than one pool of 256
    assert len(set(ids)) == 600
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_start_up_leaves_its_objects_out_of_later_collections(client: TestClient) -> None:
    """A full collection walking every object of start-up set the p99 at 16 connections."""
    assert client.get("/health/ready").status_code == 200
    assert gc.get_freeze_count() > 20_000  # about 80,000: modules, framework, models
