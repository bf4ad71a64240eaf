"""POST /predict and /predict/batch: raw review text in, positive/negative score out."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from fastapi import APIRouter, Request, Response

from service import metrics
from service.dependencies import ReadyDep, Runtime, scores_in
from service.errors import InvalidInput, PayloadTooLarge, ServiceError
from service.inference import (
    batch_json,
    batch_limit,
    predict_texts,
    queue_terms,
    run_cpu,
    score_one,
)
from service.registry import SentimentModel
from service.schemas import (
    BatchPredictRequest,
    BatchPredictResponse,
    ErrorResponse,
    Prediction,
    PredictRequest,
    PredictResponse,
)
from service.settings import Settings

router = APIRouter(prefix="/predict", tags=["predict"])
ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 408, 413, 415, 422, 503)
}


class ExplainBusy(ServiceError):
    status_code = 503
    type = "overloaded"


def check_lengths(texts: Sequence[str], settings: Settings) -> None:
    for i, text in enumerate(texts):
        if len(text) > settings.max_text_chars:
            raise PayloadTooLarge(
                f"text {i} has {len(text)} characters; the limit is {settings.max_text_chars}"
            )


async def explain(
    runtime: Runtime, request: Request, model: SentimentModel, texts: Sequence[str]
) -> list[Prediction]:
    """Explanations are priced as what they are: one scoring per word of each text, so few texts
    per request, few requests at once, and in a thread like any heavy work."""
    settings = runtime.settings
    if model.wordpiece is not None:
        # Occlusion deletes one word id at a time from the word window; this model also reads
        # the text's WordPiece tokens, which that does not change.
        raise InvalidInput(
            f"explain is available for the word-window models only; {model.name} also reads "
            "WordPiece tokens: send the request without explain"
        )
    if len(texts) > settings.max_explain_texts:
        raise InvalidInput(
            f"explain takes at most {settings.max_explain_texts} texts per request, "
            f"not {len(texts)}; send the rest without explain or in further requests"
        )
    if runtime.explaining >= settings.max_explain_in_flight:
        metrics.REJECTED.labels("explain_busy").inc()
        raise ExplainBusy(
            f"server busy: {runtime.explaining} explain requests already running; retry later",
            headers={"Retry-After": "1"},
        )
    runtime.explaining += 1
    try:
        return await run_cpu(
            runtime,
            partial(predict_texts, model, texts, True),
            **queue_terms(request, settings),
        )
    finally:
        runtime.explaining -= 1


@router.post("", response_model=PredictResponse, response_model_exclude_none=True, responses=ERRORS)
@scores_in("batcher")  # explain, rare and capped apart, runs on the CPU queue
async def predict(body: PredictRequest, request: Request) -> Response:
    """Score one review: the probability that it is positive, from the selected model.

    Concurrent requests for the same model are scored together in one onnxruntime call.
    """
    # No dependency to resolve, and the response written directly as JSON bytes; the common case
    # does not even get here (service/middleware/fastpath.py).
    runtime: Runtime = request.app.state.runtime
    model = runtime.require_registry().get(body.model)
    check_lengths([body.text], runtime.settings)
    request.state.model = model.name
    if body.explain:
        (prediction,) = await explain(runtime, request, model, [body.text])
        response = PredictResponse(model=model.name, **prediction.model_dump())
        return Response(response.model_dump_json(exclude_none=True), media_type="application/json")
    terms = queue_terms(request, runtime.settings)
    content, timing = await score_one(
        runtime, model, body.text, terms["deadline_s"], terms["ready_at"]
    )
    request.state.timing = timing
    return Response(content, media_type="application/json")


@router.post(
    "/batch",
    response_model=BatchPredictResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
)
@scores_in("cpu")
async def predict_batch(body: BatchPredictRequest, ready: ReadyDep, request: Request) -> Response:
    """Score many reviews in one onnxruntime call; predictions come back in input order."""
    model = ready.registry.get(body.model)
    limit = batch_limit(ready.settings, [model])
    if len(body.texts) > limit:
        which = "" if limit == ready.settings.max_batch_texts else f" for {model.name}"
        raise InvalidInput(f"batch has {len(body.texts)} texts; the limit is {limit}{which}")
    check_lengths(body.texts, ready.settings)
    request.state.model = model.name
    runtime: Runtime = request.app.state.runtime
    if body.explain:
        predictions = await explain(runtime, request, model, body.texts)
        response = BatchPredictResponse(model=model.name, predictions=predictions)
        return Response(response.model_dump_json(exclude_none=True), media_type="application/json")
    # Off the event loop, one job at a time per worker: the loop stays free to parse requests
    # and refuse work, and threads no longer fight each other (and the loop) for the GIL.
    content = await run_cpu(
        runtime,
        partial(batch_json, model, body.texts),
        **queue_terms(request, ready.settings),
    )
    return Response(content, media_type="application/json")
