"""From texts to predictions with one model: the work behind every scoring path.

One concurrency rule for all: a single review is scored on the event loop through its model's
micro-batcher (`score_one`); anything heavier runs in a thread, one job at a time per worker
(`run_cpu`). Both doors ask admission control first (service/admission.py), after the body has
been read and parsed, so a slow client holds no place in any queue.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Literal, TypedDict, TypeVar

import anyio
import numpy as np
import numpy.typing as npt
from starlette.requests import Request
from starlette.types import Scope

from service import metrics, tracing
from service.admission import RETRY_AFTER
from service.batching import DeadlineExceeded
from service.dependencies import Runtime
from service.errors import ServiceError
from service.explain import explain_text
from service.registry import SentimentModel
from service.schemas import Prediction
from service.settings import Settings
from service.tokenizer import OOV_ID, PAD_ID, START_ID

_json_string = json.encoder.encode_basestring_ascii


def label_of(score: float) -> Literal["positive", "negative"]:
    return "positive" if score >= 0.5 else "negative"


def batch_limit(settings: Settings, models: Iterable[SentimentModel]) -> int:
    """Most texts one request may have scored by these models: fewer for an encoder."""
    if any(m.wordpiece is not None for m in models):
        return min(settings.max_batch_texts, settings.max_encoder_batch_texts)
    return settings.max_batch_texts


def record_inputs(
    model: SentimentModel,
    texts: Sequence[str],
    ids: npt.NDArray[np.int32],
    truncated: Sequence[bool],
) -> None:
    """Input metrics: text lengths, the out-of-vocabulary share of each window, truncations."""
    if model.wordpiece is not None:
        ids = ids[:, : model.input_length]  # the word window; WordPiece ids follow it
    if len(ids) == 1:  # one review: numpy's per-call overhead would cost more than the count
        row = ids[0].tolist()
        words = [len(row) - row.count(PAD_ID) - row.count(START_ID)]  # the ids >= OOV_ID
        unknown = [row.count(OOV_ID)]
    else:
        words = (ids >= OOV_ID).sum(axis=1).tolist()
        unknown = (ids == OOV_ID).sum(axis=1).tolist()
    rates = [n_unknown / n for n, n_unknown in zip(words, unknown, strict=True) if n]
    metrics.PER_TURN.inputs(model.name, [len(t) for t in texts], rates, sum(truncated))


class DeadlinePassed(ServiceError):
    status_code = 503
    type = "deadline_exceeded"

    def __init__(self) -> None:
        super().__init__("the request waited past its deadline and was dropped", RETRY_AFTER)


class BadHeader(ServiceError):
    status_code = 400
    type = "invalid_header"


def deadline_of(header: str | bytes | None, default_ms: float | None) -> float | None:
    """The queueing deadline in seconds: the `X-Request-Timeout` header (milliseconds) if the
    client sent one, bounded by the server's own `request_deadline_ms`; None for no deadline."""
    if header is None:
        return default_ms / 1000 if default_ms else None
    try:
        ms = float(header)
    except ValueError:
        ms = float("nan")
    if not 0 < ms < float("inf"):
        raise BadHeader("X-Request-Timeout must be a positive number of milliseconds")
    return min(ms, default_ms) / 1000 if default_ms else ms / 1000


class QueueTerms(TypedDict):
    """What a request brings to a queue: when it was ready (read off the socket), its deadline,
    and how to tell whether its client is still there."""

    ready_at: float | None
    deadline_s: float | None
    is_gone: Callable[[], Awaitable[bool]] | None


def ready_at(scope: Scope) -> float | None:
    """When the request's last byte was read off the socket (service/protocol.py stamps it), so
    that a queueing delay counts the time spent waiting for the event loop too; None outside a
    real server (tests), where the delay starts at admission."""
    state: dict[str, Any] = scope.get("state") or {}
    return state.get("ready_at")


def queue_terms(request: Request, settings: Settings) -> QueueTerms:
    return QueueTerms(
        ready_at=ready_at(request.scope),
        deadline_s=deadline_of(
            request.headers.get("x-request-timeout"), settings.request_deadline_ms
        ),
        is_gone=request.is_disconnected,
    )


async def score_text(
    runtime: Runtime,
    model: SentimentModel,
    text: str,
    deadline_s: float | None = None,
    ready_at: float | None = None,
) -> tuple[float, dict[str, float]]:
    """One review through its model's micro-batcher, if admission lets it in: its score, and the
    durations of tokenizing, waiting for the batch and inference (for Server-Timing)."""
    admission = runtime.batcher_admission
    refusal = admission.refusal()
    if refusal is not None:
        raise refusal
    start = time.perf_counter()
    with tracing.span("tokenize", {tracing.MODEL: model.name, tracing.TEXT_CHARS: len(text)}):
        ids, truncated = model.encode_window(text)
    tokenized = time.perf_counter()
    record_inputs(model, [text], ids[None, :], [truncated])
    admission.in_flight += 1
    try:
        score, batch = await runtime.batcher(model).score(ids, deadline_s, ready_at)
    except DeadlineExceeded:
        metrics.REJECTED.labels("deadline").inc()
        raise DeadlinePassed() from None
    finally:
        admission.in_flight -= 1
    tracing.record_waits(
        batch.queue_s,
        batch.inference_s,
        {tracing.MODEL: model.name, tracing.BATCH_SIZE: batch.batch_size},
    )
    timing = {"tokenize": tokenized - start, "queue": batch.queue_s, "inference": batch.inference_s}
    return score, timing


async def score_one(
    runtime: Runtime,
    model: SentimentModel,
    text: str,
    deadline_s: float | None = None,
    ready_at: float | None = None,
) -> tuple[bytes, dict[str, float]]:
    """One review through its model's micro-batcher: the JSON response body, and the durations
    of tokenizing, waiting for the batch and inference (for Server-Timing)."""
    score, timing = await score_text(runtime, model, text, deadline_s, ready_at)
    return prediction_json(model.name, score), timing


def prediction_json(model: str, score: float) -> bytes:
    """`{"model":...,"label":...,"score":...}` as compact `json.dumps` writes it, 5x faster."""
    if not math.isfinite(score):  # NaN and infinities: json's own spelling
        body = {"model": model, "label": label_of(score), "score": score}
        return json.dumps(body, separators=(",", ":")).encode()
    name = _json_string(model)
    return f'{{"model":{name},"label":"{label_of(score)}","score":{score!r}}}'.encode()


T = TypeVar("T")


async def run_cpu(
    runtime: Runtime,
    work: Callable[[], T],
    *,
    deadline_s: float | None = None,
    is_gone: Callable[[], Awaitable[bool]] | None = None,
    ready_at: float | None = None,
) -> T:
    """`work()` in a thread once it is this worker's turn (one job at a time), if admission
    control lets it in; dropped unscored if its turn comes after `deadline_s` (counted from
    `ready_at`, when the request was read, or from now), or after its client hung up."""
    admission = runtime.cpu_admission
    refusal = admission.refusal()
    if refusal is not None:
        raise refusal
    admission.in_flight += 1
    queued = ready_at if ready_at is not None else time.perf_counter()

    def turn() -> T:
        """In the thread: wait for this worker's turn, then start unless dropped."""
        with runtime.cpu_turn:
            waited = time.perf_counter() - queued
            dropped = admission.on_start(waited)
            if dropped is not None:
                raise dropped
            if deadline_s is not None and waited > deadline_s:
                metrics.REJECTED.labels("deadline").inc()
                raise DeadlinePassed()
            try:
                return work()
            finally:
                admission.on_finish()

    try:
        async with runtime.cpu:  # the next in line: it is in the thread, waiting for its turn
            if is_gone is not None and await is_gone():
                metrics.REJECTED.labels("client_gone").inc()
                raise ClientGone()
            return await anyio.to_thread.run_sync(turn)
    finally:
        admission.in_flight -= 1


class ClientGone(ServiceError):
    """The client hung up while its request was queued: nothing is scored, nothing is sent."""

    status_code = 499
    type = "client_closed_request"

    def __init__(self) -> None:
        super().__init__("the client closed the connection before its turn")


def score_rows(model: SentimentModel, ids: npt.NDArray[np.int32]) -> list[float]:
    """Scores of rows of ids, in one onnxruntime call."""
    start = time.perf_counter()
    with tracing.span("inference", {tracing.MODEL: model.name, tracing.BATCH_SIZE: len(ids)}):
        scores = model.score_ids(ids)
    metrics.observe_batch(model.name, len(ids), time.perf_counter() - start)
    return list(scores.tolist())


def score_texts(model: SentimentModel, texts: Sequence[str]) -> list[float]:
    """Scores of many texts, in one onnxruntime call."""
    attributes: tracing.Attributes = {
        tracing.MODEL: model.name,
        tracing.BATCH_SIZE: len(texts),
        tracing.TEXT_CHARS: sum(len(t) for t in texts),
    }
    with tracing.span("tokenize", attributes):
        ids, cut = model.encode_batch_window(texts)
    record_inputs(model, texts, ids, cut)
    return score_rows(model, ids)


def batch_json(model: SentimentModel, texts: Sequence[str]) -> bytes:
    """The body of a plain /predict/batch answer, written directly: building a pydantic object
    per text only to serialize it again cost ~10% of a 1,000-review batch, and `json.dumps`
    twice what these f-strings cost."""
    scores = score_texts(model, texts)
    if not all(map(math.isfinite, scores)):  # NaN and infinities: json's own spelling
        predictions = [{"label": label_of(s), "score": s} for s in scores]
        body = {"model": model.name, "predictions": predictions}
        return json.dumps(body, separators=(",", ":")).encode()
    items = ",".join([f'{{"label":"{label_of(s)}","score":{s!r}}}' for s in scores])
    return f'{{"model":{_json_string(model.name)},"predictions":[{items}]}}'.encode()


def predict_texts(model: SentimentModel, texts: Sequence[str], explain: bool) -> list[Prediction]:
    """Score texts in one onnxruntime call; with explain, one call per text scores it and each
    variant without one of its words (see service/explain.py)."""
    if not explain:
        return [Prediction(label=label_of(s), score=s) for s in score_texts(model, texts)]
    explained = [explain_text(model, t) for t in texts]
    return [
        Prediction(
            label=label_of(e.score),
            score=e.score,
            tokens=e.tokens,
            truncated=e.truncated,
            explanation=e.explanation,
        )
        for e in explained
    ]
