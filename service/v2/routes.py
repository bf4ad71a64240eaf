"""The Open Inference Protocol (KServe v2 REST) on the service's own port: health, metadata and
infer, for tools such as Triton's `tritonclient`. Its errors are `{"error": "..."}` (400 or 404),
as the protocol says, unlike the rest of the API: the routes' own class answers them all, request
validation included, before the app's handlers could give them the other shape."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from service.dependencies import RegistryDep, Runtime, RuntimeDep, scores_in
from service.errors import ServiceError
from service.inference import queue_terms
from service.v2.schemas import (
    InferenceRequest,
    InferenceResponse,
    ModelMetadata,
    ServerMetadata,
    V2Error,
    V2ErrorBody,
    encode_outputs,
    infer_scores,
    model_metadata,
)

BINARY_HEADER = "inference-header-content-length"


def _error(
    status_code: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": message}, status_code, headers=headers)


def _describe(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    if errors[0].get("type") == "json_invalid":
        return f"the body is not valid JSON: {errors[0].get('ctx', {}).get('error', '')}".strip()
    loc = [str(p) for p in errors[0].get("loc", ()) if p != "body"]
    return f"{'.'.join(loc) or 'body'}: {errors[0].get('msg', 'invalid')}"


def _as_json(request: Request) -> Request:
    """The protocol's bodies are JSON whatever their Content-Type says (tritonclient sends
    text/plain), so FastAPI is told to parse them as such."""
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"content-type"]
    scope = {**request.scope, "headers": [*headers, (b"content-type", b"application/json")]}
    return Request(scope, request.receive)


class V2Route(APIRoute):
    """A route whose every error, request validation included, is `{"error": "..."}`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            if BINARY_HEADER in request.headers:
                return _error(400, "binary tensor data is not supported: send JSON tensors")
            try:
                return await handler(_as_json(request))
            except V2Error as e:
                return _error(e.status_code, e.message)
            except RequestValidationError as e:
                return _error(400, _describe(e))
            except ServiceError as e:  # not ready (503); an invalid input would be 422: 400 here
                status = 400 if e.status_code == 422 else e.status_code
                return _error(status, e.message, e.headers)
            except HTTPException as e:  # an unreadable or oversized body
                return _error(e.status_code, str(e.detail), e.headers)

        return handle


router = APIRouter(prefix="/v2", tags=["open inference protocol (v2)"], route_class=V2Route)
ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": V2ErrorBody} for code in (400, 404, 503)
}


@router.get("", response_model=ServerMetadata)
@router.get("/", include_in_schema=False)
async def server_metadata(request: Request, runtime: RuntimeDep) -> ServerMetadata:
    """Server metadata: its name, version and protocol extensions (model_repository if on)."""
    extensions = ["model_repository"] if runtime.settings.model_control else []
    return ServerMetadata(name="imdb-sentiment", version=request.app.version, extensions=extensions)


@router.get("/health/live", response_class=Response)
async def server_live() -> Response:
    """200 with an empty body while the process runs."""
    return Response(status_code=200)


@router.get("/health/ready", response_class=Response)
async def server_ready(runtime: RuntimeDep) -> Response:
    """200 once every model is loaded and checked, 400 before and during shutdown (empty body)."""
    return Response(status_code=200 if runtime.ready else 400)


@router.get("/models/{name}", response_model=ModelMetadata, responses=ERRORS)
async def model_metadata_route(name: str, registry: RegistryDep) -> ModelMetadata:
    """The inputs (`text` or `input_ids`, one per request) and outputs (`score`, `label`)."""
    return model_metadata(registry.get(name))


@router.get("/models/{name}/ready", response_class=Response, responses=ERRORS)
async def model_ready(name: str, runtime: RuntimeDep) -> Response:
    """200 when the model is ready, 400 when it is not yet, 404 for an unknown model."""
    if runtime.registry is not None:
        runtime.registry.get(name)
    return Response(status_code=200 if runtime.ready else 400)


@router.post("/models/{name}/infer", response_model=InferenceResponse, responses=ERRORS)
@scores_in("cpu")  # a request of one text joins the micro-batcher, asking its queue then
async def infer(
    name: str, body: InferenceRequest, registry: RegistryDep, request: Request
) -> InferenceResponse:
    """Score a batch: input `text` (BYTES, [N]) or `input_ids` (INT64, [N, input length]);
    outputs `score` (FP32, [N], the probability of a positive review) and `label` (BYTES, [N])."""
    model = registry.get(name)
    runtime: Runtime = request.app.state.runtime
    scores = await infer_scores(runtime, model, body, queue_terms(request, runtime.settings))
    return InferenceResponse(
        model_name=model.name,
        id=body.id if body.id is not None else uuid.uuid4().hex,
        outputs=encode_outputs(body, scores),
    )


@router.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def unknown_endpoint(path: str, request: Request) -> Response:
    """Any other /v2 path: 404 (405 for a known path with the wrong method), in the v2 shape."""
    known = any(
        isinstance(r, APIRoute)
        and r.path != "/v2/{path:path}"
        and r.path_regex.match(f"/v2/{path}")
        for r in router.routes
    )
    if known:
        raise V2Error(f"method {request.method} not allowed on /v2/{path}", 405)
    raise V2Error(f"no such endpoint: /v2/{path}", 404)
