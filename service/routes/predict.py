"""POST /predict and /predict/batch: raw review text in, positive/negative score out."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
from fastapi import APIRouter, Request, Response

from service import metrics
from service.batching import DeadlineExceeded
from service.dependencies import ReadyDep, Runtime
from service.errors import InvalidInput, ModelNotFound, PayloadTooLarge, ServiceError
from service.inference import batch_json, predict_texts, score_one
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
    code: {"model": ErrorResponse} for code in (400, 401, 404, 413, 415, 422, 503)
}


class DeadlinePassed(ServiceError):
    status_code = 503
    type = "deadline_exceeded"


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
async def predict(body: PredictRequest, request: Request) -> Response:
    """Score one review: the probability that it is positive, from the selected model.

    Concurrent requests for the same model are scored together in one onnxruntime call.
    """
    # No dependency to resolve, and the response written directly as JSON bytes; the common case
    # does not even get here (service/fastpath.py).
    runtime: Runtime = request.app.state.runtime
    model = select_model(runtime.require_registry(), body.model)
    check_lengths([body.text], runtime.settings)
    request.state.model = model.name
    if body.explain:
        (prediction,) = predict_texts(model, [body.text], explain=True)
        response = PredictResponse(model=model.name, **prediction.model_dump())
        return Response(response.model_dump_json(exclude_none=True), media_type="application/json")
    try:
        content, timing = await score_one(runtime, model, body.text)
    except DeadlineExceeded:
        metrics.REJECTED.labels("deadline").inc()
        raise DeadlinePassed(
            "the request waited past its deadline and was dropped", headers={"Retry-After": "1"}
        ) from None
    request.state.timing = timing
    return Response(content, media_type="application/json")


@router.post(
    "/batch",
    response_model=BatchPredictResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
)
async def predict_batch(body: BatchPredictRequest, ready: ReadyDep, request: Request) -> Response:
    """Score many reviews in one onnxruntime call; predictions come back in input order."""
    model = select_model(ready.registry, body.model)
    if len(body.texts) > ready.settings.max_batch_texts:
        raise InvalidInput(
            f"batch has {len(body.texts)} texts; the limit is {ready.settings.max_batch_texts}"
        )
    check_lengths(body.texts, ready.settings)
    request.state.model = model.name
    # One batch at a time per worker, off the event loop: the loop stays free to parse requests
    # and shed load, and threads no longer fight each other (and the loop) for the GIL.
    limiter = request.app.state.runtime.cpu
    if not body.explain:
        content = await anyio.to_thread.run_sync(batch_json, model, body.texts, limiter=limiter)
        return Response(content, media_type="application/json")
    predictions = await anyio.to_thread.run_sync(
        predict_texts, model, body.texts, True, limiter=limiter
    )
    response = BatchPredictResponse(model=model.name, predictions=predictions)
    return Response(response.model_dump_json(exclude_none=True), media_type="application/json")
