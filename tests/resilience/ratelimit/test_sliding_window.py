"""Sliding-window counter decisions at their boundaries, hand-computed."""

from __future__ import annotations

import math

from reliant.resilience.ratelimit import Decision, MemoryBackend, RateLimiter
from reliant.testing import VirtualClock


def test_rate_requests_pass_in_a_fresh_window() -> None:
    """With no history, `rate` requests pass; the next waits for the window to turn."""
    clock = VirtualClock()
    rl = RateLimiter.sliding_window(rate=3, per=1.0, clock=clock)
    assert [True, True, True] == [rl.try_acquire().allowed for _ in range(3)]
    # At t=1 prev becomes 3: 3 * (W - e) // W + 1 <= 3 holds from e = 1 µs, and the
    # estimate reaches 0 when 3 * (W - e) < W, from e = 666 667 µs.
    assert Decision(False, 0, 1.000001, 1.666667) == rl.try_acquire()


def test_previous_window_is_weighted_by_its_overlap() -> None:
    """Half-way through the next window, half of the previous count still weighs."""
    clock = VirtualClock()
    rl = RateLimiter.sliding_window(rate=10, per=1.0, clock=clock)
    for _ in range(10):
        rl.try_acquire()
    clock.advance(1.5)
    assert [True] * 5 + [False] == [rl.try_acquire().allowed for _ in range(6)]
    # 10 * (W - e) // W + 5 + 1 <= 10 first holds at e = 500 001 µs; the 5 of this
    # window weigh nothing in the next once 5 * (W - e) < W, from e = 800 001 µs.
    assert Decision(False, 0, 1e-06, 1.300001) == rl.try_acquire()
    clock.advance(1e-06)
    # Now 6 in this window: 6 * (W - e) < W from e = 833 334 µs of the next.
    assert Decision(True, 0, 0.0, 1.333333) == rl.try_acquire()


def test_remaining_and_reset_after() -> None:
    """remaining is rate - estimate - cost; reset_after is when the estimate is back to 0."""
    clock = VirtualClock()
    rl = RateLimiter.sliding_window(rate=4, per=2.0, clock=clock)
    clock.advance(0.5)
    # cur 2 at e = 0.5 s; next window prev=2 weighs 0 once 2 * (W - e) < W: e > 1 s.
    assert Decision(True, 2, 0.0, 2.500001) == rl.try_acquire(cost=2)
    assert Decision(True, 2, 0.0, 2.500001) == rl.try_acquire(cost=0)


def test_history_is_forgotten_after_two_windows() -> None:
    """Two full windows later a key is back to its whole allowance."""
    clock = VirtualClock()
    rl = RateLimiter.sliding_window(rate=2, per=1.0, clock=clock)
    rl.try_acquire(cost=2)
    clock.advance(2.0)
    assert Decision(True, 0, 0.0, 1.500001) == rl.try_acquire(cost=2)


def test_cost_beyond_rate_is_never_admitted_and_peek_stores_nothing() -> None:
    """cost > rate is denied with retry_after = inf; cost=0 does not create the key."""
    backend = MemoryBackend(clock=VirtualClock())
    rl = RateLimiter.sliding_window(rate=3, backend=backend)
    assert Decision(False, 3, math.inf, 0.0) == rl.try_acquire(cost=4)
    assert Decision(True, 3, 0.0, 0.0) == rl.try_acquire(cost=0)
    assert 0 == len(backend)


def test_backend_takes_integer_microsecond_parameters() -> None:
    """MemoryBackend.sliding_window(key, limit, window_us, cost) decides directly."""
    backend = MemoryBackend(clock=VirtualClock())
    # The next window weighs the 1 request as 1 * (W - e) // W: 0 from e = 1 µs.
    assert Decision(True, 1, 0.0, 0.500001) == backend.sliding_window("k", 2, 500_000, 1)


def test_heavy_previous_window_waits_for_the_next_window() -> None:
    """When the weighted previous count cannot fall enough in time, wait for the turn."""
    clock = VirtualClock()
    rl = RateLimiter.sliding_window(rate=2, per=1e-06, clock=clock)  # 1 µs windows
    rl.try_acquire(cost=2)
    clock.advance(1e-06)
    # prev = 2 weighs 2 * (1 - 0) // 1 = 2 for the whole window: retry at the next,
    # where it has rolled away (this window admitted nothing).
    assert Decision(False, 0, 1e-06, 1e-06) == rl.try_acquire()
