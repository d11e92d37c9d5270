"""Tests for reliant._core.deadline: the current call's deadline in a context variable."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from reliant._core.clock import MONOTONIC
from reliant._core.deadline import bounded_wait, deadline_scope, pop, push, remaining
from reliant.testing import VirtualClock


def test_no_deadline_by_default() -> None:
    """Outside any scope there is no deadline."""
    assert remaining() is None
    assert remaining(VirtualClock()) is None


def test_scope_sets_and_restores_deadline() -> None:
    """deadline_scope publishes the deadline for the block and removes it after."""
    clock = VirtualClock(start=100.0)
    with deadline_scope(5.0, clock) as deadline:
        assert 105.0 == deadline
        assert 5.0 == remaining()
        clock.advance(2.0)
        assert 3.0 == remaining()
    assert remaining() is None


def test_remaining_goes_negative_after_the_deadline() -> None:
    """Once the deadline has passed, remaining() is negative."""
    clock = VirtualClock()
    with deadline_scope(1.0, clock):
        clock.advance(1.5)
        assert -0.5 == remaining()


def test_inner_scope_keeps_sooner_outer_deadline() -> None:
    """A longer nested scope cannot extend an outer, sooner deadline."""
    clock = VirtualClock()
    with deadline_scope(2.0, clock), deadline_scope(10.0, clock) as inner:
        assert 2.0 == inner
        assert 2.0 == remaining()


def test_inner_scope_may_shorten_deadline() -> None:
    """A shorter nested scope takes effect inside and the outer returns after."""
    clock = VirtualClock()
    with deadline_scope(10.0, clock):
        with deadline_scope(1.0, clock):
            assert 1.0 == remaining()
        assert 10.0 == remaining()


def test_remaining_reads_the_deadline_clock_whatever_clock_is_passed() -> None:
    """The time left is measured on the deadline's own clock, not the caller's."""
    deadline_clock = VirtualClock(start=0.0)
    other = VirtualClock(start=1_000_000.0)
    with deadline_scope(3.0, deadline_clock):
        assert 3.0 == remaining(other)
        assert 3.0 == bounded_wait(10.0, other)


def test_mixed_clocks_nest_by_duration() -> None:
    """A nested scope on another clock inherits the outer's time left, not its reading."""
    outer_clock = VirtualClock(start=0.0)
    inner_clock = VirtualClock(start=500.0)
    with deadline_scope(2.0, outer_clock), deadline_scope(9.0, inner_clock) as inner:
        assert 502.0 == inner
        assert 2.0 == remaining()


def test_push_pop_match_deadline_scope() -> None:
    """push/pop is the generator-free form of deadline_scope."""
    clock = VirtualClock(start=10.0)
    token, deadline = push(4.0, clock)
    assert 14.0 == deadline
    assert 4.0 == remaining()
    pop(token)
    assert remaining() is None


def test_push_uses_the_given_now() -> None:
    """push(now=...) uses the caller's reading instead of reading the clock again."""
    clock = VirtualClock(start=10.0)
    token, deadline = push(4.0, clock, now=7.0)
    try:
        assert 11.0 == deadline
    finally:
        pop(token)


def test_scope_restored_after_exception() -> None:
    """An exception leaving the block still restores the previous deadline."""
    clock = VirtualClock()
    with pytest.raises(KeyError), deadline_scope(1.0, clock):
        raise KeyError("boom")
    assert remaining() is None


def test_default_clock_is_monotonic() -> None:
    """deadline_scope without a clock sets the deadline on the monotonic clock."""
    with deadline_scope(60.0) as deadline:
        left = remaining()
        assert left is not None
        assert 0.0 < left <= 60.0
        assert deadline - MONOTONIC.now() <= 60.0


@pytest.mark.parametrize(
    ("wait", "left", "expected"),
    [(5.0, None, 5.0), (5.0, 2.0, 2.0), (1.0, 2.0, 1.0), (5.0, -1.0, 0.0), (0.0, 3.0, 0.0)],
)
def test_bounded_wait(wait: float, left: float | None, expected: float) -> None:
    """bounded_wait shortens a wait to the time left, never below zero."""
    clock = VirtualClock()
    if left is None:
        assert expected == bounded_wait(wait, clock)
        return
    # A deadline with ``left`` seconds to go (negative: passed that long ago).
    with deadline_scope(max(left, 0.0), clock):
        clock.advance(max(0.0, -left))
        assert expected == bounded_wait(wait, clock)


def test_deadline_is_per_context() -> None:
    """A deadline set in one context is invisible to code running in a fresh one."""
    clock = VirtualClock()
    fresh = contextvars.Context()
    with deadline_scope(1.0, clock):
        assert fresh.run(remaining) is None
        assert 1.0 == contextvars.copy_context().run(remaining)


def test_deadline_inherited_by_tasks() -> None:
    """asyncio tasks created inside a scope see its deadline; others do not."""
    clock = VirtualClock()

    async def left() -> float | None:
        return remaining()

    async def main() -> tuple[float | None, float | None]:
        with deadline_scope(3.0, clock):
            inside = asyncio.create_task(left())
        outside = asyncio.create_task(left())
        return await inside, await outside

    assert (3.0, None) == asyncio.run(main())
