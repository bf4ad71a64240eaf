"""A bounded load of POST /predict from a few keep-alive clients, every outcome classified."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.client import HTTPConnection, HTTPException

MODELS = ("ff", "rnn", "rnn2", "rnn3")

# How a request can fail, as the client sees it.
NO_RESPONSE = "no response"  # refused, reset or closed before a status line: a proxy can retry
BAD_STATUS = "bad status"  # an answer, but not 200 with a prediction by the asked model
CUT = "response cut after its header"  # nginx had forwarded the header: nobody can retry it


class Load:
    """`requests` POST /predict spread over `clients` threads, each with its own connection."""

    def __init__(self, port: int, texts: list[str], requests: int, clients: int) -> None:
        self.port, self.texts, self.requests, self.clients = port, texts, requests, clients
        self.latencies: list[float] = []
        self.failures: Counter[str] = Counter()
        self.examples: list[str] = []
        self.lock = threading.Lock()
        self.done = 0
        self.halfway = threading.Event()

    def one(self, connection: HTTPConnection, n: int) -> str:
        """Send request n: "" for a prediction by the asked model, else how it failed."""
        model = MODELS[n % len(MODELS)]
        body = json.dumps({"text": self.texts[n % len(self.texts)], "model": model})
        try:
            connection.request("POST", "/predict", body, {"content-type": "application/json"})
            response = connection.getresponse()
        except (OSError, HTTPException) as e:
            connection.close()
            return f"{NO_RESPONSE}: {e!r}"
        try:
            raw = response.read()
        except (OSError, HTTPException) as e:
            connection.close()
            return f"{CUT}: {response.status} {e!r}"
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = {}
        ok = response.status == 200 and answer.get("model") == model and "score" in answer
        return "" if ok else f"{BAD_STATUS}: {response.status} {raw[:100]!r}"

    def client(self, index: int) -> None:
        connection = HTTPConnection("127.0.0.1", self.port, timeout=30)
        for n in range(index, self.requests, self.clients):
            start = time.perf_counter()
            failure = self.one(connection, n)
            with self.lock:
                self.done += 1
                if failure:
                    self.failures[failure.split(":")[0]] += 1
                    self.examples.append(failure)
                else:
                    self.latencies.append(time.perf_counter() - start)
                if self.done == self.requests // 2:
                    self.halfway.set()
        connection.close()

    def run(self, at_halfway: Callable[[], None]) -> float:
        """Seconds for the whole load; at_halfway runs once half the requests have answers."""
        threads = [threading.Thread(target=self.client, args=(i,)) for i in range(self.clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        self.halfway.wait()
        at_halfway()
        for thread in threads:
            thread.join()
        return time.perf_counter() - start

    def percentiles_ms(self) -> dict[str, float]:
        ms = sorted(1000 * s for s in self.latencies)
        q = statistics.quantiles(ms, n=100)
        return {"p50_ms": q[49], "p90_ms": q[89], "p99_ms": q[98], "max_ms": ms[-1]}
