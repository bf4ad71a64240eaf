"""uvicorn's HTTP protocol, with each response leaving in one write, and deadlines for slow
clients.

uvicorn writes a response's head and its body with two `transport.write` calls. A worker killed
(SIGKILL, OOM) between the two leaves the proxy in front holding a head with no body: nginx has
already passed the head on and can no longer retry on another replica, so the client sees a cut
response. Writes made in one event-loop turn (a head and a small body always are) are joined
here and sent at the end of the turn, so a response is either sent whole or not at all; the
response of the only request in the worker is sent as soon as it is complete instead. Measured
side by side: sending every response at once cost 8-12% of the throughput at 16 connections
(fewer requests came back to be read in each turn), and waiting for the end of the turn made a
lone request's p50 0.32 ms against 0.24 (the worker went idle before its client had answered).

uvicorn also never times out a request that is arriving: a connection that sends nothing, half a
request line or headers at one byte a second is held forever, and so is a body dribbled in
(uvicorn's keep-alive timeout only runs between requests). Here the request line and headers must
all arrive within `header_timeout_s` and stay under `max_header_bytes` (else 431), and the body
within `body_timeout_s` of its headers (else 408); then the connection is closed. Timers are
armed only when a read leaves a request incomplete, so the usual request, read whole at once,
costs none.

At shutdown uvicorn closes every idle connection at once, one just accepted included: a request
already on its way meets a reset. Here an idle connection gets a short grace instead: a request
that arrives is served with `Connection: close`, and silence closes it (service/shutdown.py).

This subclasses uvicorn's httptools protocol and uses its non-public attributes (`cycle`, `loop`,
`timeout_keep_alive_task`): the uvicorn range is pinned in pyproject.toml, and
tests/test_slow_clients.py, tests/test_lifecycle.py and tests/test_protocol_nginx.py (a worker
killed mid-response behind real nginx) check it on real sockets.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.errors import error_json
from service.middleware.limits import DOOR, AdmissionDoor
from service.settings import get_settings


class CoalescingTransport:
    """A transport whose writes are gathered and sent once per event-loop turn."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _Answered:
    """The cycle of a request answered at the door: complete, so the rest of its body is read
    and dropped, and the next request on the connection starts at once."""

    response_started = response_complete = True
    keep_alive = False


_ANSWERED = _Answered()

LINGER_S = 2.0
SHUTDOWN_IDLE_GRACE_SECONDS = 1.0
"""How long an idle connection may still send a request once the server shuts down: a request
already sent arrives within a round trip; a client silent this long was not sending one."""


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self._header_timeout = settings.header_timeout_s
        self._body_timeout = settings.body_timeout_s
        self._max_head = settings.max_header_bytes
        self._in_head = False  # between on_message_begin and on_headers_complete
        self._in_body = False  # between on_headers_complete and on_message_complete
        self._head_bytes = 0
        self._deadline: asyncio.TimerHandle | None = None
        self._lingering = False
        self._closing = False  # the server is shutting down: answer what arrives, then close
        self._door: AdmissionDoor | None = self.app_state.get(DOOR)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        wrapped = CoalescingTransport(transport, asyncio.get_running_loop())
        super().connection_made(wrapped)  # type: ignore[arg-type]
        # A connection that never sends a byte is closed too.
        self._arm(self._header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # refused: read and drop what the client is still sending, then close
        idle = not self._in_head and not self._in_body
        if idle or self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self._in_head:
            if self._head_bytes > self._max_head:
                self._refuse(431, f"request line and headers over {self._max_head} bytes")
            elif self._deadline is None:
                self._arm(self._header_timeout, self._head_timed_out)
        elif self._in_body and self._deadline is None:
            self._arm(self._body_timeout, self._body_timed_out)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True

    def on_headers_complete(self) -> None:
        self._in_head, self._in_body, self._head_bytes = False, True, 0
        self._disarm()
        if self._answered_at_door():
            return
        super().on_headers_complete()
        if self._closing:  # a request that arrived in the grace: answered, then the connection ends
            self.cycle.keep_alive = False

    def _answered_at_door(self) -> bool:
        """Whether admission refused this request at its headers and it has been answered, in
        bytes, before uvicorn built its cycle (service/middleware/limits.py, AdmissionDoor): at
        five times capacity refusals are most of what a worker does. What is left of its body
        is then read and dropped (on_body skips a completed cycle)."""
        door = self._door
        if door is None or not door.answers_in_bytes or not door.runtime.may_refuse:
            return False
        if self.cycle is not None and not self.cycle.response_complete:
            return False  # pipelined behind a request not yet answered: refused in its turn
        method = self.parser.get_method()
        if method != b"POST" or self.parser.should_upgrade():
            return False
        try:
            path = httptools.parse_url(self.url).path.decode("ascii")
        except (httptools.HttpParserInvalidURLError, UnicodeDecodeError):
            return False  # uvicorn's own path answers it
        if "%" in path:
            path = urllib.parse.unquote(path)
        scope: Any = self.scope
        scope["method"] = "POST"
        scope["path"] = self.root_path + path
        answer = door.answer(scope, path, self.server_state.default_headers)
        if answer is None:
            return False
        response, keep_alive = answer
        self.transport.write(response)
        self.cycle = _ANSWERED  # type: ignore[assignment]
        if not (keep_alive and not self._closing and self.parser.should_keep_alive()):
            self.transport.close()
        self.on_response_complete()
        return True

    def shutdown(self) -> None:
        """uvicorn's Server.shutdown calls this on each connection, after closing the listener."""
        self._closing = True
        if self.cycle is None or self.cycle.response_complete:
            # Idle: uvicorn's own keep-alive timer, shortened to the grace (data cancels it).
            self._unset_keepalive_if_required()
            self.timeout_keep_alive_task = self.loop.call_later(
                SHUTDOWN_IDLE_GRACE_SECONDS, self.timeout_keep_alive_handler
            )
        else:
            self.cycle.keep_alive = False

    def on_response_complete(self) -> None:
        if len(self.server_state.tasks) <= 1:
            # The only request in the worker: send it now, before what the app still does after
            # its last `send`. With others in flight, the end of the turn sends it, with theirs.
            self.transport.flush()  # type: ignore[attr-defined]
        super().on_response_complete()

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        # A pipelined request refused by admission when its turn comes, or any refused request
        # when the door cannot answer in bytes, is answered by the door's own small app (the
        # outer layers around a JSON 503), as uvicorn answers past `limit_concurrency`.
        door = self._door
        refused = None if door is None else door(cycle.scope)
        super()._start_asgi_task(cycle, app if refused is None else refused)  # type: ignore[arg-type]

    def on_message_complete(self) -> None:
        self._in_body = False
        self._disarm()
        # When the request was read off the socket: admission control's queueing delay starts
        # here, so time spent waiting for a busy event loop counts (service/inference.py).
        self.scope["state"]["ready_at"] = time.perf_counter()
        super().on_message_complete()

    def _arm(self, seconds: float, callback: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_timed_out(self) -> None:
        self._deadline = None
        if self._in_head or self._head_bytes:
            self._refuse(408, "the request line and headers took too long to arrive")
        elif not self.transport.is_closing():
            self.transport.close()  # nothing was sent: nobody to answer

    def _body_timed_out(self) -> None:
        self._deadline = None
        if self.cycle is not None and not self.cycle.response_started:
            self.cycle.disconnected = True  # the app's receive() now says the client is gone
            self.cycle.message_event.set()
            self._refuse(408, "the request body took too long to arrive")
        elif not self.transport.is_closing():
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        kind, reason = {
            408: ("request_timeout", b"Request Timeout"),
            431: ("headers_too_large", b"Request Header Fields Too Large"),
        }[status]
        body = error_json(kind, message)
        head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n" % (status, reason)
        self.transport.write(
            head + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body
        )
        # Closing with unread bytes from the client would reset the connection, and the client
        # could lose the answer before reading it: half-close, drop what still comes, then close
        # (nginx's lingering close).
        self._in_head = self._in_body = False
        self._lingering = True
        self.transport.flush()  # type: ignore[attr-defined]
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._arm(LINGER_S, self.transport.close)
