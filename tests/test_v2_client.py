"""The v2 protocol with the real client, Triton's `tritonclient.http`, in JSON mode
(`binary_data=False`), against the real server on a free port."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from harness import live_service
from service.tokenizer import build_vocabulary, encode_batch, load_word_index
from tests.conftest import CHAPTER_MODELS, MODELS

pytestmark = pytest.mark.slow

TEXTS = ["One of the best films I have seen. A masterpiece, I loved it.", "Dull and far too long."]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with live_service() as url:
        yield url


@pytest.fixture(scope="module")
def triton(server: str) -> Iterator[httpclient.InferenceServerClient]:
    client = httpclient.InferenceServerClient(url=server.removeprefix("http://"))
    yield client
    client.close()


def predict(server: str, text: str, model: str) -> float:
    request = urllib.request.Request(
        f"{server}/predict",
        json.dumps({"text": text, "model": model}).encode(),
        {"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return float(json.loads(response.read())["score"])


def outputs() -> list[httpclient.InferRequestedOutput]:
    return [
        httpclient.InferRequestedOutput("score", binary_data=False),
        httpclient.InferRequestedOutput("label", binary_data=False),
    ]


def test_tritonclient_sees_the_server_live_and_ready(
    triton: httpclient.InferenceServerClient,
) -> None:
    assert triton.is_server_live()
    assert triton.is_server_ready()
    assert triton.get_server_metadata()["name"] == "imdb-sentiment"
    for name in CHAPTER_MODELS:
        assert triton.is_model_ready(name)
    assert not triton.is_model_ready("gpt")


def test_tritonclient_reads_model_metadata(triton: httpclient.InferenceServerClient) -> None:
    metadata = triton.get_model_metadata("rnn2")
    assert metadata["name"] == "rnn2"
    assert [(i["name"], i["datatype"]) for i in metadata["inputs"]] == [
        ("text", "BYTES"),
        ("input_ids", "INT64"),
    ]
    assert [(o["name"], o["datatype"]) for o in metadata["outputs"]] == [
        ("score", "FP32"),
        ("label", "BYTES"),
    ]


@pytest.mark.parametrize("name", CHAPTER_MODELS)
def test_tritonclient_infer_on_text_equals_predict(
    triton: httpclient.InferenceServerClient, server: str, name: str
) -> None:
    text = httpclient.InferInput("text", [len(TEXTS)], "BYTES")
    text.set_data_from_numpy(np.array(TEXTS, dtype=object), binary_data=False)
    result = triton.infer(name, [text], outputs=outputs(), request_id="7")
    scores = result.as_numpy("score")
    assert scores.dtype == np.float32
    assert scores.tolist() == [predict(server, t, name) for t in TEXTS]
    labels = [b.decode() if isinstance(b, bytes) else b for b in result.as_numpy("label")]
    assert labels == ["positive" if s >= 0.5 else "negative" for s in scores]
    assert result.get_response()["id"] == "7"


def test_tritonclient_infer_on_input_ids_equals_predict(
    triton: httpclient.InferenceServerClient, server: str
) -> None:
    vocabulary = build_vocabulary(load_word_index(MODELS / "imdb_word_index.json"), 10_000)
    ids = httpclient.InferInput("input_ids", [len(TEXTS), 20], "INT64")
    ids.set_data_from_numpy(encode_batch(TEXTS, vocabulary, 20).astype(np.int64), binary_data=False)
    result = triton.infer("rnn3", [ids], outputs=outputs())
    assert result.as_numpy("score").tolist() == [predict(server, t, "rnn3") for t in TEXTS]


def test_tritonclient_raises_the_servers_error_message(
    triton: httpclient.InferenceServerClient,
) -> None:
    text = httpclient.InferInput("text", [1], "BYTES")
    text.set_data_from_numpy(np.array(["fine"], dtype=object), binary_data=False)
    with pytest.raises(InferenceServerException, match="unknown model 'gpt'"):
        triton.infer("gpt", [text], outputs=outputs())
    ids = httpclient.InferInput("input_ids", [1, 20], "INT32")
    ids.set_data_from_numpy(np.zeros((1, 20), dtype=np.int32), binary_data=False)
    with pytest.raises(InferenceServerException, match="must be INT64"):
        triton.infer("rnn2", [ids], outputs=outputs())
