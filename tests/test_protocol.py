"""A response's head and body leave in one write, so a killed worker cannot cut it in two."""

from __future__ import annotations

import asyncio

from service.protocol import CoalescingTransport


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def test_writes_of_one_turn_leave_as_one() -> None:
    async def run() -> RecordingTransport:
        inner = RecordingTransport()
        transport = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(b'{"score":0.5}')
        assert inner.writes == []  # nothing before the end of the turn
        await asyncio.sleep(0)
        transport.write(b"next")
        await asyncio.sleep(0)
        return inner

    inner = asyncio.run(run())
    assert inner.writes == [b'HTTP/1.1 200 OK\r\n\r\n{"score":0.5}', b"next"]


def test_close_sends_what_is_pending_first_and_other_calls_pass_through() -> None:
    async def run() -> RecordingTransport:
        inner = RecordingTransport()
        transport = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"bye")
        transport.close()
        assert transport.get_extra_info("peername") == "info:peername"
        await asyncio.sleep(0)
        return inner

    inner = asyncio.run(run())
    assert inner.writes == [b"bye"]
    assert inner.closed
