"""`python -m bench.serve noop|keras|bare|minimal|starlette`: a baseline app on HOST:PORT.

`noop`, `keras` and `starlette` run under the service's own uvicorn options; `bare` and `minimal`
under stock uvicorn (uvloop, httptools, no access log), as a user's own small app would.
"""

from __future__ import annotations

import sys

import uvicorn

from service.__main__ import uvicorn_options
from service.settings import get_settings

APPS = {
    "noop": "bench.noop_app:create_noop_app",
    "keras": "bench.keras_app:create_keras_app",
    "bare": "bench.bare_app:create_bare_app",
    "minimal": "bench.minimal_app:create_minimal_app",
    "starlette": "bench.starlette_route_app:create_starlette_route_app",
}
STOCK = ("bare", "minimal")

if __name__ == "__main__":
    kind = sys.argv[1]
    settings = get_settings()
    if kind in STOCK:
        uvicorn.run(
            APPS[kind],
            factory=True,
            host=settings.host,
            port=settings.port,
            loop="uvloop",
            http="httptools",
            access_log=False,
            log_level="warning",
        )
    else:
        uvicorn.run(APPS[kind], factory=True, **uvicorn_options(settings))
