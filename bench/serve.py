"""`python -m bench.serve noop|keras`: a baseline, under the service's own uvicorn options."""

from __future__ import annotations

import sys

import uvicorn

from service.__main__ import uvicorn_options
from service.settings import get_settings

APPS = {"noop": "bench.noop_app:create_noop_app", "keras": "bench.keras_app:create_keras_app"}

if __name__ == "__main__":
    uvicorn.run(APPS[sys.argv[1]], factory=True, **uvicorn_options(get_settings()))
