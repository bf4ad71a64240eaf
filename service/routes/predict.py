"""POST /predict and /predict/batch: raw review text in, positive/negative score out."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Depends

from service.dependencies import RegistryDep, SettingsDep, require_json
from service.errors import InvalidInput, ModelNotFound, PayloadTooLarge
from service.inference import predict_texts
from service.registry import ModelRegistry, SentimentModel
from service.schemas import (
    BatchPredictRequest,
    BatchPredictResponse,
    ErrorResponse,
    PredictRequest,
    PredictResponse,
)
from service.settings import Settings

router = APIRouter(prefix="/predict", tags=["predict"], dependencies=[Depends(require_json)])
ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (400, 404, 413, 415, 422, 503)
}


def select_model(registry: ModelRegistry, name: str | None) -> SentimentModel:
    try:
        return registry.get(name)
    except KeyError:
        available = ", ".join(sorted(registry.models))
        raise ModelNotFound(f"unknown model {name!r}; available models: {available}") from None


def check_lengths(texts: Sequence[str], settings: Settings) -> None:
    for i, text in enumerate(texts):
        if len(text) > settings.max_text_chars:
            raise PayloadTooLarge(
                f"text {i} has {len(text)} characters; the limit is {settings.max_text_chars}"
            )


@router.post("", response_model=PredictResponse, response_model_exclude_none=True, responses=ERRORS)
async def predict(
    body: PredictRequest, registry: RegistryDep, settings: SettingsDep
) -> PredictResponse:
    """Score one review: the probability that it is positive, from the selected model."""
    model = select_model(registry, body.model)
    check_lengths([body.text], settings)
    (prediction,) = predict_texts(model, [body.text], body.explain)
    return PredictResponse(model=model.name, **prediction.model_dump())


@router.post(
    "/batch",
    response_model=BatchPredictResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
)
def predict_batch(
    body: BatchPredictRequest, registry: RegistryDep, settings: SettingsDep
) -> BatchPredictResponse:
    """Score many reviews in one call; predictions come back in input order."""
    model = select_model(registry, body.model)
    if len(body.texts) > settings.max_batch_texts:
        raise InvalidInput(
            f"batch has {len(body.texts)} texts; the limit is {settings.max_batch_texts}"
        )
    check_lengths(body.texts, settings)
    return BatchPredictResponse(
        model=model.name, predictions=predict_texts(model, body.texts, body.explain)
    )
