"""`python -m bench.serve noop|keras|bare|minimal|starlette|refusing|refuse-floor`: a baseline
app on HOST:PORT.

`noop`, `keras` and `starlette` run under the service's own uvicorn options; `bare` and `minimal`
under stock uvicorn (uvloop, httptools, no access log), as a user's own small app would.
`refusing` is the service itself, with admission refusing every scoring request as a shedding
worker does (bench/refusal.py); `refuse-floor` the same refusals with no framework at all.
"""

from __future__ import annotations

import sys

import uvicorn

from service.__main__ import uvicorn_options
from service.admission import RefusalReason
from service.settings import get_settings

APPS = {
    "noop": "bench.noop_app:create_noop_app",
    "keras": "bench.keras_app:create_keras_app",
    "bare": "bench.bare_app:create_bare_app",
    "minimal": "bench.minimal_app:create_minimal_app",
    "starlette": "bench.starlette_route_app:create_starlette_route_app",
}
STOCK = ("bare", "minimal")


def refuse_everything() -> None:
    """Admission refusing every scoring request at its headers, counted as a shedding worker's."""
    from service.admission import AdmissionController

    def refusal_reason(self: AdmissionController) -> RefusalReason:
        self._set_shedding(True)
        return "queue_delay"

    AdmissionController.refusal_reason = refusal_reason  # type: ignore[method-assign]


if __name__ == "__main__":
    kind = sys.argv[1]
    settings = get_settings()
    if kind == "refuse-floor":
        from bench.refuse_floor import run

        run(settings.host, settings.port)
    elif kind == "refusing":
        refuse_everything()
        uvicorn.run("service.app:create_app", factory=True, **uvicorn_options(settings))
    elif kind in STOCK:
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
