"""The Open Inference Protocol (KServe v2 REST): shapes of the answers, strict validation, and
errors as `{"error": "..."}` with 400 or 404, never the rest of the API's shape."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.tokenizer import build_vocabulary, encode_batch, load_word_index
from tests.conftest import CHAPTER_MODELS, MODELS, SERVED_MODELS

TEXTS = ["A wonderful, moving film. I loved it.", "Awful, boring, a waste of time."]


def text_input(texts: list[str]) -> dict[str, Any]:
    return {"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": texts}


def assert_v2_error(response: Any, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"], str)
    assert fragment in body["error"]


def test_server_metadata_names_the_server_and_no_extensions(client: TestClient) -> None:
    response = client.get("/v2")
    assert response.status_code == 200
    assert response.json() == {"name": "imdb-sentiment", "version": "0.1.0", "extensions": []}


def test_server_metadata_answers_with_a_trailing_slash_too(client: TestClient) -> None:
    assert client.get("/v2/").json() == client.get("/v2").json()


def test_health_endpoints_answer_200_with_an_empty_body(client: TestClient) -> None:
    for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/rnn2/ready"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.content == b"", path


def test_model_metadata_lists_both_inputs_and_both_outputs(client: TestClient) -> None:
    response = client.get("/v2/models/rnn3")
    assert response.status_code == 200
    assert response.json() == {
        "name": "rnn3",
        "platform": "onnxruntime_onnx",
        "inputs": [
            {"name": "text", "datatype": "BYTES", "shape": [-1]},
            {"name": "input_ids", "datatype": "INT64", "shape": [-1, 20]},
        ],
        "outputs": [
            {"name": "score", "datatype": "FP32", "shape": [-1]},
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
        ],
    }


@pytest.mark.parametrize("name", CHAPTER_MODELS)
def test_infer_on_text_equals_predict_batch(client: TestClient, name: str) -> None:
    response = client.post(
        f"/v2/models/{name}/infer", json={"id": "42", "inputs": [text_input(TEXTS)]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "42"
    assert body["model_name"] == name
    score, label = body["outputs"]
    predictions = client.post("/predict/batch", json={"texts": TEXTS, "model": name}).json()
    assert score == {
        "name": "score",
        "datatype": "FP32",
        "shape": [2],
        "data": [p["score"] for p in predictions["predictions"]],
    }
    assert label["data"] == [p["label"] for p in predictions["predictions"]]
    assert (label["datatype"], label["shape"]) == ("BYTES", [2])


def test_infer_on_input_ids_nested_or_flat_equals_infer_on_text(client: TestClient) -> None:
    vocabulary = build_vocabulary(load_word_index(MODELS / "imdb_word_index.json"), 10_000)
    ids = encode_batch(TEXTS, vocabulary, 20).tolist()
    by_text = client.post("/v2/models/ff/infer", json={"inputs": [text_input(TEXTS)]}).json()
    for data in (ids, [i for row in ids for i in row]):
        tensor = {"name": "input_ids", "datatype": "INT64", "shape": [2, 20], "data": data}
        response = client.post("/v2/models/ff/infer", json={"inputs": [tensor]})
        assert response.status_code == 200, response.text
        assert response.json()["outputs"] == by_text["outputs"]


def test_infer_returns_only_the_requested_outputs_in_order(client: TestClient) -> None:
    body = {"inputs": [text_input(TEXTS)], "outputs": [{"name": "label"}]}
    response = client.post("/v2/models/rnn/infer", json=body)
    assert response.status_code == 200
    assert [o["name"] for o in response.json()["outputs"]] == ["label"]
    assert response.json()["id"]  # one is made up when the request has none


def test_unknown_model_returns_404_in_the_v2_shape(client: TestClient) -> None:
    assert_v2_error(client.get("/v2/models/gpt"), 404, "unknown model 'gpt'")
    assert_v2_error(client.get("/v2/models/gpt/ready"), 404, "unknown model")
    response = client.post("/v2/models/gpt/infer", json={"inputs": [text_input(TEXTS)]})
    assert_v2_error(response, 404, ", ".join(SERVED_MODELS))


def ids_input(shape: list[int], data: list[Any], datatype: str = "INT64") -> dict[str, Any]:
    return {"name": "input_ids", "datatype": datatype, "shape": shape, "data": data}


@pytest.mark.parametrize(
    ("inputs", "fragment"),
    [
        ([{**text_input(TEXTS), "datatype": "STRING"}], "must be BYTES"),
        ([{**text_input(TEXTS), "shape": [3]}], "shape [3] needs 3"),
        ([{**text_input(TEXTS), "shape": [2, 1]}], "must have shape [N]"),
        ([{**text_input(TEXTS), "shape": [0], "data": []}], "batch size"),
        ([text_input(["ok", "  "])], "non-blank string"),
        ([text_input(["ok", 3])], "non-blank string"),  # type: ignore[list-item]
        ([{**text_input(TEXTS), "name": "review"}], "unknown input 'review'"),
        ([text_input(TEXTS), ids_input([1, 20], [0] * 20)], "exactly one input"),
        ([], "exactly one input"),
        ([ids_input([1, 20], [0] * 20, "INT32")], "must be INT64"),
        ([ids_input([1, 10], [0] * 10)], "must have shape [N, 20]"),
        ([ids_input([1, 20], [0] * 19 + [10_000])], "from 0 to 9999"),
        ([ids_input([1, 20], [0] * 19 + [-1])], "from 0 to 9999"),
        ([ids_input([1, 20], [0] * 19 + [1.5])], "integer id"),
        ([ids_input([1, 20], [0] * 19 + [True])], "integer id"),
        ([ids_input([2, 20], [[0] * 20, [0] * 19])], "has 19 elements"),
        ([ids_input([1, 20], [[[0] * 20]])], "elements where the shape says"),
    ],
)
def test_bad_infer_input_returns_400_in_the_v2_shape(
    client: TestClient, inputs: list[dict[str, Any]], fragment: str
) -> None:
    response = client.post("/v2/models/rnn2/infer", json={"inputs": inputs})
    assert_v2_error(response, 400, fragment)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "inputs: Field required"),
        ({"inputs": "text"}, "inputs"),
        ({"inputs": [{"name": "text", "datatype": "BYTES", "data": ["a"]}]}, "shape"),
        ({"inputs": [text_input(TEXTS)], "surprise": 1}, "surprise"),
        ({"inputs": [text_input(TEXTS)], "outputs": [{"name": "logits"}]}, "outputs must be"),
        ({"inputs": [text_input(TEXTS)], "id": 42}, "id"),
        ([], "body"),
    ],
)
def test_invalid_infer_request_returns_400_not_422(
    client: TestClient, body: object, fragment: str
) -> None:
    assert_v2_error(client.post("/v2/models/rnn2/infer", json=body), 400, fragment)


def test_malformed_json_and_binary_tensors_return_400(client: TestClient) -> None:
    response = client.post(
        "/v2/models/rnn2/infer",
        content=b'{"inputs": [',
        headers={"content-type": "application/json"},
    )
    assert_v2_error(response, 400, "the body is not valid JSON")
    response = client.post(
        "/v2/models/rnn2/infer",
        content=b'{"inputs": []}\x00\x01',
        headers={"inference-header-content-length": "14"},
    )
    assert_v2_error(response, 400, "binary tensor data is not supported")


def test_unknown_v2_path_and_wrong_method_keep_the_v2_shape(client: TestClient) -> None:
    assert_v2_error(client.get("/v2/nowhere"), 404, "no such endpoint")
    assert_v2_error(client.get("/v2/models/rnn2/infer"), 405, "not allowed")


def test_the_rest_of_the_api_keeps_its_own_error_shape(client: TestClient) -> None:
    response = client.post("/predict", json={"text": "ok", "model": "gpt"})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "model_not_found"
