"""Typed dependencies: routes get settings and the model registry from here, never from globals.

FastAPI resolves each dependency on every request (tens of microseconds each), so routes take
one at most; the hottest, POST /predict, reads `request.app.state.runtime` directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import anyio
from fastapi import Depends, Request
from opentelemetry.trace import Tracer

from service.admission import AdmissionController
from service.batching import MicroBatcher
from service.errors import NotReady
from service.registry import ModelRegistry
from service.settings import Settings


@dataclass
class Runtime:
    """What the routes need, held on `app.state.runtime` for the app's lifetime."""

    settings: Settings
    registry: ModelRegistry | None = None
    batchers: dict[str, MicroBatcher] = field(default_factory=dict)
    cpu: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(1))
    """Heavy work (batches, comparisons, explanations, v2) runs in a thread, one at a time."""
    shutting_down: bool = False
    tracer: Tracer | None = None
    """Set while tracing is on (service/tracing.py)."""
    explaining: int = 0
    """Explain requests admitted and not yet answered (capped by `max_explain_in_flight`)."""
    batcher_admission: AdmissionController = field(init=False)
    """Admission for single reviews, queued in the micro-batchers on the event loop."""
    cpu_admission: AdmissionController = field(init=False)
    """Admission for everything queued on `cpu`."""

    def __post_init__(self) -> None:
        s = self.settings
        self.batcher_admission, self.cpu_admission = (
            AdmissionController(
                queue,
                s.admission_target_ms / 1000,
                s.admission_interval_ms / 1000,
                s.max_in_flight,
                enabled=s.admission_control,
            )
            for queue in ("batcher", "cpu")
        )

    @property
    def ready(self) -> bool:
        return self.registry is not None and self.registry.ready and not self.shutting_down

    def require_registry(self) -> ModelRegistry:
        """The registry, or 503 while the models are not loaded."""
        if self.registry is None or not self.registry.ready:
            raise NotReady("models are not loaded yet", headers={"Retry-After": "1"})
        return self.registry


@dataclass(frozen=True)
class Ready:
    settings: Settings
    registry: ModelRegistry


def _ready(request: Request) -> Ready:
    runtime: Runtime = request.app.state.runtime
    return Ready(runtime.settings, runtime.require_registry())


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_app_settings(request: Request) -> Settings:
    runtime: Runtime = request.app.state.runtime
    return runtime.settings


async def get_registry(request: Request) -> ModelRegistry:
    return _ready(request).registry


async def get_ready(request: Request) -> Ready:
    """The settings and the registry, once the models are ready (503 before)."""
    return _ready(request)


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ReadyDep = Annotated[Ready, Depends(get_ready)]
