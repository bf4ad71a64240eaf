"""OpenTelemetry tracing: off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set, then one span per
request (HTTP or gRPC, continuing the client's W3C `traceparent`) with children for tokenize,
queue wait and inference. Attributes: model name, batch size, text length; never the text.

The request layer puts the tracer in a context variable for the request's duration, so the
scoring code (service/inference.py) opens child spans without being handed anything, and with
tracing off pays one context-variable read per span.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import TYPE_CHECKING

from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

SERVICE_NAME = "imdb-sentiment"
MODEL = "sentiment.model"
BATCH_SIZE = "sentiment.batch_size"
TEXT_CHARS = "sentiment.text_chars"

Attributes = dict[str, str | int]
_TRACER: ContextVar[Tracer | None] = ContextVar("tracer", default=None)
_PROPAGATOR = TraceContextTextMapPropagator()
_OFF: AbstractContextManager[None] = nullcontext()  # reusable: the cheapest "no span"


def start_provider(endpoint: str | None) -> TracerProvider | None:
    """A provider exporting to the OTLP/HTTP collector at `endpoint` in batches; None: off."""
    if not endpoint:
        return None
    # Imported here: the SDK and its exporter are not loaded at all while tracing is off.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def request_span(
    tracer: Tracer | None, name: str, carrier: Mapping[str, str]
) -> AbstractContextManager[Span | None]:
    """The span of one request, a child of the client's `traceparent` in `carrier` if any;
    nothing while tracing is off (`tracer` None)."""
    if tracer is None:
        return nullcontext(None)
    return _request_span(tracer, name, carrier)


@contextmanager
def _request_span(tracer: Tracer, name: str, carrier: Mapping[str, str]) -> Iterator[Span]:
    token = _TRACER.set(tracer)
    try:
        parent = _PROPAGATOR.extract(carrier)
        with tracer.start_as_current_span(name, context=parent, kind=SpanKind.SERVER) as span:
            yield span
    finally:
        _TRACER.reset(token)


def span(name: str, attributes: Attributes) -> AbstractContextManager[object]:
    """A child span of the current request's, or nothing while tracing is off."""
    tracer = _TRACER.get()
    if tracer is None:
        return _OFF
    return tracer.start_as_current_span(name, attributes=attributes)


def record_waits(queue_s: float, inference_s: float, attributes: Attributes) -> None:
    """The queue-wait and inference spans of a request scored by a micro-batcher: they happened
    in the batch's own callback, so they are recorded after the fact, ending now."""
    tracer = _TRACER.get()
    if tracer is None:
        return
    end = time.time_ns()
    inferred = end - int(inference_s * 1e9)
    queued = inferred - int(queue_s * 1e9)
    tracer.start_span("queue", start_time=queued, attributes=attributes).end(inferred)
    tracer.start_span("inference", start_time=inferred, attributes=attributes).end(end)
