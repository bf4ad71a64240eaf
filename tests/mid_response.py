"""The service as `python -m service` runs it, except that it dies mid-response: the process
SIGKILLs itself right after the socket write that carries the head of the response to a request
sent with `X-Request-ID: kill-me`, the worst moment for a worker to die. Configured by the
environment (`SENTIMENT_*`), as the service is:

    python -m tests.mid_response service   # service/protocol.py, as served
    python -m tests.mid_response uvicorn   # uvicorn's own httptools protocol (the control)

Used by tests/test_protocol_nginx.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

KILL_ID = "kill-me"
_KILL_HEADER = b"\r\nx-request-id: " + KILL_ID.encode() + b"\r\n"


class KillAfterHead:
    """The socket's transport: each write goes out, and the one holding the marked head is the
    process's last act."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        self._transport.write(data)  # sent now: the socket's buffer is empty
        if _KILL_HEADER in data:
            os.kill(os.getpid(), signal.SIGKILL)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def dying(protocol: type[HttpToolsProtocol]) -> type[HttpToolsProtocol]:
    """`protocol` with `KillAfterHead` between it (and whatever it wraps) and the socket."""

    class Dying(protocol):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(KillAfterHead(transport))

    return Dying


def main(argv: list[str]) -> int:
    from service.__main__ import uvicorn_options
    from service.logs import configure_logging
    from service.settings import get_settings
    from service.supervisor import serve

    (which,) = argv
    settings = get_settings()
    configure_logging(settings)
    options = uvicorn_options(settings)
    served = {"service": options["http"], "uvicorn": HttpToolsProtocol}[which]
    serve({**options, "workers": 1, "http": dying(served)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
