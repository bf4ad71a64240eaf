"""`python -m service`: check the models folder, then serve it with uvicorn.

HOST, PORT and WEB_CONCURRENCY set the address and the number of workers; `SENTIMENT_*` the rest.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

import uvicorn

from service.logs import configure_logging, logging_config
from service.protocol import CoalescingHttpToolsProtocol
from service.registry import ModelLoadError, load_registry
from service.settings import Settings, get_settings


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn runs the app; the benchmark's baselines run under exactly these options."""
    return {
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "log_level": settings.log_level,
        "log_config": logging_config(settings),
        "access_log": False,  # service.observability writes one line per request, with its id
        "timeout_graceful_shutdown": 30,
        "http": CoalescingHttpToolsProtocol,  # a response leaves in one write: see its module
    }


def main() -> int:
    settings = get_settings()
    configure_logging(settings)
    if settings.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Each worker writes its metrics here; /metrics sums them (prometheus-client's own way).
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="sentiment-metrics-")
    try:
        # Fail in one clear line naming the file, before any worker starts.
        load_registry(settings.models_dir, settings.default_model)
    except ModelLoadError as e:
        print(f"error: cannot start: {e}", file=sys.stderr)
        return 2
    uvicorn.run("service.app:create_app", factory=True, **uvicorn_options(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
