"""Graceful shutdown: on SIGTERM, readiness turns 503 first; after `drain_seconds` uvicorn's own
handler stops accepting connections and lets the requests in flight finish."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from service.dependencies import Runtime

log = logging.getLogger(__name__)


def install_drain_on_sigterm(runtime: Runtime, drain_seconds: float) -> Callable[[], None]:
    """Wrap the current SIGTERM handler (uvicorn's) so that readiness drains before it runs.

    Returns a function that puts the previous handler back.
    """
    previous = signal.getsignal(signal.SIGTERM)
    # Signals reach only the main thread (not TestClient's), and only a server has a handler.
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        return lambda: None
    loop = asyncio.get_running_loop()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        runtime.shutting_down = True
        log.info("SIGTERM: not ready; closing in %.1fs", drain_seconds)
        loop.call_soon_threadsafe(loop.call_later, drain_seconds, previous, signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore
