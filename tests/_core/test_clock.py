"""Tests for reliant._core.clock: MonotonicClock and VirtualClock."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from reliant._core.clock import MONOTONIC, Clock, MonotonicClock
from reliant.testing import VirtualClock


def test_monotonic_clock_reads_time_monotonic() -> None:
    """MONOTONIC reads the process's monotonic clock and never goes backwards."""
    before = time.monotonic()
    reading = MONOTONIC.now()
    after = time.monotonic()
    assert before <= reading <= after


def test_monotonic_clock_satisfies_protocol() -> None:
    """Both clocks satisfy the Clock protocol that policies check."""
    assert isinstance(MonotonicClock(), Clock)
    assert isinstance(VirtualClock(), Clock)


def test_monotonic_asleep_zero_yields() -> None:
    """MonotonicClock.asleep(0) is an ordinary asyncio sleep that returns."""

    async def main() -> str:
        await MONOTONIC.asleep(0)
        return "done"

    assert "done" == asyncio.run(main())


def test_monotonic_repr() -> None:
    """MonotonicClock has a readable repr."""
    assert "MonotonicClock()" == repr(MONOTONIC)


def test_virtual_clock_starts_where_told() -> None:
    """VirtualClock starts at 0 by default, or at ``start``."""
    assert 0.0 == VirtualClock().now()
    assert 100.5 == VirtualClock(start=100.5).now()


def test_virtual_clock_advance_moves_time() -> None:
    """advance() moves the clock forward by exactly the amount given."""
    clock = VirtualClock()
    clock.advance(1.5)
    clock.advance(0.0)
    clock.advance(2)
    assert 3.5 == clock.now()


@pytest.mark.parametrize("bad", [-0.001, -1, math.nan])
def test_virtual_clock_advance_rejects_negative_and_nan(bad: float) -> None:
    """advance() refuses to move time backwards (or by NaN) and leaves it unchanged."""
    clock = VirtualClock(start=5.0)
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        clock.advance(bad)
    assert 5.0 == clock.now()


def test_virtual_clock_sleep_advances_and_records() -> None:
    """sleep() advances the clock at once and records every requested sleep."""
    clock = VirtualClock()
    clock.sleep(2.0)
    clock.sleep(0.5)
    assert 2.5 == clock.now()
    assert [2.0, 0.5] == clock.sleeps


def test_virtual_clock_negative_sleep_recorded_not_applied() -> None:
    """A negative sleep is recorded but does not move time backwards."""
    clock = VirtualClock(start=1.0)
    clock.sleep(-3.0)
    assert 1.0 == clock.now()
    assert [-3.0] == clock.sleeps


def test_virtual_clock_asleep_off_its_loop_advances_at_once() -> None:
    """asleep() on an ordinary loop advances the clock immediately and records it."""
    clock = VirtualClock()

    async def main() -> float:
        await clock.asleep(30.0)
        return clock.now()

    assert 30.0 == asyncio.run(main())
    assert [30.0] == clock.sleeps


def test_run_returns_the_coroutine_result() -> None:
    """run() runs a coroutine to completion and returns its result."""

    async def main() -> int:
        return 42

    assert 42 == VirtualClock().run(main())


def test_run_jumps_time_for_asyncio_sleep() -> None:
    """On the virtual loop asyncio.sleep(3600) completes at once, at virtual t=3600."""
    clock = VirtualClock()

    async def main() -> float:
        await asyncio.sleep(3600)
        return asyncio.get_running_loop().time()

    assert 3600.0 == clock.run(main())
    assert 3600.0 == clock.now()


def test_run_asleep_on_own_loop_is_asyncio_sleep() -> None:
    """asleep() on the clock's own loop lets other tasks run meanwhile."""
    clock = VirtualClock()
    order: list[tuple[str, float]] = []

    async def sleeper(tag: str, seconds: float) -> None:
        await clock.asleep(seconds)
        order.append((tag, clock.now()))

    async def main() -> None:
        await asyncio.gather(sleeper("slow", 2.0), sleeper("fast", 1.0))

    clock.run(main())
    assert [("fast", 1.0), ("slow", 2.0)] == order
    assert [2.0, 1.0] == clock.sleeps
    assert 2.0 == clock.now()


def test_run_interleaves_concurrent_tasks_in_virtual_time() -> None:
    """Concurrent tasks wake in virtual-time order; total time is the longest path."""
    clock = VirtualClock(start=10.0)
    log: list[tuple[str, float]] = []

    async def worker(tag: str, delays: list[float]) -> None:
        for delay in delays:
            await asyncio.sleep(delay)
            log.append((tag, clock.now()))

    async def main() -> None:
        await asyncio.gather(worker("a", [1.0, 1.0, 1.0]), worker("b", [1.5, 1.0]))

    clock.run(main())
    assert [
        ("a", 11.0),
        ("b", 11.5),
        ("a", 12.0),
        ("b", 12.5),
        ("a", 13.0),
    ] == log
    assert 13.0 == clock.now()


def test_run_asyncio_timeout_fires_in_virtual_time() -> None:
    """asyncio.timeout on the virtual loop expires at the virtual deadline."""
    clock = VirtualClock()

    async def main() -> None:
        async with asyncio.timeout(2.0):
            await asyncio.sleep(10.0)

    with pytest.raises(TimeoutError):
        clock.run(main())
    assert 2.0 == clock.now()


def test_run_sync_sleep_inside_coroutine_moves_loop_time() -> None:
    """A sync clock.sleep inside a coroutine moves the loop's time too."""
    clock = VirtualClock()

    async def main() -> float:
        clock.sleep(5.0)
        return asyncio.get_running_loop().time()

    assert 5.0 == clock.run(main())


def test_run_twice_continues_from_the_current_reading() -> None:
    """A second run() starts where the first left the clock."""
    clock = VirtualClock()

    async def nap() -> None:
        await asyncio.sleep(1.0)

    clock.run(nap())
    clock.run(nap())
    assert 2.0 == clock.now()


def test_run_handles_fractional_timers_exactly_enough() -> None:
    """Many small fractional sleeps add up without the loop stalling."""
    clock = VirtualClock()

    async def main() -> int:
        for _ in range(1000):
            await asyncio.sleep(0.1)
        return 1000

    assert 1000 == clock.run(main())
    assert 100.0 == pytest.approx(clock.now())


def test_run_can_wake_on_another_thread() -> None:
    """The virtual loop still serves call_soon_threadsafe wake-ups from threads."""
    clock = VirtualClock()

    def work() -> str:
        return "from a thread"

    async def main() -> str:
        return await asyncio.get_running_loop().run_in_executor(None, work)

    assert "from a thread" == clock.run(main())


def test_virtual_clock_repr_shows_reading() -> None:
    """VirtualClock's repr shows the current reading."""
    clock = VirtualClock(start=1.25)
    assert "VirtualClock(now=1.25)" == repr(clock)
