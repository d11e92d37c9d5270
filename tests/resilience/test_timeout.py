"""Tests for reliant.resilience.timeout: Timeout, sync (soft and hard) and asyncio."""

from __future__ import annotations

import asyncio
import contextvars
import math
import threading
from typing import Any

import pytest

from reliant._core.deadline import deadline_scope, remaining
from reliant.exceptions import ReliantError, TimeoutExceeded
from reliant.resilience.timeout import Timeout, TimeoutOptions
from reliant.testing import VirtualClock, capture_events

MODES = ["sync", "async"]


def run_call(
    mode: str,
    clock: VirtualClock,
    policy: Timeout,
    duration: float,
    *,
    value: Any = "ok",
    error: BaseException | None = None,
) -> Any:
    """Run through ``policy`` a call taking ``duration`` virtual seconds.

    sync: the call's own clock.sleep moves virtual time; async: the call awaits on the
    clock's virtual-time loop, where the Timeout can cancel it.
    """
    if mode == "sync":

        def work() -> Any:
            clock.sleep(duration)
            if error is not None:
                raise error
            return value

        return policy.call(work)

    async def awork() -> Any:
        await clock.asleep(duration)
        if error is not None:
            raise error
        return value

    return clock.run(policy.acall(awork))


@pytest.mark.parametrize("mode", MODES)
def test_call_within_budget_returns_result(mode: str) -> None:
    """A call that finishes within the budget returns its result."""
    clock = VirtualClock()
    assert "ok" == run_call(mode, clock, Timeout(1.0, clock=clock), 0.5)
    assert 0.5 == clock.now()


@pytest.mark.parametrize("mode", MODES)
def test_late_call_raises_timeout_exceeded(mode: str) -> None:
    """A call outliving its budget raises TimeoutExceeded carrying the budget."""
    clock = VirtualClock()
    with pytest.raises(TimeoutExceeded) as info:
        run_call(mode, clock, Timeout(1.0, clock=clock), 5.0)
    assert 1.0 == info.value.timeout
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, ReliantError)
    assert "within 1s" in str(info.value)


def test_async_timeout_fires_at_virtual_deadline() -> None:
    """On the virtual loop, asyncio.sleep(5) under Timeout(1) is cut at t=1 exactly."""
    clock = VirtualClock()
    reached: list[str] = []

    async def main() -> None:
        async def slow() -> None:
            await asyncio.sleep(5)
            reached.append("end")

        try:
            await Timeout(1).acall(slow)
        finally:
            reached.append(f"caught at {clock.now()}")

    with pytest.raises(TimeoutExceeded):
        clock.run(main())
    assert ["caught at 1.0"] == reached
    assert 1.0 == clock.now()


def test_sync_late_call_runs_to_completion_then_raises() -> None:
    """A sync call cannot be interrupted: it finishes, and then TimeoutExceeded is raised."""
    clock = VirtualClock()
    finished: list[float] = []

    def slow() -> str:
        clock.sleep(3.0)
        finished.append(clock.now())
        return "late"

    with pytest.raises(TimeoutExceeded):
        Timeout(1.0, clock=clock).call(slow)
    assert [3.0] == finished


def test_sync_call_ending_exactly_at_deadline_is_not_late() -> None:
    """Only a call that ends strictly after the deadline is late."""
    clock = VirtualClock()
    assert "ok" == run_call("sync", clock, Timeout(1.0, clock=clock), 1.0)


def test_sync_exception_after_deadline_is_chained() -> None:
    """An error raised after the deadline becomes TimeoutExceeded, caused by that error."""
    clock = VirtualClock()
    error = ConnectionResetError("peer went away")
    with pytest.raises(TimeoutExceeded) as info:
        run_call("sync", clock, Timeout(1.0, clock=clock), 2.0, error=error)
    assert error is info.value.__cause__


@pytest.mark.parametrize("mode", MODES)
def test_exception_within_budget_passes_unchanged(mode: str) -> None:
    """An error raised before the deadline reaches the caller as the same object."""
    clock = VirtualClock()
    error = ValueError("bad input")
    with pytest.raises(ValueError) as info:
        run_call(mode, clock, Timeout(1.0, clock=clock), 0.5, error=error)
    assert error is info.value


@pytest.mark.parametrize("mode", MODES)
def test_callers_own_timeout_error_is_not_converted(mode: str) -> None:
    """A TimeoutError raised by the call itself within budget stays what it was."""
    clock = VirtualClock()
    error = TimeoutError("socket read timed out")
    with pytest.raises(TimeoutError) as info:
        run_call(mode, clock, Timeout(5.0, clock=clock), 0.1, error=error)
    assert error is info.value
    assert not isinstance(info.value, TimeoutExceeded)


@pytest.mark.parametrize("mode", MODES)
def test_nested_timeout_exceeded_passes_through(mode: str) -> None:
    """A TimeoutExceeded from nested code reaches the caller unchanged, even if late."""
    clock = VirtualClock()
    error = TimeoutExceeded("inner", timeout=0.1)
    with pytest.raises(TimeoutExceeded) as info:
        run_call(
            mode, clock, Timeout(1.0, clock=clock), 2.0 if mode == "sync" else 0.5, error=error
        )
    assert error is info.value


def nested(mode: str, clock: VirtualClock, outer: Timeout, inner: Timeout, duration: float) -> Any:
    """Run a call of ``duration`` under ``outer(inner(call))``."""
    if mode == "sync":
        return outer.call(run_call, mode, clock, inner, duration)

    async def work() -> str:
        await clock.asleep(duration)
        return "ok"

    async def main() -> Any:
        return await outer.acall(inner.acall, work)

    return clock.run(main())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("outer_s", "inner_s"), [(5.0, 1.0), (1.0, 5.0)])
def test_nested_timeouts_shorter_one_wins(mode: str, outer_s: float, inner_s: float) -> None:
    """With nested timeouts, the shorter budget fires and is the one reported."""
    clock = VirtualClock()
    outer = Timeout(outer_s, name="outer", clock=clock)
    inner = Timeout(inner_s, name="inner", clock=clock)
    with (
        capture_events(kinds=["timeout.exceeded"]) as events,
        pytest.raises(TimeoutExceeded) as info,
    ):
        nested(mode, clock, outer, inner, 3.0)
    shorter = min(outer_s, inner_s)
    assert shorter == info.value.timeout
    assert [("outer" if outer_s < inner_s else "inner", shorter)] == [
        (e.policy, e.attributes["timeout"]) for e in events
    ]
    if mode == "async":
        assert shorter == clock.now()


@pytest.mark.parametrize("mode", MODES)
def test_nested_timeouts_both_generous_succeed(mode: str) -> None:
    """A call within both nested budgets succeeds."""
    clock = VirtualClock()
    assert "ok" == nested(mode, clock, Timeout(5.0, clock=clock), Timeout(2.0, clock=clock), 1.0)


@pytest.mark.parametrize("mode", MODES)
def test_deadline_visible_to_nested_code(mode: str) -> None:
    """Code inside the call sees the time left through deadline.remaining()."""
    clock = VirtualClock()
    seen: list[float | None] = []

    if mode == "sync":

        def work() -> None:
            seen.append(remaining())
            clock.sleep(0.5)
            seen.append(remaining())

        Timeout(2.0, clock=clock).call(work)
    else:

        async def awork() -> None:
            seen.append(remaining())
            await clock.asleep(0.5)
            seen.append(remaining())

        clock.run(Timeout(2.0, clock=clock).acall(awork))
    assert [2.0, 1.5] == seen
    assert remaining() is None


@pytest.mark.parametrize("mode", MODES)
def test_nested_deadline_is_the_sooner(mode: str) -> None:
    """Inside nested timeouts, remaining() reports the sooner deadline."""
    clock = VirtualClock()
    seen: list[float | None] = []
    outer, inner = Timeout(1.0, clock=clock), Timeout(10.0, clock=clock)

    if mode == "sync":
        outer.call(inner.call, lambda: seen.append(remaining()))
    else:

        async def look() -> None:
            seen.append(remaining())

        clock.run(outer.acall(inner.acall, look))
    assert [1.0] == seen


@pytest.mark.parametrize("mode", MODES)
def test_deadline_removed_after_failure(mode: str) -> None:
    """The deadline is gone once the call has failed."""
    clock = VirtualClock()
    with pytest.raises(TimeoutExceeded):
        run_call(mode, clock, Timeout(1.0, clock=clock), 2.0)
    assert remaining() is None


@pytest.mark.parametrize("mode", MODES)
def test_exceeded_event(mode: str) -> None:
    """A timeout emits timeout.exceeded with the budget, at the clock's reading."""
    clock = VirtualClock()
    with capture_events(policy="db") as events, pytest.raises(TimeoutExceeded):
        run_call(mode, clock, Timeout(1.0, name="db", clock=clock), 2.0)
    assert [("timeout.exceeded", "db", {"timeout": 1.0})] == [
        (e.kind, e.policy, dict(e.attributes)) for e in events
    ]
    assert (2.0 if mode == "sync" else 1.0) == events[0].time


@pytest.mark.parametrize("mode", MODES)
def test_no_event_on_success(mode: str) -> None:
    """A call within budget emits nothing."""
    clock = VirtualClock()
    with capture_events() as events:
        run_call(mode, clock, Timeout(1.0, clock=clock), 0.1)
    assert [] == events


def test_async_enclosing_asyncio_timeout_owns_its_expiry() -> None:
    """When an enclosing asyncio.timeout fires first, the caller sees its TimeoutError."""
    clock = VirtualClock()

    async def main() -> None:
        async with asyncio.timeout(1.0):
            await Timeout(5.0).acall(asyncio.sleep, 10.0)

    with pytest.raises(TimeoutError) as info:
        clock.run(main())
    assert not isinstance(info.value, TimeoutExceeded)
    assert 1.0 == clock.now()


def test_async_outside_cancellation_stays_cancellation() -> None:
    """Cancelling the caller's task raises CancelledError, not TimeoutExceeded."""
    clock = VirtualClock()

    async def main() -> str:
        task = asyncio.create_task(Timeout(5.0).acall(asyncio.sleep, 10.0))
        await asyncio.sleep(1.0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled"
        return "not cancelled"

    assert "cancelled" == clock.run(main())


def test_async_task_usable_after_timeout() -> None:
    """After TimeoutExceeded the task carries no cancel request: it can await again."""
    clock = VirtualClock()

    async def main() -> tuple[str, int, float]:
        outcome = "no timeout"
        try:
            await Timeout(1.0).acall(asyncio.sleep, 5.0)
        except TimeoutExceeded:
            outcome = "timed out"
        await asyncio.sleep(2.0)
        task = asyncio.current_task()
        assert task is not None
        return outcome, task.cancelling(), clock.now()

    assert ("timed out", 0, 3.0) == clock.run(main())


def test_async_call_swallowing_cancellation_returns_its_result() -> None:
    """A call that swallows the timeout's cancellation returns normally, as in asyncio."""
    clock = VirtualClock()

    async def stubborn() -> str:
        try:
            await asyncio.sleep(5.0)
        except asyncio.CancelledError:
            return "ignored the cancel"
        return "finished"

    async def main() -> tuple[str, int]:
        result = await Timeout(1.0).acall(stubborn)
        task = asyncio.current_task()
        assert task is not None
        return result, task.cancelling()

    assert ("ignored the cancel", 0) == clock.run(main())


def test_async_same_instant_as_enclosing_timeout() -> None:
    """When an enclosing asyncio.timeout expires at the same instant, it owns the expiry."""
    clock = VirtualClock()

    async def main() -> None:
        async with asyncio.timeout(1.0):
            await Timeout(1.0).acall(asyncio.sleep, 5.0)

    with pytest.raises(TimeoutError) as info:
        clock.run(main())
    assert not isinstance(info.value, TimeoutExceeded)


def test_async_outside_cancel_at_the_deadline_stays_cancellation() -> None:
    """A cancel from outside at the very instant of the deadline is not a timeout."""
    clock = VirtualClock()

    async def main() -> str:
        task = asyncio.create_task(Timeout(1.0).acall(asyncio.sleep, 5.0))
        asyncio.get_running_loop().call_at(1.0, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled"
        except TimeoutExceeded:
            return "timed out"
        return "finished"

    assert "cancelled" == clock.run(main())


def test_async_shared_timeout_budget_is_per_call() -> None:
    """One Timeout shared by concurrent tasks times each call on its own budget."""
    clock = VirtualClock()
    policy = Timeout(2.0, clock=clock)

    async def attempt(duration: float) -> str:
        try:
            await policy.acall(asyncio.sleep, duration, f"done {duration}")
        except TimeoutExceeded:
            return f"timed out {duration}"
        return f"done {duration}"

    async def main() -> list[str]:
        return await asyncio.gather(attempt(1.0), attempt(3.0), attempt(1.5), attempt(9.0))

    assert ["done 1.0", "timed out 3.0", "done 1.5", "timed out 9.0"] == clock.run(main())
    assert 2.0 == clock.now()


@pytest.mark.parametrize("mode", MODES)
def test_decorator_forms(mode: str) -> None:
    """Timeout decorates sync and async functions, keeping their names."""
    clock = VirtualClock()
    policy = Timeout(1.0, clock=clock)

    @policy
    def fetch(x: int) -> int:
        clock.sleep(0.5)
        return x * 2

    @policy
    async def afetch(x: int) -> int:
        await clock.asleep(0.5)
        return x * 2

    if mode == "sync":
        assert ("fetch", 4) == (fetch.__name__, fetch(2))
    else:
        assert ("afetch", 4) == (afetch.__name__, clock.run(afetch(2)))


# -- hard timeouts (real, short waits: the timeout itself is the behaviour) -------------


def test_hard_timeout_stops_waiting_for_a_blocked_call() -> None:
    """hard=True returns control at the deadline while the call is still blocked."""
    release, finished = threading.Event(), threading.Event()

    def blocked() -> str:
        try:
            release.wait(30)
            return "too late"
        finally:
            finished.set()

    with capture_events(kinds=["timeout"]) as events, pytest.raises(TimeoutExceeded) as info:
        Timeout(0.05, hard=True, name="hard").call(blocked)
    was_still_running = not finished.is_set()
    release.set()
    assert finished.wait(30)
    assert was_still_running
    assert 0.05 == info.value.timeout
    assert ["hard"] == [e.policy for e in events]


def test_hard_timeout_returns_result_of_fast_call() -> None:
    """A hard timeout returns the worker's result when it finishes in time."""
    assert 7 == Timeout(30.0, hard=True).call(lambda a, b: a + b, 3, 4)


def test_hard_timeout_passes_exceptions_unchanged() -> None:
    """An error from the worker reaches the caller as the same object."""
    error = KeyError("missing")

    def fail() -> None:
        raise error

    with pytest.raises(KeyError) as info:
        Timeout(30.0, hard=True).call(fail)
    assert error is info.value


def test_hard_timeout_keeps_the_calls_own_timeout_error() -> None:
    """A TimeoutError raised by the worker is not mistaken for the hard timeout."""
    error = TimeoutError("socket timed out")

    def fail() -> None:
        raise error

    with pytest.raises(TimeoutError) as info:
        Timeout(30.0, hard=True).call(fail)
    assert error is info.value


def test_hard_worker_sees_contextvars_and_deadline() -> None:
    """The worker thread runs in a copy of the caller's context, deadline included."""
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")
    request_id.set("req-42")
    caller = threading.get_ident()

    def look() -> tuple[str, bool, bool]:
        left = remaining()
        return (
            request_id.get(),
            left is not None and 0 < left <= 30.0,
            threading.get_ident() != caller,
        )

    assert ("req-42", True, True) == Timeout(30.0, hard=True).call(look)


def test_hard_timeout_late_on_its_clock_raises() -> None:
    """A worker that returns but ran past the deadline on the clock still times out."""
    clock = VirtualClock()

    def slow_in_virtual_time() -> str:
        clock.sleep(5.0)
        return "late"

    with pytest.raises(TimeoutExceeded):
        Timeout(1.0, hard=True, clock=clock).call(slow_in_virtual_time)


def test_hard_timeout_with_passed_deadline_does_not_start_the_call() -> None:
    """Under an already-passed deadline, a hard timeout fails without running the call."""
    clock = VirtualClock()
    calls: list[int] = []
    with deadline_scope(1.0, clock):
        clock.advance(2.0)
        with pytest.raises(TimeoutExceeded) as info:
            Timeout(5.0, hard=True, clock=clock).call(calls.append, 1)
    assert [] == calls
    assert 0.0 == info.value.timeout


def test_hard_option_ignored_by_async() -> None:
    """hard=True changes nothing for acall: asyncio cancels the call at the deadline."""
    clock = VirtualClock()
    with pytest.raises(TimeoutExceeded):
        clock.run(Timeout(1.0, hard=True).acall(asyncio.sleep, 2.0))
    assert 1.0 == clock.now()


# -- options -----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1.0, math.inf, math.nan, "1", True, None])
def test_invalid_seconds_rejected(bad: object) -> None:
    """seconds must be a finite number > 0; the error names class, option and range."""
    with pytest.raises(ValueError, match=r"Timeout: seconds must be a (finite )?number"):
        Timeout(bad)  # type: ignore[arg-type]


def test_invalid_hard_rejected() -> None:
    """hard must be a bool."""
    with pytest.raises(ValueError, match="Timeout: hard must be True or False"):
        Timeout(1.0, hard="yes")  # type: ignore[arg-type]


def test_options_and_describe() -> None:
    """Options are stored frozen and describe() reports them."""
    policy = Timeout(2.5, hard=True, name="api")
    assert TimeoutOptions(seconds=2.5, hard=True) == policy.options
    with pytest.raises(AttributeError):
        policy.options.seconds = 1.0  # type: ignore[misc]
    assert {"kind": "Timeout", "name": "api", "seconds": 2.5, "hard": True} == policy.describe()
    assert "timeout" == Timeout(1).name
