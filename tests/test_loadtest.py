"""The load-test runner, both modes, briefly against a real server: reports written, no failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import free_port, live_service
from loadtest.mix import BAD_INPUTS, REVIEWS, is_refusal, mix_models
from loadtest.run import main

pytestmark = pytest.mark.slow


GRPC_PORT = free_port()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with live_service(env={"SENTIMENT_GRPC_PORT": str(GRPC_PORT)}) as running:
        yield running


def check_report(out: Path) -> dict[str, Any]:
    assert {p.name for p in out.iterdir()} >= {"report.md", "report.json", "report.png"}
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    assert report["failures"] == 0
    assert report["refused"] == 0
    assert report["requests"] > 50
    assert report["expected_4xx"] > 0
    assert report["p50_ms"] <= report["p95_ms"] <= report["p99_ms"]
    assert report["timeline"]
    return report


def test_a_503_or_429_with_retry_after_is_a_refusal_not_an_error() -> None:
    assert is_refusal(503, {"Retry-After": "1"})
    assert is_refusal(429, {"retry-after": "2"})
    assert not is_refusal(503, {})
    assert not is_refusal(500, {"Retry-After": "1"})
    assert not is_refusal(None, {})


def test_fixture_holds_real_reviews_of_real_lengths() -> None:
    assert len(REVIEWS) == 200
    assert min(map(len, REVIEWS)) < 500 < 2_000 < max(map(len, REVIEWS))
    assert {status for _, status in BAD_INPUTS} == {404, 422}


def test_closed_loop_with_locust(url: str, tmp_path: Path) -> None:
    assert main(["--url", url, "--users", "4", "--duration", "3", "--out", str(tmp_path)]) == 0
    report = check_report(tmp_path)
    assert report["users"] == 4


def test_open_loop_at_a_fixed_rate(url: str, tmp_path: Path) -> None:
    assert main(["--url", url, "--rate", "60", "--duration", "3", "--out", str(tmp_path)]) == 0
    report = check_report(tmp_path)
    assert report["requests"] == 180


def test_the_mix_over_grpc_closed_and_open_loop(url: str, tmp_path: Path) -> None:
    target = ["--url", url, "--grpc", f"127.0.0.1:{GRPC_PORT}", "--duration", "3"]
    assert main([*target, "--users", "4", "--out", str(tmp_path / "closed")]) == 0
    assert check_report(tmp_path / "closed")["mode"] == "gRPC ModelInfer, closed loop"
    assert main([*target, "--rate", "60", "--out", str(tmp_path / "open")]) == 0
    assert check_report(tmp_path / "open")["requests"] == 180


def test_the_mix_leaves_out_models_that_read_wordpiece_tokens() -> None:
    listed: list[dict[str, Any]] = [
        {"name": "ngram", "wordpiece_tokens": None},
        {"name": "minilm", "wordpiece_tokens": 128},
        {"name": "rnn2"},  # a service from before the field
    ]
    assert mix_models(listed) == ["ngram", "rnn2"]
