"""Publish the `minilm` model (issue 14, docs/short_text.md): the committed `ngram` model and a
fine-tuned all-MiniLM-L6-v2 (scripts/minilm_finetune.py), stacked by one logistic layer fitted on
the validation sets, as one ONNX graph; then its card, golden set and figures, as the pipeline
publishes every model.

    nice python -m training.minilm_publish --finetuned ft.npz --history ft.log \\
        --reference-logits test_reviews_torch.npy --out models

The graph reads one int32 row per text: ngram's word window (800 ids, service.tokenizer), then
the text's last 128 WordPiece ids (service.wordpiece), left-aligned, padded with 0. It scores the
window with ngram's own graph (p), the WordPiece ids with the fine-tuned encoder (logit f, the
padding trimmed to the batch's longest text), and returns

    sigmoid(a·lg + b·f + c·lg·lw + d·f·lw + e·lw + k),  kept within [1e-5, 1 - 1e-5],

where lg = log(p / (1 - p)), f is clipped to ±LOGIT_CLIP, and lw = log(max(1, words in the
window)): the interactions with the length let the layer trust the encoder more on short texts.

Parity: the graph against the same computation outside it (ngram's ONNX score, the encoder's
logit in torch, the framework it was trained in, `--reference-logits` from
scripts/minilm_logits.py, and the layer in float64) on the 25,000 test reviews.
`--dump-test-reviews FILE` writes the texts that file must score, in order.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
from onnx import TensorProto, compose, helper

from service.card import CARD, ModelCard, WordPieceInput
from service.tokenizer import OOV_ID, build_vocabulary, encode_batch, load_word_index
from service.wordpiece import WordPiece
from training import artifacts, data, minilm, short_text
from training.config import TrainConfig
from training.evaluation import confusion_stats, confusion_table
from training.export import PARITY_TOLERANCE, ParityError

NAME = "minilm"
TOKENS = 128
TOKENIZER = "tokenizer.json"
BOUND = 1e-5
LOGIT_CLIP = float(np.log((1 - 1e-7) / 1e-7))
"""The encoder's logit is clipped here (as a score clipped to [1e-7, 1 - 1e-7]): one text the
encoder is sure of cannot outweigh ngram without limit."""
REPO = Path(__file__).resolve().parent.parent

Array = npt.NDArray[np.float64]


def features(ngram: npt.ArrayLike, logit: npt.ArrayLike, words: npt.ArrayLike) -> Array:
    """The layer's inputs, in float64: lg, f, lg·lw, f·lw, lw (see the module doc)."""
    p = np.asarray(ngram, dtype=np.float64).reshape(-1)
    f = np.clip(np.asarray(logit, dtype=np.float64).reshape(-1), -LOGIT_CLIP, LOGIT_CLIP)
    lg = np.log(p / (1 - p))
    lw = np.log(np.maximum(1.0, np.asarray(words, dtype=np.float64).reshape(-1)))
    return np.asarray(np.c_[lg, f, lg * lw, f * lw, lw], dtype=np.float64)


def reference_scores(x: Array, coef: Array, intercept: float) -> Array:
    z = x @ coef + intercept
    return np.asarray(np.clip(1 / (1 + np.exp(-z)), BOUND, 1 - BOUND), dtype=np.float64)


def word_counts(ids: npt.NDArray[np.int32]) -> npt.NDArray[np.int64]:
    """Words in each window: the ids that are neither padding nor the start id."""
    return np.asarray((ids >= OOV_ID).sum(axis=1), dtype=np.int64)


def stacked_graph(
    ngram: onnx.ModelProto, encoder: onnx.ModelProto, window: int, coef: Array, intercept: float
) -> onnx.ModelProto:
    """One graph: `input_ids` int32 (n, window + TOKENS) -> `score` float32 (n,)."""
    ng = compose.add_prefix(ngram, "ngram/")
    lm = compose.add_prefix(encoder, "minilm/")
    inits: list[onnx.TensorProto] = []
    before: list[onnx.NodeProto] = []  # the inputs of both graphs
    after: list[onnx.NodeProto] = []  # the layer over their outputs

    def const(name: str, value: Any, dtype: Any = np.float32) -> str:
        inits.append(onnx.numpy_helper.from_array(np.asarray(value, dtype=dtype), "stack/" + name))
        return "stack/" + name

    def op(nodes: list[onnx.NodeProto], kind: str, inputs: list[str], out: str, **kw: Any) -> str:
        nodes.append(helper.make_node(kind, inputs, [out], **kw))
        return out

    i0, iw = const("i0", [0], np.int64), const("iw", [window], np.int64)
    iend, axis1 = const("iend", [window + TOKENS], np.int64), const("axis1", [1], np.int64)
    op(before, "Slice", ["input_ids", i0, iw, axis1], "ngram/input_ids")
    wp32 = op(before, "Slice", ["input_ids", iw, iend, axis1], "stack/wp32")
    pieces = op(before, "Cast", [wp32], "stack/wp", to=TensorProto.INT64)
    is_pad = op(before, "Equal", [pieces, const("pad", 0, np.int64)], "stack/is_pad")
    real = op(before, "Not", [is_pad], "stack/real")
    mask = op(before, "Cast", [real], "stack/mask", to=TensorProto.INT64)
    # Rows are left-aligned: the batch's longest text ends with its last real token, and the
    # encoder reads no further (the padding changes nothing but the cost).
    lengths = op(before, "ReduceSum", [mask, axis1], "stack/lengths", keepdims=0)
    longest = op(before, "ReduceMax", [lengths], "stack/longest", keepdims=1)
    longest = op(before, "Max", [longest, const("two", [2], np.int64)], "stack/longest2")
    op(before, "Slice", [pieces, i0, longest, axis1], "minilm/input_ids")
    op(before, "Slice", [mask, i0, longest, axis1], "minilm/attention_mask")

    (ng_out,) = [o.name for o in ng.graph.output]
    p = op(after, "Unsqueeze", [ng_out, axis1], "stack/p")  # ngram's score is (n,)
    one = const("one", 1.0)
    odds = op(after, "Div", [p, op(after, "Sub", [one, p], "stack/q")], "stack/odds")
    lg = op(after, "Log", [odds], "stack/lg")
    bounds = [const("lo", -LOGIT_CLIP), const("hi", LOGIT_CLIP)]
    f = op(after, "Clip", ["minilm/logit", *bounds], "stack/f")
    is_word = op(
        after,
        "GreaterOrEqual",
        ["ngram/input_ids", const("oov", OOV_ID, np.int32)],
        "stack/is_word",
    )
    word = op(after, "Cast", [is_word], "stack/word", to=TensorProto.FLOAT)
    words = op(after, "ReduceSum", [word, axis1], "stack/words", keepdims=1)
    lw = op(after, "Log", [op(after, "Max", [words, one], "stack/words1")], "stack/lw")
    lg_lw = op(after, "Mul", [lg, lw], "stack/lg_lw")
    f_lw = op(after, "Mul", [f, lw], "stack/f_lw")
    x = op(after, "Concat", [lg, f, lg_lw, f_lw, lw], "stack/x", axis=1)
    xw = op(after, "MatMul", [x, const("coef", np.asarray(coef).reshape(5, 1))], "stack/xw")
    z = op(after, "Add", [xw, const("intercept", [intercept])], "stack/z")
    score = op(after, "Sigmoid", [z], "stack/sigmoid")
    score = op(
        after, "Clip", [score, const("low", BOUND), const("high", 1 - BOUND)], "stack/bounded"
    )
    op(after, "Squeeze", [score, axis1], "score")
    graph = helper.make_graph(
        [*before, *ng.graph.node, *lm.graph.node, *after],
        NAME,
        [helper.make_tensor_value_info("input_ids", TensorProto.INT32, ["n", window + TOKENS])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["n"])],
        [*inits, *ng.graph.initializer, *lm.graph.initializer],
    )
    opsets = {o.domain: o.version for o in [*ngram.opset_import, *encoder.opset_import]}
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid(d, v) for d, v in sorted(opsets.items())]
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _cached(path: Path, run: Any, texts: list[str]) -> npt.NDArray[np.float64]:
    """`run` over the texts in length order (short_text.in_length_order), kept in `path` for a
    rerun."""
    if path.exists():
        return np.asarray(np.load(path), dtype=np.float64)
    t = time.perf_counter()
    value = short_text.in_length_order(texts, run)
    np.save(path, value)
    print(f"{path.name}: {len(value)} texts in {time.perf_counter() - t:.0f} s", flush=True)
    return value


def _history(log: Path) -> dict[str, list[float]]:
    """The fine-tuning run's validation checks (scripts/minilm_finetune.py's log)."""
    points = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return {
        "step": [float(p["step"]) for p in points],
        "val_sentences_acc_subsample": [float(p["val_sentences_acc_sub2000"]) for p in points],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--finetuned", type=Path, required=True, help="the fine-tuned weights (.npz)"
    )
    parser.add_argument("--history", type=Path, help="the fine-tuning log")
    parser.add_argument("--reference-logits", type=Path, help="torch's logits of the test reviews")
    parser.add_argument("--dump-test-reviews", type=Path)
    parser.add_argument("--trained-with", default="", help="e.g. 'torch 2.13.0+cpu'")
    parser.add_argument("--train-seconds", type=float)
    parser.add_argument("--finetune", default="{}", help="the fine-tuning settings, JSON")
    parser.add_argument("--out", type=Path, default=REPO / "models")
    parser.add_argument("--cache", type=Path, default=Path("/work/minilm-cache/publish"))
    parser.add_argument("--data", type=Path, default=short_text.DEFAULT_DATA)
    args = parser.parse_args(argv)
    # TensorFlow (the pipeline's data split) and scikit-learn only here: the graph builder and
    # the reference above import neither.
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    from training.minilm_stack import sentence_groups
    from training.pipeline import data_provenance, golden_set, load_data, short_text_sets

    config = TrainConfig()
    dataset = data.find_dataset(args.data)
    splits = load_data(config, data.read_dataset(dataset))
    if args.dump_test_reviews:
        args.dump_test_reviews.write_text(json.dumps(list(splits.test.texts)), encoding="utf-8")
        return 0
    args.cache.mkdir(parents=True, exist_ok=True)
    sets = short_text_sets(config, splits)

    ngram_dir = REPO / "models" / "ngram"
    ngram_card = ModelCard.read(ngram_dir / CARD)
    ngram_onnx = onnx.load(ngram_dir / "model.onnx")
    window = ngram_card.input_length
    vocabulary = build_vocabulary(
        load_word_index(REPO / "models" / "imdb_word_index.json"), ngram_card.num_words
    )
    npz = np.load(args.finetuned)
    weights = {k: np.asarray(npz[k], dtype=np.float32) for k in npz.files if not k.startswith("__")}
    head = np.asarray(npz["__head_weight"], dtype=np.float32)
    encoder = minilm.build_logit(weights, head, float(npz["__head_bias"][0]))
    tokenizer_file = minilm.package_dir() / TOKENIZER
    wordpiece = WordPiece(tokenizer_file, TOKENS, side="left")
    ngram_session = minilm.session(ngram_onnx.SerializeToString(), 2)
    encoder_session = minilm.session(encoder.SerializeToString(), 2)

    def ngram_scores(texts: list[str]) -> Any:
        return ngram_session.run(None, {"input_ids": encode_batch(texts, vocabulary, window)})[0]

    def encoder_logits(texts: list[str]) -> Any:
        b = wordpiece.encode_batch(texts)
        feeds = {"input_ids": b.input_ids, "attention_mask": b.attention_mask}
        return encoder_session.run(None, feeds)[0]

    # The layer: fitted on the validation sets (reviews, sentences and spans together).
    n_val = int(len(splits.train) * config.validation_split)
    val_reviews = splits.train.take(np.arange(len(splits.train) - n_val, len(splits.train)))
    xs, ys, groups, which = [], [], [], []
    for k, name in enumerate(short_text.SET_NAMES):
        texts = sets["validation"][name]
        p = _cached(
            args.cache / f"val_{name}_ngram.npy",
            ngram_scores,
            texts.texts,
        )
        f = _cached(
            args.cache / f"val_{name}_logit.npy",
            encoder_logits,
            texts.texts,
        )
        words = word_counts(encode_batch(texts.texts, vocabulary, window))
        xs.append(features(p, f, words))
        ys.append(texts.labels)
        groups.append(
            sentence_groups(val_reviews.texts)
            if name == "sentences"
            else np.arange(len(texts.texts)) + (k + 1) * 10**6
        )
        which.append(np.full(len(texts.texts), k))
    x, y = np.vstack(xs), np.concatenate(ys)
    g, w = np.concatenate(groups), np.concatenate(which)
    held_out = np.zeros(len(y))
    for train, held in GroupKFold(5).split(x, y, g):
        layer = LogisticRegression(max_iter=1000).fit(x[train], y[train])
        held_out[held] = layer.predict_proba(x[held])[:, 1]
    held_out = np.clip(held_out, BOUND, 1 - BOUND)
    validation = {
        name: short_text.scores_summary(held_out[w == k], y[w == k])
        for k, name in enumerate(short_text.SET_NAMES)
    }
    print("validation (5-fold):", json.dumps(validation), flush=True)
    layer = LogisticRegression(max_iter=1000).fit(x, y)
    coef, intercept = layer.coef_[0].astype(np.float64), float(layer.intercept_[0])

    model = stacked_graph(ngram_onnx, encoder, window, coef, intercept)
    model_bytes = model.SerializeToString()
    stacked = minilm.session(model_bytes, 2)

    def stacked_scores(texts: list[str]) -> Any:
        rows = np.zeros((len(texts), window + TOKENS), dtype=np.int32)
        rows[:, :window] = encode_batch(texts, vocabulary, window)
        wordpiece.encode_rows(texts, rows[:, window:])
        return stacked.run(None, {"input_ids": rows})[0]

    digest = artifacts.sha256_bytes(model_bytes)[:12]
    test_scores = {
        name: _cached(
            args.cache / f"test_{name}_{digest}.npy",
            stacked_scores,
            texts.texts,
        )
        for name, texts in sets["test"].items()
    }
    figures = {
        "test": {
            name: short_text.scores_summary(test_scores[name], texts.labels)
            for name, texts in sets["test"].items()
            if name in short_text.SET_NAMES
        },
        "validation": validation,
    }
    print("test:", json.dumps(figures["test"]), flush=True)
    scores = test_scores["reviews"].astype(np.float32)
    stats = confusion_stats(
        confusion_table(scores >= 0.5, splits.test.labels), config.positive_class
    )
    print(stats.report())
    if args.reference_logits is None:
        print("no --reference-logits: nothing published")
        return 0

    # Parity: the graph against the same computation outside it, on every test review.
    reviews = list(splits.test.texts)
    reference = reference_scores(
        features(
            short_text.in_length_order(reviews, ngram_scores),
            np.load(args.reference_logits),
            word_counts(encode_batch(reviews, vocabulary, window)),
        ),
        coef,
        intercept,
    )
    diff = np.abs(scores.astype(np.float64) - reference)
    parity = {
        "inputs": len(reviews),
        "max_abs_diff": float(diff.max()),
        "label_mismatches": int(np.sum((scores >= 0.5) != (reference >= 0.5))),
        "tolerance": PARITY_TOLERANCE,
    }
    print("parity:", parity, flush=True)
    if parity["max_abs_diff"] > PARITY_TOLERANCE or parity["label_mismatches"]:
        raise ParityError(f"the graph differs from torch + the layer: {parity}")

    used = [v for k, v in weights.items() if not k.startswith("pooler.")]  # the graph has no pooler
    params = ngram_card.params + sum(int(v.size) for v in used) + head.size + 1 + 6
    versions = {"onnx": onnx.__version__, "onnxruntime": ort.__version__}
    if args.trained_with:
        versions["fine-tuned with"] = args.trained_with
    card = ModelCard(
        name=NAME,
        architecture=(
            "ngram's graph (its word window) + all-MiniLM-L6-v2 fine-tuned (the last 128 "
            "WordPiece tokens, mean pooling, Dense(1)) -> one logistic layer over both logits "
            "and their products with log(words), fitted on validation, scores within "
            "[1e-5, 1 - 1e-5]"
        ),
        layers=[
            {
                "name": "ngram",
                "type": "ngram (models/ngram)",
                "output_shape": [None, 1],
                "params": ngram_card.params,
            },
            {
                "name": "minilm",
                "type": "BERT encoder, 6 layers, hidden 384, mean pooling -> Dense(1)",
                "output_shape": [None, 1],
                "params": params - ngram_card.params - 6,
            },
            {
                "name": "stack",
                "type": "Dense(1, sigmoid) over lg, f, lg*lw, f*lw, lw",
                "output_shape": [None, 1],
                "params": 6,
            },
        ],
        params=int(params),
        input_name="input_ids",
        output_name="score",
        input_length=window,
        num_words=ngram_card.num_words,
        tokenizer=(
            "service.tokenizer (ngram's word window) + service.wordpiece (all-MiniLM-L6-v2's "
            f"tokenizer.json, the last {TOKENS} tokens)"
        ),
        wordpiece=WordPieceInput(tokens=TOKENS, tokenizer=TOKENIZER),
        hyperparameters={
            "finetune": json.loads(args.finetune),
            "layer": {"coef": coef.tolist(), "intercept": intercept, "fitted_on": len(y)},
            "logit_clip": LOGIT_CLIP,
            "score_margin": BOUND,
        },
        epochs_run=int(json.loads(args.finetune).get("epochs", 1)),
        train_seconds=args.train_seconds,
        history=_history(args.history) if args.history else {},
        test=stats.to_dict(),
        parity=parity,
        short_text=figures,
        onnx_sha256=artifacts.sha256_bytes(model_bytes),
        data=data_provenance(dataset, splits),
        versions=versions,
    )
    golden = golden_set(config, splits.test, reference)
    target = artifacts.publish_model(
        args.out, model_bytes, card, golden, extra={TOKENIZER: tokenizer_file}
    )
    artifacts.update_manifest(args.out)
    print(f"published {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
