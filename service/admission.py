"""Admission by queueing delay: refuse new work only while a standing queue says it cannot be
answered in time.

The signal is CoDel's (Nichols and Jacobson, "Controlling Queue Delay", 2012): the *sojourn time* of
each piece of work, from the moment its request was read off the socket to the moment its scoring
starts. A burst makes a few requests wait and then drains: no harm done. A standing queue is
one in which even the request that waited least, over a whole `interval`, waited longer than
`target`. Only then does the controller shed: at the door, new work is refused at once with 503
and Retry-After (Google's SRE book, "Handling Overload"), and at the head, queued work that has
already waited past the target is dropped unscored (Facebook's CoDel for RPC queues). Shedding
ends once the queue has drained to a quarter of the target (a start that waited less), or
nothing admitted is left: ending it at the target itself would end it at every small dip of a
queue held at the target, and each time let in a whole interval of arrivals to be dropped later.
A micro-batcher (POST /predict) follows this alone: it starts a whole batch at once, which no sum
of per-job times predicts.

A queue served one job at a time (the CPU queue) does better, because its wait can be predicted:
the jobs admitted, times the time between starts while work waited (the service time as this
worker really delivers it, parsing and refusals included). There the target is kept as a promise
to each admitted request, that it is answered within the target plus its own service time:

- the door admits work predicted to *finish* within the target, and refuses the rest: a burst
  that fits is admitted whole (the web page sends one explain request per model at once), while
  waiting for CoDel's evidence let seconds of work in at three times capacity, all of it dropped
  later (work admitted, parsed and then dropped wastes the parse);
- such a refusal is the evidence of a standing queue (the queue holds the whole target), so
  shedding starts at once; while shedding, the door keeps about half the target queued (the
  server never idles, and what it admits it serves) until the predicted wait has drained to a
  quarter of the target. Holding the queue at the target until CoDel's interval had passed set
  the accepted p99 at the start of every overload: 1.01 to 1.09 s, against 0.61 to 0.97 s with
  shedding at once (`make overload`, side by side, 1 s target);
- at the head, work that waited past the target is dropped unscored, shedding or not: the safety
  net for a wrong prediction, such as a run of heavier jobs than usual.

A fixed count of requests in flight was the wrong signal: the right number depends on the model,
the text, the machine and the number of workers, while a delay target is what a client feels.

`max_in_flight` stays only as a memory guard, far above any normal load (see the settings).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from service import metrics
from service.errors import ServiceError

RETRY_AFTER = {"Retry-After": "1"}
RefusalReason = Literal["in_flight_cap", "queue_delay"]
_REFUSED = {reason: metrics.REJECTED.labels(reason) for reason in ("in_flight_cap", "queue_delay")}
"""Refusals counted by reason; the label children looked up once (asked of every refusal)."""
GAP_SMOOTHING = 32
"""The time between starts is averaged over about this many starts (an exponential average)."""


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
        predict: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queue = queue
        self.target_s = target_s
        self.interval_s = interval_s
        self.max_in_flight = max_in_flight
        self.enabled = enabled
        self.predict = predict
        """Whether the door uses the predicted wait (`predicted_wait_s`), or CoDel's alone."""
        self.clock = clock
        self.in_flight = 0
        self.shedding = False
        self._first_above: float | None = None  # when the delay will have been high an interval
        self._last_start: float | None = None
        self._running_since: float | None = None  # the job now running, one at a time
        self.start_gap_s: float | None = None
        """Mean time between starts while work waited: the measured cost of one piece of work."""
        self._delay = metrics.QUEUE_DELAY.labels(queue)  # looked up once: observed per request
        metrics.ADMISSION_SHEDDING.labels(queue).set(0)

    @property
    def may_refuse(self) -> bool:
        """Whether `refusal()` could refuse now (cheap enough to ask of every request)."""
        if self.shedding or self.in_flight >= self.max_in_flight:
            return True
        wait = self.predicted_wait_s()
        return wait is not None and wait >= self._longest_wait_s()

    def _longest_wait_s(self) -> float:
        """The predicted wait past which new work is refused: while shedding, half the target
        (keep the queue full, no longer); before, the target less one service time (what is
        admitted is answered within the target)."""
        if self.shedding:
            return self.target_s / 2
        return self.target_s - (self.start_gap_s or 0.0)

    def predicted_wait_s(self) -> float | None:
        """How long new work would wait to start, for a queue served one job at a time: the
        work admitted before it, each taking the measured time between starts (the one running
        longer than that, as long as it has run so far). None when not predicted (a
        micro-batcher starts a whole batch at once) or until a start has been measured."""
        gap, running_since = self.start_gap_s, self._running_since
        if not self.predict or gap is None or self.in_flight == 0:
            return None
        if running_since is None:  # all of it queued
            return self.in_flight * gap
        return max(gap, self.clock() - running_since) + (self.in_flight - 1) * gap

    @property
    def state(self) -> Literal["open", "shedding"]:
        return "shedding" if self.shedding else "open"

    def on_start(self, sojourn_s: float) -> Overloaded | None:
        """Record the queueing delay of work about to start; an error if it must be dropped."""
        now = self.clock()
        self.observe(sojourn_s, now)
        if self.enabled and sojourn_s > self.target_s and (self.shedding or self.predict):
            _REFUSED["queue_delay"].inc()
            return Overloaded(
                f"server busy: the request waited {sojourn_s * 1000:.0f} ms in the queue, past "
                f"the {self.target_s * 1000:g} ms target; retry later",
                headers=RETRY_AFTER,
            )
        # Only work that runs takes time: a gap after dropped work would say service is instant,
        # the door would admit without end, and more would be dropped.
        if self._last_start is not None and sojourn_s >= now - self._last_start:
            # It waited since before the previous start: the gap is that work's service time.
            gap = now - self._last_start
            mean = self.start_gap_s
            self.start_gap_s = gap if mean is None else mean + (gap - mean) / GAP_SMOOTHING
        self._last_start = self._running_since = now
        return None

    def on_finish(self) -> None:
        """The job that started last has finished (for the predicted wait)."""
        self._running_since = None

    def observe(self, sojourn_s: float, now: float) -> None:
        """The queueing delay of work that is starting now."""
        self._delay.observe(sojourn_s)
        if sojourn_s < self.target_s / 4 and not self.predict:
            self._set_shedding(False)  # the queue has drained (predicted: see `refusal_reason`)
        if sojourn_s < self.target_s:
            self._first_above = None  # below target: no standing queue
        elif self._first_above is None:
            self._first_above = now + self.interval_s
        elif now >= self._first_above:
            self._set_shedding(True)

    def refusal(self) -> Overloaded | None:
        """Why new work must be refused now, or None to admit it."""
        reason = self.refusal_reason()
        return None if reason is None else self.overloaded(reason)

    def refusal_reason(self) -> RefusalReason | None:
        """Whether new work must be refused now, and why (counted in the refusal metrics)."""
        if self.in_flight >= self.max_in_flight:
            _REFUSED["in_flight_cap"].inc()
            return "in_flight_cap"
        if not self.enabled:
            return None
        if self.in_flight == 0:
            # Nothing admitted is left, queued or running: the standing queue is gone.
            self._first_above = None
            self._set_shedding(False)
            return None
        wait = self.predicted_wait_s()
        if wait is None:  # nothing measured yet: CoDel's signal alone
            if not self.shedding:
                return None
        elif wait < self._longest_wait_s():
            if wait < self.target_s / 4:
                self._set_shedding(False)  # the queue has drained
            return None
        else:
            self._set_shedding(True)  # the queue holds the whole target: a standing queue
        _REFUSED["queue_delay"].inc()
        return "queue_delay"

    def overloaded(self, reason: RefusalReason) -> Overloaded:
        """The error a refusal for `reason` answers with."""
        if reason == "in_flight_cap":
            message = f"server busy: {self.in_flight} requests already admitted; retry later"
        else:
            message = (
                f"server busy: requests wait longer than {self.target_s * 1000:g} ms to start; "
                "retry later"
            )
        return Overloaded(message, headers=RETRY_AFTER)

    def _set_shedding(self, shedding: bool) -> None:
        if shedding != self.shedding:
            self.shedding = shedding
            metrics.ADMISSION_SHEDDING.labels(self.queue).set(int(shedding))
