"""GET /models, /models/{name}, /health/*, and the OpenAPI document."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import CHAPTER_MODELS, MODELS


def test_models_lists_every_model_with_its_figures(client: TestClient, settings: Settings) -> None:
    response = client.get("/models")
    assert response.status_code == 200
    body = response.json()
    assert body["default"] == settings.default_model
    by_name = {m["name"]: m for m in body["models"]}
    assert set(CHAPTER_MODELS) <= set(by_name)
    assert by_name["ff"]["params"] == 80_161
    assert [m["name"] for m in body["models"] if m["default"]] == [settings.default_model]
    assert by_name["rnn"]["input_length"] == 20
    card = json.loads((MODELS / "rnn3" / "card.json").read_text())
    assert by_name["rnn3"]["sha256"] == card["onnx_sha256"]
    assert by_name["rnn3"]["test_accuracy"] == card["test"]["accuracy"]


def test_model_card_is_served(client: TestClient) -> None:
    response = client.get("/models/rnn")
    assert response.status_code == 200
    assert response.json() == json.loads((MODELS / "rnn" / "card.json").read_text())


def test_health_live_and_ready(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "ok"}
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_not_ready_before_the_lifespan_and_after_shutdown() -> None:
    app = create_app(Settings(models_dir=MODELS))
    before = TestClient(app)  # not entered: the lifespan has not run
    assert before.get("/health/ready").status_code == 503
    response = before.post("/predict", json={"text": "ok"})
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "not_ready"
    assert response.headers["retry-after"] == "1"
    with TestClient(app) as running:
        assert running.get("/health/ready").status_code == 200
    assert before.get("/health/ready").status_code == 503
    assert before.get("/health/live").status_code == 200


def test_default_model_is_a_setting() -> None:
    with TestClient(create_app(Settings(models_dir=MODELS, default_model="rnn3"))) as client:
        assert client.post("/predict", json={"text": "ok"}).json()["model"] == "rnn3"
        assert client.get("/models").json()["default"] == "rnn3"


def test_openapi_documents_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {
        "/predict",
        "/predict/batch",
        "/models",
        "/models/{name}",
        "/health/live",
        "/health/ready",
    } <= set(spec["paths"])
    assert client.get("/docs").status_code == 200
