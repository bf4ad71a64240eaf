"""The service's own ASGI layers, outermost first as a request meets them: draining (Connection:
close once a drain began), observability (request id, metrics, access log), API key, body limits
and admission, and the /predict fast path. `add_middleware` stacks them on the app."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from service.dependencies import Runtime
from service.middleware.api_key import ApiKeyMiddleware
from service.middleware.draining import ConnectionCloseWhileDraining
from service.middleware.fastpath import PredictFastPath
from service.middleware.limits import BodyLimitMiddleware
from service.middleware.observability import ObservabilityMiddleware

# Layers that read or check the request itself; the others wrap every response, refusals included.
_REQUEST_CHECKS = (BodyLimitMiddleware, PredictFastPath)
# Outer layers whose whole effect on a refusal AdmissionDoor.answer reproduces in bytes.
_PLAIN_OUTER = (ConnectionCloseWhileDraining, ObservabilityMiddleware)


def add_middleware(app: FastAPI, runtime: Runtime) -> None:
    """Added innermost first: the last one added sees each request first."""
    settings = runtime.settings
    if settings.fast_path:
        app.add_middleware(PredictFastPath, runtime=runtime)
    app.add_middleware(BodyLimitMiddleware, runtime=runtime)
    if settings.api_key is not None:
        app.add_middleware(ApiKeyMiddleware, api_key=settings.api_key.get_secret_value())
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["content-type", "x-api-key", "x-request-id"],
            expose_headers=["x-request-id", "server-timing"],
        )
    app.add_middleware(ObservabilityMiddleware, runtime=runtime)
    app.add_middleware(ConnectionCloseWhileDraining, runtime=runtime)


def outer_layers(app: FastAPI) -> Callable[[ASGIApp], ASGIApp]:
    """Wraps an app in new instances of the layers every response passes (those before the body
    checks, as `add_middleware` stacked them): what answers a request refused at the door."""

    def wrap(inner: ASGIApp) -> ASGIApp:
        for cls, args, kwargs in reversed(app.user_middleware):  # stored outermost first
            if cls not in _REQUEST_CHECKS:
                inner = cls(inner, *args, **kwargs)
        return inner

    return wrap


def plain_outer_layers(app: FastAPI) -> bool:
    """Whether the layers every response passes are only draining and observability (no API key,
    no CORS): then a refusal at the door can be answered as bytes (AdmissionDoor.answer)."""
    return all(cls in _REQUEST_CHECKS + _PLAIN_OUTER for cls, _, _ in app.user_middleware)
