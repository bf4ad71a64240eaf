"""The optional API key, as one plain ASGI layer, compared in constant time."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import send_error

# Probes, scrapers and the documentation stay open; everything that touches a model needs the key.
_OPEN_PATHS = ("/health/", "/v2/health/", "/metrics", "/docs", "/openapi.json", "/static/")
_OPEN_EXACT = ("/", "/v2", "/favicon.ico")


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, api_key: str, header: str = "x-api-key") -> None:
        self.app = app
        self.key = api_key.encode()
        self.header = header.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in _OPEN_EXACT or path.startswith(_OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(self.header, b"")
        if hmac.compare_digest(given, self.key):
            await self.app(scope, receive, send)
            return
        await send_error(send, 401, "unauthorized", "missing or wrong X-API-Key header")
