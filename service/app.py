"""The app factory: `create_app(settings)` builds the FastAPI app; models load in its lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from service.dependencies import Runtime
from service.errors import add_error_handlers
from service.middleware.api_key import ApiKeyMiddleware
from service.middleware.draining import ConnectionCloseWhileDraining
from service.middleware.fastpath import PredictFastPath
from service.middleware.limits import BodyLimitMiddleware
from service.middleware.observability import ObservabilityMiddleware
from service.registry import check_golden, load_registry
from service.repository import install_reload_on_sighup
from service.routes import compare, docs, health, models, page, predict
from service.routes import metrics as metrics_route
from service.settings import Settings, get_settings
from service.shutdown import drain_when_orphaned, install_drain_on_sigterm
from service.tracing import start_provider
from service.v2 import repository
from service.v2 import routes as v2
from service.v2.grpc_server import GrpcServer

log = logging.getLogger(__name__)
# As uvicorn's own timeout_graceful_shutdown (service/__main__.py).
GRPC_GRACE_S = 30.0


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry = load_registry(settings.models_dir, settings.default_model, settings.ort_threads)
        # Logged here, not by load_registry: `python -m service` loads once more to check first.
        log.info(
            "loaded %d models from %s: %s",
            len(registry.models),
            settings.models_dir,
            ", ".join(registry.models),
        )
        runtime.registry = registry
        runtime.shutting_down = False  # a new lifespan of the same app (tests) starts ready
        runtime.batchers = {}
        runtime.repository_lock = asyncio.Lock()  # this lifespan's event loop
        for model in registry.models.values():
            runtime.serve(model)
        check_golden(registry, settings.golden_tolerance)
        tracer_provider = start_provider(settings.otlp_endpoint)
        if tracer_provider is not None:
            runtime.tracer = tracer_provider.get_tracer("service")
        grpc_server = GrpcServer(runtime, app.version) if settings.grpc_port else None
        if grpc_server is not None:
            await grpc_server.start()
        restore_sigterm = install_drain_on_sigterm(runtime, settings.drain_seconds)
        restore_sighup = install_reload_on_sighup(runtime)
        drain_when_orphaned()
        log.info("ready: golden max |diff| %s", registry.golden_max_diff)
        yield
        runtime.shutting_down = True
        if grpc_server is not None:  # new RPCs refused, those in flight finish
            await grpc_server.stop(GRPC_GRACE_S)
        registry.ready = False
        restore_sigterm()
        restore_sighup()
        if tracer_provider is not None:
            tracer_provider.shutdown()  # exports the spans still buffered

    app = FastAPI(
        title="IMDB sentiment",
        summary="A textbook chapter's IMDB models, served with onnxruntime.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # service.routes.docs serves Swagger UI from our own files
        redoc_url=None,  # ReDoc loads from a CDN and fonts from Google: gone rather than blank
    )
    runtime = Runtime(settings)
    app.state.runtime = runtime
    add_error_handlers(app)
    # Innermost first: the last one added sees each request first.
    if settings.fast_path:
        app.add_middleware(PredictFastPath, runtime=runtime)
    app.add_middleware(BodyLimitMiddleware, runtime=runtime)
    if settings.api_key is not None:
        app.add_middleware(ApiKeyMiddleware, api_key=settings.api_key.get_secret_value())
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["content-type", "x-api-key", "x-request-id"],
            expose_headers=["x-request-id", "server-timing"],
        )
    app.add_middleware(ObservabilityMiddleware, runtime=runtime)
    app.add_middleware(ConnectionCloseWhileDraining, runtime=runtime)
    for router in (predict.router, models.router, health.router, metrics_route.router):
        app.include_router(router)
    app.include_router(compare.router)
    app.include_router(repository.router)  # before v2's catch-all for unknown /v2 paths
    app.include_router(v2.router)
    app.include_router(page.router)
    app.include_router(docs.router)
    app.mount("/static", StaticFiles(directory=page.STATIC_DIR), name="static")
    return app
