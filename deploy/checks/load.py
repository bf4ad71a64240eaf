"""Load through the load balancer from a few keep-alive clients, every outcome timed and classified.

A client is anything with `call(n) -> (failure, resent)` (failure "" for a right answer, else how
it failed) and `close()`: `PredictClient` speaks HTTP; another protocol (gRPC through nginx) is
another client.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException
from typing import Protocol

from common import LOOPBACK, golden, models

# How a request can fail, as the client sees it.
NO_RESPONSE = "no response"  # refused, reset or closed before a status line
BAD_STATUS = "bad status"  # an answer, but not 200 with a prediction by the asked model
CUT = "response cut after its header"  # the proxy had forwarded the header: nobody can retry it


class Client(Protocol):
    def call(self, n: int) -> tuple[str, bool]: ...
    def close(self) -> None: ...


class PredictClient:
    """POST /predict over one keep-alive connection, cycling through every model's golden texts."""

    def __init__(self, port: int) -> None:
        self.connection = HTTPConnection(LOOPBACK, port, timeout=60)
        self.requests = [(m, r["text"]) for m in models() for r in golden(m)]
        self.reused = False

    def call(self, n: int) -> tuple[str, bool]:
        """The request's failure ("" for none), and whether it was sent a second time.

        A keep-alive connection can be closed by the server just as a request goes out on it (nginx
        closes idle ones when it reloads): then no byte of an answer came, and the request is sent
        again once on a new connection, as HTTP clients do (RFC 9112, 9.3.1; POST /predict is
        idempotent).
        """
        reused = self.reused
        failure = self.send(n)
        if failure.startswith(NO_RESPONSE) and reused:
            return self.send(n), True
        return failure, False

    def send(self, n: int) -> str:
        model, text = self.requests[n % len(self.requests)]
        self.reused = False
        body = json.dumps({"text": text, "model": model})
        try:
            self.connection.request("POST", "/predict", body, {"content-type": "application/json"})
            response = self.connection.getresponse()
        except (OSError, HTTPException) as e:
            self.connection.close()
            return f"{NO_RESPONSE}: {e!r}"
        try:
            raw = response.read()
        except (OSError, HTTPException) as e:
            self.connection.close()
            return f"{CUT}: {response.status} {e!r}"
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = {}
        self.reused = not response.will_close
        ok = response.status == 200 and answer.get("model") == model and "score" in answer
        return "" if ok else f"{BAD_STATUS}: {response.status} {raw[:100]!r}"

    def close(self) -> None:
        self.connection.close()


@dataclass(frozen=True)
class Outcome:
    start: float  # time.time() when sent
    seconds: float
    failure: str
    resent: bool


class Load:
    """`clients` threads sending requests back to back until stopped (at most `limit` seconds)."""

    def __init__(self, client: Callable[[], Client], clients: int = 4, limit: float = 120) -> None:
        self.client, self.clients, self.limit = client, clients, limit
        self.outcomes: list[Outcome] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(clients)]

    def run(self, index: int) -> None:
        client, n, deadline = self.client(), index, time.monotonic() + self.limit
        while not self.stopping.is_set() and time.monotonic() < deadline:
            start, began = time.time(), time.perf_counter()
            failure, resent = client.call(n)
            with self.lock:
                self.outcomes.append(Outcome(start, time.perf_counter() - began, failure, resent))
            n += self.clients
        client.close()

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def answered(self) -> int:
        """Requests answered so far (right or wrong): progress a caller can wait on."""
        with self.lock:
            return len(self.outcomes)

    def figures(self, since: float = 0, until: float = float("inf")) -> dict[str, object]:
        """Counts and latency percentiles of the requests sent between two time.time() instants."""
        chosen = [o for o in self.outcomes if since <= o.start < until]
        ms = sorted(1000 * o.seconds for o in chosen if not o.failure)
        q = statistics.quantiles(ms, n=100) if len(ms) > 1 else ms * 99 or [0.0] * 99
        failures = Counter(o.failure.split(":")[0] for o in chosen if o.failure)
        return {
            "requests": len(chosen),
            "failed": sum(failures.values()),
            "failures": dict(failures),
            "examples": [o.failure for o in chosen if o.failure][:3],
            "resent_on_closed_keepalive": sum(o.resent for o in chosen),
            "p50_ms": round(q[49], 1),
            "p99_ms": round(q[98], 1),
            "max_ms": round(ms[-1], 1) if ms else 0.0,
        }
