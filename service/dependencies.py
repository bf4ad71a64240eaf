"""Typed dependencies: routes get settings and the model registry from here, never from globals.

FastAPI resolves each dependency on every request, so the hot routes use one (`JsonRuntimeDep`)
that does all their checks at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from service.errors import NotReady, UnsupportedMediaType
from service.registry import ModelRegistry
from service.settings import Settings


@dataclass
class Runtime:
    """What the routes need, held on `app.state.runtime` for the app's lifetime."""

    settings: Settings
    registry: ModelRegistry | None = None
    shutting_down: bool = False

    @property
    def ready(self) -> bool:
        return self.registry is not None and self.registry.ready and not self.shutting_down


@dataclass(frozen=True)
class Ready:
    settings: Settings
    registry: ModelRegistry


def _ready(request: Request) -> Ready:
    runtime: Runtime = request.app.state.runtime
    if runtime.registry is None or not runtime.registry.ready:
        raise NotReady("models are not loaded yet", headers={"Retry-After": "1"})
    return Ready(runtime.settings, runtime.registry)


def _check_json(request: Request) -> None:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        # Without this, FastAPI would hand the raw bytes to the body model: a puzzling 422.
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, not {content_type or 'missing'!r}"
        )


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_app_settings(request: Request) -> Settings:
    runtime: Runtime = request.app.state.runtime
    return runtime.settings


async def get_registry(request: Request) -> ModelRegistry:
    return _ready(request).registry


async def get_json_ready(request: Request) -> Ready:
    """A JSON body route: the body must be declared JSON, and the models ready."""
    _check_json(request)
    return _ready(request)


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
JsonReadyDep = Annotated[Ready, Depends(get_json_ready)]
