"""What training publishes into `models/`: per model its ONNX file, card, golden set and plot,
plus the word index and a manifest listing every model."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

MANIFEST = "manifest.json"
WORD_INDEX = "imdb_word_index.json"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def plot_history(history: Mapping[str, list[float]], title: str, path: Path) -> None:
    """Loss and accuracy per epoch, training against validation, as the chapter's plot."""
    fig, axes = plt.subplots(2, 1, figsize=(6, 6), sharex=True)
    epochs = range(1, len(history["loss"]) + 1)
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        ax.plot(epochs, history[metric], "o-", label="training")
        ax.plot(epochs, history[f"val_{metric}"], "o-", label="validation")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    axes[-1].set_xlabel("epoch")
    fig.suptitle(textwrap.fill(title, 60))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def publish_model(
    out: Path,
    name: str,
    onnx_model: bytes,
    card: dict[str, Any],
    golden: list[dict[str, Any]],
    history: Mapping[str, list[float]],
) -> Path:
    """Write a model's folder next to the others, replacing the old one only once all is written."""
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=out))
    staging.chmod(0o755)  # mkdtemp makes it private; the service may run as another user
    (staging / "model.onnx").write_bytes(onnx_model)
    write_json(staging / "card.json", card)
    write_json(staging / "golden.json", golden)
    plot_history(history, f"{name}: {card['architecture']}", staging / "history.png")
    target = out / name
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target


def update_manifest(out: Path) -> dict[str, Any]:
    """List every published model in `out` (not just the ones trained in this run)."""
    models = []
    for card_path in sorted(out.glob("*/card.json")):
        card = json.loads(card_path.read_text(encoding="utf-8"))
        models.append(
            {
                "name": card["name"],
                "path": f"{card['name']}/model.onnx",
                "card": f"{card['name']}/card.json",
                "golden": f"{card['name']}/golden.json",
                "sha256": card["onnx_sha256"],
                "architecture": card["architecture"],
                "input_length": card["input_length"],
                "num_words": card["num_words"],
                "test_accuracy": card["test"]["accuracy"],
            }
        )
    manifest = {"word_index": WORD_INDEX, "models": models}
    write_json(out / MANIFEST, manifest)
    return manifest


def copy_word_index(source: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, out / WORD_INDEX)
