"""The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`, as Triton and KServe
serve it on port 8001), with the standard health service and server reflection.

Each worker runs one `grpc.aio` server on its own event loop, started and stopped by the app's
lifespan; with several workers they share the port through SO_REUSEPORT. Every RPC is a thin
adapter: a request is judged and scored by the same code as the REST form
(service/v2/schemas.py), under the same admission control (service/admission.py) and limits.
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2

from service import metrics, tracing
from service.dependencies import Runtime
from service.errors import ServiceError
from service.inference import QueueTerms, deadline_of
from service.protos import grpc_predict_v2_pb2 as pb
from service.protos import grpc_predict_v2_pb2_grpc as pb_grpc
from service.registry import ModelRegistry, SentimentModel
from service.v2.grpc_tensors import to_response, to_rest
from service.v2.schemas import V2Error, encode_outputs, infer_scores, model_metadata

log = logging.getLogger(__name__)

SERVICE = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name
_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    405: grpc.StatusCode.UNIMPLEMENTED,
    503: grpc.StatusCode.UNAVAILABLE,
}
_SERVICE_CODES = {
    "overloaded": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "deadline_exceeded": grpc.StatusCode.DEADLINE_EXCEEDED,
    "client_closed_request": grpc.StatusCode.CANCELLED,
}
# Reflection answers from the generated code's own descriptor pool (service/protos/__init__.py),
# which therefore also holds the health and reflection services' files.
_POOL = pb.DESCRIPTOR.pool
for _file in (health_pb2.DESCRIPTOR, reflection_pb2.DESCRIPTOR):
    _POOL.AddSerializedFile(_file.serialized_pb)


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, runtime: Runtime, version: str) -> None:
        self.runtime = runtime
        self.version = version

    async def ServerLive(self, request: pb.ServerLiveRequest, context: Any) -> Any:  # noqa: N802
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request: pb.ServerReadyRequest, context: Any) -> Any:  # noqa: N802
        return pb.ServerReadyResponse(ready=self.runtime.ready)

    async def ModelReady(self, request: pb.ModelReadyRequest, context: Any) -> Any:  # noqa: N802
        if self.runtime.registry is not None:
            await self._model(self.runtime.registry, request.name, context)
        return pb.ModelReadyResponse(ready=self.runtime.ready)

    async def ServerMetadata(self, request: Any, context: Any) -> Any:  # noqa: N802
        await self._authorize(context)
        return pb.ServerMetadataResponse(name="imdb-sentiment", version=self.version)

    async def ModelMetadata(self, request: Any, context: Any) -> Any:  # noqa: N802
        await self._authorize(context)
        model = await self._model(await self._registry(context), request.name, context)
        meta = model_metadata(model)
        tensors = pb.ModelMetadataResponse.TensorMetadata
        return pb.ModelMetadataResponse(
            name=meta.name,
            versions=["1"],
            platform=meta.platform,
            inputs=[tensors(name=t.name, datatype=t.datatype, shape=t.shape) for t in meta.inputs],
            outputs=[
                tensors(name=t.name, datatype=t.datatype, shape=t.shape) for t in meta.outputs
            ],
        )

    async def ModelInfer(self, request: pb.ModelInferRequest, context: Any) -> Any:  # noqa: N802
        carrier = dict(context.invocation_metadata() or ())
        metrics.IN_FLIGHT.inc()
        with tracing.request_span(self.runtime.tracer, "ModelInfer", carrier) as span:
            status = "OK"
            try:
                return await self._infer(request, context, span)
            except BaseException:
                status = (context.code() or grpc.StatusCode.UNKNOWN).name
                raise
            finally:
                metrics.IN_FLIGHT.dec()
                metrics.requests_child(f"/{SERVICE}/ModelInfer", "grpc", status, "").inc()
                if span is not None:
                    span.set_attribute("rpc.grpc.status_code", status)

    async def _infer(self, request: pb.ModelInferRequest, context: Any, span: Any) -> Any:
        await self._authorize(context)
        if not self.runtime.ready:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "not ready: starting or draining")
        model = await self._model(await self._registry(context), request.model_name, context)
        if span is not None:
            span.set_attribute(tracing.MODEL, model.name)
        try:
            rest = to_rest(request)
            scores = await infer_scores(self.runtime, model, rest, self._terms(context))
            outputs = encode_outputs(rest, scores)
        except V2Error as e:
            await context.abort(_CODES.get(e.status_code, grpc.StatusCode.UNKNOWN), e.message)
        except ServiceError as e:  # admission, deadline: as HTTP's 503s
            code = _SERVICE_CODES.get(e.type, _CODES.get(e.status_code, grpc.StatusCode.UNKNOWN))
            await context.abort(code, e.message)
        raw = len(request.raw_input_contents) > 0
        return to_response(model.name, request.id, outputs, raw)

    def _terms(self, context: Any) -> QueueTerms:
        """The queue terms of an RPC: its deadline is the client's (gRPC's own), bounded by
        SENTIMENT_REQUEST_DEADLINE_MS, as HTTP's X-Request-Timeout is."""
        deadline_s = deadline_of(None, self.runtime.settings.request_deadline_ms)
        remaining = context.time_remaining()
        if remaining is not None:
            deadline_s = remaining if deadline_s is None else min(deadline_s, remaining)
        return QueueTerms(ready_at=None, deadline_s=deadline_s, is_gone=None)

    async def _registry(self, context: Any) -> ModelRegistry:
        registry = self.runtime.registry
        if registry is None or not registry.ready:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "models are not loaded yet")
        assert registry is not None
        return registry

    async def _model(self, registry: ModelRegistry, name: str, context: Any) -> SentimentModel:
        model = registry.models.get(name)
        if model is None:
            available = ", ".join(registry.models)
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"unknown model {name!r}; available: {available}"
            )
        assert model is not None
        return model

    async def _authorize(self, context: Any) -> None:
        """With SENTIMENT_API_KEY set, all but the health RPCs need it in `x-api-key` metadata."""
        key = self.runtime.settings.api_key
        if key is None:
            return
        given = dict(context.invocation_metadata() or ()).get("x-api-key", "")
        if not hmac.compare_digest(str(given).encode(), key.get_secret_value().encode()):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong x-api-key")


class ReadinessHealth(health.aio.HealthServicer):  # type: ignore[misc]
    """grpc.health.v1, answering for the server ("") and the inference service alike: SERVING
    exactly while the service is ready (models checked, not shutting down)."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.runtime = runtime

    async def sync(self) -> None:
        status = health_pb2.HealthCheckResponse.SERVING
        if not self.runtime.ready:
            status = health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SERVICE):
            await self.set(name, status)

    async def Check(self, request: Any, context: Any) -> Any:  # noqa: N802
        await self.sync()
        return await super().Check(request, context)


class GrpcServer:
    """The gRPC server of one worker, bound to `host:port` by `start()`."""

    def __init__(self, runtime: Runtime, version: str) -> None:
        settings = runtime.settings
        options = [
            # The workers of one server share the port, the kernel spreading connections among
            # them (so do single-worker replicas run side by side on one host, as check-deploy
            # does). Only processes of the same user can share a port so.
            ("grpc.so_reuseport", 1),
            ("grpc.max_receive_message_length", settings.max_body_bytes),
        ]
        self.server = grpc.aio.server(options=options)
        self.health = ReadinessHealth(runtime)
        servicer = InferenceServicer(runtime, version)
        pb_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, self.server)  # type: ignore[no-untyped-call]
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        services = (SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME)
        reflection.enable_server_reflection(services, self.server, pool=_POOL)
        self.address = f"{settings.host}:{settings.grpc_port}"
        self.port = 0

    async def start(self) -> None:
        self.port = self.server.add_insecure_port(self.address)
        await self.server.start()
        await self.health.sync()
        log.info("gRPC (Open Inference Protocol) on port %d", self.port)

    async def stop(self, grace_s: float) -> None:
        """Refuse new RPCs; let those in flight finish for up to `grace_s`."""
        await self.health.enter_graceful_shutdown()
        started = time.perf_counter()
        await self.server.stop(grace_s)
        log.info("gRPC stopped in %.2fs", time.perf_counter() - started)
