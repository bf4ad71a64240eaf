"""Work gathered and done once for many requests: the access log's write (service/logs.py) and
the request metrics' updates (service/metrics.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

DEFAULT_FLUSH_INTERVAL_S = 0.01
"""The settings' default (`SENTIMENT_TELEMETRY_FLUSH_MS`), for what is created before them."""


class EndOfTurn:
    """Calls `flush` at the end of the current event-loop turn, once however often it is asked,
    and no sooner than `interval_s` after the previous flush (0: at the end of every turn).

    With one request a turn (a lone client), a flush a turn was one write and a dozen
    prometheus-client updates a request, done before the worker could read the next one; at most
    one every 10 ms took a lone request's p50 from 0.27 to 0.23 ms (bench/run.py's lone round,
    side by side). Every 50 ms did as well at the median, but one request in 200 then met a flush
    of 200 requests' lines and metrics, and p99 rose (0.55 against 0.50 ms at 10 ms). Not
    thread-safe by itself: the owner calls `ask` and `flushed` under its own lock.
    """

    def __init__(
        self, flush: Callable[[], None], interval_s: float = DEFAULT_FLUSH_INTERVAL_S
    ) -> None:
        self._flush = flush
        self._loop: asyncio.AbstractEventLoop | None = None
        self.interval_s = interval_s
        self._last = 0.0

    def ask(self) -> bool:
        """Arrange the flush; False if this thread runs no event loop (then flush at once)."""
        if self._loop is not None and self._loop.is_running():
            return True  # already arranged, and that loop is alive to do it
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self._loop = loop
        wait = self._last + self.interval_s - time.monotonic()
        if wait > 0:
            loop.call_later(wait, self._flush)
        else:
            loop.call_soon(self._flush)
        return True

    def flushed(self) -> None:
        """The flush ran: the next `ask` arranges a new one."""
        self._loop = None
        self._last = time.monotonic()
