"""Running uvicorn: one worker, or several under uvicorn's supervisor, which here passes SIGTERM
on at once and closes its own copy of the listening socket; either way SIGTERM exits 0.

Imported by `python -m service` only once its arguments are known good (uvicorn is slow to load).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

APP = "service.app:create_app"


class DrainingMultiprocess(Multiprocess):
    """uvicorn's worker supervisor, passing SIGTERM on at once and closing its own copy of the
    listening socket.

    uvicorn's looks at its signals every 0.5 s: readiness would stay 200 that long, so the signal
    handler passes SIGTERM on to the workers itself (the workers ignore the second one that
    `terminate_all` sends). The workers keep their copies of the socket open while they drain,
    then close them; with the parent's copy still open the kernel would go on completing
    connections that no process accepts (a client hangs until the parent exits). Closed in
    `handle_term` (on the supervisor's loop, once it will start no worker again: a restart needs
    the socket), it closes with the last worker's: refused. `sockets`, `processes`,
    `signal_queue` and `handle_term` are uvicorn's (pinned in pyproject.toml).
    """

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError, TypeError):
                os.kill(process.pid, signal.SIGTERM)  # type: ignore[arg-type]
        self.signal_queue.append(signum)  # uvicorn's own handling, below

    def handle_term(self) -> None:
        super().handle_term()  # should_exit: no worker is started again, then all are joined
        for sock in self.sockets:
            sock.close()


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    # uvicorn re-raises the SIGTERM it handled once it has shut down; exit 0, not -15.
    raise SystemExit(0)


def serve(options: dict[str, Any]) -> None:
    """Serve the app with these uvicorn options until SIGTERM (or SIGINT)."""
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        if options["workers"] == 1:
            uvicorn.run(APP, factory=True, **options)
            return
        config = uvicorn.Config(APP, factory=True, **options)
        sock = config.bind_socket()
        try:
            DrainingMultiprocess(config, sockets=[sock]).run()
        finally:
            sock.close()
    except SystemExit as e:
        if e.code not in (0, None):
            raise
