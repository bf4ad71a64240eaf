"""Typed dependencies: routes get settings and the model registry from here, never from globals."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.errors import NotReady, UnsupportedMediaType
from service.registry import ModelRegistry
from service.settings import Settings


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_registry(request: Request) -> ModelRegistry:
    registry: ModelRegistry | None = getattr(request.app.state, "registry", None)
    if registry is None or not registry.ready:
        raise NotReady("models are not loaded yet", headers={"Retry-After": "1"})
    return registry


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]


def require_json(request: Request) -> None:
    """Refuse a body that is not declared as JSON with 415, rather than a puzzling 422."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, not {content_type or 'missing'!r}"
        )
