"""Tests for reliant.resilience.hedge: racing extra attempts, Polly's semantics."""

from __future__ import annotations

import asyncio
import gc
import math
from typing import Any

import pytest

from reliant.resilience.hedge import (
    DEFAULT_DELAY,
    DEFAULT_MAX_HEDGES,
    MAX_HEDGES_LIMIT,
    Hedge,
    HedgeOptions,
)
from reliant.testing import VirtualClock, capture_events

Plan = tuple[float, Any]  # (seconds the attempt takes, its result or exception)


class Attempts:
    """A hedged operation whose n-th attempt follows the n-th plan, logging what happens."""

    def __init__(self, clock: VirtualClock, *plans: Plan, cleanup: float = 0.0) -> None:
        self.clock = clock
        self.plans = plans
        self.cleanup = cleanup
        self.log: list[tuple[str, int, float]] = []
        self.started = 0

    async def __call__(self) -> Any:
        self.started += 1
        n = self.started
        duration, outcome = self.plans[n - 1]
        self.log.append(("start", n, self.clock.now()))
        try:
            await asyncio.sleep(duration)
        except asyncio.CancelledError:
            self.log.append(("cancelled", n, self.clock.now()))
            raise
        finally:
            if self.cleanup:
                await asyncio.sleep(self.cleanup)
            self.log.append(("finally", n, self.clock.now()))
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def race(clock: VirtualClock, hedge: Hedge, attempts: Attempts) -> Any:
    """Run ``hedge.acall(attempts)`` on the clock's virtual-time loop."""
    return clock.run(hedge.acall(attempts))


def test_latency_mode_hedge_wins_and_primary_is_cancelled() -> None:
    """After ``delay`` a hedge starts; the faster one wins and the other is cancelled."""
    clock = VirtualClock()
    attempts = Attempts(clock, (5.0, "primary"), (1.0, "hedge"))
    with capture_events(kinds=["hedge"], policy="h") as events:
        assert "hedge" == race(clock, Hedge(delay=0.5, name="h", clock=clock), attempts)
    assert [
        ("start", 1, 0.0),
        ("start", 2, 0.5),
        ("finally", 2, 1.5),
        ("cancelled", 1, 1.5),
        ("finally", 1, 1.5),
    ] == attempts.log
    assert [("hedge.launched", 0.5, 2), ("hedge.won", 1.5, 2)] == [
        (e.kind, e.time, e.attributes["attempt"]) for e in events
    ]
    assert 1.5 == clock.now()


def test_fast_primary_launches_no_hedge() -> None:
    """A primary that answers within ``delay`` is the only attempt."""
    clock = VirtualClock()
    attempts = Attempts(clock, (0.2, "primary"), (1.0, "hedge"))
    with capture_events(kinds=["hedge"]) as events:
        assert "primary" == race(clock, Hedge(delay=0.5, clock=clock), attempts)
    assert 1 == attempts.started
    assert [("hedge.won", 1)] == [(e.kind, e.attributes["attempt"]) for e in events]


def test_primary_may_still_win_after_hedging() -> None:
    """A hedge is a race, not a replacement: a primary finishing first still wins."""
    clock = VirtualClock()
    attempts = Attempts(clock, (1.0, "primary"), (5.0, "hedge"))
    assert "primary" == race(clock, Hedge(delay=0.5, clock=clock), attempts)
    assert ("cancelled", 2, 1.0) in attempts.log


def test_losers_are_awaited_before_returning() -> None:
    """The caller gets the answer only after every loser has finished its cleanup."""
    clock = VirtualClock()
    attempts = Attempts(clock, (5.0, "primary"), (1.0, "hedge"), cleanup=0.25)
    assert "hedge" == race(clock, Hedge(delay=0.5, clock=clock), attempts)
    # The hedge answers at 1.75 (its own cleanup included); the primary, cancelled
    # then, needs 0.25 s more to clean up, and the caller waits for it.
    assert [("cancelled", 1, 1.75), ("finally", 1, 2.0)] == [e for e in attempts.log if e[1] == 1][
        1:
    ]
    assert 2.0 == clock.now()


def test_latency_mode_launches_up_to_max_hedges_one_delay_apart() -> None:
    """With max_hedges=2, hedges start at delay and 2*delay; the third attempt wins."""
    clock = VirtualClock()
    attempts = Attempts(clock, (10.0, "a"), (10.0, "b"), (1.0, "c"), (0.0, "never"))
    assert "c" == race(clock, Hedge(delay=1.0, max_hedges=2, clock=clock), attempts)
    assert [("start", 1, 0.0), ("start", 2, 1.0), ("start", 3, 2.0)] == [
        entry for entry in attempts.log if entry[0] == "start"
    ]
    assert 3.0 == clock.now()


def test_parallel_mode_launches_all_at_once() -> None:
    """delay=0 starts every attempt immediately; the fastest wins."""
    clock = VirtualClock()
    attempts = Attempts(clock, (3.0, "a"), (2.0, "b"), (1.0, "c"))
    with capture_events(kinds=["hedge.launched"]) as events:
        assert "c" == race(clock, Hedge(delay=0, max_hedges=2, clock=clock), attempts)
    assert [0.0, 0.0, 0.0] == [t for kind, _, t in attempts.log if kind == "start"]
    assert [2, 3] == [e.attributes["attempt"] for e in events]
    assert 1.0 == clock.now()


def test_fallback_mode_never_hedges_a_slow_success() -> None:
    """A negative delay waits for the primary however slow, if it succeeds."""
    clock = VirtualClock()
    attempts = Attempts(clock, (60.0, "primary"), (1.0, "hedge"))
    assert "primary" == race(clock, Hedge(delay=-1, clock=clock), attempts)
    assert 1 == attempts.started
    assert 60.0 == clock.now()


def test_fallback_mode_launches_after_a_failure() -> None:
    """A negative delay starts the next attempt only when the previous one fails."""
    clock = VirtualClock()
    attempts = Attempts(clock, (1.0, ConnectionError("primary down")), (2.0, "hedge"))
    assert "hedge" == race(clock, Hedge(delay=-1, clock=clock), attempts)
    assert [("start", 1, 0.0), ("start", 2, 1.0)] == [e for e in attempts.log if e[0] == "start"]
    assert 3.0 == clock.now()


def test_handled_failure_launches_next_attempt_at_once() -> None:
    """In latency mode a handled failure starts the next attempt without waiting for delay."""
    clock = VirtualClock()
    attempts = Attempts(clock, (1.0, ConnectionError("x")), (1.0, "hedge"))
    assert "hedge" == race(clock, Hedge(delay=10.0, clock=clock), attempts)
    assert ("start", 2, 1.0) in attempts.log
    assert 2.0 == clock.now()


def test_each_simultaneous_failure_launches_an_attempt() -> None:
    """Two handled failures at the same moment each start a further attempt at once."""
    clock = VirtualClock()
    attempts = Attempts(
        clock,
        (2.5, ConnectionError("a")),  # started at 0, fails at 2.5
        (1.5, ConnectionError("b")),  # started at 1, fails at 2.5
        (10.0, "c"),  # started at 2 by the delay
        (10.0, "d"),  # started at 2.5 by a's failure
        (0.5, "e"),  # started at 2.5 by b's failure, not a delay later
    )
    assert "e" == race(clock, Hedge(delay=1.0, max_hedges=4, clock=clock), attempts)
    assert [0.0, 1.0, 2.0, 2.5, 2.5] == [t for kind, _, t in attempts.log if kind == "start"]
    assert 3.0 == clock.now()


def test_unhandled_exception_wins_at_once() -> None:
    """An exception outside ``on`` is final: it is raised and the rest are cancelled."""
    clock = VirtualClock()
    error = ValueError("bad request")
    attempts = Attempts(clock, (1.0, error), (5.0, "hedge"))
    hedge = Hedge(delay=0.5, on=ConnectionError, clock=clock)
    with capture_events(kinds=["hedge.won"]) as events, pytest.raises(ValueError) as info:
        race(clock, hedge, attempts)
    assert error is info.value
    assert ("cancelled", 2, 1.0) in attempts.log
    assert [1] == [e.attributes["attempt"] for e in events]
    assert 1.0 == clock.now()


def test_all_fail_raises_the_primarys_error() -> None:
    """When every attempt fails, the primary's own exception object is raised."""
    clock = VirtualClock()
    primary_error = ConnectionError("primary")
    attempts = Attempts(
        clock, (3.0, primary_error), (1.0, ConnectionError("h1")), (1.0, ConnectionError("h2"))
    )
    with capture_events(kinds=["hedge.won"]) as events, pytest.raises(ConnectionError) as info:
        race(clock, Hedge(delay=0.5, max_hedges=2, clock=clock), attempts)
    assert primary_error is info.value
    assert 3 == attempts.started
    assert [] == events
    assert 3.0 == clock.now()


def test_no_unretrieved_task_exceptions() -> None:
    """Failed and cancelled attempts leave no 'exception was never retrieved' reports."""
    clock = VirtualClock()
    reports: list[dict[str, Any]] = []

    async def main() -> Any:
        gc.collect()  # earlier tests' garbage is not this test's business
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: reports.append(ctx))
        attempts = Attempts(
            clock, (1.0, ConnectionError("a")), (5.0, ConnectionError("b")), (2.0, "c")
        )
        try:
            return await Hedge(delay=0.5, max_hedges=2, clock=clock).acall(attempts)
        finally:
            gc.collect()

    assert "c" == clock.run(main())
    assert [] == reports


def test_caller_cancellation_cancels_and_awaits_every_attempt() -> None:
    """Cancelling the caller cancels all running attempts and waits for them."""
    clock = VirtualClock()
    attempts = Attempts(clock, (10.0, "a"), (10.0, "b"), cleanup=0.5)

    async def main() -> str:
        task = asyncio.create_task(Hedge(delay=1.0, clock=clock).acall(attempts))
        await asyncio.sleep(2.0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled"
        return "finished"

    assert "cancelled" == clock.run(main())
    assert [("finally", 1, 2.5), ("finally", 2, 2.5)] == sorted(
        e for e in attempts.log if e[0] == "finally"
    )


def test_attempts_get_the_same_arguments() -> None:
    """Every attempt is called with the caller's positional and keyword arguments."""
    clock = VirtualClock()
    seen: list[tuple[int, str]] = []

    async def fetch(key: int, *, region: str) -> str:
        seen.append((key, region))
        await asyncio.sleep(5.0 if len(seen) == 1 else 1.0)
        return f"{key}@{region}"

    result = clock.run(Hedge(delay=1.0, clock=clock).acall(fetch, 7, region="eu"))
    assert "7@eu" == result
    assert [(7, "eu"), (7, "eu")] == seen


def test_sync_call_raises_type_error() -> None:
    """Hedge is asyncio-only: call() and a decorated sync function raise TypeError."""
    hedge = Hedge()
    with pytest.raises(TypeError, match="asyncio-only"):
        hedge.call(lambda: 1)
    with pytest.raises(TypeError, match="asyncio-only"):
        hedge(lambda: 1)()


def test_decorates_async_functions() -> None:
    """As a decorator on an async function, Hedge keeps its name and races attempts."""
    clock = VirtualClock()
    calls: list[int] = []

    @Hedge(delay=0.1, clock=clock)
    async def lookup() -> int:
        calls.append(1)
        await asyncio.sleep(1.0 if len(calls) == 1 else 0.1)
        return len(calls)

    assert "lookup" == lookup.__name__
    assert 2 == clock.run(lookup())
    assert 0.2 == pytest.approx(clock.now())


# -- options -----------------------------------------------------------------------------


def test_defaults() -> None:
    """Defaults are delay 0.1 s and one hedge, handling every Exception."""
    assert (0.1, 1, 10) == (DEFAULT_DELAY, DEFAULT_MAX_HEDGES, MAX_HEDGES_LIMIT)
    assert HedgeOptions(delay=0.1, max_hedges=1, on=(Exception,)) == Hedge().options


@pytest.mark.parametrize("bad", [0, 11, -1, 1.5, True, "2"])
def test_invalid_max_hedges(bad: object) -> None:
    """max_hedges must be an integer in [1, 10]."""
    with pytest.raises(ValueError, match="Hedge: max_hedges must be"):
        Hedge(max_hedges=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [math.nan, "0.1", None, True])
def test_invalid_delay(bad: object) -> None:
    """delay must be a number (any sign)."""
    with pytest.raises(ValueError, match="Hedge: delay must be a number"):
        Hedge(delay=bad)  # type: ignore[arg-type]


def test_invalid_on() -> None:
    """on must be exception classes."""
    with pytest.raises(ValueError, match="Hedge: on must be an exception class"):
        Hedge(on="ConnectionError")  # type: ignore[arg-type]


def test_describe() -> None:
    """describe() reports kind, name, delay and max_hedges."""
    assert {"kind": "Hedge", "name": "h", "delay": -1, "max_hedges": 3} == Hedge(
        delay=-1, max_hedges=3, name="h"
    ).describe()
