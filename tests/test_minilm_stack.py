"""The `minilm` model's stacked graph (training/minilm_publish.py) against its reference computed
outside it, and the service serving a model that reads WordPiece tokens after its word window
(service/registry.py, service/wordpiece.py): on the committed ngram graph, small random encoder
weights and a small vocabulary (no model package needed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from service import registry as registry_module
from service.card import CARD, GOLDEN, MANIFEST, ModelCard, WordPieceInput
from service.registry import ModelLoadError, load_registry
from service.tokenizer import build_vocabulary, encode_batch, load_word_index
from service.wordpiece import WordPiece
from tests.conftest import MODELS
from tests.test_minilm import random_weights, tokenizer_json  # noqa: F401  (a fixture)
from training import minilm
from training.minilm_publish import (
    TOKENS,
    features,
    reference_scores,
    stacked_graph,
    word_counts,
)

TEXTS = [
    "A great film.",
    "Bad plots, bad film.",
    "a",
    "",
    "Great great great film, a great plot. " * 130,  # past the word window and the 128 tokens
]
Stack = tuple[onnx.ModelProto, minilm.Weights, np.ndarray]
COEF = np.array([0.9, 0.7, 0.05, 0.1, -0.2])
INTERCEPT = 0.15


@pytest.fixture(scope="module")
def stack(tokenizer_json: Path) -> Stack:  # noqa: F811
    w = random_weights(seed=4, positions=TOKENS)
    head = (np.random.default_rng(5).standard_normal(minilm.HIDDEN) * 0.5).astype(np.float32)
    encoder = minilm.build_logit(w, head, 0.3)
    ngram = onnx.load(MODELS / "ngram" / "model.onnx")
    return stacked_graph(ngram, encoder, 800, COEF, INTERCEPT), w, head


def rows(texts: list[str], wp: WordPiece) -> np.ndarray:
    vocabulary = build_vocabulary(load_word_index(MODELS / "imdb_word_index.json"), 40_000)
    out = np.zeros((len(texts), 800 + TOKENS), dtype=np.int32)
    out[:, :800] = encode_batch(texts, vocabulary, 800)
    wp.encode_rows(texts, out[:, 800:])
    return out


def reference(texts: list[str], x: np.ndarray, w: minilm.Weights, head: np.ndarray) -> np.ndarray:
    """ngram's own graph, the NumPy encoder, the layer in float64: outside the stacked graph."""
    ngram = ort.InferenceSession(str(MODELS / "ngram" / "model.onnx"))
    (p,) = ngram.run(None, {"input_ids": x[:, :800]})
    pieces = x[:, 800:].astype(np.int64)
    mask = (pieces != 0).astype(np.int64)
    pooled = minilm.reference_embed(w, pieces, mask, normalize=False).astype(np.float64)
    logit = pooled @ head.astype(np.float64) + 0.3
    return reference_scores(features(p, logit, word_counts(x[:, :800])), COEF, INTERCEPT)


def test_stacked_graph_matches_its_reference(stack: Stack, tokenizer_json: Path) -> None:  # noqa: F811
    model, w, head = stack
    wp = WordPiece(tokenizer_json, TOKENS)
    x = rows(TEXTS, wp)
    session = ort.InferenceSession(model.SerializeToString())
    (got,) = session.run(None, {"input_ids": x})
    want = reference(TEXTS, x, w, head)
    assert got.shape == (len(TEXTS),)
    assert np.abs(got - want).max() < 1e-5
    assert np.all((got > 0) & (got < 1))
    # The padding the graph trims changes nothing: each text alone scores as in the batch.
    for i in range(len(TEXTS)):
        (alone,) = session.run(None, {"input_ids": x[i : i + 1]})
        assert abs(float(alone[0]) - float(got[i])) < 1e-5
    # The long text fills the word window and keeps its last 128 tokens, [SEP] last.
    assert x[4, 800 + TOKENS - 1] == 3
    assert (x[4, :800] >= 2).all()


@pytest.fixture
def models_dir(tmp_path: Path, stack: Stack, tokenizer_json: Path) -> Path:  # noqa: F811
    """A models folder serving one model that reads WordPiece tokens: the stacked graph above."""
    model, w, head = stack
    folder = tmp_path / "models" / "stacked"
    folder.mkdir(parents=True)
    data = model.SerializeToString()
    (folder / "model.onnx").write_bytes(data)
    shutil.copy(tokenizer_json, folder / "tokenizer.json")
    import hashlib

    card = ModelCard.read(MODELS / "ngram" / CARD).model_copy(
        update={
            "name": "stacked",
            "onnx_sha256": hashlib.sha256(data).hexdigest(),
            "wordpiece": WordPieceInput(tokens=TOKENS, tokenizer="tokenizer.json"),
        }
    )
    card.write(folder / CARD)
    x = rows(TEXTS[:3], WordPiece(tokenizer_json, TOKENS))
    golden = [
        {"name": f"t{i}", "label": 1, "text": t, "keras_score": float(s)}
        for i, (t, s) in enumerate(zip(TEXTS[:3], reference(TEXTS[:3], x, w, head), strict=True))
    ]
    (folder / GOLDEN).write_text(json.dumps(golden))
    shutil.copy(MODELS / "imdb_word_index.json", tmp_path / "models")
    (tmp_path / "models" / MANIFEST).write_text(json.dumps({"models": ["stacked"]}))
    return tmp_path / "models"


def test_registry_serves_a_wordpiece_model(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.registry import check_model_golden

    registry = load_registry(models_dir, "stacked")
    model = registry.get("stacked")
    assert model.row_length == 800 + TOKENS
    assert check_model_golden(model, 1e-5) < 1e-5
    row, cut = model.encode_window(TEXTS[4])
    assert row.shape == (800 + TOKENS,)
    assert cut
    batch, cuts = model.encode_batch_window(TEXTS)
    assert np.array_equal(batch[4], row)
    assert cuts == [False, False, False, False, True]
    # Many rows are scored a few at a time (an encoder's memory grows with the rows of a call).
    whole = model.score_ids(batch)
    monkeypatch.setattr(registry_module, "ENCODER_ROWS", 2)
    assert np.abs(model.score_ids(batch) - whole).max() < 1e-6


def test_a_wordpiece_model_without_its_tokenizer_is_not_served(models_dir: Path) -> None:
    (models_dir / "stacked" / "tokenizer.json").unlink()
    with pytest.raises(ModelLoadError, match=r"missing file: .*tokenizer\.json"):
        load_registry(models_dir, "stacked")
    (models_dir / "stacked" / "tokenizer.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="corrupt tokenizer"):
        load_registry(models_dir, "stacked")


def test_a_card_cannot_name_a_tokenizer_outside_its_folder() -> None:
    with pytest.raises(ValueError, match="should match pattern"):
        WordPieceInput(tokens=128, tokenizer="../../etc/tokenizer.json")


def test_the_service_answers_with_a_wordpiece_model(models_dir: Path) -> None:
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    settings = Settings(models_dir=models_dir, default_model="stacked", max_encoder_batch_texts=2)
    with TestClient(create_app(settings)) as client:
        one = client.post("/predict", json={"text": TEXTS[0]})
        assert one.status_code == 200
        assert one.json()["model"] == "stacked"
        batch = client.post("/predict/batch", json={"texts": [TEXTS[0], TEXTS[4]]})
        assert batch.status_code == 200
        scores = [p["score"] for p in batch.json()["predictions"]]
        assert scores[0] == pytest.approx(one.json()["score"], abs=1e-6)
        # Occlusion of word ids says nothing of the WordPiece part: a clear 4xx, not a wrong answer.
        explained = client.post("/predict", json={"text": TEXTS[0], "explain": True})
        assert explained.status_code == 422
        assert "WordPiece" in explained.json()["error"]["message"]
        # v2 ids: the word window's, then the WordPiece vocabulary's (12 words here).
        row = [0] * (800 + TOKENS)
        row[799], row[800], row[801], row[802] = 5, 2, 4, 3
        infer = {
            "inputs": [
                {"name": "input_ids", "shape": [1, 800 + TOKENS], "datatype": "INT64", "data": row}
            ]
        }
        ok = client.post("/v2/models/stacked/infer", json=infer)
        assert ok.status_code == 200
        row[801] = 12  # past the tokenizer's 12 pieces: the encoder would read out of bounds
        bad = client.post("/v2/models/stacked/infer", json=infer)
        assert bad.status_code == 400
        assert "input_ids[801] must be an integer id from 0 to 11" in bad.text
        # An encoder's batches are capped lower (2 here): a long one would hold the CPU queue.
        three = client.post("/predict/batch", json={"texts": ["good", "bad", "fine"]})
        assert three.status_code == 422
        assert "the limit is 2 for stacked" in three.json()["error"]["message"]
        compared = client.post("/compare", json={"texts": ["good", "bad", "fine"]})
        assert compared.status_code == 422
        text = {"name": "text", "shape": [3], "datatype": "BYTES", "data": ["a", "b", "c"]}
        v2 = client.post("/v2/models/stacked/infer", json={"inputs": [text]})
        assert v2.status_code == 400
        assert "batch size must be 1 to 2" in v2.text
        meta = client.get("/v2/models/stacked").json()
        assert meta["inputs"][-1]["shape"] == [-1, 800 + TOKENS]
