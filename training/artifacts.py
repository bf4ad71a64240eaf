"""What training publishes into `models/`: per model its ONNX file, card, golden set and plot,
plus the word index and a manifest listing every model."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

from service.card import (
    CARD,
    GOLDEN,
    MANIFEST,
    ONNX,
    WORD_INDEX,
    GoldenReview,
    GoldenSet,
    Manifest,
    ModelCard,
    write_json,
)

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def plot_history(history: Mapping[str, list[float]], title: str, path: Path) -> None:
    """Loss and accuracy per epoch, training against validation, as the chapter's plot; or, for
    a history kept by step (a fine-tuning run: `step` and its checks), each check by step."""
    if "step" in history:
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, values in history.items():
            if name != "step":
                ax.plot(history["step"], values, "o-", label=name)
        ax.set_xlabel("step")
        axes = [ax]
    else:
        fig, axes = plt.subplots(2, 1, figsize=(6, 6), sharex=True)
        epochs = range(1, len(history["loss"]) + 1)
        for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
            ax.plot(epochs, history[metric], "o-", label="training")
            ax.plot(epochs, history[f"val_{metric}"], "o-", label="validation")
            ax.set_ylabel(metric)
        axes[-1].set_xlabel("epoch")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(textwrap.fill(title, 60))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def publish_model(
    out: Path,
    onnx_model: bytes,
    card: ModelCard,
    golden: Sequence[GoldenReview],
    extra: Mapping[str, Path] | None = None,
) -> Path:
    """Write a model's folder next to the others, replacing the old one only once all is written;
    `extra`: more files to copy in (name in the folder -> source)."""
    out.mkdir(parents=True, exist_ok=True)
    name = card.name
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=out))
    staging.chmod(0o755)  # mkdtemp makes it private; the service may run as another user
    (staging / ONNX).write_bytes(onnx_model)
    card.write(staging / CARD)
    write_json(staging / GOLDEN, GoldenSet.dump_python(list(golden), mode="json"))
    for file_name, source in (extra or {}).items():
        shutil.copyfile(source, staging / file_name)
    plot_history(card.history, f"{name}: {card.architecture}", staging / "history.png")
    target = out / name
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target


def update_manifest(out: Path) -> Manifest:
    """List every published model in `out` (not just the ones trained in this run)."""
    manifest = Manifest(models=sorted(p.parent.name for p in out.glob(f"*/{CARD}")))
    manifest.write(out / MANIFEST)
    return manifest


def copy_word_index(source: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, out / WORD_INDEX)
