"""POST /compare: every served model's label and score for the same reviews, side by side."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request

from service.dependencies import ReadyDep, Runtime, scores_in
from service.errors import InvalidInput
from service.inference import batch_limit, label_of, queue_terms, run_cpu
from service.registry import SentimentModel
from service.routes.predict import ERRORS, check_lengths
from service.schemas import CompareRequest, Comparison, ComparisonBatch, ModelScore

router = APIRouter(prefix="/compare", tags=["compare"])


@router.post(
    "",
    response_model=Comparison | ComparisonBatch,
    responses=ERRORS,
)
@scores_in("cpu")
async def compare(
    body: CompareRequest, ready: ReadyDep, request: Request
) -> Comparison | ComparisonBatch:
    """Score `text` (one comparison) or `texts` (`comparisons`, in order) with every model,
    one batched call per model, and say whether the models agree on the label."""
    texts = [body.text] if body.text is not None else body.texts or []
    models = list(ready.registry.models.values())
    limit = batch_limit(ready.settings, models)
    if len(texts) > limit:
        raise InvalidInput(f"{len(texts)} texts; the limit is {limit}")
    check_lengths(texts, ready.settings)
    runtime: Runtime = request.app.state.runtime
    scores = await run_cpu(
        runtime,
        lambda: _score_all(models, texts),
        **queue_terms(request, ready.settings),
    )
    comparisons = []
    for i in range(len(texts)):
        predictions = [
            ModelScore(model=m.name, label=label_of(s[i]), score=s[i])
            for m, s in zip(models, scores, strict=True)
        ]
        agree = len({p.label for p in predictions}) == 1
        comparisons.append(Comparison(agree=agree, predictions=predictions))
    return comparisons[0] if body.text is not None else ComparisonBatch(comparisons=comparisons)


def _score_all(models: Sequence[SentimentModel], texts: Sequence[str]) -> list[list[float]]:
    return [list(model.score_texts(texts).tolist()) for model in models]
