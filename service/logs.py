"""Logging: one line per event, as JSON or as text, each with the current request's id.

JSON, or text when stderr is a terminal (`SENTIMENT_LOG_FORMAT` forces either). The access log
(one line per request, from service/middleware/observability.py) goes straight to the handler's
formatter, without a `LogRecord` (the logging module's per-record machinery cost more than the
model), and `LineHandler` writes the access lines gathered over `SENTIMENT_TELEMETRY_FLUSH_MS`
(10 ms; nginx's `access_log ... buffer= flush=`) in one write at the end of an event-loop turn:
a write a request cost a lone client about 10% of its latency. Records of the logging module
(start-up, warnings, errors) are few: they are written at once, after any access lines gathered
before them, so that nothing is lost to a crash right after; at exit `logging.shutdown` flushes
what is pending.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, TextIO

from service.settings import Settings
from service.turns import DEFAULT_FLUSH_INTERVAL_S, EndOfTurn

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
ACCESS = logging.getLogger("service.access")
# What a LogRecord holds of its own; any other attribute came from `extra=` and is logged too,
# except uvicorn's `color_message` (the message again, with terminal colour codes).
_OWN = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", "color_message"}


def escape(text: str) -> str:
    """`text` with each control character (and other non-printable ones) written as an escape:
    nothing a client sends can start a new line of a text log or move the cursor."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class LineFormatter(logging.Formatter):
    """A record, or a request's access line, as one line (tracebacks aside)."""

    _second: tuple[int, str] = (-1, "")

    def timestamp(self, now: float) -> str:
        """`logging`'s default time format, with the strftime part computed once a second."""
        second, stamp = self._second
        if int(now) != second:
            second = int(now)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
            self._second = (second, stamp)
        return f"{stamp},{int((now - second) * 1000):03d}"

    def access_line(
        self, request_id: str, method: str, path: str, status: int, model: str, ms: float
    ) -> str:
        raise NotImplementedError


class TextFormatter(LineFormatter):
    """`time LEVEL logger [request id] message`; continuation lines (tracebacks) are indented."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", REQUEST_ID.get())
        line = (
            f"{self.timestamp(record.created)} {record.levelname} {record.name} "
            f"[{request_id}] {escape(record.getMessage())}"
        )
        for extra in (self._exception(record), record.stack_info):
            if extra:
                line += "".join(f"\n    {escape(part)}" for part in extra.splitlines())
        return line

    def _exception(self, record: logging.LogRecord) -> str | None:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        return record.exc_text

    def access_line(
        self, request_id: str, method: str, path: str, status: int, model: str, ms: float
    ) -> str:
        return (
            f"{self.timestamp(time.time())} INFO service.access [{request_id}] "
            f"{method} {escape(path)} {status} {model or '-'} {ms:.2f}ms"
        )


_string = json.encoder.encode_basestring_ascii


class JsonFormatter(LineFormatter):
    """One JSON object per line: time, level, logger, request_id, message, then any extras."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "time": self.timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", REQUEST_ID.get()),
            "message": record.getMessage(),
        }
        fields.update((k, v) for k, v in vars(record).items() if k not in _OWN)
        if record.exc_info:
            fields["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            fields["stack_info"] = record.stack_info
        return json.dumps(fields, default=str)

    def access_line(
        self, request_id: str, method: str, path: str, status: int, model: str, ms: float
    ) -> str:
        # Written by hand: the same object `format` would write for the access record, 5x faster.
        message = _string(f"{method} {path} {status} {model or '-'} {ms:.2f}ms")
        return (
            f'{{"time": "{self.timestamp(time.time())}", "level": "INFO", '
            f'"logger": "service.access", "request_id": {_string(request_id)}, '
            f'"message": {message}, "method": {_string(method)}, "path": {_string(path)}, '
            f'"status": {status}, "model": {_string(model)}, "duration_ms": {round(ms, 3)}}}'
        )


class LineHandler(logging.Handler):
    """Writes formatted lines to a stream, gathered into one write (see the module doc)."""

    def __init__(
        self, stream: TextIO | None = None, interval_s: float = DEFAULT_FLUSH_INTERVAL_S
    ) -> None:
        super().__init__()
        self.stream = stream if stream is not None else sys.stderr
        self._pending: list[str] = []
        self._turn = EndOfTurn(self.flush, interval_s)
        # Re-entrant: a signal handler that logs runs in the main thread, maybe while that
        # thread is inside a write (a plain Lock deadlocked a worker draining on SIGTERM).
        self._write_lock = threading.RLock()

    def emit(self, record: logging.LogRecord) -> None:
        # Records are few (start-up, shutdown, errors): written at once, after any access lines
        # gathered before them, so a crash or a signal right after cannot lose them.
        try:
            self.write(self.format(record), at_once=True)
        except Exception:
            self.handleError(record)

    def write(self, line: str, at_once: bool = False) -> None:
        with self._write_lock:
            self._pending.append(line)
            if at_once or not self._turn.ask():
                self._write_pending()

    def flush(self) -> None:
        with self._write_lock:
            self._write_pending()

    def _write_pending(self) -> None:
        self._turn.flushed()
        if self._pending:
            # Taken before writing: a line logged by a handler that interrupts the write is
            # kept for the next one, not cleared with these.
            pending, self._pending = self._pending, []
            data = "\n".join(pending) + "\n"
            try:
                self.stream.write(data)
                self.stream.flush()
            except Exception:  # as logging's own handlers do: report, never fail the request
                self.handleError(logging.makeLogRecord({"msg": data}))


def _handlers(logger: logging.Logger) -> Iterator[logging.Handler]:
    """The handlers a record of `logger` reaches."""
    current: logging.Logger | None = logger
    while current is not None:
        yield from current.handlers
        current = current.parent if current.propagate else None


def log_access(
    request_id: str, method: str, path: str, status: int, model: str, seconds: float
) -> None:
    """The access line of one request, in each handler's format."""
    if not ACCESS.isEnabledFor(logging.INFO):
        return
    ms = seconds * 1000
    handlers = list(_handlers(ACCESS))
    direct = [
        (h, h.formatter)
        for h in handlers
        if isinstance(h, LineHandler) and isinstance(h.formatter, LineFormatter)
    ]
    if len(direct) == len(handlers):
        for handler, formatter in direct:
            if handler.level <= logging.INFO:
                handler.write(formatter.access_line(request_id, method, path, status, model, ms))
        return
    fields = {"method": method, "path": path, "status": status, "model": model}
    extra = {**fields, "duration_ms": round(ms, 3), "request_id": request_id}
    ACCESS.info("%s %s %d %s %.2fms", method, path, status, model or "-", ms, extra=extra)


def resolved_format(settings: Settings) -> str:
    """`json` or `text`: `auto` is text when stderr is a terminal, JSON otherwise."""
    if settings.log_format != "auto":
        return settings.log_format
    return "text" if sys.stderr.isatty() else "json"


def logging_config(settings: Settings) -> dict[str, Any]:
    """A `logging.config.dictConfig` dict for the service and uvicorn alike."""
    level = settings.log_level.upper()
    formatter = TextFormatter if resolved_format(settings) == "text" else JsonFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "default": {
                "()": f"{__name__}.LineHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
                "interval_s": settings.telemetry_flush_ms / 1000,
            }
        },
        "loggers": {
            "service": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
