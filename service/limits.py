"""Request checks that come before the body is read, as one plain ASGI layer:

- a body over the limit gets 413 at once from its Content-Length, or as soon as a streamed body
  passes the limit (Starlette's own limiter answers in plain text; this keeps the JSON shape);
- a POST to a JSON route whose body is not declared `application/json` gets 415, where FastAPI
  would otherwise hand the raw bytes to the body model and answer with a puzzling 422.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import error_body


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


JSON_ROUTES = ("/predict", "/compare")


def _is_json(content_type: bytes) -> bool:
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type == b"application/json" or media_type.endswith(b"+json")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            message = f"request body larger than {self.max_body_bytes} bytes"
            await _refuse(send, 413, "payload_too_large", message)
            return
        content_type = headers.get(b"content-type", b"")
        if (
            scope["method"] == "POST"
            and scope["path"].startswith(JSON_ROUTES)
            and not _is_json(content_type)
        ):
            shown = content_type.decode("latin-1") or "missing"
            message = f"Content-Type must be application/json, not {shown!r}"
            await _refuse(send, 415, "unsupported_media_type", message)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # An HTTPException, so the app's error handler answers it in the usual shape.
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        await self.app(scope, limited_receive, send)


async def _refuse(send: Send, status: int, error_type: str, message: str) -> None:
    body = json.dumps(error_body(error_type, message)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
