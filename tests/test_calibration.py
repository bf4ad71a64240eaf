"""Platt scaling folded into a model's last Dense layer, and ScoreBounds: what the short-text
model adds to the NgramBag graph, checked against plain statements and through ONNX."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from training import export
from training.calibration import calibrate, fit_platt, logits
from training.ngrams import NgramBag, ScoreBounds

MAXLEN = 6


def bag_model(margin: float | None = None) -> keras.Model:
    keras.utils.set_random_seed(0)
    layers = [
        keras.Input(shape=(MAXLEN,), dtype="int32"),
        NgramBag(30, 1, [11]),
        keras.layers.Dense(1, activation="sigmoid"),
    ]
    return keras.Sequential(layers + ([ScoreBounds(margin)] if margin else []))


def test_fit_platt_recovers_the_scale_and_shift_that_made_the_labels() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, 20_000)
    labels = rng.random(z.size) < 1 / (1 + np.exp(-(0.5 * z - 0.3)))
    scale, shift = fit_platt(1 / (1 + np.exp(-z)), labels)
    assert scale == pytest.approx(0.5, abs=0.03)
    assert shift == pytest.approx(-0.3, abs=0.05)


def test_calibrate_folds_platt_scaling_into_the_last_dense_layer() -> None:
    model = bag_model(margin=1e-5)
    rng = np.random.default_rng(1)
    ids = rng.integers(1, 30, size=(400, MAXLEN)).astype(np.int32)
    labels = (rng.random(400) < 0.5).astype(np.int8)
    before = model.predict(ids, verbose=0)[:, 0]
    platt = calibrate(model, ids, labels)
    after = model.predict(ids, verbose=0)[:, 0]
    expected = 1 / (1 + np.exp(-(platt.scale * logits(before) + platt.shift)))
    np.testing.assert_allclose(after, expected, atol=1e-5)
    assert platt.fitted_on == 400
    assert platt.ece_after <= platt.ece_before + 1e-9


def test_score_bounds_keep_every_score_off_0_and_1_in_keras_and_onnx() -> None:
    model = bag_model(margin=1e-5)
    dense = model.layers[1]
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel * 1e4, bias])  # logits far past float32's sigmoid saturation
    ids = np.random.default_rng(2).integers(0, 30, size=(200, MAXLEN)).astype(np.int32)
    ids[:, -1] = np.maximum(ids[:, -1], 1)
    scores = model.predict(ids, verbose=0)[:, 0]
    onnx_scores = export.onnx_scores(export.export_onnx(model, MAXLEN), ids)
    for s in (scores, onnx_scores):
        assert s.min() >= np.float32(1e-5)
        assert s.max() <= np.float32(1 - 1e-5)
        assert ((s == np.float32(1e-5)) | (s == np.float32(1 - 1e-5))).any()
    np.testing.assert_allclose(onnx_scores, scores, atol=export.PARITY_TOLERANCE)
