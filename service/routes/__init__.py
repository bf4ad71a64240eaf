"""The HTTP routes, one router per concern; the Open Inference Protocol's are in service/v2/."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from service.routes import compare, docs, health, models, page, predict
from service.routes import metrics as metrics_route
from service.v2 import repository
from service.v2 import routes as v2


def include_routers(app: FastAPI) -> None:
    """Every router, in matching order, and the static files of the web page."""
    for router in (predict.router, models.router, health.router, metrics_route.router):
        app.include_router(router)
    app.include_router(compare.router)
    app.include_router(repository.router)  # before v2's catch-all for unknown /v2 paths
    app.include_router(v2.router)
    app.include_router(page.router)
    app.include_router(docs.router)
    app.mount("/static", StaticFiles(directory=page.STATIC_DIR), name="static")
