"""Issue 12's question, measured by `make bench`: would a plain Starlette `Route` for POST /predict
(the body parsed by pydantic's JSON parser, no FastAPI dependency solving) do instead of the fast
path? The service's own app, its fast path off (SENTIMENT_FAST_PATH=false), with such a route put
in front of FastAPI's. It serves the benchmark's valid, plain requests only: a replacement would
also need every error of the route, which is what the fast path hands back to FastAPI."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.app import create_app
from service.inference import ready_at, score_one
from service.schemas import PredictRequest


def create_starlette_route_app() -> FastAPI:
    app = create_app()
    runtime = app.state.runtime

    async def predict(request: Request) -> Response:
        body = PredictRequest.model_validate_json(await request.body())
        registry = runtime.registry
        assert registry is not None
        model = registry.models[body.model or registry.default_name]
        text, scope = body.text, request.scope
        content, timing = await score_one(runtime, model, text, ready_at=ready_at(scope))
        scope["state"]["model"], scope["state"]["timing"] = model.name, timing
        return Response(content, media_type="application/json")

    app.router.routes.insert(0, Route("/predict", predict, methods=["POST"]))
    return app
