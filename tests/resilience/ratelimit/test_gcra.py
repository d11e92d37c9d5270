"""GCRA decisions at their boundaries, hand-computed, on a virtual clock."""

from __future__ import annotations

import math

import pytest

from reliant.resilience.ratelimit import Decision, MemoryBackend, RateLimiter
from reliant.testing import VirtualClock


def limiter(clock: VirtualClock, **options: float) -> RateLimiter:
    return RateLimiter.gcra(clock=clock, **options)  # type: ignore[arg-type]


def test_burst_is_admitted_at_once_then_denied() -> None:
    """From idle exactly `burst` requests pass; the next waits one emission interval."""
    clock = VirtualClock()
    rl = limiter(clock, rate=10, burst=3)
    assert [
        Decision(True, 2, 0.0, 0.1),
        Decision(True, 1, 0.0, 0.2),
        Decision(True, 0, 0.0, 0.3),
        Decision(False, 0, 0.1, 0.3),
    ] == [rl.try_acquire() for _ in range(4)]


def test_retry_after_shrinks_as_time_passes() -> None:
    """A denied request's retry_after is allow_at - now, to the microsecond."""
    clock = VirtualClock()
    rl = limiter(clock, rate=10, burst=3)
    for _ in range(3):
        rl.try_acquire()
    clock.advance(0.04)
    assert Decision(False, 0, 0.06, 0.26) == rl.try_acquire()
    clock.advance(0.06)
    assert Decision(True, 0, 0.0, 0.3) == rl.try_acquire()


def test_emission_interval_restores_one_request() -> None:
    """After T = per/rate one more request passes; after reset_after the full burst does."""
    clock = VirtualClock()
    rl = limiter(clock, rate=5, per=60.0, burst=2)  # T = 12 s
    assert [True, True, False] == [rl.try_acquire().allowed for _ in range(3)]
    clock.advance(12.0)
    assert Decision(True, 0, 0.0, 24.0) == rl.try_acquire()
    clock.advance(24.0)
    assert [True, True, False] == [rl.try_acquire().allowed for _ in range(3)]


def test_redis_cell_readme_example() -> None:
    """CL.THROTTLE user123 15 30 60 1 -> allowed, remaining 15, reset 2 s (limit 16)."""
    rl = limiter(VirtualClock(), rate=30, per=60.0, burst=16)
    assert Decision(True, 15, 0.0, 2.0) == rl.try_acquire("user123")


def test_cost_above_one_takes_that_many_intervals() -> None:
    """cost=2 moves tat by 2T; a denied cost-2 request reports the current remaining."""
    clock = VirtualClock()
    rl = limiter(clock, rate=10, burst=3)
    assert Decision(True, 1, 0.0, 0.2) == rl.try_acquire(cost=2)
    assert Decision(False, 1, 0.1, 0.2) == rl.try_acquire(cost=2)
    assert Decision(True, 0, 0.0, 0.3) == rl.try_acquire(cost=1)


def test_cost_zero_peeks_without_taking() -> None:
    """cost=0 is always allowed, reports the state and changes nothing."""
    clock = VirtualClock()
    backend = MemoryBackend(clock=clock)
    rl = RateLimiter.gcra(rate=10, burst=3, backend=backend)
    assert Decision(True, 3, 0.0, 0.0) == rl.try_acquire(cost=0)
    assert 0 == len(backend)
    rl.try_acquire()
    assert [Decision(True, 2, 0.0, 0.1)] * 2 == [rl.try_acquire(cost=0) for _ in range(2)]
    rl.try_acquire(cost=2)
    assert Decision(True, 0, 0.0, 0.3) == rl.try_acquire(cost=0)


def test_cost_beyond_burst_is_never_admitted() -> None:
    """cost * T > tau is denied with retry_after = inf even from idle; cost == burst passes."""
    rl = limiter(VirtualClock(), rate=10, burst=3)
    assert Decision(False, 3, math.inf, 0.0) == rl.try_acquire(cost=4)
    assert Decision(True, 0, 0.0, 0.3) == rl.try_acquire(cost=3)


@pytest.mark.parametrize(("rate", "burst"), [(0.5, 1), (1, 1), (2.5, 3), (100, 100)])
def test_default_burst_is_one_window_of_requests(rate: float, burst: int) -> None:
    """Without burst=, ceil(rate) requests (at least 1) are admitted from idle."""
    rl = limiter(VirtualClock(), rate=rate)
    assert burst == rl.options.burst
    assert burst == sum(rl.try_acquire().allowed for _ in range(burst + 5))


def test_keys_are_independent() -> None:
    """Each key has its own allowance."""
    rl = limiter(VirtualClock(), rate=1, burst=1)
    assert [True, True, False, False] == [rl.try_acquire(k).allowed for k in ("a", "b", "a", "b")]


def test_emission_interval_rounds_up_to_the_microsecond() -> None:
    """rate=3/s gives T = 333 334 µs: never faster than the rate asked for."""
    clock = VirtualClock()
    rl = limiter(clock, rate=3, burst=1)
    rl.try_acquire()
    clock.advance(0.333333)
    assert Decision(False, 0, 1e-06, 1e-06) == rl.try_acquire()
    clock.advance(0.000001)
    assert rl.try_acquire().allowed


def test_backend_takes_integer_microsecond_parameters() -> None:
    """MemoryBackend.gcra(key, emission_us, tolerance_us, cost) is the decision itself."""
    backend = MemoryBackend(clock=VirtualClock())
    assert Decision(True, 1, 0.0, 0.25) == backend.gcra("k", 250_000, 500_000, 1)
    assert Decision(False, 1, 0.25, 0.25) == backend.gcra("k", 250_000, 500_000, 2)
