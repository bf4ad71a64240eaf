"""Loading the models folder: every missing or corrupt file is refused with a message naming it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from service.errors import ModelNotFound
from service.registry import ModelLoadError, check_golden, load_registry
from tests.conftest import CHAPTER_MODELS, MODELS, SERVED_MODELS


@pytest.fixture
def models(tmp_path: Path) -> Path:
    copy = tmp_path / "models"
    shutil.copytree(MODELS, copy)
    return copy


def load(models: Path) -> None:
    registry = load_registry(models, "rnn2")
    check_golden(registry, 1e-5)


def test_committed_models_load_and_pass_their_golden_sets() -> None:
    registry = load_registry(MODELS, "rnn2")
    check_golden(registry, 1e-5)
    assert registry.ready
    assert set(CHAPTER_MODELS) <= set(registry.models)
    assert max(registry.golden_max_diff.values()) <= 1e-5


def test_missing_models_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=f"missing models folder: {tmp_path / 'nope'}"):
        load(tmp_path / "nope")


@pytest.mark.parametrize(
    "relative",
    ["manifest.json", "imdb_word_index.json", "rnn/model.onnx", "ff/card.json", "rnn3/golden.json"],
)
def test_missing_file_is_named(models: Path, relative: str) -> None:
    (models / relative).unlink()
    with pytest.raises(ModelLoadError, match=f"missing file: {models / relative}"):
        load(models)


def test_corrupt_onnx_fails_its_checksum(models: Path) -> None:
    path = models / "rnn2" / "model.onnx"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ModelLoadError, match=f"corrupt model {path}: sha256"):
        load(models)


def test_corrupt_json_is_named(models: Path) -> None:
    (models / "ff" / "card.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match=f"corrupt JSON in {models / 'ff' / 'card.json'}"):
        load(models)


def test_card_missing_a_field_is_named(models: Path) -> None:
    path = models / "rnn" / "card.json"
    card = json.loads(path.read_text())
    del card["input_name"]
    path.write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match=f"invalid {path}: .*input_name"):
        load(models)


def test_card_of_another_model_is_refused(models: Path) -> None:
    shutil.copyfile(models / "rnn" / "card.json", models / "ff" / "card.json")
    with pytest.raises(ModelLoadError, match="is the card of 'rnn', not of 'ff'"):
        load(models)


def test_get_answers_the_default_model_or_raises_model_not_found() -> None:
    registry = load_registry(MODELS, "rnn2")
    assert registry.get(None).name == "rnn2"
    assert registry.get("ff").name == "ff"
    with pytest.raises(ModelNotFound, match=r"unknown model 'gpt'; available models: fasttext"):
        registry.get("gpt")


def test_corrupt_word_index_is_named(models: Path) -> None:
    (models / "imdb_word_index.json").write_text('["a list"]')
    with pytest.raises(ModelLoadError, match="corrupt word index"):
        load(models)


def test_golden_mismatch_keeps_the_service_unready(models: Path) -> None:
    path = models / "rnn" / "golden.json"
    golden = json.loads(path.read_text())
    golden[3]["keras_score"] += 1e-3
    path.write_text(json.dumps(golden))
    registry = load_registry(models, "rnn2")
    with pytest.raises(ModelLoadError, match=f"model rnn fails its golden set {path}"):
        check_golden(registry, 1e-5)
    assert not registry.ready


def test_unknown_default_model_is_refused() -> None:
    with pytest.raises(
        ModelLoadError, match=rf"default model 'gpt'.*available: {', '.join(SERVED_MODELS)}\)"
    ):
        load_registry(MODELS, "gpt")
