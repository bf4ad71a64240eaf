"""Load shedding as one plain ASGI layer: past `max_in_flight` concurrent scoring requests in this
worker, answer 503 with Retry-After at once, instead of letting every request's latency grow."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from service import metrics
from service.errors import error_body

# Only the routes that do model work are shed; health, metrics and docs always answer.
_SHED_PREFIXES = ("/predict", "/compare", "/v2/models/")


class LoadShedMiddleware:
    def __init__(self, app: ASGIApp, max_in_flight: int, retry_after_s: int = 1) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after = str(retry_after_s).encode()
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(_SHED_PREFIXES):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            metrics.REJECTED.labels("overload").inc()
            await self._refuse(send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _refuse(self, send: Send) -> None:
        message = f"server busy: more than {self.max_in_flight} requests in flight; retry later"
        body = json.dumps(error_body("overloaded", message)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", self.retry_after),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
