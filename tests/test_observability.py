"""Metrics, request ids, Server-Timing and structured logs."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from service.app import create_app
from service.logs import logging_config
from service.settings import Settings
from tests.conftest import MODELS


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


@contextmanager
def logs_into(stream: io.StringIO, log_format: str) -> Iterator[None]:
    """Configure logging as the service does, into `stream`; put the old handlers back after."""
    names = ("service", "uvicorn", "uvicorn.access")
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level) for n in names}
    config = logging_config(Settings(log_format=log_format))
    config["handlers"]["default"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        yield
    finally:
        for name, (handlers, level) in saved.items():
            logging.getLogger(name).handlers = handlers
            logging.getLogger(name).setLevel(level)


def test_access_log_is_json_with_the_request_id() -> None:
    stream = io.StringIO()
    with logs_into(stream, "json"), TestClient(create_app(Settings(models_dir=MODELS))) as c:
        c.get("/health/live", headers={"x-request-id": "log-me-1"})
    lines = [json.loads(x) for x in stream.getvalue().splitlines() if "log-me-1" in x]
    assert lines
    assert lines[0]["request_id"] == "log-me-1"
    assert lines[0]["status"] == 200
    assert lines[0]["path"] == "/health/live"


def test_plain_text_logs_are_switchable() -> None:
    stream = io.StringIO()
    with logs_into(stream, "text"):
        logging.getLogger("service.test").warning("hello")
    assert "WARNING service.test [-] hello" in stream.getvalue()
