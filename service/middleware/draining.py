"""`Connection: close` on every response once a drain has begun (service/shutdown.py)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.dependencies import Runtime

CONNECTION_CLOSE = (b"connection", b"close")


class ConnectionCloseWhileDraining:
    """While draining, each response says `Connection: close`; uvicorn then closes the connection
    once the response is sent, so the client opens its next connection (or is refused) instead of
    reusing one the server is about to close. Outermost layer: every response passes here."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and self.runtime.shutting_down:
                message = {**message, "headers": [*message.get("headers", []), CONNECTION_CLOSE]}
            await send(message)

        await self.app(scope, receive, send_closing)
