"""POST /predict and /predict/batch: raw review text in, positive/negative score out."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter

from service.dependencies import JsonReadyDep
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

router = APIRouter(prefix="/predict", tags=["predict"])
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
async def predict(body: PredictRequest, ready: JsonReadyDep) -> PredictResponse:
    """Score one review: the probability that it is positive, from the selected model."""
    model = select_model(ready.registry, body.model)
    check_lengths([body.text], ready.settings)
    (prediction,) = predict_texts(model, [body.text], body.explain)
    return PredictResponse(model=model.name, **prediction.model_dump())


@router.post(
    "/batch",
    response_model=BatchPredictResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
)
def predict_batch(body: BatchPredictRequest, ready: JsonReadyDep) -> BatchPredictResponse:
    """Score many reviews in one call; predictions come back in input order."""
    model = select_model(ready.registry, body.model)
    if len(body.texts) > ready.settings.max_batch_texts:
        raise InvalidInput(
            f"batch has {len(body.texts)} texts; the limit is {ready.settings.max_batch_texts}"
        )
    check_lengths(body.texts, ready.settings)
    return BatchPredictResponse(
        model=model.name, predictions=predict_texts(model, body.texts, body.explain)
    )
