"""Request checks that come before the body is read, as one plain ASGI layer:

- a body over the limit gets 413 at once from its Content-Length, or as soon as a streamed body
  passes the limit (Starlette's own limiter answers in plain text; this keeps the JSON shape);
- a POST to a JSON route whose body is not declared `application/json` gets 415, where FastAPI
  would otherwise hand the raw bytes to the body model and answer with a puzzling 422;
- a JSON body with more separators than any valid request needs gets 413 as it streams in;
- a scoring request is put to admission control (service/admission.py) as soon as its headers
  are in: under a standing queue a refusal must cost far less than the work it turns away, so
  its body is neither read into Python nor parsed. Admission takes no place in any queue here
  (the queue is joined once the body is read and parsed, service/inference.py), so a client
  that dribbles its body holds nothing that others need.
  Parsing JSON holds the event loop (and the GIL) for as long as it takes: ten megabytes of
  `1,1,1,...` take about half a second, ten megabytes of `"k1":1,...` a second, and no thread can
  help. Every value past the first of an array or object needs a comma and every member a colon,
  so counting them (a memchr-speed scan of each chunk) bounds the parse before it starts. The
  bounds are far above what a valid request of texts holds (1,000 real reviews have about
  15,000 commas; parsing 100,000 short strings takes about 50 ms), and separators inside
  strings only make the count cautious. A v2 `input_ids` tensor is bounded by it too (250 rows
  of fasttext's 400 ids, 5,000 of a 20-id model, per request).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from time import perf_counter

from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.admission import Overloaded
from service.dependencies import Queue, Runtime, queue_of
from service.errors import error_json, send_error
from service.middleware.observability import record_response, request_id_of
from service.v2.routes import V2Route


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class TooManyJsonValues(HTTPException):
    def __init__(self) -> None:
        super().__init__(
            413,
            f"the JSON body has more than {MAX_JSON_COMMAS:,} values or {MAX_JSON_COLONS:,} "
            "object members (counted by their commas and colons, strings included)",
        )


MAX_JSON_COMMAS = 100_000
MAX_JSON_COLONS = 50_000


def _is_json(content_type: bytes) -> bool:
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type == b"application/json" or media_type.endswith(b"+json")


def single_text_body_limit(max_text_chars: int) -> int:
    """The largest body a valid `POST /predict` can have: its text with every character written
    as a six-byte JSON escape, plus room for the other members. Past it the text must be over
    the limit, so the body is refused before it is parsed (parsing 10 MB takes long)."""
    return 6 * max_text_chars + 4096


@dataclass(frozen=True)
class RouteRules:
    """What the checks made before the body is read need to know of a POST route."""

    queue: Queue | None = None
    """The queue whose admission control is asked at once; None: the route does not score."""
    json_only: bool = False
    """415 unless the body is declared JSON (v2 routes read any body as JSON, as Triton does)."""
    v2: bool = False
    """Errors in the v2 shape."""
    route: BaseRoute | None = field(default=None, compare=False)
    """The route itself (what a request refused at the door is counted under)."""

    @property
    def single_text(self) -> bool:
        """The micro-batcher scores one review a request: its body is bounded by one text's."""
        return self.queue == "batcher"


NO_RULES = RouteRules()


class PostRoutes:
    """The rules of the app's POST routes, read from the routes themselves (their endpoint's
    `scores_in` mark, their body model, their class), and matched as Starlette matches a path:
    the first route in order wins. A new scoring route gets its admission and limits by its mark,
    not by a path list kept here."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self._exact: dict[str, RouteRules] = {}
        self._patterns: list[tuple[re.Pattern[str], RouteRules]] = []
        for included in iter_route_contexts(routes):  # included routers' routes, in order
            route = included.original_route
            if not isinstance(route, APIRoute) or "POST" not in (included.methods or ()):
                continue
            v2 = isinstance(route, V2Route)
            json_only = route.body_field is not None and not v2
            rules = RouteRules(queue_of(route.endpoint), json_only, v2, route)
            path = str(included.path)
            shadowed = any(regex.match(path) for regex, _ in self._patterns)
            if included.param_convertors or shadowed:
                self._patterns.append((included.path_regex, rules))
            else:
                self._exact.setdefault(path, rules)

    def rules(self, path: str) -> RouteRules:
        """The rules of the route a POST to `path` reaches (none for an unknown path)."""
        rules = self._exact.get(path)
        if rules is not None:
            return rules
        for regex, pattern_rules in self._patterns:
            if regex.match(path):
                return pattern_rules
        return NO_RULES


async def send_refusal(send: Send, refusal: Overloaded, v2: bool) -> None:
    """Admission's 503, kept alive: a refused client that must reconnect costs more than one
    that stays."""
    await send_error(send, 503, refusal.type, refusal.message, extra_headers=refusal.headers, v2=v2)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        settings = runtime.settings
        self.runtime = runtime
        self.max_body_bytes = settings.max_body_bytes
        self.max_single_bytes = min(
            settings.max_body_bytes, single_text_body_limit(settings.max_text_chars)
        )
        self.post_routes: PostRoutes | None = None  # read from the app's routes at first request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "POST":
            if self.post_routes is None:
                self.post_routes = PostRoutes(scope["app"].routes)
            rules = self.post_routes.rules(scope["path"])
        else:
            rules = NO_RULES
        limit = self.max_single_bytes if rules.single_text else self.max_body_bytes
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            message = f"request body larger than {limit} bytes"
            await send_error(send, 413, "payload_too_large", message, close=True)
            return
        content_type = headers.get(b"content-type", b"")
        if rules.json_only and not _is_json(content_type):
            shown = content_type.decode("latin-1") or "missing"
            message = f"Content-Type must be application/json, not {shown!r}"
            await send_error(send, 415, "unsupported_media_type", message, close=True)
            return
        if rules.queue is not None:
            refusal = self.runtime.admission(rules.queue).refusal()
            if refusal is not None:
                await send_refusal(send, refusal, rules.v2)
                return
        received = commas = colons = 0
        # Every POST body is JSON or nothing here: bounding the parse costs two counts a chunk.
        scan = scope["method"] == "POST"

        async def limited_receive() -> Message:
            nonlocal received, commas, colons
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > limit:
                    # An HTTPException, so the app's error handler answers it in the usual shape.
                    raise BodyTooLarge(limit)
                if scan:
                    commas += chunk.count(b",")
                    colons += chunk.count(b":")
                    if commas > MAX_JSON_COMMAS or colons > MAX_JSON_COLONS:
                        raise TooManyJsonValues()
            return message

        await self.app(scope, limited_receive, send)


class AdmissionDoor:
    """Admission asked by the HTTP protocol itself (service/protocol.py), as soon as a request's
    headers are in and before the app's stack runs. At five times capacity refusals are most of
    what a worker does, so a refusal must cost far less than the work it turns away:

    - by default (no API key, CORS or tracing: the layers outside the body checks then only add a
      request id, Connection: close while draining, metrics and the access line) the protocol
      writes `answer()`, the whole 503 as bytes with what those layers add and record, before
      uvicorn builds the request's cycle, and no ASGI task runs. Measured as the worker's CPU
      time (user and system) per refusal, open loop on one core, 50-review bodies at 1,000
      refusals/s: 82-88 us, against 104-122 us when written once uvicorn had built the cycle,
      and about 35 us for a bare uvloop + httptools server that answers a fixed 503;
    - otherwise `refused` answers it: those layers around a JSON 503 (the framework's own
      layers, routing and the body checks are still skipped).

    While no queue sheds it costs a method check and two attribute reads a request.
    BodyLimitMiddleware asks admission as well, for servers other than this one (tests)."""

    def __init__(
        self,
        runtime: Runtime,
        routes: Sequence[BaseRoute],
        outer_layers: Callable[[ASGIApp], ASGIApp],
        plain_outer_layers: bool,
    ) -> None:
        self.runtime = runtime
        self.post_routes = PostRoutes(routes)
        self.refused = outer_layers(self._answer)
        self.answers_in_bytes = plain_outer_layers and runtime.tracer is None
        # The head's fixed part and the body of each refusal, by (queue, reason, v2): built once.
        self._fixed: dict[tuple[Queue, str, bool], bytes] = {}
        self._defaults: list[tuple[bytes, bytes]] | None = None
        self._status_and_defaults = b""

    def __call__(self, scope: Scope) -> ASGIApp | None:
        """The app that answers this request's refusal, or None to let it in."""
        if scope["method"] != "POST" or not self.runtime.may_refuse:
            return None
        rules = self.post_routes.rules(scope["path"])
        if rules.queue is None:
            return None
        refusal = self.runtime.admission(rules.queue).refusal()
        if refusal is None:
            return None
        scope["route"] = rules.route  # counted and logged under its route, as if routed
        scope["state"][_REFUSAL] = (refusal, rules.v2)
        return self.refused

    def answer(
        self, scope: Scope, route_path: str, default_headers: list[tuple[bytes, bytes]]
    ) -> tuple[bytes, bool] | None:
        """This POST's refusal as one HTTP response, recorded as the observability layer records
        a response (metrics, access line with its request id), and whether the connection may
        stay open (not while draining); None to let it in. `route_path` is the path routes are
        matched on; `scope` needs its method and path."""
        rules = self.post_routes.rules(route_path)
        if rules.queue is None:
            return None
        admission = self.runtime.admission(rules.queue)
        reason = admission.refusal_reason()
        if reason is None:
            return None
        start = perf_counter()
        key = (rules.queue, reason, rules.v2)
        fixed = self._fixed.get(key)
        if fixed is None or reason == "in_flight_cap":  # that one's message says a count
            fixed = self._fixed[key] = _refusal_fixed(admission.overloaded(reason), rules.v2)
        request_id = request_id_of(scope["headers"])
        keep_alive = not self.runtime.shutting_down
        if default_headers is not self._defaults:  # uvicorn makes a new list each second
            self._defaults = default_headers
            self._status_and_defaults = b"HTTP/1.1 503 Service Unavailable\r\n" + _header_lines(
                default_headers
            )
        response = b"".join(
            [
                self._status_and_defaults,
                b"x-request-id: ",
                request_id.encode(),
                b"\r\n" if keep_alive else b"\r\nconnection: close\r\n",
                fixed,
            ]
        )
        scope["route"] = rules.route  # counted and logged under its route, as if routed
        record_response(scope, request_id, 503, "", start, started=False)
        return response, keep_alive

    @staticmethod
    async def _answer(scope: Scope, receive: Receive, send: Send) -> None:
        refusal, v2 = scope["state"].pop(_REFUSAL)
        await send_refusal(send, refusal, v2)


def _refusal_fixed(refusal: Overloaded, v2: bool) -> bytes:
    """A refusal's headers past the request id, the blank line and its body."""
    body = error_json(refusal.type, refusal.message, v2)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        *(
            (name.lower().encode(), value.encode())
            for name, value in (refusal.headers or {}).items()
        ),
    ]
    return _header_lines(headers) + b"\r\n" + body


def _header_lines(headers: Sequence[tuple[bytes, bytes]]) -> bytes:
    return b"".join([b"%s: %s\r\n" % pair for pair in headers])


_REFUSAL = "admission_refusal"
DOOR = "admission_door"
"""The lifespan state key of the worker's AdmissionDoor."""
