"""Work gathered during one event-loop turn and done once at its end: the access log's write
(service/logs.py) and the request metrics' updates (service/metrics.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class EndOfTurn:
    """Calls `flush` at the end of the current event-loop turn, once however often it is asked.

    Not thread-safe by itself: the owner calls `ask` and `flushed` under its own lock.
    """

    def __init__(self, flush: Callable[[], None]) -> None:
        self._flush = flush
        self._loop: asyncio.AbstractEventLoop | None = None

    def ask(self) -> bool:
        """Arrange the flush; False if this thread runs no event loop (then flush at once)."""
        if self._loop is not None and self._loop.is_running():
            return True  # already arranged, and that loop is alive to do it
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self._loop = loop
        loop.call_soon(self._flush)
        return True

    def flushed(self) -> None:
        """The flush ran: the next `ask` arranges a new one."""
        self._loop = None
