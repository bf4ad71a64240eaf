"""The MiniLM encoder graph (training/minilm.py) against its NumPy reference, and the shared
WordPiece tokenizer (training/wordpiece.py), on small random weights and a small vocabulary: no
model package and no download needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

from service.wordpiece import WordPiece
from training import minilm

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "great", "film", "bad", "plot", "##s", ",", "."]


def random_weights(seed: int = 0, vocab: int = 40, positions: int = 32) -> minilm.Weights:
    rng = np.random.default_rng(seed)
    h, f = minilm.HIDDEN, 4 * minilm.HIDDEN

    def r(*shape: int, scale: float = 0.05) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w = {
        "embeddings.word_embeddings.weight": r(vocab, h, scale=0.5),
        "embeddings.position_embeddings.weight": r(positions, h, scale=0.5),
        "embeddings.token_type_embeddings.weight": r(2, h, scale=0.5),
        "embeddings.LayerNorm.weight": 1 + r(h),
        "embeddings.LayerNorm.bias": r(h),
    }
    for i in range(minilm.LAYERS):
        p = f"encoder.layer.{i}."
        for name, (out, inp) in {
            "attention.self.query": (h, h),
            "attention.self.key": (h, h),
            "attention.self.value": (h, h),
            "attention.output.dense": (h, h),
            "intermediate.dense": (f, h),
            "output.dense": (h, f),
        }.items():
            w[p + name + ".weight"] = r(out, inp)
            w[p + name + ".bias"] = r(out)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + name + ".weight"] = 1 + r(h)
            w[p + name + ".bias"] = r(h)
    return w


@pytest.fixture(scope="module")
def encoder() -> tuple[minilm.Weights, ort.InferenceSession]:
    w = random_weights()
    model = minilm.build_encoder(w)
    return w, ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_encoder_graph_matches_reference(
    encoder: tuple[minilm.Weights, ort.InferenceSession],
) -> None:
    w, session = encoder
    rng = np.random.default_rng(1)
    ids = rng.integers(4, 40, size=(3, 9)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[1, 5:] = 0  # a shorter text, padded
    ids[1, 5:] = 0
    (got,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
    want = minilm.reference_embed(w, ids, mask)
    assert got.shape == (3, minilm.HIDDEN)
    assert np.abs(got - want).max() < 1e-5
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # Padding changes nothing: the short text alone scores as in the batch.
    (alone,) = session.run(None, {"input_ids": ids[1:2, :5], "attention_mask": mask[1:2, :5]})
    assert np.abs(alone - got[1:2]).max() < 1e-5


def test_classifier_graph_matches_reference() -> None:
    w = random_weights(seed=2)
    rng = np.random.default_rng(3)
    head = (rng.standard_normal(minilm.HIDDEN) * 0.3).astype(np.float32)
    model = minilm.build_classifier(w, head, 0.2, scale=0.8, shift=-0.1, bound=1e-5)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    ids = rng.integers(4, 40, size=(4, 7)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[2, 3:] = 0
    (got,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
    pooled = minilm.reference_embed(w, ids, mask, normalize=False).astype(np.float64)
    want = 1 / (1 + np.exp(-(0.8 * (pooled @ head + 0.2) - 0.1)))
    assert got.shape == (4, 1)
    assert np.abs(got[:, 0] - np.clip(want, 1e-5, 1 - 1e-5)).max() < 1e-5
    # The bounds: a huge head saturates the sigmoid, yet no score is exactly 0 or 1.
    big = minilm.build_classifier(w, head * 1e4, 0.0)
    s = ort.InferenceSession(big.SerializeToString(), providers=["CPUExecutionProvider"])
    (extreme,) = s.run(None, {"input_ids": ids, "attention_mask": mask})
    assert np.all((extreme > 0.0) & (extreme < 1.0))
    assert np.isclose(extreme, 1e-5).any() or np.isclose(extreme, 1 - 1e-5).any()


def test_read_safetensors_round_trip(tmp_path: Path) -> None:
    import json
    import struct

    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1.5, -2.0], dtype=np.float32)
    header = {
        "__metadata__": {"format": "pt"},
        "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [24, 32]},
        "ids": {"dtype": "I64", "shape": [1], "data_offsets": [32, 40]},
    }
    raw = json.dumps(header).encode()
    body = a.tobytes() + b.tobytes() + np.array([7], dtype=np.int64).tobytes()
    path = tmp_path / "w.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + body)
    got = minilm.read_safetensors(path)
    assert set(got) == {"a", "b"}
    assert np.array_equal(got["a"], a)
    assert np.array_equal(got["b"], b)


@pytest.fixture(scope="module")
def tokenizer_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    vocab = {t: i for i, t in enumerate(VOCAB)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    path = tmp_path_factory.mktemp("wp") / "tokenizer.json"
    tok.save(str(path))
    return path


def test_wordpiece_ids_mask_and_padding(tokenizer_json: Path) -> None:
    wp = WordPiece(tokenizer_json, max_tokens=16)
    batch = wp.encode_batch(["A great film.", "Bad plots"])
    assert batch.input_ids.tolist() == [[2, 4, 5, 6, 11, 3], [2, 7, 8, 9, 3, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]]
    assert batch.input_ids.dtype == np.int64


def test_wordpiece_keeps_the_end_of_a_long_text(tokenizer_json: Path) -> None:
    text = "a film , a bad plot , a great film ."
    left = WordPiece(tokenizer_json, max_tokens=5, side="left").encode_batch([text])
    right = WordPiece(tokenizer_json, max_tokens=5, side="right").encode_batch([text])
    assert left.input_ids.tolist() == [[2, 5, 6, 11, 3]]  # [CLS] great film . [SEP]
    assert right.input_ids.tolist() == [[2, 4, 6, 10, 3]]  # [CLS] a film , [SEP]
    assert WordPiece(tokenizer_json, 5).encode_batch([]).input_ids.shape == (0, 2)
