"""`python -m service`: check the models folder, then serve it with uvicorn.

HOST, PORT and WEB_CONCURRENCY set the address and the number of workers; `SENTIMENT_*` the rest.
"""

from __future__ import annotations

import sys

import uvicorn

from service.registry import ModelLoadError, load_registry
from service.settings import get_settings


def main() -> int:
    settings = get_settings()
    try:
        # Fail in one clear line naming the file, before any worker starts.
        load_registry(settings.models_dir, settings.default_model)
    except ModelLoadError as e:
        print(f"error: cannot start: {e}", file=sys.stderr)
        return 2
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        timeout_graceful_shutdown=30,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
