"""Per-request observability as one plain ASGI layer: X-Request-ID, Server-Timing, request metrics
and one access log line. Routes add what only they know to `scope["state"]`: the model name and
the tokenize/queue/inference durations.

It runs on every request, so it does little: one pass over the headers, one wrapped `send`, and
the access line formatted without the logging module (service/logs.py).
"""

from __future__ import annotations

import os
import re
from time import perf_counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics, tracing
from service.dependencies import Runtime
from service.logs import REQUEST_ID, log_access

_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Fresh ids are 16 random bytes in hex, drawn 256 at a time: one getrandom syscall per request
# showed in the profile. A forked child starts with an empty pool, so no two share ids.
_POOL: list[str] = []
os.register_at_fork(after_in_child=_POOL.clear)


def fresh_request_id() -> str:
    if not _POOL:
        block = os.urandom(16 * 256).hex()
        _POOL.extend(block[i : i + 32] for i in range(0, len(block), 32))
    return _POOL.pop()


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID if it is a safe one, else a fresh random id."""
    for name, value in headers:
        if name == b"x-request-id":
            given = value.decode("latin-1")
            if _VALID_ID.fullmatch(given):
                return given
            break
    return fresh_request_id()


def server_timing(timing: dict[str, float], total_s: float) -> bytes:
    parts = [f"{name};dur={seconds * 1000:.3f}" for name, seconds in timing.items()]
    parts.append(f"total;dur={total_s * 1000:.3f}")
    return ", ".join(parts).encode()


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        request_id = request_id_of(scope["headers"])
        token = REQUEST_ID.set(request_id)
        state = scope.setdefault("state", {})
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
                timing = state.get("timing")
                if timing:
                    total = perf_counter() - start
                    headers.append((b"server-timing", server_timing(timing, total)))
                message = {**message, "headers": headers}
            await send(message)

        metrics.PER_TURN.request_started()
        tracer = self.runtime.tracer
        try:
            if tracer is None:
                await self.app(scope, receive, send_with_headers)
            else:
                carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
                name = f"{scope['method']} {scope['path']}"
                with tracing.request_span(tracer, name, carrier) as span:
                    try:
                        await self.app(scope, receive, send_with_headers)
                    finally:
                        assert span is not None
                        span.set_attribute("http.response.status_code", status)
                        if "model" in state:
                            span.set_attribute(tracing.MODEL, state["model"])
        finally:
            record_response(scope, request_id, status, state.get("model", ""), start)
            REQUEST_ID.reset(token)


def record_response(
    scope: Scope, request_id: str, status: int, model: str, start: float, started: bool = True
) -> None:
    """A finished request's metrics (under its route's path) and access line; `start` is its
    `perf_counter()` at the first layer. `started`: `request_started` was counted (False for a
    request answered at once, counted here as started and finished)."""
    elapsed = perf_counter() - start
    route = getattr(scope.get("route"), "path", "unmatched")
    method = scope["method"]
    if started:
        metrics.PER_TURN.request_finished(route, method, status, model, elapsed)
    else:
        metrics.PER_TURN.request_answered(route, method, status, model, elapsed)
    log_access(request_id, method, scope["path"], status, model, elapsed)
