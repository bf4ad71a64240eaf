"""The app factory: `create_app(settings)` builds the FastAPI app; models load in its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.dependencies import Runtime
from service.errors import add_error_handlers
from service.limits import BodyLimitMiddleware
from service.registry import check_golden, load_registry
from service.routes import health, models, predict
from service.settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry = load_registry(settings.models_dir, settings.default_model, settings.ort_threads)
        runtime.registry = registry
        check_golden(registry, settings.golden_tolerance)
        log.info("ready: golden max |diff| %s", registry.golden_max_diff)
        yield
        runtime.shutting_down = True
        registry.ready = False

    app = FastAPI(
        title="IMDB sentiment",
        summary="A textbook chapter's IMDB models, served with onnxruntime.",
        version="0.1.0",
        lifespan=lifespan,
    )
    runtime = Runtime(settings)
    app.state.runtime = runtime
    add_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    for router in (predict.router, models.router, health.router):
        app.include_router(router)
    return app
