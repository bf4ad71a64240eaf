"""The optional API key and CORS, both off by default."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import MODELS


def test_api_key_is_off_by_default(client: TestClient) -> None:
    assert client.post("/predict", json={"text": "ok"}).status_code == 200


def test_api_key_guards_model_routes_but_not_probes() -> None:
    settings = Settings(models_dir=MODELS, api_key="s3cret")
    with TestClient(create_app(settings)) as client:
        missing = client.post("/predict", json={"text": "ok"})
        assert missing.status_code == 401
        assert missing.json()["error"]["type"] == "unauthorized"
        wrong = client.get("/models", headers={"x-api-key": "s3cres"})
        assert wrong.status_code == 401
        right = client.post("/predict", json={"text": "ok"}, headers={"x-api-key": "s3cret"})
        assert right.status_code == 200
        assert client.get("/health/ready").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert "s3cret" not in missing.text


def test_cors_is_off_by_default(client: TestClient) -> None:
    response = client.get("/models", headers={"origin": "https://example.org"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_configured_origins_only() -> None:
    settings = Settings(models_dir=MODELS, cors_origins=["https://ok.example"])
    with TestClient(create_app(settings)) as client:
        preflight = client.options(
            "/predict",
            headers={"origin": "https://ok.example", "access-control-request-method": "POST"},
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://ok.example"
        other = client.get("/models", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_errors_carry_no_stack_trace_or_path(client: TestClient) -> None:
    response = client.post(
        "/predict", content=b'{"text": "\xff"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "Traceback" not in response.text
    assert "/work" not in response.text
    assert ".py" not in response.text
