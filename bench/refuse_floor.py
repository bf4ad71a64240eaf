"""The floor of a refusal on this stack: uvloop and httptools with no framework, answering every
POST with a fixed 503 as soon as its headers are parsed (its body read and dropped), and any other
request with 200 `{}` (for the benchmark's readiness check). `python -m bench.serve refuse-floor`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
import uvloop

REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
    b"retry-after: 1\r\ncontent-length: 31\r\n\r\n"
    b'{"error":{"type":"overloaded"}}'
)
OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


class RefusingProtocol(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport  # uvloop's TCPTransport, not an asyncio.Transport subclass
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_headers_complete(self) -> None:
        self.transport.write(REFUSAL if self.parser.get_method() == b"POST" else OK)


async def serve(host: str, port: int) -> None:
    server = await asyncio.get_running_loop().create_server(RefusingProtocol, host, port)
    await server.serve_forever()


def run(host: str, port: int) -> None:
    uvloop.run(serve(host, port))
