"""Logs: JSON, or text on a terminal; an access record per request; nothing forged, nothing lost."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import logging.config
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from service.app import create_app
from service.dependencies import Runtime
from service.logs import (
    LineHandler,
    log_access,
    logging_config,
    resolved_format,
)
from service.middleware.observability import ObservabilityMiddleware
from service.registry import load_registry
from service.settings import Settings
from service.turns import EndOfTurn
from tests.conftest import MODELS

LINE_START = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


@contextmanager
def logs_into(stream: io.StringIO, log_format: str) -> Iterator[None]:
    """Configure logging as the service does, into `stream`; put the old handlers back after."""
    names = ("service", "uvicorn", "uvicorn.access")
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level) for n in names}
    config = logging_config(Settings(log_format=log_format))
    config["handlers"]["default"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        yield
    finally:
        for handler in logging.getLogger("service").handlers:
            handler.flush()
        for name, (handlers, level) in saved.items():
            logging.getLogger(name).handlers = handlers
            logging.getLogger(name).setLevel(level)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_format_is_text_on_a_terminal_and_json_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert resolved_format(Settings()) == "text"
    assert resolved_format(Settings(log_format="json")) == "json"
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert resolved_format(Settings()) == "json"
    assert resolved_format(Settings(log_format="text")) == "text"


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_every_request_leaves_an_access_record(log_format: str) -> None:
    stream = io.StringIO()
    with logs_into(stream, log_format), TestClient(create_app(Settings(models_dir=MODELS))) as c:
        ok = c.post(
            "/predict",
            json={"text": "A fine film.", "model": "ff"},
            headers={"x-request-id": "r-1"},
        )
        missing = c.post(
            "/predict", json={"text": "x", "model": "nope"}, headers={"x-request-id": "r-2"}
        )
    assert (ok.status_code, missing.status_code) == (200, 404)
    lines = stream.getvalue().splitlines()
    if log_format == "json":
        records = {
            r["request_id"]: r for r in map(json.loads, lines) if r["logger"] == "service.access"
        }
        assert {k: records["r-1"][k] for k in ("status", "model", "method", "path")} == {
            "status": 200,
            "model": "ff",
            "method": "POST",
            "path": "/predict",
        }
        assert records["r-1"]["duration_ms"] > 0
        assert records["r-2"]["status"] == 404
    else:
        (first,) = [x for x in lines if "[r-1]" in x]
        assert re.fullmatch(
            LINE_START.pattern + r"service\.access \[r-1\] POST /predict 200 ff [\d.]+ms", first
        )
        assert any("[r-2] POST /predict 404" in x for x in lines)


def test_loaded_models_is_logged_once() -> None:
    """`python -m service` loads the models once to check them, then the app loads them."""
    stream = io.StringIO()
    with logs_into(stream, "text"):
        load_registry(MODELS, "rnn2")
        with TestClient(create_app(Settings(models_dir=MODELS))):
            pass
    assert len(re.findall(r"loaded \d+ models", stream.getvalue())) == 1


def test_color_message_never_reaches_json() -> None:
    stream = io.StringIO()
    with logs_into(stream, "json"):
        logging.getLogger("uvicorn.error").info(
            "Started server process [%d]", 7, extra={"color_message": "process [\x1b[36m%d\x1b[0m]"}
        )
    (record,) = map(json.loads, stream.getvalue().splitlines())
    assert record["message"] == "Started server process [7]"
    assert "color_message" not in record
    assert "\x1b" not in stream.getvalue()
    assert "\\u001b" not in stream.getvalue()


def test_text_logs_escape_control_characters() -> None:
    """A path with %0a must not forge a log line; nor a message with a newline or a colour code."""
    stream = io.StringIO()
    forged = "2026-01-01 00:00:00,000 INFO service.access [x] GET / 200"
    with logs_into(stream, "text"), TestClient(create_app(Settings(models_dir=MODELS))) as c:
        c.get("/nothing%0a" + forged.replace(" ", "%20") + "%0d%1b[2J")
        logging.getLogger("service.test").warning("two\nlines \x1b[31mred\u2028")
        try:
            raise ValueError("a\n" + forged)
        except ValueError:
            logging.getLogger("service.test").exception("failed")
    lines = stream.getvalue().splitlines()
    assert all(LINE_START.match(x) or x.startswith("    ") for x in lines), lines
    assert not any(x.startswith(forged) for x in lines)
    assert any("/nothing\\n2026-01-01" in x and "\\r\\x1b[2J 404" in x for x in lines)
    assert any(x.endswith("two\\nlines \\x1b[31mred\\u2028") for x in lines)
    assert "    ValueError: a" in lines


def test_records_are_written_at_once_access_lines_within_the_flush_interval() -> None:
    stream = io.StringIO()

    async def main() -> tuple[str, str]:
        log_access("id-1", "GET", "/a", 200, "", 0.001)
        logging.getLogger("service.test").error("boom")  # an error: written now, after id-1
        log_access("id-2", "GET", "/b", 200, "", 0.001)
        during = stream.getvalue()
        await asyncio.sleep(Settings().telemetry_flush_ms / 1000 + 0.02)
        return during, stream.getvalue()

    with logs_into(stream, "text"):
        during, after = asyncio.run(main())
    assert "id-2" not in during
    assert 0 <= during.index("id-1") < during.index("boom")
    assert "id-2" in after


def test_gathered_work_is_flushed_once_an_interval_however_many_turns_ask() -> None:
    flushes: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def flush() -> None:
            flushes.append(loop.time())
            gathered.flushed()

        gathered = EndOfTurn(flush, interval_s=0.05)
        for _ in range(40):  # a lone client: one request, one ask, a turn, for 200 ms
            assert gathered.ask()
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.06)

    asyncio.run(main())
    assert 2 <= len(flushes) < 20  # 40 asks, one a turn
    # Never two flushes within an interval (timer slack aside), however busy the machine.
    assert all(b - a >= 0.045 for a, b in itertools.pairwise(flushes))


def test_a_failing_request_leaves_a_500_record() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("bug")

    stream = io.StringIO()
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}

    async def nothing(*_: object) -> None:
        return None

    middleware = ObservabilityMiddleware(broken, Runtime(Settings(models_dir=MODELS)))
    with logs_into(stream, "json"), pytest.raises(RuntimeError):
        asyncio.run(middleware(scope, nothing, nothing))  # type: ignore[arg-type]
    (record,) = map(json.loads, stream.getvalue().splitlines())
    assert (record["status"], record["path"]) == (500, "/x")


def test_access_records_reach_other_handlers_as_log_records() -> None:
    """With a handler of the operator's own, the access record is an ordinary LogRecord."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    access = logging.getLogger("service.access")
    handler = Keep()
    with logs_into(io.StringIO(), "json"):
        access.addHandler(handler)
        try:
            log_access("id-9", "POST", "/predict", 503, "rnn2", 0.002)
        finally:
            access.removeHandler(handler)
    (record,) = records
    assert record.getMessage() == "POST /predict 503 rnn2 2.00ms"
    assert (record.request_id, record.status, record.model) == ("id-9", 503, "rnn2")  # type: ignore[attr-defined]


def test_a_line_logged_in_the_middle_of_a_write_is_neither_deadlocked_nor_lost() -> None:
    """A signal handler that logs runs in the main thread wherever it was, maybe inside a write
    (a worker draining on SIGTERM once hung there)."""

    class Interrupted(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.interrupted = False

        def write(self, data: str) -> int:
            if not self.interrupted:
                self.interrupted = True
                handler.write("from the handler", at_once=True)  # as a signal handler would
            return super().write(data)

    stream = Interrupted()
    handler = LineHandler(stream)
    writer = threading.Thread(target=handler.write, args=("first",), kwargs={"at_once": True})
    writer.start()
    writer.join(timeout=10)
    assert not writer.is_alive(), "deadlocked"
    assert sorted(stream.getvalue().splitlines()) == ["first", "from the handler"]
