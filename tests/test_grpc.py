"""The Open Inference Protocol over gRPC, with the real clients: Triton's `tritonclient.grpc`, the
standard health checking and reflection clients, and the service's own generated stub (for what
tritonclient will not send: typed contents, malformed tensors)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import tritonclient.grpc as tc
from fastapi.testclient import TestClient
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from tritonclient.utils import InferenceServerException

from harness import free_port
from service.app import create_app
from service.protos import grpc_predict_v2_pb2 as pb
from service.protos import grpc_predict_v2_pb2_grpc as pb_grpc
from service.settings import Settings
from service.v2.grpc_tensors import join_bytes
from tests.conftest import MODELS, ROOT, SERVED_MODELS, golden

TEXTS = ["One of the best films I have seen. A masterpiece, I loved it.", "Dull and far too long."]
SERVICE = "inference.GRPCInferenceService"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[TestClient, str]]:
    """The app, its lifespan running, and the address of its gRPC server."""
    port = free_port()
    with TestClient(create_app(Settings(models_dir=MODELS, grpc_port=port))) as client:
        yield client, f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def triton(served: tuple[TestClient, str]) -> Iterator[tc.InferenceServerClient]:
    client = tc.InferenceServerClient(served[1])
    yield client
    client.close()


@pytest.fixture(scope="module")
def channel(served: tuple[TestClient, str]) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(served[1]) as ch:
        yield ch


def stub(channel: grpc.Channel) -> Any:
    """The service's own generated stub (untyped, as grpcio-tools writes it)."""
    return pb_grpc.GRPCInferenceServiceStub(channel)  # type: ignore[no-untyped-call]


def text_input(texts: list[str]) -> tc.InferInput:
    tensor = tc.InferInput("text", [len(texts)], "BYTES")
    tensor.set_data_from_numpy(np.array([t.encode() for t in texts], dtype=np.object_))
    return tensor


def code_of(call: Any) -> grpc.StatusCode:
    with pytest.raises(InferenceServerException) as caught:
        call()
    status = caught.value.status()
    return getattr(grpc.StatusCode, status.removeprefix("StatusCode."))


def test_tritonclient_sees_the_server_live_ready_and_its_models(
    triton: tc.InferenceServerClient,
) -> None:
    assert triton.is_server_live()
    assert triton.is_server_ready()
    assert triton.get_server_metadata().name == "imdb-sentiment"
    for name in SERVED_MODELS:
        assert triton.is_model_ready(name)
        meta = triton.get_model_metadata(name)
        assert [(t.name, t.datatype) for t in meta.inputs] == [
            ("text", "BYTES"),
            ("input_ids", "INT64"),
        ]
        assert [(t.name, t.datatype) for t in meta.outputs] == [
            ("score", "FP32"),
            ("label", "BYTES"),
        ]


@pytest.mark.parametrize("name", SERVED_MODELS)
def test_infer_text_scores_equal_predict(
    name: str, served: tuple[TestClient, str], triton: tc.InferenceServerClient
) -> None:
    texts = [g["text"] for g in golden(name)][:8] + TEXTS
    result = triton.infer(name, [text_input(texts)])
    single = triton.infer(name, [text_input(texts[:1])])
    expected = [served[0].post("/predict", json={"text": t, "model": name}).json() for t in texts]
    assert np.allclose(result.as_numpy("score"), [e["score"] for e in expected], atol=1e-5)
    assert [x.decode() for x in result.as_numpy("label")] == [e["label"] for e in expected]
    assert abs(float(single.as_numpy("score")[0]) - expected[0]["score"]) <= 1e-5


def test_infer_input_ids_matches_text(
    served: tuple[TestClient, str], triton: tc.InferenceServerClient
) -> None:
    registry = served[0].app.state.runtime.registry  # type: ignore[attr-defined]
    ids = registry.models["rnn2"].encode(TEXTS).astype(np.int64)
    tensor = tc.InferInput("input_ids", list(ids.shape), "INT64")
    tensor.set_data_from_numpy(ids)
    by_ids = triton.infer("rnn2", [tensor], outputs=[tc.InferRequestedOutput("score")])
    by_text = triton.infer("rnn2", [text_input(TEXTS)])
    assert by_ids.as_numpy("label") is None
    assert np.allclose(by_ids.as_numpy("score"), by_text.as_numpy("score"), atol=1e-6)


def test_typed_contents_get_typed_outputs(channel: grpc.Channel) -> None:
    request = pb.ModelInferRequest(model_name="rnn2", id="r1")
    tensor = request.inputs.add(name="text", datatype="BYTES", shape=[2])
    tensor.contents.bytes_contents.extend(t.encode() for t in TEXTS)
    response = stub(channel).ModelInfer(request, timeout=10)
    assert response.id == "r1"
    assert not response.raw_output_contents
    score, label = response.outputs
    assert (score.name, list(score.shape), len(score.contents.fp32_contents)) == ("score", [2], 2)
    assert list(label.contents.bytes_contents) == [
        b"positive" if s >= 0.5 else b"negative" for s in score.contents.fp32_contents
    ]


def test_errors_map_to_status_codes(triton: tc.InferenceServerClient) -> None:
    text = text_input(TEXTS)
    assert code_of(lambda: triton.infer("nope", [text])) == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: triton.get_model_metadata("nope")) == grpc.StatusCode.NOT_FOUND
    wrong = tc.InferInput("text", [2], "FP32")
    wrong.set_data_from_numpy(np.zeros(2, dtype=np.float32))
    assert code_of(lambda: triton.infer("rnn2", [wrong])) == grpc.StatusCode.INVALID_ARGUMENT
    bad_output = [tc.InferRequestedOutput("nope")]
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(lambda: triton.infer("rnn2", [text], outputs=bad_output)) == invalid
    blank = text_input(["   "])
    assert code_of(lambda: triton.infer("rnn2", [blank])) == grpc.StatusCode.INVALID_ARGUMENT


def test_health_follows_readiness_and_overload_is_shed_like_http(
    served: tuple[TestClient, str], triton: tc.InferenceServerClient, channel: grpc.Channel
) -> None:
    client, _ = served
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    health = health_pb2_grpc.HealthStub(channel)
    serving = health_pb2.HealthCheckResponse.SERVING
    for service in ("", SERVICE):
        request = health_pb2.HealthCheckRequest(service=service)
        assert health.Check(request, timeout=5).status == serving
    text = text_input(TEXTS)
    queues = (runtime.batcher_admission, runtime.cpu_admission)
    for queue in queues:  # every request refused, HTTP and gRPC alike
        queue.max_in_flight = 0
    try:
        exhausted = grpc.StatusCode.RESOURCE_EXHAUSTED
        assert code_of(lambda: triton.infer("rnn2", [text_input(TEXTS[:1])])) == exhausted
        assert code_of(lambda: triton.infer("rnn2", [text])) == exhausted
        assert client.post("/predict", json={"text": TEXTS[0]}).status_code == 503
    finally:
        for queue in queues:
            queue.max_in_flight = runtime.settings.max_in_flight
    runtime.shutting_down = True  # as on SIGTERM
    try:
        assert not triton.is_server_ready()
        not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == not_serving
        assert code_of(lambda: triton.infer("rnn2", [text])) == grpc.StatusCode.UNAVAILABLE
    finally:
        runtime.shutting_down = False
    assert triton.infer("rnn2", [text]).as_numpy("score").shape == (2,)


def test_reflection_lists_and_describes_the_services(channel: grpc.Channel) -> None:
    reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE),
    ]
    listed, described = list(reflect.ServerReflectionInfo(iter(requests), timeout=10))
    names = {s.name for s in listed.list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names
    assert described.file_descriptor_response.file_descriptor_proto


def test_limits_and_api_key_apply_to_grpc() -> None:
    port = free_port()
    settings = Settings(
        models_dir=MODELS, grpc_port=port, max_body_bytes=20_000, max_text_chars=500, api_key="k"
    )
    with TestClient(create_app(settings)), tc.InferenceServerClient(f"127.0.0.1:{port}") as triton:
        key = {"x-api-key": "k"}
        assert triton.is_server_ready()  # health needs no key
        text = text_input(TEXTS)
        unauthenticated = grpc.StatusCode.UNAUTHENTICATED
        assert code_of(lambda: triton.infer("rnn2", [text])) == unauthenticated
        assert triton.infer("rnn2", [text], headers=key).as_numpy("score").shape == (2,)
        long = text_input(["word " * 200])
        invalid = grpc.StatusCode.INVALID_ARGUMENT
        assert code_of(lambda: triton.infer("rnn2", [long], headers=key)) == invalid
        huge = text_input(["word " * 90] * 100)  # ~45 KB, over the 20 KB body limit
        exhausted = grpc.StatusCode.RESOURCE_EXHAUSTED
        assert code_of(lambda: triton.infer("rnn2", [huge], headers=key)) == exhausted


# Malformed tensors: whatever the dtype, shape and contents, an answer or a client error.
DATATYPES = st.sampled_from(["BYTES", "INT64", "FP32", "INT32", "BOOL", "", "bytes"])
SHAPES = st.lists(st.integers(-2, 25), max_size=3)


@st.composite
def tensors(draw: st.DrawFn) -> tuple[pb.ModelInferRequest.InferInputTensor, bytes | None]:
    tensor = pb.ModelInferRequest.InferInputTensor(
        name=draw(st.sampled_from(["text", "input_ids", "x"])),
        datatype=draw(DATATYPES),
        shape=draw(SHAPES),
    )
    kind = draw(st.sampled_from(["raw", "raw-bytes", "bytes", "int64", "fp32", "none"]))
    if kind == "raw":
        return tensor, draw(st.binary(max_size=200))
    if kind == "raw-bytes":
        elements = draw(st.lists(st.binary(max_size=30), max_size=5))
        return tensor, join_bytes(elements)[: draw(st.integers(0, 200))]
    if kind == "bytes":
        tensor.contents.bytes_contents.extend(draw(st.lists(st.binary(max_size=30), max_size=5)))
    elif kind == "int64":
        values = st.integers(-(2**63), 2**63 - 1) | st.integers(-2, 20_000)
        tensor.contents.int64_contents.extend(draw(st.lists(values, max_size=45)))
    elif kind == "fp32":
        tensor.contents.fp32_contents.extend(draw(st.lists(st.floats(width=32), max_size=5)))
    return tensor, None


@st.composite
def infer_requests(draw: st.DrawFn) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name=draw(st.sampled_from(["rnn2", "ff", "nope", ""])))
    drawn = draw(st.lists(tensors(), min_size=0, max_size=2))
    for tensor, _ in drawn:
        request.inputs.append(tensor)
    raws = [raw for _, raw in drawn if raw is not None]
    if draw(st.booleans()):
        request.raw_input_contents.extend(raws)
    outputs = st.lists(st.sampled_from(["score", "label", "x"]), max_size=3)
    for name in draw(outputs):
        request.outputs.add(name=name)
    return request


@hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request=infer_requests())
def test_malformed_tensors_get_status_codes_never_a_crash(
    channel: grpc.Channel, request: pb.ModelInferRequest
) -> None:
    call = stub(channel).ModelInfer.future(request, timeout=10)
    code = call.code()  # waits for the answer
    if code != grpc.StatusCode.OK:
        assert code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND), call.details()
        assert call.details()
        return
    rows = request.inputs[0].shape[0]
    assert all(list(o.shape) == [rows] for o in call.result().outputs)


def test_committed_generated_code_is_current(tmp_path: Path) -> None:
    proto = "service/protos/grpc_predict_v2.proto"
    args = ["--python_out", "--pyi_out", "--grpc_python_out"]
    command = [sys.executable, "-m", "grpc_tools.protoc", "-I."]
    subprocess.run([*command, *(f"{a}={tmp_path}" for a in args), proto], cwd=ROOT, check=True)
    for name in (
        "grpc_predict_v2_pb2.py",
        "grpc_predict_v2_pb2.pyi",
        "grpc_predict_v2_pb2_grpc.py",
    ):
        fresh = (tmp_path / "service/protos" / name).read_text(encoding="utf-8")
        fresh = fresh.replace(
            "_descriptor_pool.Default().AddSerializedFile",
            "_descriptor_pool.DescriptorPool().AddSerializedFile",
        )
        assert fresh == (ROOT / "service/protos" / name).read_text(encoding="utf-8"), name
