"""Feasibility of all-MiniLM-L6-v2 for issue 14: frozen embeddings + logistic regression, alone
and beside the ngram model's logit. Chosen on validation sets cut from the training split only.

    nice -n 10 python -m training.minilm_experiment --cache /work/minilm-cache

Embeddings are cached (never in the repo). Prints a JSON of figures.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort

from service.wordpiece import WordPiece
from training import data, minilm, short_text
from training.config import TrainConfig
from training.pipeline import load_data, short_text_sets

REPO = Path(__file__).resolve().parents[1]


def embed(
    sess: ort.InferenceSession, wp: WordPiece, texts: Sequence[str], batch: int = 64
) -> npt.NDArray[np.float32]:
    # Sort by length so each batch pads little; restore the order afterwards.
    order = np.argsort([len(t) for t in texts])
    out = np.zeros((len(texts), minilm.HIDDEN), dtype=np.float32)
    for start in range(0, len(texts), batch):
        idx = order[start : start + batch]
        b = wp.encode_batch([texts[i] for i in idx])
        (e,) = sess.run(None, {"input_ids": b.input_ids, "attention_mask": b.attention_mask})
        out[idx] = e
    return out


def cached(
    cache: Path, name: str, sess: ort.InferenceSession, wp: WordPiece, texts: Sequence[str]
) -> npt.NDArray[np.float32]:
    path = cache / f"{name}.npy"
    if path.exists():
        return np.asarray(np.load(path), dtype=np.float32)
    t = time.perf_counter()
    e = embed(sess, wp, texts)
    seconds = time.perf_counter() - t
    print(f"embedded {name}: {len(texts)} texts in {seconds:.1f} s ({len(texts) / seconds:.1f}/s)")
    np.save(path, e)
    return e


def dump_finetune(source: Path, out: Path) -> None:
    """The fine-tuning texts: one crop (sentence or span) of each of 8,000 training reviews
    (never validation ones), then 3,000 of those reviews whole; the validation subsample (1,000
    reviews, 2,000 sentences, the same as `main` uses) and fasttext's and ngram's accuracy on it."""
    config = TrainConfig()
    splits = load_data(config, data.read_dataset(data.find_dataset(source)))
    val_sets = short_text_sets(config, splits)["validation"]
    n_val = int(len(splits.train) * config.validation_split)
    fit = splits.train.take(np.arange(len(splits.train) - n_val))
    rng = np.random.default_rng(0)
    rng.permutation(len(fit))  # the draw `main` makes for its training subsample
    v_pick = rng.permutation(len(val_sets["reviews"].texts))[:1000]
    s_pick = rng.permutation(len(val_sets["sentences"].texts))[:2000]
    vr = [val_sets["reviews"].texts[i] for i in v_pick]
    yr = val_sets["reviews"].labels[v_pick]
    vs = [val_sets["sentences"].texts[i] for i in s_pick]
    ys = val_sets["sentences"].labels[s_pick]
    ft = fit.take(np.random.default_rng(7).permutation(len(fit))[:8000])
    cr = short_text.crops(ft.texts, ft.labels, 1, seed=3)
    from service.tokenizer import load_word_index

    word_index = load_word_index(REPO / "models" / "imdb_word_index.json")
    ref = {}
    for name in ("fasttext", "ngram"):
        pr = short_text.score_onnx(REPO / "models" / name, vr, word_index).reshape(-1)
        ps = short_text.score_onnx(REPO / "models" / name, vs, word_index).reshape(-1)
        ref[name] = {
            "val_reviews_acc": float(np.mean((pr >= 0.5) == (yr == 1))),
            "val_sentences_acc": float(np.mean((ps >= 0.5) == (ys == 1))),
        }
    document = {
        "train_texts": cr.texts + ft.texts[:3000],
        "train_labels": [int(v) for v in cr.labels] + [int(v) for v in ft.labels[:3000]],
        "val_reviews": vr,
        "val_reviews_labels": [int(v) for v in yr],
        "val_sentences": vs,
        "val_sentences_labels": [int(v) for v in ys],
        "ref": ref,
    }
    out.write_text(json.dumps(document), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=short_text.DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=Path("/work/minilm-cache"))
    parser.add_argument("--train-reviews", type=int, default=3000)
    parser.add_argument("--val-reviews", type=int, default=1000)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--dump-finetune",
        type=Path,
        help="only write the texts scripts/minilm_finetune.py trains and validates on, as JSON",
    )
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.dump_finetune:
        dump_finetune(args.data, args.dump_finetune)
        return 0
    encoder = args.cache / "encoder.onnx"
    if not encoder.exists():
        d = minilm.package_dir()
        onnx.save(minilm.build_encoder(minilm.read_safetensors(d / "model.safetensors")), encoder)
    wp = WordPiece(minilm.package_dir() / "tokenizer.json", args.max_tokens, side="left")
    sess = minilm.session(encoder, args.threads)

    config = TrainConfig()
    splits = load_data(config, data.read_dataset(data.find_dataset(args.data)))
    val_sets = short_text_sets(config, splits)["validation"]
    n_val = int(len(splits.train) * config.validation_split)
    fit = splits.train.take(np.arange(len(splits.train) - n_val))
    rng = np.random.default_rng(0)
    pick = rng.permutation(len(fit))[: args.train_reviews]
    sub = fit.take(pick)
    crop = short_text.crops(sub.texts, sub.labels, 1, seed=1)
    v_pick = rng.permutation(len(val_sets["reviews"].texts))[: args.val_reviews]
    v_rev = short_text.TextSet(
        [val_sets["reviews"].texts[i] for i in v_pick], val_sets["reviews"].labels[v_pick]
    )
    s_pick = rng.permutation(len(val_sets["sentences"].texts))[: 2 * args.val_reviews]
    v_sen = short_text.TextSet(
        [val_sets["sentences"].texts[i] for i in s_pick], val_sets["sentences"].labels[s_pick]
    )
    tag = f"L{args.max_tokens}"
    x_rev = cached(args.cache, f"train_rev_{args.train_reviews}_{tag}", sess, wp, sub.texts)
    x_crop = cached(args.cache, f"train_crop_{args.train_reviews}_{tag}", sess, wp, crop.texts)
    x_vrev = cached(args.cache, f"val_rev_{args.val_reviews}_{tag}", sess, wp, v_rev.texts)
    x_vsen = cached(args.cache, f"val_sen_{args.val_reviews}_{tag}", sess, wp, v_sen.texts)

    # ngram's logit on the same texts (the committed model, the service's tokenizer).
    from service.tokenizer import load_word_index

    word_index = load_word_index(REPO / "models" / "imdb_word_index.json")

    def ngram_logit(texts: Sequence[str]) -> npt.NDArray[np.float64]:
        p = short_text.score_onnx(REPO / "models" / "ngram", texts, word_index).astype(np.float64)
        p = p.reshape(-1)
        return np.log(p / (1 - p))

    g_rev, g_crop = ngram_logit(sub.texts), ngram_logit(crop.texts)
    g_vrev, g_vsen = ngram_logit(v_rev.texts), ngram_logit(v_sen.texts)

    from sklearn.linear_model import LogisticRegression

    results: dict[str, dict[str, float]] = {}

    def report(name: str, p_rev: npt.NDArray[np.float64], p_sen: npt.NDArray[np.float64]) -> None:
        results[name] = {
            "val_reviews_acc": float(np.mean((p_rev >= 0.5) == (v_rev.labels == 1))),
            "val_sentences_acc": float(np.mean((p_sen >= 0.5) == (v_sen.labels == 1))),
            "val_reviews_ece": short_text.ece(p_rev, v_rev.labels),
            "val_sentences_ece": short_text.ece(p_sen, v_sen.labels),
        }
        print(name, json.dumps(results[name]))

    def sig(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(1 / (1 + np.exp(-z)), dtype=np.float64)

    report("ngram alone", sig(g_vrev), sig(g_vsen))
    y = np.concatenate([sub.labels, crop.labels])
    for c in (0.3, 1.0, 3.0, 10.0):
        lr = LogisticRegression(C=c, max_iter=2000)
        lr.fit(np.vstack([x_rev, x_crop]), y)
        report(f"minilm LR C={c}", lr.predict_proba(x_vrev)[:, 1], lr.predict_proba(x_vsen)[:, 1])
    for c in (0.3, 1.0, 3.0):
        feats = np.vstack(
            [np.hstack([x_rev, g_rev[:, None] / 10]), np.hstack([x_crop, g_crop[:, None] / 10])]
        )
        lr = LogisticRegression(C=c, max_iter=3000)
        lr.fit(feats, y)
        report(
            f"minilm+ngram LR C={c}",
            lr.predict_proba(np.hstack([x_vrev, g_vrev[:, None] / 10]))[:, 1],
            lr.predict_proba(np.hstack([x_vsen, g_vsen[:, None] / 10]))[:, 1],
        )
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
