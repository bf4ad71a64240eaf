"""A real server (`python -m service`) on a free port, for the browser and v2 client tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

from tests.conftest import ROOT
from tests.test_server import free_port, wait_ready


@contextlib.contextmanager
def live_server(**settings: str) -> Iterator[str]:
    """Serve the committed models; `settings` are extra environment variables."""
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), **settings}
    process = subprocess.Popen(
        [sys.executable, "-m", "service"], cwd=ROOT, env=env, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have exited on its own
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
