"""Training smoke test on a slice of the real data: one epoch, export, parity, artifacts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from service.card import MANIFEST, GoldenSet, Manifest, ModelCard
from training import export
from training.config import TrainConfig
from training.data import Reviews
from training.pipeline import run

pytestmark = [pytest.mark.slow, pytest.mark.data]


@pytest.fixture(scope="module")
def trained(
    data_dir: Path, imdb: dict[str, Reviews], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("models")
    config = TrainConfig(models=("ff", "rnn2"), data=data_dir, out=out, epochs=1, limit=600)
    run(config, imdb)
    return out


def test_smoke_run_publishes_every_artifact(trained: Path) -> None:
    assert Manifest.read(trained / MANIFEST).models == ["ff", "rnn2"]
    assert (trained / "imdb_word_index.json").is_file()
    for name in ("ff", "rnn2"):
        folder = trained / name
        assert {p.name for p in folder.iterdir()} == {
            "model.onnx",
            "card.json",
            "golden.json",
            "history.png",
        }
        card = ModelCard.read(folder / "card.json")
        assert card.epochs_run == 1
        assert card.parity.inputs == 600
        assert card.parity.max_abs_diff <= 1e-5
        assert card.parity.label_mismatches == 0
        assert card.hyperparameters["batch_size"] == 128
        assert card.hyperparameters["seed"] == 42
        assert card.versions["tensorflow"].startswith("2.")
        assert len(card.data.sha256 or "") == 64
        assert len(GoldenSet.validate_json((folder / "golden.json").read_bytes())) == 20


def test_smoke_models_have_the_chapter_parameter_counts(trained: Path) -> None:
    params = {n: ModelCard.read(trained / n / "card.json").params for n in ("ff", "rnn2")}
    assert params == {"ff": 80_161, "rnn2": 85_281}


def test_parity_failure_is_loud() -> None:
    import keras

    from training.architectures import build_model

    model: keras.Model = build_model("ff", 10_000, 20, 8)
    ids = np.random.default_rng(0).integers(0, 10_000, (50, 20)).astype(np.int32)
    onnx_model = export.export_onnx(model, 20)
    keras_scores = model.predict(ids, verbose=0)[:, 0]
    assert export.check_parity(onnx_model, ids, keras_scores).max_abs_diff <= 1e-5
    with pytest.raises(export.ParityError, match="max \\|diff\\|"):
        export.check_parity(onnx_model, ids, keras_scores + 1e-4)


@pytest.mark.parametrize(
    ("name", "params"), [("ff", 80_161), ("rnn", 80_040), ("rnn2", 85_281), ("rnn3", 80_289)]
)
def test_architectures_match_the_chapter(name: str, params: int) -> None:
    from training.architectures import build_model

    assert build_model(name, 10_000, 20, 8).count_params() == params
