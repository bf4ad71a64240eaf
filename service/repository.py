"""Model control without a restart: the Open Inference Protocol's model repository extension
(as Triton and MLServer serve it). A load reads one model's folder from disk again, checks it
exactly as start-up does (service/registry.py: sha256 against its card, golden set within
tolerance) and only then swaps it in, in one step (`Runtime.serve`): a request in flight
finishes on the model it selected, every later one gets the new model. A model that fails a
check is refused, and the one served before keeps serving.

Off unless SENTIMENT_MODEL_CONTROL is set: a load changes what the service answers and costs
a second or so of CPU, so it is for operators (with the API key set), and with several workers
a request reaches only one of them (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from service import metrics
from service.dependencies import Runtime
from service.registry import ModelLoadError, load_model, manifest_names

log = logging.getLogger(__name__)


class RepositoryError(Exception):
    """A refused load or unload; the message says why and names the file at fault."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True)
class IndexEntry:
    name: str
    state: str  # READY or UNAVAILABLE, as Triton says
    reason: str
    sha256: str | None


def index(runtime: Runtime) -> list[IndexEntry]:
    """Each model served, and each model of the manifest on disk that is not, with its state."""
    registry = runtime.require_registry()
    served = registry.models
    entries = [IndexEntry(m.name, "READY", "", m.sha256) for m in served.values()]
    missing = [n for n in manifest_names(runtime.settings.models_dir) if n not in served]
    return entries + [IndexEntry(n, "UNAVAILABLE", "unloaded", None) for n in missing]


async def load(runtime: Runtime, name: str) -> str:
    """Load model `name` from disk again and serve it; its sha256. RepositoryError if refused."""
    registry = runtime.require_registry()
    settings = runtime.settings
    async with runtime.repository_lock:
        old = registry.models.get(name)
        try:
            model = await anyio.to_thread.run_sync(
                load_model,
                settings.models_dir,
                name,
                settings.golden_tolerance,
                settings.ort_threads,
            )
        except KeyError:
            metrics.MODEL_RELOADS.labels(name, "refused").inc()
            manifest = "$SENTIMENT_MODELS_DIR/manifest.json"
            raise RepositoryError(f"no model {name!r} in {manifest}", 404) from None
        except ModelLoadError as e:
            metrics.MODEL_RELOADS.labels(name, "refused").inc()
            still = f"{name} still serves sha256 {old.sha256}" if old else f"{name} is not served"
            log.error("load of %s refused: %s", name, e)
            # The file is named relative to the models folder: no server path reaches a client.
            reason = str(e).replace(str(settings.models_dir), "$SENTIMENT_MODELS_DIR")
            raise RepositoryError(f"model {name} not loaded: {reason}; {still}") from e
        runtime.serve(model)
        metrics.MODEL_RELOADS.labels(name, "loaded").inc()
        log.info("model %s loaded: sha256 %s (was %s)", name, model.sha256, old and old.sha256)
        return model.sha256


async def unload(runtime: Runtime, name: str) -> None:
    """Stop serving model `name`; the default model cannot be unloaded."""
    registry = runtime.require_registry()
    async with runtime.repository_lock:
        if name not in registry.models:
            raise RepositoryError(f"model {name!r} is not loaded", 404)
        if name == registry.default_name:
            raise RepositoryError(
                f"model {name!r} is the default (SENTIMENT_DEFAULT_MODEL), which requests that "
                "name no model use: it can be reloaded, not unloaded"
            )
        runtime.stop_serving(name)
        metrics.MODEL_RELOADS.labels(name, "unloaded").inc()
        log.info("model %s unloaded", name)


async def reload_all(runtime: Runtime) -> None:
    """Load every served model again; one refused keeps serving its old model (and is logged)."""
    for name in list(runtime.require_registry().models):
        with contextlib.suppress(RepositoryError):  # logged by load, counted as refused
            await load(runtime, name)


def install_reload_on_sighup(runtime: Runtime) -> Callable[[], None]:
    """With model control on, SIGHUP reloads every model (a single worker: with several,
    uvicorn's supervisor takes SIGHUP and replaces the workers). Returns the undo."""
    if (
        not runtime.settings.model_control
        or threading.current_thread() is not threading.main_thread()
    ):
        return lambda: None
    loop = asyncio.get_running_loop()
    running: set[asyncio.Task[None]] = set()

    def on_sighup() -> None:
        log.info("SIGHUP: reloading every model")
        task = loop.create_task(reload_all(runtime))
        running.add(task)
        task.add_done_callback(running.discard)

    loop.add_signal_handler(signal.SIGHUP, on_sighup)

    def restore() -> None:
        loop.remove_signal_handler(signal.SIGHUP)

    return restore
