"""Typed dependencies: routes get settings and the model registry from here, never from globals.

FastAPI resolves each dependency on every request (tens of microseconds each), so routes take
one at most; the hottest, POST /predict, reads `request.app.state.runtime` directly.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

import anyio
from fastapi import Depends, Request
from opentelemetry.trace import Tracer

from service import metrics
from service.admission import AdmissionController
from service.batching import MicroBatcher
from service.errors import NotReady
from service.registry import ModelRegistry, SentimentModel
from service.settings import Settings

Queue = Literal["batcher", "cpu"]
"""Where scoring work waits: a model's micro-batcher (single reviews) or the CPU limiter."""
_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])
_QUEUE_OF: dict[Callable[..., Any], Queue] = {}


def scores_in(queue: Queue) -> Callable[[_Endpoint], _Endpoint]:
    """Marks a route's endpoint as one that scores, its work waiting in `queue`: its requests
    then meet that queue's admission control as soon as their headers are in, and the body
    limits for scoring (service/middleware/limits.py reads the marks from the app's routes)."""

    def mark(endpoint: _Endpoint) -> _Endpoint:
        _QUEUE_OF[endpoint] = queue
        return endpoint

    return mark


def queue_of(endpoint: Callable[..., Any]) -> Queue | None:
    """The queue a route's endpoint was marked with (`scores_in`); None if it does not score."""
    return _QUEUE_OF.get(endpoint)


@dataclass
class Runtime:
    """What the routes need, held on `app.state.runtime` for the app's lifetime."""

    settings: Settings
    registry: ModelRegistry | None = None
    batchers: dict[str, MicroBatcher] = field(default_factory=dict)
    cpu: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(2))
    """Heavy work (batches, comparisons, explanations, v2) runs in a thread, one at a time (by
    `cpu_turn`). Two jobs hold this limiter: one running, and the next already in its thread,
    waiting for its turn, so that it starts the moment the other ends. Handed over through the
    event loop instead, each turn waited for the loop to get round to it: at five times
    capacity the loop is busy refusing, and the scoring thread sat idle 40% of the time."""
    cpu_turn: threading.Lock = field(default_factory=threading.Lock)
    shutting_down: bool = False
    tracer: Tracer | None = None
    """Set while tracing is on (service/tracing.py)."""
    explaining: int = 0
    """Explain requests admitted and not yet answered (capped by `max_explain_in_flight`)."""
    batcher_admission: AdmissionController = field(init=False)
    """Admission for single reviews, queued in the micro-batchers on the event loop."""
    cpu_admission: AdmissionController = field(init=False)
    """Admission for everything queued on `cpu`."""
    repository_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """One model load or unload at a time (service/repository.py)."""

    def __post_init__(self) -> None:
        s = self.settings
        # A micro-batch starts many at once: no sum of per-job times predicts its wait.
        self.batcher_admission, self.cpu_admission = (
            AdmissionController(
                queue,
                target_ms / 1000,
                s.admission_interval_ms / 1000,
                s.max_in_flight,
                enabled=s.admission_control,
                predict=predict,
            )
            for queue, target_ms, predict in (
                ("batcher", s.admission_target_ms, False),
                ("cpu", s.admission_batch_target_ms, True),
            )
        )

    def admission(self, queue: Queue) -> AdmissionController:
        return self.batcher_admission if queue == "batcher" else self.cpu_admission

    @property
    def may_refuse(self) -> bool:
        """Whether admission could refuse new work in either queue now."""
        return self.batcher_admission.may_refuse or self.cpu_admission.may_refuse

    @property
    def ready(self) -> bool:
        return self.registry is not None and self.registry.ready and not self.shutting_down

    def serve(self, model: SentimentModel) -> None:
        """Serve `model` under its name, with a micro-batcher of its own, replacing the model of
        that name in one step. Both maps are replaced, not changed in place: a request holds the
        model it selected (and a scoring thread the map it read) until it answers."""
        assert self.registry is not None
        batcher = self._new_batcher(model)
        old = self.registry.models.get(model.name)
        self.registry.models = {**self.registry.models, model.name: model}
        self.batchers = {**self.batchers, model.name: batcher}
        metrics.model_served(model.name, old.sha256 if old else None, model.sha256)

    def _new_batcher(self, model: SentimentModel) -> MicroBatcher:
        deadline = self.settings.request_deadline_ms
        return MicroBatcher(
            model,
            self.settings.batch_max_size,
            self.settings.batch_max_delay_ms / 1000,
            deadline / 1000 if deadline else None,
            observe=metrics.observe_batch,
            on_start=self.batcher_admission.on_start,
        )

    def stop_serving(self, name: str) -> SentimentModel:
        """Stop serving model `name` (KeyError if not served); requests holding it finish."""
        assert self.registry is not None
        models, batchers = dict(self.registry.models), dict(self.batchers)
        model = models.pop(name)
        batchers.pop(name, None)
        self.registry.models, self.batchers = models, batchers
        metrics.model_served(name, model.sha256, None)
        return model

    def batcher(self, model: SentimentModel) -> MicroBatcher:
        """The micro-batcher of `model`. A request that selected a model since replaced (or
        unloaded) finishes on it, in a batch of its own: never its ids on another model."""
        batcher = self.batchers.get(model.name)
        if batcher is not None and batcher.model is model:
            return batcher
        return self._new_batcher(model)

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
