"""Shared fixtures: the real data (a failure in CI when missing), test settings, a running app."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

import harness
from service.app import create_app
from service.card import MANIFEST, Manifest
from service.settings import Settings

if TYPE_CHECKING:
    from training.data import Reviews

# Apps and servers started by tests serve gRPC only when a test asks for it, on a port of its own:
# the default, 8001, may be taken on a shared machine.
os.environ.setdefault("SENTIMENT_GRPC_PORT", "0")

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
DATA = Path(os.environ.get("IMDB_DATA", ROOT.parent / "shared" / "data" / "imdb"))
CHAPTER_MODELS = ("ff", "rnn", "rnn2", "rnn3")
SERVED_MODELS = tuple(Manifest.read(MODELS / MANIFEST).models)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real IMDB data beside the project. Missing: a failure in CI, a skip elsewhere."""
    if not (DATA / "aclImdb_v1_labelled.tar.gz").is_file():
        message = f"the real IMDB data is missing at {DATA}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return DATA


@pytest.fixture(scope="session")
def imdb(data_dir: Path) -> dict[str, Reviews]:
    """Both splits of the real tarball, read once per test run (it takes seconds)."""
    from training.data import find_dataset, read_dataset

    return read_dataset(find_dataset(data_dir))


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(models_dir=MODELS)


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    """One app for the read-only route tests, with its lifespan running."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def golden(name: str) -> list[dict[str, Any]]:
    reviews: list[dict[str, Any]] = json.loads((MODELS / name / "golden.json").read_bytes())
    return reviews


def metric(url: str, name: str, **labels: str) -> float:
    """One sample of a live server's /metrics (0 if it has none yet), read with
    prometheus-client's own parser."""
    text = harness.http("GET", f"{url}/metrics")[1]
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0
