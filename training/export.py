"""Keras -> ONNX with tf2onnx, and the parity check that must pass before a model is published."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import tensorflow as tf
import tf2onnx

INPUT_NAME = "input_ids"
OUTPUT_NAME = "score"
OPSET = 17
PARITY_TOLERANCE = 1e-5


class ParityError(RuntimeError):
    """onnxruntime and Keras disagree: the exported model must not be published."""


@dataclass(frozen=True)
class Parity:
    inputs: int
    max_abs_diff: float
    label_mismatches: int
    tolerance: float = PARITY_TOLERANCE


def export_onnx(model: keras.Model, maxlen: int) -> bytes:
    """The serialized ONNX graph: int32 ids (batch, maxlen) -> `score` of shape (batch,)."""
    spec = (tf.TensorSpec((None, maxlen), tf.int32, name=INPUT_NAME),)

    # Converting a plain function, not the Keras model: tf2onnx's from_keras cannot map
    # Keras 3's output names, and this also lets us name the output and drop its unit axis.
    @tf.function(input_signature=spec)  # type: ignore[untyped-decorator]
    def serve(input_ids: tf.Tensor) -> dict[str, tf.Tensor]:
        return {OUTPUT_NAME: tf.squeeze(model(input_ids, training=False), axis=-1)}

    proto, _ = tf2onnx.convert.from_function(serve, input_signature=spec, opset=OPSET)
    return bytes(proto.SerializeToString())


def onnx_scores(onnx_model: bytes, ids: npt.NDArray[np.int32]) -> npt.NDArray[np.float32]:
    session = ort.InferenceSession(onnx_model, providers=["CPUExecutionProvider"])
    (scores,) = session.run([OUTPUT_NAME], {INPUT_NAME: ids})
    return np.asarray(scores, dtype=np.float32)


def check_parity(
    onnx_model: bytes, ids: npt.NDArray[np.int32], keras_scores: npt.NDArray[np.float32]
) -> Parity:
    """Compare onnxruntime with Keras on every input; raise ParityError past the tolerance."""
    scores = onnx_scores(onnx_model, ids)
    parity = Parity(
        inputs=len(ids),
        max_abs_diff=float(np.max(np.abs(scores - keras_scores))) if len(ids) else 0.0,
        label_mismatches=int(np.sum((scores >= 0.5) != (keras_scores >= 0.5))),
    )
    if parity.max_abs_diff > PARITY_TOLERANCE or parity.label_mismatches:
        raise ParityError(
            f"onnxruntime differs from Keras on {parity.inputs} inputs: max |diff| "
            f"{parity.max_abs_diff:.3g} (tolerance {PARITY_TOLERANCE}), "
            f"{parity.label_mismatches} labels differ"
        )
    return parity
