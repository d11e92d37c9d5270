"""Token-bucket decisions at their boundaries, hand-computed, on a virtual clock."""

from __future__ import annotations

import math
import random

import pytest

from reliant.resilience.ratelimit import Decision, MemoryBackend, RateLimiter
from reliant.testing import VirtualClock


def test_full_bucket_empties_then_denies() -> None:
    """A new key holds `burst` tokens; each request takes one; empty waits for a refill."""
    rl = RateLimiter.token_bucket(rate=4, burst=2, clock=VirtualClock())
    assert [
        Decision(True, 1, 0.0, 0.25),
        Decision(True, 0, 0.0, 0.5),
        Decision(False, 0, 0.25, 0.5),
    ] == [rl.try_acquire() for _ in range(3)]


def test_refill_is_continuous_and_capped() -> None:
    """Tokens come back at rate/per and never above the capacity."""
    clock = VirtualClock()
    rl = RateLimiter.token_bucket(rate=4, burst=2, clock=clock)
    rl.try_acquire(cost=2)
    clock.advance(0.125)  # half a token
    assert Decision(False, 0, 0.125, 0.375) == rl.try_acquire()
    clock.advance(10.0)
    assert Decision(True, 1, 0.0, 0.25) == rl.try_acquire()


def test_refill_stops_exactly_at_capacity() -> None:
    """One µs after reset_after the bucket is full, not fuller."""
    clock = VirtualClock()
    rl = RateLimiter.token_bucket(rate=4, burst=2, clock=clock)
    clock.advance(rl.try_acquire().reset_after + 1e-06)
    assert Decision(True, 1, 0.0, 0.25) == rl.try_acquire()


def test_cost_above_one_and_partial_tokens() -> None:
    """cost=3 needs three whole tokens; retry_after is the time to refill the shortfall."""
    clock = VirtualClock()
    rl = RateLimiter.token_bucket(rate=10, burst=5, clock=clock)
    assert Decision(True, 2, 0.0, 0.3) == rl.try_acquire(cost=3)
    assert Decision(False, 2, 0.1, 0.3) == rl.try_acquire(cost=3)
    clock.advance(0.05)
    assert Decision(False, 2, 0.05, 0.25) == rl.try_acquire(cost=3)


def test_cost_zero_peeks_and_cost_beyond_capacity_never_passes() -> None:
    """cost=0 reports without taking; cost > burst is denied with retry_after = inf."""
    backend = MemoryBackend(clock=VirtualClock())
    rl = RateLimiter.token_bucket(rate=10, burst=5, backend=backend)
    assert Decision(True, 5, 0.0, 0.0) == rl.try_acquire(cost=0)
    assert Decision(False, 5, math.inf, 0.0) == rl.try_acquire(cost=6)
    assert 0 == len(backend)


def test_backend_takes_integer_microsecond_parameters() -> None:
    """MemoryBackend.token_bucket(key, emission_us, capacity, cost) decides directly."""
    backend = MemoryBackend(clock=VirtualClock())
    assert Decision(True, 1, 0.0, 0.25) == backend.token_bucket("k", 250_000, 2, 1)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_decisions_equal_gcra_with_the_same_burst(seed: int) -> None:
    """A token bucket of capacity b and GCRA with burst b agree on every decision."""
    rng = random.Random(seed)
    clock = VirtualClock()
    bucket = RateLimiter.token_bucket(rate=7, burst=4, clock=clock)
    gcra = RateLimiter.gcra(rate=7, burst=4, clock=clock)
    for _ in range(300):
        clock.advance(rng.choice([0.0, 0.0, 0.01, 0.05, 0.2, 1.0]))
        cost = rng.randint(0, 5)
        assert gcra.try_acquire(cost=cost) == bucket.try_acquire(cost=cost)
