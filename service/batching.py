"""Dynamic micro-batching: concurrent single-review requests for a model share one onnxruntime call.

Requests that reach the batcher in the same event-loop turn are scored together at the end of
that turn (`loop.call_soon`), so a lone request never waits for company; `max_delay` > 0 trades
latency for larger batches. Inference runs on the event loop itself: a batch of 32 rows of 20
ids takes well under a millisecond, less than a hop to a thread would cost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.registry import SentimentModel


class DeadlineExceeded(Exception):
    """The request waited in the queue longer than its deadline; it was dropped, not scored."""


@dataclass(frozen=True)
class BatchTiming:
    queue_s: float
    inference_s: float
    batch_size: int


@dataclass
class _Pending:
    ids: npt.NDArray[np.int32]
    future: asyncio.Future[tuple[float, BatchTiming]]
    arrived: float
    deadline_s: float | None


BatchObserver = Callable[[str, int, float], None]
"""Called with (model name, batch size, inference seconds) after each onnxruntime call."""
StartCheck = Callable[[float], Exception | None]
"""Called with each request's queueing delay as its batch starts (admission control's signal);
an exception returned fails that request instead of scoring it."""


class MicroBatcher:
    def __init__(
        self,
        model: SentimentModel,
        max_batch: int,
        max_delay_s: float = 0.0,
        deadline_s: float | None = None,
        observe: BatchObserver | None = None,
        on_start: StartCheck | None = None,
    ) -> None:
        self.model = model
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self.deadline_s = deadline_s
        self.observe = observe
        self.on_start = on_start
        self._pending: list[_Pending] = []
        self._scheduled = False

    async def score(
        self,
        ids: npt.NDArray[np.int32],
        deadline_s: float | None = None,
        ready_at: float | None = None,
    ) -> tuple[float, BatchTiming]:
        """The score of one row of ids, computed in a batch with whatever else is waiting; it is
        dropped (DeadlineExceeded) if it waits longer than `deadline_s` (or the batcher's own),
        counted from `ready_at` (when its request was read; now if None)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[float, BatchTiming]] = loop.create_future()
        deadline = deadline_s if deadline_s is not None else self.deadline_s
        arrived = ready_at if ready_at is not None else time.perf_counter()
        self._pending.append(_Pending(ids, future, arrived, deadline))
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            if self.max_delay_s > 0:
                loop.call_later(self.max_delay_s, self._flush)
            else:
                loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
        if self._pending:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        start = time.perf_counter()
        live = []
        for item in batch:
            if item.future.done():  # the client went away
                continue
            waited = start - item.arrived
            refused = self.on_start(waited) if self.on_start is not None else None
            if refused is not None:
                item.future.set_exception(refused)
                continue
            if item.deadline_s is not None and waited > item.deadline_s:
                item.future.set_exception(DeadlineExceeded())
                continue
            live.append(item)
        if not live:
            return
        try:
            rows = live[0].ids[None, :] if len(live) == 1 else np.stack([i.ids for i in live])
            scores = self.model.score_ids(rows)
        except Exception as e:  # every waiter gets the error, none hangs
            for item in live:
                item.future.set_exception(e)
            return
        elapsed = time.perf_counter() - start
        if self.observe is not None:
            self.observe(self.model.name, len(live), elapsed)
        for item, score in zip(live, scores.tolist(), strict=True):
            timing = BatchTiming(start - item.arrived, elapsed, len(live))
            item.future.set_result((score, timing))
