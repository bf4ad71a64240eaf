"""Admission by queueing delay: refuse new work only while a standing queue says it cannot be
answered in time.

The signal is CoDel's (Nichols and Jacobson, "Controlling Queue Delay", 2012): the *sojourn time* of
each piece of work, from the moment its request was read off the socket to the moment its scoring
starts. A burst makes a few requests wait and then drains: no harm done. A standing queue is
one in which even the request that waited least, over a whole `interval`, waited longer than
`target`. Only then does the controller shed, until a request starts within the target again or
nothing admitted is left: new work is answered at once with 503 and Retry-After (Google's SRE book,
"Handling Overload"), and queued work that has already waited past the target is dropped unscored as
it reaches the head (Facebook's CoDel for RPC queues), so the requests that are served wait about
the target, not the length of a backlog. A fixed count of requests in flight was the wrong signal:
the right number depends on the model, the text, the machine and the number of workers, while a
delay target is what a client actually feels.

`max_in_flight` stays only as a memory guard, far above any normal load (see the settings).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from service import metrics
from service.errors import ServiceError

RETRY_AFTER = {"Retry-After": "1"}


class Overloaded(ServiceError):
    status_code = 503
    type = "overloaded"


class AdmissionController:
    """CoDel's control law, applied at the door of the queue instead of at its head.

    `refusal()` is asked as each new piece of work arrives; `on_start(sojourn)` as each starts.
    """

    def __init__(
        self,
        queue: str,
        target_s: float,
        interval_s: float,
        max_in_flight: int,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queue = queue
        self.target_s = target_s
        self.interval_s = interval_s
        self.max_in_flight = max_in_flight
        self.enabled = enabled
        self.clock = clock
        self.in_flight = 0
        self.shedding = False
        self._first_above: float | None = None  # when the delay will have been high an interval
        self._delay = metrics.QUEUE_DELAY.labels(queue)  # looked up once: observed per request
        metrics.ADMISSION_SHEDDING.labels(queue).set(0)

    @property
    def state(self) -> Literal["open", "shedding"]:
        return "shedding" if self.shedding else "open"

    def on_start(self, sojourn_s: float) -> Overloaded | None:
        """Record the queueing delay of work about to start; an error if it must be dropped."""
        self.observe(sojourn_s)
        if self.shedding and self.enabled and sojourn_s > self.target_s:
            metrics.REJECTED.labels("queue_delay").inc()
            return Overloaded(
                f"server busy: the request waited {sojourn_s * 1000:.0f} ms in the queue, past "
                f"the {self.target_s * 1000:g} ms target; retry later",
                headers=RETRY_AFTER,
            )
        return None

    def observe(self, sojourn_s: float) -> None:
        """The queueing delay of work that is starting now."""
        now = self.clock()
        self._delay.observe(sojourn_s)
        if sojourn_s < self.target_s:
            self._first_above = None  # the queue emptied to below target: no standing queue
            self._set_shedding(False)
        elif self._first_above is None:
            self._first_above = now + self.interval_s
        elif now >= self._first_above:
            self._set_shedding(True)

    def refusal(self) -> Overloaded | None:
        """Why new work must be refused now, or None to admit it."""
        if self.in_flight >= self.max_in_flight:
            metrics.REJECTED.labels("in_flight_cap").inc()
            return Overloaded(
                f"server busy: {self.in_flight} requests already admitted; retry later",
                headers=RETRY_AFTER,
            )
        if not self.enabled or not self.shedding:
            return None
        if self.in_flight == 0:
            # Nothing admitted is left, queued or running: the standing queue is gone.
            self._first_above = None
            self._set_shedding(False)
            return None
        metrics.REJECTED.labels("queue_delay").inc()
        return Overloaded(
            f"server busy: requests wait longer than {self.target_s * 1000:g} ms to start; "
            "retry later",
            headers=RETRY_AFTER,
        )

    def _set_shedding(self, shedding: bool) -> None:
        if shedding != self.shedding:
            self.shedding = shedding
            metrics.ADMISSION_SHEDDING.labels(self.queue).set(int(shedding))
