"""Graceful shutdown with no reset: on SIGTERM readiness turns 503 at once and every response
carries `Connection: close`; after `drain_seconds` uvicorn's own handler closes the listener and
lets the requests in flight finish (idle connections get a short grace: service/protocol.py).

A keep-alive connection is thus ended by the server only right after a response that announced
it (RFC 9112, section 9.6), never while a client may be sending its next request on it: such a
request would meet a reset, and the client could not tell whether it was processed.
See docs/operations.md for the measured figures.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import stat
import sys
import threading
from collections.abc import Callable
from types import FrameType

from service.dependencies import Runtime

log = logging.getLogger(__name__)
LISTENER_SETTLE_SECONDS = 0.1
"""Between refusing new connections and closing the listener: uvicorn accepts those queued."""
_SO_ATTACH_FILTER = 26  # Linux, include/uapi/asm-generic/socket.h


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def _listening_sockets() -> list[socket.socket]:
    """This process's listening TCP sockets (uvicorn's), as duplicates of their descriptors."""
    found, seen = [], set()
    for name in os.listdir("/proc/self/fd"):
        try:
            status = os.fstat(int(name))
            if not stat.S_ISSOCK(status.st_mode) or status.st_ino in seen:
                continue  # not a socket, or one already found (a duplicate made here)
            seen.add(status.st_ino)
            sock = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue
        tcp = sock.type == socket.SOCK_STREAM and sock.family in (socket.AF_INET, socket.AF_INET6)
        if tcp and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            found.append(sock)
        else:
            sock.close()
    return found


def refuse_new_connections() -> int:
    """Stop the kernel completing new connections on this process's listeners (a socket filter
    dropping every packet: a connecting client retries its SYN and is refused once the listener
    is closed). Closing a listener resets the connections the kernel completed but nobody had
    accepted yet, with their requests possibly sent; this way, uvicorn accepts those first.
    Linux only; the number of listeners filtered."""
    if sys.platform != "linux":
        return 0
    drop_all = (_SockFilter * 1)(_SockFilter(0x06, 0, 0, 0))  # BPF_RET | BPF_K, 0: drop
    program = bytes(_SockFprog(1, drop_all))
    listeners = _listening_sockets()
    for sock in listeners:
        with sock:
            sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, program)
    return len(listeners)


def _close_listeners_then(close: Callable[[], None]) -> None:
    try:
        refused = refuse_new_connections()
    except OSError as e:  # keep uvicorn's plain close
        log.warning("could not refuse new connections before closing: %s", e)
        refused = 0
    asyncio.get_running_loop().call_later(LISTENER_SETTLE_SECONDS if refused else 0, close)


def install_drain_on_sigterm(runtime: Runtime, drain_seconds: float) -> Callable[[], None]:
    """Wrap the current SIGTERM handler (uvicorn's) so that readiness drains before it runs.

    Returns a function that puts the previous handler back.
    """
    previous = signal.getsignal(signal.SIGTERM)
    # Signals reach only the main thread (not TestClient's), and only a server has a handler.
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        return lambda: None
    loop = asyncio.get_running_loop()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if runtime.shutting_down:  # a second SIGTERM (the group's, then the parent's): one drain
            return
        runtime.shutting_down = True
        # Logged from the loop, not here: a handler runs wherever the main thread was, maybe
        # halfway through writing a log line.
        message = "SIGTERM: not ready, closing connections after each response; exit in %.1fs"
        loop.call_soon_threadsafe(log.info, message, drain_seconds)
        end = functools.partial(_close_listeners_then, lambda: previous(signum, frame))
        loop.call_soon_threadsafe(loop.call_later, drain_seconds, end)

    signal.signal(signal.SIGTERM, on_sigterm)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore


def drain_when_orphaned() -> None:
    """In a worker of uvicorn's supervisor: drain and exit (as on SIGTERM) once the supervisor is
    gone. SIGKILLed or OOM-killed, it would otherwise leave its workers serving on the shared port
    with no one to restart or stop them (and holding whatever pipes it gave them)."""
    supervisor = multiprocessing.parent_process()
    if supervisor is None:  # not a spawned worker: a single process, or a test's app
        return

    def watch() -> None:
        multiprocessing.connection.wait([supervisor.sentinel])  # readable once it has exited
        log.warning("the supervisor (pid %s) is gone: draining, then exiting", supervisor.pid)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()
