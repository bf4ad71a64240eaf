"""Platt scaling folded into a model's last layer, fitted on the validation reviews.

A model ending in Dense(1, sigmoid) scores sigmoid(w.x + c). Platt scaling fits a and b so that
sigmoid(a * logit + b) matches the labels of held-out reviews (logistic regression on the logit);
since a * (w.x + c) + b = (a w).x + (a c + b), the calibrated model is the same graph with new
weights: nothing is added to the ONNX file, and Keras and onnxruntime stay comparable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from training.short_text import ece


@dataclass(frozen=True)
class Platt:
    scale: float
    """a: the logit's multiplier (below 1 softens an over-confident model)."""
    shift: float
    """b: added to the scaled logit."""
    fitted_on: int
    """How many validation reviews the fit used."""
    ece_before: float
    ece_after: float
    """ECE (10 bins) on those reviews, before and after."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def logits(scores: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
    p = np.clip(np.asarray(scores, dtype=np.float64), 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def fit_platt(scores: npt.NDArray[np.floating[Any]], labels: npt.ArrayLike) -> tuple[float, float]:
    """a and b minimising the log loss of sigmoid(a * logit(score) + b) on the labels."""
    z, y = logits(scores), np.asarray(labels, dtype=np.float64)

    def loss(params: npt.NDArray[np.float64]) -> float:
        t = params[0] * z + params[1]
        # log(1 + e^t) - y t, written to stay finite for large |t|
        return float(np.mean(np.logaddexp(0.0, t) - y * t))

    found = minimize(
        loss, x0=np.array([1.0, 0.0]), method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-10}
    )
    return float(found.x[0]), float(found.x[1])


def calibrate(
    model: keras.Model, x_val: npt.NDArray[np.int32], y_val: npt.NDArray[np.int8]
) -> Platt:
    """Fit Platt scaling on (x_val, y_val) and fold it into the model's last Dense layer."""
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if not dense or dense[-1].activation is not keras.activations.sigmoid:
        raise ValueError("Platt scaling folds into a last Dense(1, sigmoid) layer only")
    last = dense[-1]
    before = model.predict(x_val, batch_size=1024, verbose=0)[:, 0]
    a, b = fit_platt(before, y_val)
    kernel, bias = last.get_weights()
    last.set_weights([kernel * a, bias * a + b])
    after = model.predict(x_val, batch_size=1024, verbose=0)[:, 0]
    return Platt(a, b, len(y_val), ece(before, y_val), ece(after, y_val))
