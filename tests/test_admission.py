"""Admission control's decisions on synthetic queueing delays (service/admission.py), with a
clock the test moves by hand: a burst is admitted, a standing queue is shed, and work is admitted
again once the queue drains. `controller` is CoDel alone (the micro-batcher's), `predicting` the
CPU queue's, which predicts each job's wait from the measured time between starts."""

from __future__ import annotations

import pytest

from service.admission import AdmissionController, Overloaded

TARGET, INTERVAL = 0.1, 0.1


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def controller(
    clock: Clock, enabled: bool = True, max_in_flight: int = 1000, predict: bool = False
) -> AdmissionController:
    admission = AdmissionController(
        "test", TARGET, INTERVAL, max_in_flight, enabled, predict=predict, clock=clock
    )
    admission.in_flight = 2  # work admitted: what the delays fed below are the delays of
    return admission


def predicting(clock: Clock) -> AdmissionController:
    """The CPU queue's controller, with 10 ms between starts measured and no standing queue."""
    admission = controller(clock, predict=True)
    feed(admission, clock, [0.05] * 5, step=0.01)
    assert admission.start_gap_s == pytest.approx(0.01)
    assert admission.state == "open"
    return admission


def feed(admission: AdmissionController, clock: Clock, delays: list[float], step: float) -> None:
    """Work starting every `step` seconds, each having waited the given delay."""
    for delay in delays:
        clock.now += step
        admission.on_start(delay)


def test_a_burst_shorter_than_the_interval_is_admitted(clock: Clock) -> None:
    admission = controller(clock)
    feed(admission, clock, [0.3, 0.25, 0.2, 0.15], step=0.02)  # 80 ms above target, then drained
    feed(admission, clock, [0.01], step=0.02)
    assert admission.refusal() is None
    assert admission.state == "open"


def test_a_standing_queue_is_shed_with_retry_after(clock: Clock) -> None:
    admission = controller(clock)
    feed(admission, clock, [0.2] * 10, step=0.02)  # 200 ms, every request above target
    refusal = admission.refusal()
    assert isinstance(refusal, Overloaded)
    assert refusal.status_code == 503
    assert refusal.headers == {"Retry-After": "1"}
    assert "100 ms" in refusal.message
    assert admission.state == "shedding"


def test_one_request_under_target_within_the_interval_means_no_standing_queue(
    clock: Clock,
) -> None:
    admission = controller(clock)
    feed(admission, clock, [0.2, 0.2, 0.2, 0.05, 0.2, 0.2, 0.2], step=0.03)
    assert admission.refusal() is None


def test_while_shedding_queued_work_past_the_target_is_dropped_and_fresh_work_runs(
    clock: Clock,
) -> None:
    admission = controller(clock)
    feed(admission, clock, [0.3] * 10, step=0.02)
    clock.now += 0.01
    assert isinstance(admission.on_start(0.4), Overloaded)
    clock.now += 0.01
    assert admission.on_start(0.05) is None  # within the target: served, and the queue is short


def test_work_is_admitted_again_once_the_queue_drains(clock: Clock) -> None:
    admission = controller(clock)
    feed(admission, clock, [0.3] * 10, step=0.02)
    assert admission.refusal() is not None
    feed(admission, clock, [0.02], step=0.02)
    assert admission.refusal() is None
    assert admission.state == "open"


def test_shedding_lasts_while_work_is_left_and_ends_when_none_is(clock: Clock) -> None:
    admission = controller(clock)
    feed(admission, clock, [0.3] * 10, step=0.02)
    admission.in_flight = 1  # one long job still running: no evidence that the queue is gone
    clock.now += 10 * INTERVAL
    assert admission.refusal() is not None
    admission.in_flight = 0  # it finished, and nothing else was admitted
    assert admission.refusal() is None
    assert admission.state == "open"


def test_disabled_admission_never_sheds_by_delay(clock: Clock) -> None:
    admission = controller(clock, enabled=False)
    feed(admission, clock, [5.0] * 100, step=0.02)
    assert admission.refusal() is None
    assert admission.on_start(5.0) is None


def test_the_in_flight_cap_is_a_hard_memory_guard(clock: Clock) -> None:
    admission = controller(clock, enabled=False, max_in_flight=2)
    admission.in_flight = 2
    refusal = admission.refusal()
    assert isinstance(refusal, Overloaded)
    assert "2 requests already admitted" in refusal.message


def test_a_burst_waiting_past_the_target_is_served_before_a_standing_queue_shows(
    clock: Clock,
) -> None:
    admission = controller(clock)
    for delay in [0.3, 0.25]:
        clock.now += 0.02
        assert admission.on_start(delay) is None


def test_a_predicted_queue_admits_what_finishes_within_the_target(clock: Clock) -> None:
    admission = predicting(clock)
    admission.in_flight = 8  # 80 ms of work ahead, 10 of its own: answered in 90 ms, admitted
    assert admission.refusal() is None
    assert admission.state == "open"
    admission.in_flight = 10  # 100 ms ahead: it could not finish in time, so no use queueing it
    assert isinstance(admission.refusal(), Overloaded)


def test_a_refusal_at_the_door_sheds_at_once_down_to_half_the_target(clock: Clock) -> None:
    admission = predicting(clock)
    admission.in_flight = 10  # the queue holds the whole target: a standing queue, no interval
    assert isinstance(admission.refusal(), Overloaded)
    assert admission.state == "shedding"
    admission.in_flight = 6  # 60 ms: still past half the target
    assert isinstance(admission.refusal(), Overloaded)
    admission.in_flight = 4  # 40 ms: admitted, but not yet drained
    assert admission.refusal() is None
    assert admission.state == "shedding"
    admission.in_flight = 2  # 20 ms: drained to under a quarter of the target
    assert admission.refusal() is None
    assert not admission.shedding


def test_a_predicted_queue_drops_work_found_past_the_target_even_before_shedding(
    clock: Clock,
) -> None:
    admission = predicting(clock)
    clock.now += 0.01
    dropped = admission.on_start(0.15)  # mispredicted: it waited past its promise
    assert isinstance(dropped, Overloaded)
    assert "150 ms" in dropped.message
    assert admission.state == "open"  # one late start is not a standing queue
    clock.now += 0.01
    assert admission.on_start(0.09) is None


def test_a_start_after_an_idle_gap_does_not_count_as_service_time(clock: Clock) -> None:
    admission = predicting(clock)
    clock.now += 5.0  # idle, then work arrives and starts at once
    admission.on_start(0.001)
    assert admission.start_gap_s == pytest.approx(0.01)


def test_dropped_work_does_not_count_as_service_time(clock: Clock) -> None:
    admission = predicting(clock)
    for _ in range(100):  # a backlog past the target dropped at the head, one right after another
        clock.now += 0.00001
        assert isinstance(admission.on_start(0.5), Overloaded)
    assert admission.start_gap_s == pytest.approx(0.01)
    admission.in_flight = 20  # still 200 ms of work: the door stays shut
    assert isinstance(admission.refusal(), Overloaded)


def test_after_an_idle_spell_the_wait_is_the_work_queued_not_the_time_since_the_last_start(
    clock: Clock,
) -> None:
    admission = predicting(clock)
    admission.on_finish()
    clock.now += 30.0  # idle
    admission.in_flight = 3  # a burst arrives: nothing runs yet
    assert admission.predicted_wait_s() == pytest.approx(0.03)
    assert admission.refusal() is None
    admission.on_start(0.001)  # the first of it starts, and runs long
    clock.now += 0.5
    assert admission.predicted_wait_s() == pytest.approx(0.5 + 2 * 0.01, rel=0.05)
