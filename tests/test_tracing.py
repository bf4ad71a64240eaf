"""OpenTelemetry tracing against a real OTLP/HTTP receiver: a small HTTP server started here that
decodes the exporter's protobuf requests (`opentelemetry-proto`). A request carrying a W3C
`traceparent`, over HTTP or gRPC, yields its spans in that trace, under the client's span."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from harness import free_port
from service.app import create_app
from service.protos import grpc_predict_v2_pb2 as pb
from service.settings import Settings
from tests.conftest import MODELS
from tests.test_grpc import stub

TEXT = "A quiet, moving film; the cast is wonderful and the ending stayed with me."
PARENT = "00f067aa0ba902b7"


class Receiver(ThreadingHTTPServer):
    spans: list[Span]


class OtlpHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest.FromString(body)
        for resource in export.resource_spans:
            for scope in resource.scope_spans:
                self.server.spans.extend(scope.spans)
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver(("127.0.0.1", 0), OtlpHandler)
    server.spans = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def trace_id(n: int) -> str:
    return f"{n:032x}"


@pytest.fixture(scope="module")
def spans(receiver: Receiver) -> dict[str, list[Span]]:
    """The spans exported for three traced requests (and one untraced), by trace id."""
    port = free_port()
    url = f"http://127.0.0.1:{receiver.server_address[1]}"
    settings = Settings(models_dir=MODELS, grpc_port=port).model_copy(update={"otlp_endpoint": url})
    with (
        TestClient(create_app(settings)) as client,
        grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        header = {"traceparent": f"00-{trace_id(1)}-{PARENT}-01"}
        assert client.post("/predict", json={"text": TEXT}, headers=header).status_code == 200
        header = {"traceparent": f"00-{trace_id(2)}-{PARENT}-01"}
        batch = {"texts": [TEXT, "Dull."]}
        assert client.post("/predict/batch", json=batch, headers=header).status_code == 200
        request = pb.ModelInferRequest(model_name="ff")
        request.inputs.add(name="text", datatype="BYTES", shape=[1]).contents.bytes_contents.append(
            TEXT.encode()
        )
        metadata = [("traceparent", f"00-{trace_id(3)}-{PARENT}-01")]
        stub(channel).ModelInfer(request, metadata=metadata, timeout=10)
        assert client.get("/health/live").status_code == 200
    # The lifespan's end flushed the exporter.
    by_trace: dict[str, list[Span]] = {}
    for span in receiver.spans:
        by_trace.setdefault(span.trace_id.hex(), []).append(span)
    return by_trace


def attributes(span: Span) -> dict[str, object]:
    values = {}
    for a in span.attributes:
        kind = a.value.WhichOneof("value")
        values[a.key] = getattr(a.value, kind) if kind else None
    return values


def check_tree(spans: list[Span], root_name: str, children: list[str]) -> dict[str, Span]:
    """The request span continues the client's; the others are its children."""
    named = {s.name: s for s in spans}
    assert sorted(named) == sorted([root_name, *children])
    root = named[root_name]
    assert root.parent_span_id.hex() == PARENT
    assert root.kind == Span.SPAN_KIND_SERVER
    for name in children:
        assert named[name].parent_span_id == root.span_id, name
        assert named[name].start_time_unix_nano >= root.start_time_unix_nano - 1_000_000
    return named


def test_http_predict_spans_continue_the_client_trace(spans: dict[str, list[Span]]) -> None:
    named = check_tree(spans[trace_id(1)], "POST /predict", ["tokenize", "queue", "inference"])
    default = Settings().default_model  # the request names no model
    assert attributes(named["tokenize"]) == {"sentiment.model": default, "sentiment.text_chars": 74}
    assert attributes(named["inference"]) == {"sentiment.model": default, "sentiment.batch_size": 1}
    assert attributes(named["POST /predict"])["http.response.status_code"] == 200
    start, end = named["queue"].start_time_unix_nano, named["queue"].end_time_unix_nano
    assert start <= end <= named["inference"].start_time_unix_nano


def test_batch_spans_carry_the_batch_size(spans: dict[str, list[Span]]) -> None:
    named = check_tree(spans[trace_id(2)], "POST /predict/batch", ["tokenize", "inference"])
    assert attributes(named["tokenize"])["sentiment.batch_size"] == 2
    assert attributes(named["inference"])["sentiment.batch_size"] == 2


def test_grpc_infer_spans_continue_the_client_trace(spans: dict[str, list[Span]]) -> None:
    named = check_tree(spans[trace_id(3)], "ModelInfer", ["tokenize", "queue", "inference"])
    assert attributes(named["ModelInfer"]) == {
        "sentiment.model": "ff",
        "rpc.grpc.status_code": "OK",
    }
    assert attributes(named["inference"])["sentiment.model"] == "ff"


def test_spans_never_carry_the_text(spans: dict[str, list[Span]]) -> None:
    values = [str(v) for trace in spans.values() for s in trace for v in attributes(s).values()]
    assert values
    assert not any("film" in v or "Dull" in v for v in values)
    assert len(spans) == 4  # the three traced requests, and /health/live in a fresh trace
