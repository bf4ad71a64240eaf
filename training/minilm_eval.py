"""Scores of a fine-tuned MiniLM classifier (weights from scripts/minilm_finetune.py, converted to
an .npz) on the short-text sets, through its ONNX graph (training/minilm.py) and the shared
WordPiece tokenizer; beside the committed ngram model's scores, cached in --cache.

    nice -n 10 python -m training.minilm_eval --weights ft.npz --split validation
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx

from service.tokenizer import load_word_index
from service.wordpiece import WordPiece
from training import data, minilm, short_text
from training.config import TrainConfig
from training.minilm_experiment import REPO
from training.pipeline import load_data, short_text_sets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--split", choices=("validation", "test"), default="validation")
    parser.add_argument("--cache", type=Path, default=Path("/work/minilm-cache"))
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--data", type=Path, default=short_text.DEFAULT_DATA)
    args = parser.parse_args(argv)
    npz = np.load(args.weights)
    w = {k: np.asarray(npz[k], dtype=np.float32) for k in npz.files if not k.startswith("__")}
    model = minilm.build_classifier(
        w, np.asarray(npz["__head_weight"], dtype=np.float32), float(npz["__head_bias"][0]), bound=0
    )
    path = args.cache / (args.weights.stem + ".onnx")
    onnx.save(model, path)
    sess = minilm.session(path, 2)
    wp = WordPiece(minilm.package_dir() / "tokenizer.json", args.max_tokens, side="left")
    config = TrainConfig()
    sets = short_text_sets(
        config, load_data(config, data.read_dataset(data.find_dataset(args.data)))
    )[args.split]
    word_index = load_word_index(REPO / "models" / "imdb_word_index.json")
    out: dict[str, dict[str, float]] = {}
    for name, texts in sets.items():
        where = args.cache / f"{args.weights.stem}_{args.split}_{name}.npz"
        if where.exists():
            z = np.load(where)
            ft, ng = z["ft"], z["ngram"]
        else:
            t = time.perf_counter()

            def scores(batch: list[str]) -> npt.NDArray[np.float32]:
                b = wp.encode_batch(batch)
                feeds = {"input_ids": b.input_ids, "attention_mask": b.attention_mask}
                return np.asarray(sess.run(None, feeds)[0][:, 0], dtype=np.float32)

            ft = short_text.in_length_order(texts.texts, scores)
            print(f"{name}: {len(ft)} texts in {time.perf_counter() - t:.0f} s", flush=True)
            ng = short_text.score_onnx(REPO / "models" / "ngram", texts.texts, word_index).reshape(
                -1
            )
            np.savez(where, ft=ft, ngram=ng, labels=texts.labels)
        fa: npt.NDArray[np.float64] = np.asarray(ft, dtype=np.float64)
        out[name] = {
            "minilm_acc": float(np.mean((fa >= 0.5) == (texts.labels == 1))),
            "minilm_ece": short_text.ece(fa, texts.labels),
            "ngram_acc": float(np.mean((ng >= 0.5) == (texts.labels == 1))),
        }
        print(name, json.dumps(out[name]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
