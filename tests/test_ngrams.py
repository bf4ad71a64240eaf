"""NgramBag, the layer of the fasttext model: its means against a plain numpy statement, padding
that changes nothing, and an ONNX export that matches Keras."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from training import export
from training.ngrams import NgramBag

NUM_WORDS, BUCKETS, MAXLEN = 50, 13, 12


def bag_model(buckets: list[int]) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(MAXLEN,), dtype="int32"),
            NgramBag(NUM_WORDS, 3, buckets),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    return model


def reference(ids: list[int], tables: list[np.ndarray]) -> np.ndarray:
    """Per order, the mean vector of the n-grams whose last id is not padding; the n-gram
    a b c goes to bucket ((a * NUM_WORDS + b) % size * NUM_WORDS + c) % size, a word to its id."""
    means = []
    for order, table in enumerate(tables, start=1):
        vectors = []
        for end in range(order - 1, len(ids)):
            gram = ids[end - order + 1 : end + 1]
            if gram[-1] == 0:
                continue
            code = gram[0]
            for word in gram[1:]:
                code = (code * NUM_WORDS + word) % len(table)
            vectors.append(table[code])
        means.append(np.mean(vectors, axis=0))
    return np.concatenate(means)


@pytest.mark.parametrize("buckets", [[BUCKETS], [BUCKETS, 7]])
def test_means_equal_the_plain_statement(buckets: list[int]) -> None:
    model = bag_model(buckets)
    layer = model.layers[0]
    tables = [np.asarray(t) for t in layer.tables]
    rng = np.random.default_rng(1)
    rows = [[0] * 9 + [1, 5, 7], [1, *rng.integers(2, NUM_WORDS, MAXLEN - 1)], [0] * 11 + [1]]
    ids = np.array(rows, dtype=np.int32)
    got = np.asarray(layer(ids))
    expected = np.stack([reference(row, tables) for row in ids.tolist()])
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_padding_does_not_dilute_the_means() -> None:
    layer = bag_model([BUCKETS]).layers[0]
    short = np.array([[0] * 8 + [1, 5, 7, 9]], dtype=np.int32)
    shorter_window = np.array([[0] * 4 + [1, 5, 7, 9]], dtype=np.int32)
    np.testing.assert_allclose(layer(short), layer(shorter_window), rtol=1e-6)


def test_word_dropout_only_in_training() -> None:
    keras.utils.set_random_seed(0)
    layer = NgramBag(NUM_WORDS, 2, [BUCKETS], dropout=0.5, seed=3)
    ids = np.random.default_rng(2).integers(1, NUM_WORDS, (4, MAXLEN)).astype(np.int32)
    served = np.asarray(layer(ids))
    np.testing.assert_array_equal(served, np.asarray(layer(ids)))
    assert not np.allclose(np.asarray(layer(ids, training=True)), served)


def test_onnx_export_matches_keras() -> None:
    model = bag_model([BUCKETS, 7])
    ids = np.random.default_rng(3).integers(0, NUM_WORDS, (64, MAXLEN)).astype(np.int32)
    ids[:, -1] = np.maximum(ids[:, -1], 1)  # the tokenizer never ends a window with padding
    scores = model.predict(ids, verbose=0)[:, 0]
    parity = export.check_parity(export.export_onnx(model, MAXLEN), ids, scores)
    assert parity.max_abs_diff <= 1e-6
