"""The Open Inference Protocol's model repository extension: index, load and unload a model
without a restart (service/repository.py). Errors in the v2 shape, `{"error": "..."}`."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from service import repository
from service.dependencies import RuntimeDep
from service.v2.routes import ERRORS, V2Route
from service.v2.schemas import V2Error


class RepositoryModel(BaseModel):
    name: str
    version: str = "1"
    state: str
    reason: str
    sha256: str | None


router = APIRouter(
    prefix="/v2/repository", tags=["open inference protocol (v2)"], route_class=V2Route
)
CONTROL_ERRORS = {**ERRORS, 403: ERRORS[400]}


def _require_control(runtime: RuntimeDep) -> None:
    if not runtime.settings.model_control:
        raise V2Error("model control is off: start the service with SENTIMENT_MODEL_CONTROL=1", 403)


@router.get("/index", response_model=list[RepositoryModel])
@router.post("/index", response_model=list[RepositoryModel], include_in_schema=False)
async def repository_index(runtime: RuntimeDep) -> list[RepositoryModel]:
    """Each model: its state (READY or UNAVAILABLE) and the sha256 of the ONNX file it serves."""
    return [RepositoryModel(**vars(e)) for e in repository.index(runtime)]


@router.post("/models/{name}/load", response_class=Response, responses=CONTROL_ERRORS)
async def load_model(name: str, runtime: RuntimeDep) -> Response:
    """Read the model's folder from disk again, check it as start-up does, and swap it in;
    a model that fails a check is refused (400, naming the file) and the old one keeps serving."""
    _require_control(runtime)
    try:
        await repository.load(runtime, name)
    except repository.RepositoryError as e:
        raise V2Error(e.message, e.status_code) from None
    return Response(status_code=200)


@router.post("/models/{name}/unload", response_class=Response, responses=CONTROL_ERRORS)
async def unload_model(name: str, runtime: RuntimeDep) -> Response:
    """Stop serving the model (not the default one); requests in flight on it finish."""
    _require_control(runtime)
    try:
        await repository.unload(runtime, name)
    except repository.RepositoryError as e:
        raise V2Error(e.message, e.status_code) from None
    return Response(status_code=200)
