"""Per-request observability as one plain ASGI layer: X-Request-ID, Server-Timing, request metrics
and one access log line. Routes add what only they know to `scope["state"]`: the model name and
the tokenize/queue/inference durations."""

from __future__ import annotations

import logging
import os
import re
import time
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics, tracing
from service.dependencies import Runtime

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
access_log = logging.getLogger("service.access")


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


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
        start = time.perf_counter()
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _VALID_ID.fullmatch(given) else os.urandom(16).hex()
        token = REQUEST_ID.set(request_id)
        state = scope.setdefault("state", {})
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                timing = state.get("timing")
                if timing:
                    headers.append(
                        (b"server-timing", server_timing(timing, time.perf_counter() - start))
                    )
                message = {**message, "headers": headers}
            await send(message)

        metrics.IN_FLIGHT.inc()
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
            metrics.IN_FLIGHT.dec()
            elapsed = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", "unmatched")
            model = state.get("model", "")
            metrics.requests_child(route, scope["method"], str(status), model).inc()
            metrics.latency_child(route).observe(elapsed)
            access_log.info(
                "%s %s %d %.2fms",
                scope["method"],
                scope["path"],
                status,
                elapsed * 1000,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                },
            )
            REQUEST_ID.reset(token)
