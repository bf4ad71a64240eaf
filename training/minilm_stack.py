"""A logistic layer over the ngram model's logit and a fine-tuned MiniLM's logit (issue 14),
with the log of the text's word count as an interaction, on the scores `training.minilm_eval`
cached for the validation sets (and the test sets with --test).

Validation figures: 5-fold cross-validation on the validation sets (reviews, sentences, spans
together; folds grouped by review, so a review's sentences and span are in one fold). With
--test, the layer is fitted once on all the validation texts and scored once on the test sets.

    nice -n 10 python -m training.minilm_stack --prefix /work/minilm-cache/ft1 [--test]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from training import data, short_text
from training.config import TrainConfig
from training.pipeline import load_data, short_text_sets

Features = tuple[
    npt.NDArray[np.float64], npt.NDArray[np.int8], npt.NDArray[np.int64], npt.NDArray[np.int64]
]


def features(
    prefix: str, split: str, sets: dict[str, short_text.TextSet], groups: npt.NDArray[np.int64]
) -> Features:
    rows, labels, group, which = [], [], [], []
    for k, name in enumerate(short_text.SET_NAMES):
        z = np.load(f"{prefix}_{split}_{name}.npz")
        ft = np.clip(z["ft"].astype(np.float64), 1e-7, 1 - 1e-7)
        ng = z["ngram"].astype(np.float64)
        lw = np.log([max(1, len(t.split())) for t in sets[name].texts])
        lf, lg = np.log(ft / (1 - ft)), np.log(ng / (1 - ng))
        rows.append(np.c_[lg, lf, lg * lw, lf * lw, lw])
        labels.append(z["labels"])
        group.append(groups if name == "sentences" else np.arange(len(ft)))
        which.append(np.full(len(ft), k))
    return np.vstack(rows), np.concatenate(labels), np.concatenate(group), np.concatenate(which)


def sentence_groups(texts: list[str]) -> npt.NDArray[np.int64]:
    """The review each text of the sentence set comes from."""
    return np.concatenate(
        [np.full(len(short_text.first_last_sentences(t)), i) for i, t in enumerate(texts)]
    ).astype(np.int64)


def summary(
    p: npt.NDArray[np.float64], y: npt.NDArray[np.int8], which: npt.NDArray[np.int64]
) -> dict[str, dict[str, float | int]]:
    return {
        n: short_text.scores_summary(p[which == k], y[which == k])
        for k, n in enumerate(short_text.SET_NAMES)
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--prefix", required=True, help="the cache files' prefix, without _split_set.npz"
    )
    parser.add_argument("--test", action="store_true")
    parser.add_argument("--data", type=Path, default=short_text.DEFAULT_DATA)
    args = parser.parse_args(argv)
    config = TrainConfig()
    splits = load_data(config, data.read_dataset(data.find_dataset(args.data)))
    n_val = int(len(splits.train) * config.validation_split)
    val = splits.train.take(np.arange(len(splits.train) - n_val, len(splits.train)))
    all_sets = short_text_sets(config, splits)
    x, y, g, which = features(
        args.prefix, "validation", all_sets["validation"], sentence_groups(val.texts)
    )
    p = np.zeros(len(y))
    for train, held in GroupKFold(5).split(x, y, g):
        p[held] = (
            LogisticRegression(max_iter=1000).fit(x[train], y[train]).predict_proba(x[held])[:, 1]
        )
    result: dict[str, object] = {"validation_5fold": summary(p, y, which)}
    if args.test:
        layer = LogisticRegression(max_iter=1000).fit(x, y)
        xt, yt, _, wt = features(
            args.prefix, "test", all_sets["test"], sentence_groups(splits.test.texts)
        )
        result["test"] = summary(layer.predict_proba(xt)[:, 1], yt, wt)
        result["layer"] = {"coef": layer.coef_[0].tolist(), "intercept": float(layer.intercept_[0])}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
