"""A bag of words and hashed n-grams (fastText's classifier) as one Keras layer.

Written with TensorFlow ops rather than Keras' Embedding and masked pooling layers because the
exported ONNX graph then has about half the ops (37 rather than 67): `keras.ops.take` guards
against negative ids (nine ONNX ops per lookup) and masked pooling selects element by element,
while the tokenizer's ids are never negative and a weighted mean is one MatMul. At a batch of
one, onnxruntime's cost is mostly per op: this is what keeps a single review as cheap as rnn2's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf
from keras import layers


def masked_mean(vectors: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean of `vectors` (batch, steps, dim) over the steps where `mask` is true; 0 if none is."""
    weights = tf.cast(mask, vectors.dtype)
    weights = weights / tf.maximum(tf.reduce_sum(weights, axis=1, keepdims=True), 1.0)
    return tf.squeeze(tf.matmul(weights[:, None, :], vectors), axis=1)


def ngram_codes(ids: tf.Tensor, order: int, num_words: int, buckets: int) -> tf.Tensor:
    """Bucket of each run of `order` neighbouring ids: the run read as a number in base
    num_words, modulo buckets (Horner's rule, reduced at each step to stay in int64)."""
    wide = tf.cast(ids, tf.int64)
    steps = ids.shape[1] - order + 1
    codes = wide[:, :steps]
    for k in range(1, order):
        codes = tf.math.floormod(codes * num_words + wide[:, k : k + steps], buckets)
    return codes


@keras.saving.register_keras_serializable(package="training")
class NgramBag(layers.Layer):  # type: ignore[misc]  # keras is untyped
    """The mean word vector of a window and, per n-gram order, its mean hashed n-gram vector.

    Input: int32 ids (batch, maxlen) as the tokenizer makes them, padded in front with 0. An
    n-gram counts when its last id is not padding: so padding dilutes no mean, and no mean is
    empty since the last id of a window is a word or the start id. `buckets[i]` is the table
    size of the n-grams of order i + 2. In training, `dropout` drops each word and each n-gram
    from its mean with that probability (word dropout); serving never drops anything.
    """

    def __init__(
        self,
        num_words: int,
        dim: int,
        buckets: Sequence[int],
        dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.num_words, self.dim = num_words, dim
        self.buckets, self.dropout, self.seed = tuple(buckets), dropout, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        longest = len(self.buckets) + 1
        if input_shape[-1] is None or input_shape[-1] < longest:
            raise ValueError(f"NgramBag needs a fixed window of {longest} ids or more")
        # RandomUniform(-0.05, 0.05), as Keras' Embedding initialises its table.
        self.tables = [
            self.add_weight(name=f"grams{n + 1}", shape=(size, self.dim), initializer="uniform")
            for n, size in enumerate((self.num_words, *self.buckets))
        ]

    def call(self, ids: tf.Tensor, training: bool = False) -> tf.Tensor:
        means = []
        for order, table in enumerate(self.tables, start=1):
            size = table.shape[0]
            codes = ids if order == 1 else ngram_codes(ids, order, self.num_words, size)
            present = ids[:, order - 1 :] > 0
            if training and self.dropout:
                kept = keras.random.uniform(tf.shape(present), seed=self.seed_generator)
                present = tf.logical_and(present, kept >= self.dropout)
            means.append(masked_mean(tf.gather(table, codes), present))
        return tf.concat(means, axis=-1)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, int]:
        return (input_shape[0], self.dim * (len(self.buckets) + 1))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_words": self.num_words,
            "dim": self.dim,
            "buckets": list(self.buckets),
            "dropout": self.dropout,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="training")
class ScoreBounds(layers.Layer):  # type: ignore[misc]  # keras is untyped
    """Keeps a score within [margin, 1 - margin]: no text is judged with certainty (float32's
    sigmoid rounds to exactly 0.0 or 1.0 past a logit of about 17). One Clip op in ONNX."""

    def __init__(self, margin: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.margin = margin

    def call(self, scores: tf.Tensor) -> tf.Tensor:
        return tf.clip_by_value(scores, self.margin, 1.0 - self.margin)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "margin": self.margin}
