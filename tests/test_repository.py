"""Model reload without a restart (/v2/repository): a checked model swaps in on every path; a
broken one on disk is refused naming its file, and the old model keeps serving its old scores."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from bench.reload import copy_models, put_model_as
from service.app import create_app
from service.settings import Settings
from tests.conftest import MODELS

TEXT = "A wonderful film, moving and beautifully acted; I loved every minute of it."
KEPT = ("ff", "rnn2")  # the models bench.reload.copy_models keeps


def read_card(folder: Path) -> dict[str, Any]:
    card: dict[str, Any] = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    return card


def write_card(folder: Path, card: dict[str, Any]) -> None:
    (folder / "card.json").write_text(json.dumps(card), encoding="utf-8")


@pytest.fixture
def models(tmp_path: Path) -> Path:
    return copy_models(tmp_path)


@pytest.fixture
def app_client(models: Path) -> Iterator[TestClient]:
    settings = Settings(models_dir=models, default_model="rnn2", model_control=True)
    with TestClient(create_app(settings)) as client:
        yield client


def reloads(outcome: str, model: str = "rnn2") -> float:
    labels = {"model": model, "outcome": outcome}
    return REGISTRY.get_sample_value("sentiment_model_reloads_total", labels) or 0.0


def score(client: TestClient, model: str = "rnn2") -> float:
    response = client.post("/predict", json={"text": TEXT, "model": model})
    assert response.status_code == 200, response.text
    return float(response.json()["score"])


def every_path_scores(client: TestClient) -> dict[str, float]:
    """The score of TEXT by rnn2 through each route that scores."""
    batch = client.post("/predict/batch", json={"texts": [TEXT], "model": "rnn2"}).json()
    explained = client.post("/predict", json={"text": TEXT, "model": "rnn2", "explain": True})
    v2 = client.post(
        "/v2/models/rnn2/infer",
        json={"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [TEXT]}]},
    ).json()
    compared = client.post("/compare", json={"text": TEXT}).json()["predictions"]
    return {
        "predict": score(client),
        "batch": batch["predictions"][0]["score"],
        "explain": explained.json()["score"],
        "v2": v2["outputs"][0]["data"][0],
        "compare": next(p["score"] for p in compared if p["model"] == "rnn2"),
    }


def test_index_lists_each_model_ready_with_the_sha256_it_serves(app_client: TestClient) -> None:
    response = app_client.get("/v2/repository/index")
    assert response.status_code == 200
    served = {m["name"]: m for m in response.json()}
    assert set(served) == set(KEPT)
    for name in KEPT:
        assert served[name]["state"] == "READY"
        assert served[name]["sha256"] == read_card(MODELS / name)["onnx_sha256"]


def test_load_swaps_the_model_on_disk_in_on_every_path(
    app_client: TestClient, models: Path
) -> None:
    old, ff_score = every_path_scores(app_client), score(app_client, "ff")
    assert all(s == pytest.approx(old["predict"], abs=1e-6) for s in old.values()), old
    new_sha, loads = put_model_as(models, "ff", "rnn2"), reloads("loaded")
    response = app_client.post("/v2/repository/models/rnn2/load")
    assert response.status_code == 200, response.text
    new = every_path_scores(app_client)
    assert abs(ff_score - old["predict"]) > 0.01  # the two models tell apart
    assert all(s == pytest.approx(ff_score, abs=1e-6) for s in new.values()), new
    index = {m["name"]: m for m in app_client.get("/v2/repository/index").json()}
    assert index["rnn2"]["sha256"] == new_sha
    assert app_client.get("/health/ready").status_code == 200
    assert reloads("loaded") == loads + 1
    text = app_client.get("/metrics").text
    assert f'sentiment_model_info{{model="rnn2",sha256="{new_sha}"}} 1.0' in text


def break_onnx(folder: Path) -> str:
    """A corrupt ONNX file whose card records its sha256: onnxruntime itself refuses it."""
    broken = b"not an onnx graph" * 100
    (folder / "model.onnx").write_bytes(broken)
    write_card(folder, {**read_card(folder), "onnx_sha256": hashlib.sha256(broken).hexdigest()})
    return "model.onnx"


def break_sha256(folder: Path) -> str:
    write_card(folder, {**read_card(folder), "onnx_sha256": "0" * 64})
    return "model.onnx"


def break_golden(folder: Path) -> str:
    golden = json.loads((folder / "golden.json").read_text(encoding="utf-8"))
    golden[0]["keras_score"] = 1.0 - golden[0]["keras_score"]
    (folder / "golden.json").write_text(json.dumps(golden), encoding="utf-8")
    return "golden.json"


@pytest.mark.parametrize("breaking", [break_onnx, break_sha256, break_golden])
def test_a_broken_model_is_refused_naming_the_file_and_the_old_one_keeps_serving(
    app_client: TestClient, models: Path, breaking: Any
) -> None:
    before = every_path_scores(app_client)
    file, refusals = breaking(models / "rnn2"), reloads("refused")
    response = app_client.post("/v2/repository/models/rnn2/load")
    assert response.status_code == 400
    message = response.json()["error"]
    assert f"$SENTIMENT_MODELS_DIR/rnn2/{file}" in message, message
    assert str(models) not in message  # no server path reaches a client
    assert read_card(MODELS / "rnn2")["onnx_sha256"] in message  # what still serves
    assert every_path_scores(app_client) == before
    assert app_client.get("/health/ready").status_code == 200
    assert reloads("refused") == refusals + 1


def test_unload_then_load_again_and_the_default_model_stays(app_client: TestClient) -> None:
    assert app_client.post("/v2/repository/models/ff/unload").status_code == 200
    assert app_client.post("/predict", json={"text": TEXT, "model": "ff"}).status_code == 404
    index = {m["name"]: m for m in app_client.get("/v2/repository/index").json()}
    assert index["ff"]["state"] == "UNAVAILABLE"
    assert index["ff"]["sha256"] is None
    assert app_client.post("/v2/repository/models/ff/load").status_code == 200
    assert score(app_client, "ff") > 0.5
    refused = app_client.post("/v2/repository/models/rnn2/unload")
    assert refused.status_code == 400
    assert "default" in refused.json()["error"]
    unknown = app_client.post("/v2/repository/models/nope/load")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "no model 'nope' in $SENTIMENT_MODELS_DIR/manifest.json"


def test_model_control_is_off_by_default(models: Path) -> None:
    with TestClient(create_app(Settings(models_dir=models, default_model="rnn2"))) as client:
        response = client.post("/v2/repository/models/rnn2/load")
        assert response.status_code == 403
        assert "SENTIMENT_MODEL_CONTROL" in response.json()["error"]
        assert client.get("/v2").json()["extensions"] == []


def test_model_control_needs_the_api_key_when_one_is_set(models: Path) -> None:
    settings = Settings(
        models_dir=models, default_model="rnn2", model_control=True, api_key="s3cret"
    )
    with TestClient(create_app(settings)) as client:
        assert client.post("/v2/repository/models/rnn2/load").status_code == 401
        assert client.get("/v2/repository/index").status_code == 401
        allowed = client.post("/v2/repository/models/rnn2/load", headers={"x-api-key": "s3cret"})
        assert allowed.status_code == 200
        assert client.get("/v2").json()["extensions"] == ["model_repository"]
