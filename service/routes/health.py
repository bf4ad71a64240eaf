"""Liveness and readiness, kept separate as Kubernetes expects."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.dependencies import RuntimeDep
from service.schemas import Health

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", response_model=Health)
async def live() -> Health:
    """200 while the process runs."""
    return Health(status="ok")


@router.get("/ready", response_model=Health, responses={503: {"model": Health}})
async def ready(runtime: RuntimeDep) -> JSONResponse:
    """200 once every model is loaded and passed its golden check; 503 before and on shutdown."""
    is_ready = runtime.ready
    status = "ready" if is_ready else "not ready"
    return JSONResponse({"status": status}, status_code=200 if is_ready else 503)
