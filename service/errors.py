"""One error base class carrying its HTTP status, and the handlers that give every error one shape:
`{"error": {"type": ..., "message": ...}}`. No stack trace or internal path reaches a client."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import Send

log = logging.getLogger(__name__)


class ServiceError(Exception):
    status_code = 500
    type = "internal_error"

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers


class ModelNotFound(ServiceError):
    status_code = 404
    type = "model_not_found"


class InvalidInput(ServiceError):
    status_code = 422
    type = "invalid_input"


class PayloadTooLarge(ServiceError):
    status_code = 413
    type = "payload_too_large"


class UnsupportedMediaType(ServiceError):
    status_code = 415
    type = "unsupported_media_type"


class NotReady(ServiceError):
    status_code = 503
    type = "not_ready"


def error_body(type_: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": type_, "message": message, **extra}}


MAX_ERROR_DETAILS = 20
"""Details listed in a 422; the message says how many there were in all."""


def error_json(type_: str, message: str, v2: bool = False) -> bytes:
    """The error body as bytes: `error_body`'s shape, or under /v2/ the Open Inference
    Protocol's own, `{"error": message}`."""
    return json.dumps({"error": message} if v2 else error_body(type_, message)).encode()


async def send_error(
    send: Send,
    status: int,
    type_: str,
    message: str,
    close: bool = False,
    extra_headers: dict[str, str] | None = None,
    v2: bool = False,
) -> None:
    """The error shape, answered by a plain ASGI layer (one that runs outside FastAPI's
    handlers); `close` asks the server to close the connection after it."""
    body = error_json(type_, message, v2)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    for name, value in (extra_headers or {}).items():
        headers.append((name.lower().encode(), value.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    # The offending input is left out: it may be megabytes long, or a secret.
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()[:MAX_ERROR_DETAILS]
    ]


async def _service_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return JSONResponse(error_body(exc.type, exc.message), exc.status_code, headers=exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _validation_details(exc)
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"]) or "body"
    message = f"{where}: {first['msg']}"
    if len(exc.errors()) > 1:
        message += f" (and {len(exc.errors()) - 1} more errors)"
    return JSONResponse(error_body("validation_error", message, details=details), 422)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    kind = {
        400: "invalid_body",
        404: "not_found",
        405: "method_not_allowed",
        413: "payload_too_large",
    }.get(exc.status_code, "http_error")
    return JSONResponse(error_body(kind, str(exc.detail)), exc.status_code, headers=exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal_error", "internal server error"), 500)


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
