"""CircuitBreaker: resilience4j's thresholds, windows, half-open and special states."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import FrozenInstanceError, dataclass
from typing import Any

import pytest

from reliant.exceptions import CircuitOpenError
from reliant.resilience.circuit_breaker import (
    CircuitBreaker,
    CircuitMetrics,
    CircuitState,
    CountWindow,
    TimeWindow,
)
from reliant.testing import VirtualClock, capture_events

MODES = ["sync", "async"]


class Boom(Exception):
    """A failure the breaker records."""


class Harmless(Exception):
    """An exception a test ignores or leaves unrecorded."""


class Abort(BaseException):
    """A BaseException that is not an Exception, like KeyboardInterrupt."""


@dataclass(frozen=True)
class Call:
    """A scripted call: nested calls made while in flight, then ``duration`` of clock time.

    Attributes:
        duration: virtual seconds the call takes (after its nested calls).
        error: raised at the end instead of returning ``result``.
        result: the return value.
        during: calls made one after another while this one is in flight.
    """

    duration: float = 0.0
    error: BaseException | None = None
    result: object = "ok"
    during: tuple[Call, ...] = ()


OK = Call()
FAIL = Call(error=Boom("down"))


def run(mode: str, breaker: CircuitBreaker, clock: VirtualClock, *calls: Call) -> list[Any]:
    """Run ``calls`` in order through ``breaker``; return each outcome in start order.

    An outcome is the call's result or the exception it raised.
    """
    log: list[Any] = []

    def sync_call(call: Call) -> None:
        def body() -> object:
            for inner in call.during:
                sync_call(inner)
            clock.advance(call.duration)
            if call.error is not None:
                raise call.error
            return call.result

        index = len(log)
        log.append(None)
        try:
            log[index] = breaker.call(body)
        except BaseException as exc:
            log[index] = exc

    async def async_call(call: Call) -> None:
        async def body() -> object:
            for inner in call.during:
                await async_call(inner)
            clock.advance(call.duration)
            if call.error is not None:
                raise call.error
            return call.result

        index = len(log)
        log.append(None)
        try:
            log[index] = await breaker.acall(body)
        except BaseException as exc:
            log[index] = exc

    if mode == "sync":
        for call in calls:
            sync_call(call)
    else:

        async def main() -> None:
            for call in calls:
                await async_call(call)

        asyncio.run(main())
    return log


def make(**options: Any) -> tuple[CircuitBreaker, VirtualClock]:
    """Return a breaker on a fresh VirtualClock (small window and quick judging by default)."""
    clock = VirtualClock()
    options.setdefault("window", CountWindow(10))
    options.setdefault("min_calls", 10)
    options.setdefault("open_for", 10.0)
    return CircuitBreaker(clock=clock, name="dep", **options), clock


def rejected(outcome: object) -> bool:
    return isinstance(outcome, CircuitOpenError)


def trip(mode: str, breaker: CircuitBreaker, clock: VirtualClock) -> None:
    """Open ``breaker`` with failures (window 10, min 10, rate 0.5)."""
    run(mode, breaker, clock, *[FAIL] * 10)
    assert CircuitState.OPEN == breaker.state


# -- options -----------------------------------------------------------------------------


def test_defaults_match_resilience4j() -> None:
    """Defaults: 50 % failures, 100 % slow over 60 s, last 100 calls, 10 trial calls, 60 s."""
    o = CircuitBreaker().options
    assert (0.5, 1.0, 60.0, CountWindow(100), 100, 10, 60.0) == (
        o.failure_rate,
        o.slow_rate,
        o.slow_call,
        o.window,
        o.min_calls,
        o.half_open_calls,
        o.open_for,
    )
    assert ((Exception,), (), None, 0.0) == (
        o.record,
        o.ignore,
        o.record_result,
        o.max_half_open_wait,
    )


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"failure_rate": 0.0}, "failure_rate"),
        ({"failure_rate": 1.5}, "failure_rate"),
        ({"failure_rate": "half"}, "failure_rate"),
        ({"slow_rate": 0}, "slow_rate"),
        ({"slow_call": 0.0}, "slow_call"),
        ({"slow_call": float("nan")}, "slow_call"),
        ({"window": 100}, "window"),
        ({"min_calls": 0}, "min_calls"),
        ({"min_calls": 2.5}, "min_calls"),
        ({"half_open_calls": 0}, "half_open_calls"),
        ({"open_for": 0.0}, "open_for"),
        ({"open_for": -1}, "open_for"),
        ({"record": ValueError()}, "record"),
        ({"ignore": [int]}, "ignore"),
        ({"record_result": True}, "record_result"),
        ({"max_half_open_wait": -1.0}, "max_half_open_wait"),
        ({"name": 3}, "name"),
    ],
)
def test_bad_option_raises_value_error_naming_it(options: dict[str, Any], option: str) -> None:
    """Each invalid option is rejected at construction with its name in the message."""
    with pytest.raises(ValueError, match=rf"CircuitBreaker: {option} must be"):
        CircuitBreaker(**options)


def test_record_and_ignore_accept_a_single_class() -> None:
    """``record=`` and ``ignore=`` take a class or a tuple and are stored as tuples."""
    o = CircuitBreaker(record=Boom, ignore=[Harmless]).options
    assert ((Boom,), (Harmless,)) == (o.record, o.ignore)


def test_describe_is_json_friendly() -> None:
    """describe() gives kind, name and every option with plain values."""
    breaker = CircuitBreaker(name="db", window=TimeWindow(30), open_for=lambda n: 2.0 * n)
    described = breaker.describe()
    assert ("CircuitBreaker", "db", {"type": "time", "seconds": 30}) == (
        described["kind"],
        described["name"],
        described["window"],
    )
    assert (["Exception"], [], False) == (
        described["record"],
        described["ignore"],
        described["record_result"],
    )
    assert "<lambda>" in described["open_for"]


def test_repr_shows_name_and_state() -> None:
    """repr() names the breaker and its state."""
    breaker = CircuitBreaker(name="db")
    breaker.force_open()
    assert "CircuitBreaker(name='db', state='forced_open')" == repr(breaker)


def test_state_values_are_strings() -> None:
    """CircuitState values are the strings events carry."""
    assert ["closed", "open", "half_open", "forced_open", "disabled", "metrics_only"] == [
        s.value for s in CircuitState
    ]


# -- tripping ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_failure_rate_threshold_is_inclusive(mode: str) -> None:
    """5 failures in 10 calls is exactly 50 %: the breaker opens on the tenth outcome."""
    breaker, clock = make()
    run(mode, breaker, clock, *[OK] * 5, *[FAIL] * 4)
    assert CircuitState.CLOSED == breaker.state
    run(mode, breaker, clock, FAIL)
    assert (CircuitState.OPEN, 0.5) == (breaker.state, breaker.metrics.failure_rate)


@pytest.mark.parametrize("mode", MODES)
def test_failure_rate_just_below_threshold_stays_closed(mode: str) -> None:
    """4 failures in 10 calls (40 %) keeps a 50 % breaker closed."""
    breaker, clock = make()
    run(mode, breaker, clock, *[FAIL] * 4, *[OK] * 6)
    assert (CircuitState.CLOSED, 0.4) == (breaker.state, breaker.metrics.failure_rate)


@pytest.mark.parametrize("mode", MODES)
def test_below_min_calls_never_trips(mode: str) -> None:
    """With fewer outcomes than min_calls, rates are -1 and even 100 % failures don't open."""
    breaker, clock = make(min_calls=5)
    run(mode, breaker, clock, *[FAIL] * 4)
    metrics = breaker.metrics
    assert (CircuitState.CLOSED, -1.0, -1.0, 4) == (
        breaker.state,
        metrics.failure_rate,
        metrics.slow_rate,
        metrics.failed_calls,
    )
    run(mode, breaker, clock, FAIL)
    assert CircuitState.OPEN == breaker.state


@pytest.mark.parametrize("mode", MODES)
def test_count_window_caps_min_calls_at_its_size(mode: str) -> None:
    """A count window of 4 judges after 4 calls even with min_calls=100."""
    breaker, clock = make(window=CountWindow(4), min_calls=100)
    run(mode, breaker, clock, *[FAIL] * 4)
    assert CircuitState.OPEN == breaker.state


@pytest.mark.parametrize("mode", MODES)
def test_time_window_does_not_cap_min_calls(mode: str) -> None:
    """A time window waits for min_calls outcomes however short it is."""
    breaker, clock = make(window=TimeWindow(2), min_calls=20)
    run(mode, breaker, clock, *[FAIL] * 19)
    assert CircuitState.CLOSED == breaker.state
    run(mode, breaker, clock, FAIL)
    assert CircuitState.OPEN == breaker.state


@pytest.mark.parametrize("mode", MODES)
def test_count_window_forgets_the_oldest_outcome(mode: str) -> None:
    """Only the last N outcomes count: old failures slide out of a count window."""
    breaker, clock = make(window=CountWindow(4), min_calls=4)
    run(mode, breaker, clock, FAIL, OK, OK, OK, OK, FAIL)
    metrics = breaker.metrics
    assert (CircuitState.CLOSED, 4, 1) == (breaker.state, metrics.calls, metrics.failed_calls)


@pytest.mark.parametrize("mode", MODES)
def test_slow_means_strictly_longer_than_slow_call(mode: str) -> None:
    """A call lasting exactly slow_call is not slow; a longer one is."""
    breaker, clock = make(slow_call=1.0, slow_rate=0.5, min_calls=2)
    run(mode, breaker, clock, Call(duration=1.0), Call(duration=1.0))
    assert (CircuitState.CLOSED, 0, 0.0) == (
        breaker.state,
        breaker.metrics.slow_calls,
        breaker.metrics.slow_rate,
    )
    run(mode, breaker, clock, Call(duration=1.25))
    assert CircuitState.CLOSED == breaker.state  # 1 of 3 slow
    run(mode, breaker, clock, Call(duration=1.25))
    assert CircuitState.OPEN == breaker.state  # 2 of 4: exactly 50 %, inclusive


@pytest.mark.parametrize("mode", MODES)
def test_slow_failures_count_as_both(mode: str) -> None:
    """A slow failure raises the failure rate and the slow-call rate."""
    breaker, clock = make(min_calls=20, slow_call=1.0)
    run(mode, breaker, clock, Call(duration=2.0, error=Boom()), OK)
    metrics = breaker.metrics
    assert (2, 1, 1) == (metrics.calls, metrics.failed_calls, metrics.slow_calls)


@pytest.mark.parametrize("mode", MODES)
def test_warm_fast_successes_are_folded_in_order(mode: str) -> None:
    """Successes counted on the lock-free path still slide failures out exactly in order."""
    breaker, clock = make()
    run(mode, breaker, clock, *[OK] * 25, *[FAIL] * 4)
    assert (CircuitState.CLOSED, 10, 4) == (
        breaker.state,
        breaker.metrics.calls,
        breaker.metrics.failed_calls,
    )
    run(mode, breaker, clock, *[OK] * 3)
    assert CircuitState.CLOSED == breaker.state
    run(mode, breaker, clock, FAIL)  # OK OK F F F F OK OK OK F: 5 of 10
    assert (CircuitState.OPEN, 0.5) == (breaker.state, breaker.metrics.failure_rate)


@pytest.mark.parametrize("mode", MODES)
def test_time_window_evicts_whole_seconds(mode: str) -> None:
    """Outcomes older than the window's N one-second buckets no longer count."""
    breaker, clock = make(window=TimeWindow(10), min_calls=3)
    run(mode, breaker, clock, FAIL, FAIL)  # bucket 0
    clock.advance(9.5)  # t = 9.5: buckets 0..9 still in the window
    assert 2 == breaker.metrics.calls
    clock.advance(0.5)  # t = 10: the window is buckets 1..10
    run(mode, breaker, clock, FAIL)
    assert (CircuitState.CLOSED, 1) == (breaker.state, breaker.metrics.calls)


@pytest.mark.parametrize("mode", MODES)
def test_time_window_counts_successes_in_their_own_second(mode: str) -> None:
    """Successes of a warm time-window breaker land in the bucket of the second they ended."""
    breaker, clock = make(window=TimeWindow(2), min_calls=1)
    run(mode, breaker, clock, OK, OK)
    clock.advance(1.5)
    run(mode, breaker, clock, OK, OK)
    clock.advance(0.5)  # t = 2: second 0 leaves the window, second 1 stays
    assert 2 == breaker.metrics.calls


@pytest.mark.parametrize("mode", MODES)
def test_success_opens_time_window_when_successes_leave(mode: str) -> None:
    """A success can open a time-window breaker: older successes leaving raise the rate."""
    breaker, clock = make(window=TimeWindow(2), min_calls=2)
    run(mode, breaker, clock, OK, OK)  # second 0
    clock.advance(1.0)
    run(mode, breaker, clock, FAIL)  # second 1: 1 of 3
    clock.advance(1.0)
    assert CircuitState.CLOSED == breaker.state
    run(mode, breaker, clock, OK)  # second 2: seconds 1..2 hold FAIL, OK
    assert (CircuitState.OPEN, 0.5) == (breaker.state, breaker.metrics.failure_rate)


# -- open and half-open ------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_open_rejects_with_retry_after(mode: str) -> None:
    """While open, calls fail fast with CircuitOpenError saying when to come back."""
    breaker, clock = make(open_for=10.0)
    trip(mode, breaker, clock)
    clock.advance(4.0)
    [error] = run(mode, breaker, clock, OK)
    assert isinstance(error, CircuitOpenError)
    assert ("dep", 6.0) == (error.policy, error.retry_after)
    assert 1 == breaker.metrics.not_permitted_calls


@pytest.mark.parametrize("mode", MODES)
def test_call_exactly_at_open_end_is_rejected(mode: str) -> None:
    """A call exactly at the end of the open wait is rejected (resilience4j's isAfter)."""
    breaker, clock = make(open_for=10.0)
    trip(mode, breaker, clock)
    clock.advance(10.0)
    [outcome] = run(mode, breaker, clock, OK)
    assert (True, 0.0, CircuitState.OPEN) == (
        rejected(outcome),
        outcome.retry_after,
        breaker.state,
    )
    clock.advance(1e-9)
    assert ["ok"] == run(mode, breaker, clock, OK)


@pytest.mark.parametrize("mode", MODES)
def test_open_turns_half_open_only_on_a_call(mode: str) -> None:
    """After the wait the state still reads OPEN until a call asks to run."""
    breaker, clock = make(open_for=10.0, half_open_calls=3)
    trip(mode, breaker, clock)
    clock.advance(11.0)
    assert CircuitState.OPEN == breaker.state
    run(mode, breaker, clock, OK)
    assert CircuitState.HALF_OPEN == breaker.state


@pytest.mark.parametrize("mode", MODES)
def test_half_open_admits_only_its_permits(mode: str) -> None:
    """With 2 trial calls in flight, a third concurrent call is rejected."""
    breaker, clock = make(half_open_calls=2)
    trip(mode, breaker, clock)
    clock.advance(11.0)
    outcomes = run(mode, breaker, clock, Call(during=(Call(during=(OK,)),)))
    assert ["ok", "ok", True] == [*outcomes[:2], rejected(outcomes[2])]
    assert (None, CircuitState.CLOSED) == (outcomes[2].retry_after, breaker.state)


@pytest.mark.parametrize("mode", MODES)
def test_half_open_closes_below_thresholds(mode: str) -> None:
    """min(min_calls, half_open_calls) trial outcomes below thresholds close the breaker."""
    breaker, clock = make(half_open_calls=4, min_calls=2, window=CountWindow(2))
    run(mode, breaker, clock, FAIL, FAIL)
    clock.advance(11.0)
    run(mode, breaker, clock, OK)
    assert CircuitState.HALF_OPEN == breaker.state
    run(mode, breaker, clock, OK)
    assert (CircuitState.CLOSED, 0) == (breaker.state, breaker.metrics.calls)


@pytest.mark.parametrize("mode", MODES)
def test_half_open_reopens_at_threshold(mode: str) -> None:
    """Trial calls reaching the failure threshold (inclusive) open the breaker again."""
    breaker, clock = make(half_open_calls=4)
    trip(mode, breaker, clock)
    clock.advance(11.0)
    run(mode, breaker, clock, OK, FAIL, OK)
    assert CircuitState.HALF_OPEN == breaker.state
    run(mode, breaker, clock, FAIL)  # 2 of 4
    assert CircuitState.OPEN == breaker.state


@pytest.mark.parametrize("mode", MODES)
def test_open_for_function_gets_consecutive_openings(mode: str) -> None:
    """open_for(n) sees 1, then 2 after a failed probe, then 1 again after closing."""
    seen: list[int] = []

    def open_for(openings: int) -> float:
        seen.append(openings)
        return 10.0 * openings

    breaker, clock = make(open_for=open_for, half_open_calls=1, min_calls=1)
    run(mode, breaker, clock, FAIL)
    clock.advance(10.5)
    run(mode, breaker, clock, FAIL)  # probe fails: second opening, 20 s
    clock.advance(15.0)
    [outcome] = run(mode, breaker, clock, OK)
    assert (True, 5.0) == (rejected(outcome), outcome.retry_after)
    clock.advance(6.0)
    run(mode, breaker, clock, OK)  # probe succeeds: closed
    run(mode, breaker, clock, FAIL)
    assert ([1, 2, 1], CircuitState.OPEN) == (seen, breaker.state)


@pytest.mark.parametrize("mode", MODES)
def test_open_for_function_returning_nonsense_raises(mode: str) -> None:
    """An open_for function returning a non-positive wait is reported as ValueError."""
    breaker, clock = make(open_for=lambda n: -1.0, min_calls=1)
    [outcome] = run(mode, breaker, clock, FAIL)
    assert isinstance(outcome, ValueError)
    assert "open_for(1) result must be" in str(outcome)


@pytest.mark.parametrize("mode", MODES)
def test_max_half_open_wait_reopens(mode: str) -> None:
    """A half-open period longer than max_half_open_wait ends in OPEN, timed from its end."""
    breaker, clock = make(half_open_calls=2, max_half_open_wait=5.0)
    trip(mode, breaker, clock)
    clock.advance(11.0)
    run(mode, breaker, clock, OK)
    assert CircuitState.HALF_OPEN == breaker.state
    clock.advance(5.0)
    assert CircuitState.OPEN == breaker.state
    clock.advance(3.0)
    [outcome] = run(mode, breaker, clock, OK)
    assert (True, 7.0) == (rejected(outcome), outcome.retry_after)


@pytest.mark.parametrize("mode", MODES)
def test_outcomes_after_opening_are_recorded(mode: str) -> None:
    """A call admitted while closed and finishing after the breaker opened still counts."""
    breaker, clock = make(min_calls=2, window=CountWindow(5))
    outcomes = run(mode, breaker, clock, Call(error=Boom(), during=(FAIL, FAIL)))
    assert [Boom, Boom, Boom] == [type(o) for o in outcomes]
    metrics = breaker.metrics
    assert (CircuitState.OPEN, 3, 3) == (breaker.state, metrics.calls, metrics.failed_calls)


# -- classification ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_unrecorded_exception_counts_as_success(mode: str) -> None:
    """An exception outside ``record`` is re-raised but counted as a success."""
    breaker, clock = make(record=(Boom,), min_calls=2)
    outcomes = run(mode, breaker, clock, Call(error=Harmless()), Call(error=Harmless()))
    assert [Harmless, Harmless] == [type(o) for o in outcomes]
    assert (2, 0.0) == (breaker.metrics.calls, breaker.metrics.failure_rate)


@pytest.mark.parametrize("mode", MODES)
def test_ignored_exception_records_nothing(mode: str) -> None:
    """An ignored exception is neither success nor failure, even if also in ``record``."""
    breaker, clock = make(ignore=(Harmless,), record=(Exception,))
    run(mode, breaker, clock, Call(error=Harmless()))
    assert 0 == breaker.metrics.calls


@pytest.mark.parametrize("mode", MODES)
def test_ignored_exception_releases_half_open_permit(mode: str) -> None:
    """An ignored trial call gives its permit back, so another trial call may run."""
    breaker, clock = make(half_open_calls=1, ignore=(Harmless,))
    trip(mode, breaker, clock)
    clock.advance(11.0)
    run(mode, breaker, clock, Call(error=Harmless()))
    assert (CircuitState.HALF_OPEN, ["ok"]) == (breaker.state, run(mode, breaker, clock, OK))
    assert CircuitState.CLOSED == breaker.state


def test_late_ignored_outcome_adds_no_extra_permit() -> None:
    """An ignored call admitted before half-open cannot raise permits above the limit."""
    breaker, clock = make(half_open_calls=1, min_calls=1, ignore=(Harmless,))
    assert breaker.try_acquire()  # call A: admitted while closed, still running
    breaker.acquire()
    breaker.on_error(0.0, Boom())  # call B opens the breaker
    clock.advance(11.0)
    breaker.acquire()
    breaker.on_error(0.0, Harmless())  # the trial call is ignored: its permit is back
    breaker.on_error(11.0, Harmless())  # call A ends, ignored: still one permit
    assert (True, False) == (breaker.try_acquire(), breaker.try_acquire())


@pytest.mark.parametrize("mode", MODES)
def test_base_exception_is_ignored_unless_recorded(mode: str) -> None:
    """Cancellation-like BaseExceptions have no outcome: the trial permit is released."""
    interrupt: BaseException = Abort() if mode == "sync" else asyncio.CancelledError()
    breaker, clock = make(half_open_calls=1)
    trip(mode, breaker, clock)
    clock.advance(11.0)
    [outcome] = run(mode, breaker, clock, Call(error=interrupt))
    assert (interrupt, CircuitState.HALF_OPEN) == (outcome, breaker.state)
    assert ["ok"] == run(mode, breaker, clock, OK)


@pytest.mark.parametrize("mode", MODES)
def test_base_exception_in_record_is_a_failure(mode: str) -> None:
    """Listing a BaseException in ``record`` makes it a failure."""
    breaker, clock = make(record=(Exception, Abort), min_calls=1)
    run(mode, breaker, clock, Call(error=Abort()))
    assert CircuitState.OPEN == breaker.state


@pytest.mark.parametrize("mode", MODES)
def test_record_result_marks_results_as_failures(mode: str) -> None:
    """Results matching ``record_result`` are returned but counted as failures."""
    breaker, clock = make(record_result=lambda r: r == 503, min_calls=2)
    outcomes = run(mode, breaker, clock, Call(result=503), Call(result=200))
    assert ([503, 200], 1) == (outcomes, breaker.metrics.failed_calls)


# -- special states and manual transitions -----------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_disabled_permits_all_and_records_nothing(mode: str) -> None:
    """DISABLED runs every call and keeps no metrics."""
    breaker, clock = make(min_calls=1)
    breaker.disable()
    outcomes = run(mode, breaker, clock, *[FAIL] * 5)
    assert [Boom] * 5 == [type(o) for o in outcomes]
    assert (CircuitState.DISABLED, 0) == (breaker.state, breaker.metrics.calls)


@pytest.mark.parametrize("mode", MODES)
def test_forced_open_rejects_all(mode: str) -> None:
    """FORCED_OPEN rejects every call, with no retry_after, whatever the time."""
    breaker, clock = make()
    breaker.force_open()
    clock.advance(1e6)
    outcomes = run(mode, breaker, clock, OK, OK)
    assert [True, True] == [rejected(o) for o in outcomes]
    assert (None, 2) == (outcomes[0].retry_after, breaker.metrics.not_permitted_calls)


@pytest.mark.parametrize("mode", MODES)
def test_metrics_only_records_reports_and_never_opens(mode: str) -> None:
    """METRICS_ONLY keeps metrics, reports an exceeded threshold once, and never opens."""
    breaker, clock = make(min_calls=2)
    breaker.metrics_only()
    with capture_events(kinds=["circuit_breaker.threshold_exceeded"]) as events:
        outcomes = run(mode, breaker, clock, *[FAIL] * 5)
    assert [Boom] * 5 == [type(o) for o in outcomes]
    assert (CircuitState.METRICS_ONLY, 5, 1.0) == (
        breaker.state,
        breaker.metrics.calls,
        breaker.metrics.failure_rate,
    )
    assert [{"failure_rate": 1.0, "slow_rate": 0.0}] == [dict(e.attributes) for e in events]


@pytest.mark.parametrize("mode", MODES)
def test_reset_returns_to_closed_with_fresh_metrics(mode: str) -> None:
    """reset() closes the breaker, clears metrics and the count of openings."""
    seen: list[int] = []
    breaker, clock = make(open_for=lambda n: seen.append(n) or 10.0)
    trip(mode, breaker, clock)
    breaker.reset()
    assert (CircuitState.CLOSED, 0, 0) == (
        breaker.state,
        breaker.metrics.calls,
        breaker.metrics.not_permitted_calls,
    )
    trip(mode, breaker, clock)
    assert [1, 1] == seen


@pytest.mark.parametrize("mode", MODES)
def test_close_from_forced_open(mode: str) -> None:
    """close() moves any state to CLOSED and calls run again."""
    breaker, clock = make()
    breaker.force_open()
    breaker.close()
    assert (CircuitState.CLOSED, ["ok"]) == (breaker.state, run(mode, breaker, clock, OK))


def test_every_transition_emits_state_changed() -> None:
    """Automatic and manual transitions each emit one state_changed event."""
    breaker, clock = make(half_open_calls=1)
    with capture_events(kinds=["circuit_breaker.state_changed"], policy="dep") as events:
        trip("sync", breaker, clock)
        clock.advance(11.0)
        run("sync", breaker, clock, OK)
        breaker.force_open()
        breaker.disable()
        breaker.metrics_only()
        breaker.reset()
        breaker.reset()  # already closed: metrics refresh silently
    assert [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
        ("closed", "forced_open"),
        ("forced_open", "disabled"),
        ("disabled", "metrics_only"),
        ("metrics_only", "closed"),
    ] == [(e.attributes["from_state"], e.attributes["to_state"]) for e in events]


def test_outcome_and_rejection_events() -> None:
    """Outcomes, ignored errors, trips and rejections are reported with their details."""
    breaker, clock = make(min_calls=2, slow_call=1.0, ignore=(Harmless,))
    error, harmless = Boom(), Harmless()
    with capture_events(policy="dep") as events:
        run("sync", breaker, clock, Call(duration=2.0), Call(error=harmless), Call(error=error))
        run("sync", breaker, clock, OK)
    assert [
        ("circuit_breaker.success", {"duration": 2.0, "slow": True}),
        ("circuit_breaker.ignored", {"exception": harmless}),
        ("circuit_breaker.failure", {"duration": 0.0, "slow": False, "exception": error}),
        ("circuit_breaker.threshold_exceeded", {"failure_rate": 0.5, "slow_rate": 0.5}),
        ("circuit_breaker.state_changed", {"from_state": "closed", "to_state": "open"}),
        ("circuit_breaker.rejected", {"state": "open", "retry_after": 10.0}),
    ] == [(e.kind, dict(e.attributes)) for e in events]


# -- the permission protocol, metrics, concurrency ----------------------------------------


def test_permission_protocol_by_hand() -> None:
    """try_acquire/on_* drive the same core: permits, outcomes and rejection."""
    breaker, clock = make(min_calls=1, half_open_calls=1)
    assert breaker.try_acquire()
    breaker.on_error(0.5, Boom())
    assert not breaker.try_acquire()
    with pytest.raises(CircuitOpenError):
        breaker.acquire()
    clock.advance(11.0)
    breaker.acquire()
    assert not breaker.try_acquire()
    breaker.on_result(0.1, "fine")
    assert CircuitState.CLOSED == breaker.state
    breaker.on_success(0.1)
    assert 1 == breaker.metrics.calls


def test_metrics_snapshot_is_frozen() -> None:
    """breaker.metrics is an immutable snapshot."""
    metrics = CircuitBreaker().metrics
    assert CircuitMetrics(-1.0, -1.0, 0, 0, 0, 0) == metrics
    with pytest.raises(FrozenInstanceError):
        metrics.calls = 3  # type: ignore[misc]


@pytest.mark.parametrize("mode", MODES)
def test_decorator_keeps_working(mode: str) -> None:
    """Used as a decorator, the breaker protects sync and async functions alike."""
    breaker, _ = make(min_calls=1)
    if mode == "sync":

        @breaker
        def fails() -> None:
            raise Boom()

        with pytest.raises(Boom):
            fails()
        with pytest.raises(CircuitOpenError):
            fails()
    else:

        @breaker
        async def afails() -> None:
            raise Boom()

        with pytest.raises(Boom):
            asyncio.run(afails())
        with pytest.raises(CircuitOpenError):
            asyncio.run(afails())


def test_concurrent_threads_are_not_serialised() -> None:
    """20 threads are inside the protected function at once: no lock around the call."""
    breaker, _ = make(min_calls=5, window=CountWindow(50))
    barrier = threading.Barrier(20, timeout=10)

    def meet() -> int:
        return barrier.wait()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: breaker.call(meet), range(20)))
    assert (set(range(20)), 20) == (set(results), breaker.metrics.calls)


@pytest.mark.parametrize("window", [CountWindow(5000), TimeWindow(60)])
def test_concurrent_outcomes_are_all_counted(window: CountWindow | TimeWindow) -> None:
    """Under thread switches every few microseconds, no outcome is lost or counted twice."""
    breaker, _ = make(window=window, min_calls=50, failure_rate=1.0)

    def work(worker: int) -> None:
        for i in range(500):
            with contextlib.suppress(Boom):
                breaker.call(raise_if, (worker + i) % 10 == 0)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(work, range(8)))
    finally:
        sys.setswitchinterval(interval)
    metrics = breaker.metrics
    assert (CircuitState.CLOSED, 4000, 400) == (breaker.state, metrics.calls, metrics.failed_calls)


def raise_if(fail: bool) -> None:
    if fail:
        raise Boom()


def test_concurrent_tasks_are_not_serialised() -> None:
    """20 asyncio tasks are inside the protected coroutine at once."""
    breaker, clock = make(min_calls=5, window=CountWindow(50))

    async def main() -> list[int]:
        barrier = asyncio.Barrier(20)

        async def meet() -> int:
            return await barrier.wait()

        async with asyncio.timeout(10):
            return await asyncio.gather(*(breaker.acall(meet) for _ in range(20)))

    assert (set(range(20)), 20) == (set(clock.run(main())), breaker.metrics.calls)
