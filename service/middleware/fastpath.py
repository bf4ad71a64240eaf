"""POST /predict's common case, served without FastAPI's per-request machinery.

Measured on one worker, FastAPI's routing, dependency solving and body handling cost more than
tokenizing and scoring a review. So this plain ASGI layer, just inside the others (limits, load
shedding, API key, observability), parses the body with pydantic's Rust JSON parser and answers
a valid, plain request itself, through the same `score_one` as the route. Anything else (explain,
an invalid body, an unknown model, a text over the limit, not ready, a deadline set, a refusal
by admission control) goes on to
the FastAPI route with the body replayed, so every error keeps exactly one implementation.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.dependencies import Runtime
from service.errors import ServiceError
from service.inference import ready_at, score_one
from service.schemas import PredictRequest

_HEADERS = [(b"content-type", b"application/json")]
_ROUTE = SimpleNamespace(path="/predict")


class PredictFastPath:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/predict" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            body, disconnected = await _read_body(receive)
        except (HTTPException, ServiceError) as refused:  # body limit, admission: the app answers
            await self.app(scope, _raise(refused), send)
            return
        if disconnected:
            return
        model = self._plain_request_model(body, scope["headers"])
        if model is None:
            await self.app(scope, _replay(body, receive), send)
            return
        request, chosen = model
        try:
            content, timing = await score_one(
                self.runtime, chosen, request.text, ready_at=ready_at(scope)
            )
        except ServiceError:  # refused (overload): the route answers it, in its one way
            await self.app(scope, _replay(body, receive), send)
            return
        state = scope.setdefault("state", {})
        state["model"], state["timing"] = chosen.name, timing
        scope["route"] = _ROUTE  # so the request metrics label it as the route would be
        headers = [*_HEADERS, (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def _plain_request_model(
        self, body: bytes, scope_headers: list[tuple[bytes, bytes]]
    ) -> tuple[PredictRequest, Any] | None:
        """The request and its model, if this path may answer it; None to leave it to the route."""
        runtime = self.runtime
        registry = runtime.registry
        if registry is None or not registry.ready or runtime.settings.request_deadline_ms:
            return None
        if any(name == b"x-request-timeout" for name, _ in scope_headers):
            return None
        try:
            request = PredictRequest.model_validate_json(body)
        except ValidationError:
            return None
        model = registry.models.get(request.model or registry.default_name)
        if request.explain or model is None or len(request.text) > runtime.settings.max_text_chars:
            return None
        return request, model


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole body, and whether the client disconnected before sending it all."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _raise(error: Exception) -> Receive:
    async def receive() -> Message:
        raise error

    return receive


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
