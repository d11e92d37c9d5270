"""RateLimiter.reconfigure: new rate, period or burst at run time, and what keys keep."""

from __future__ import annotations

from typing import Any

import pytest

from reliant.exceptions import RateLimitedError
from reliant.resilience.ratelimit import Decision, MemoryBackend, RateLimiter
from reliant.resilience.ratelimit import gcra as gcra_algorithm
from reliant.resilience.ratelimit import sliding_window as sw_algorithm
from reliant.resilience.ratelimit import token_bucket as tb_algorithm
from reliant.resilience.ratelimit.limiter import RateLimiterOptions
from reliant.testing import VirtualClock, capture_events


def ok() -> str:
    return "ok"


def call(mode: str, rl: RateLimiter, clock: VirtualClock) -> Any:
    """Call through the limiter with call() or acall()."""
    if mode == "sync":
        return rl.call(ok)

    async def aok() -> str:
        return "ok"

    return clock.run(rl.acall(aok))


def test_omitted_options_keep_their_values() -> None:
    """Only the options given change; options and describe() show the new ones."""
    rl = RateLimiter.gcra(rate=10, per=2.0, burst=4, max_wait=0.5, clock=VirtualClock())
    options = rl.reconfigure(rate=20)
    expected = RateLimiterOptions(algorithm="gcra", rate=20, per=2.0, burst=4, max_wait=0.5)
    assert expected == options
    assert expected == rl.options
    assert (20, 2.0, 4) == (rl.describe()["rate"], rl.describe()["per"], rl.describe()["burst"])


def test_an_invalid_value_leaves_the_limiter_unchanged() -> None:
    """A bad value raises ValueError naming it; the limiter keeps deciding as before."""
    clock = VirtualClock()
    rl = RateLimiter.gcra(rate=1, burst=1, clock=clock)
    with pytest.raises(ValueError, match=r"RateLimiter\.gcra: burst must be an integer >= 1"):
        rl.reconfigure(burst=0)
    assert 1 == rl.options.rate
    assert rl.try_acquire().allowed
    assert not rl.try_acquire().allowed


def test_a_sliding_window_refuses_a_burst() -> None:
    """burst= has no meaning for the sliding window."""
    rl = RateLimiter.sliding_window(rate=10, clock=VirtualClock())
    with pytest.raises(ValueError, match="burst must be None"):
        rl.reconfigure(burst=3)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_call_obeys_the_new_rate_at_once(mode: str) -> None:
    """The call() hot path decides with the new parameters from the next call on."""
    clock = VirtualClock()
    rl = RateLimiter.gcra(rate=1, burst=1, clock=clock)
    assert "ok" == call(mode, rl, clock)
    with pytest.raises(RateLimitedError):
        call(mode, rl, clock)
    rl.reconfigure(burst=2)
    assert "ok" == call(mode, rl, clock)
    with pytest.raises(RateLimitedError):
        call(mode, rl, clock)


def test_gcra_keys_keep_the_requests_in_use_draining_at_the_new_rate() -> None:
    """A key that used 1 request at 1/s owes 0.1 s at 10/s, not a whole second."""
    clock = VirtualClock()
    rl = RateLimiter.gcra(rate=1, burst=1, clock=clock)
    rl.try_acquire("k")
    assert 1.0 == rl.try_acquire("k").retry_after
    rl.reconfigure(rate=10)
    assert Decision(False, 0, pytest.approx(0.1), pytest.approx(0.1)) == rl.try_acquire("k")
    clock.advance(0.1)
    assert rl.try_acquire("k").allowed


def test_gcra_lowering_the_rate_keeps_requests_in_use() -> None:
    """5 of 100 in use stay 5 in use out of a new burst of 10."""
    clock = VirtualClock()
    rl = RateLimiter.gcra(rate=100, burst=100, clock=clock)
    rl.try_acquire("k", cost=5)
    rl.reconfigure(rate=10, burst=10)
    assert 4 == rl.try_acquire("k").remaining


def test_gcra_requests_in_use_are_capped_at_the_new_burst() -> None:
    """A key that used all 100 is full at a burst of 10: it waits one new interval."""
    clock = VirtualClock()
    rl = RateLimiter.gcra(rate=100, burst=100, clock=clock)
    rl.try_acquire("k", cost=100)
    rl.reconfigure(rate=10, burst=10)
    decision = rl.try_acquire("k")
    assert (False, pytest.approx(0.1)) == (decision.allowed, decision.retry_after)


def test_token_bucket_keys_keep_the_tokens_taken() -> None:
    """10 tokens taken from a bucket of 10 are 10 taken from a bucket of 100."""
    clock = VirtualClock()
    rl = RateLimiter.token_bucket(rate=10, burst=10, clock=clock)
    rl.try_acquire("k", cost=10)
    rl.reconfigure(rate=100, burst=100)
    assert Decision(True, 89, 0.0, pytest.approx(0.11)) == rl.try_acquire("k")


def test_sliding_window_counts_apply_to_a_new_limit() -> None:
    """5 requests in the window leave 1 under a new limit of 6."""
    clock = VirtualClock()
    rl = RateLimiter.sliding_window(rate=10, clock=clock)
    rl.try_acquire("k", cost=5)
    rl.reconfigure(rate=6)
    assert not rl.try_acquire("k", cost=2).allowed
    assert (True, 0) == rl.try_acquire("k")[:2]


def test_sliding_window_requests_in_use_fade_over_a_new_window() -> None:
    """On a new window length the weighted count becomes the new previous window."""
    clock = VirtualClock(0.5)
    rl = RateLimiter.sliding_window(rate=10, per=1.0, clock=clock)
    rl.try_acquire("k", cost=10)
    rl.reconfigure(per=2.0)
    # 10 in the previous window, weighted by the 1.5 s of 2 s left: 7 in use.
    assert 3 == rl.try_acquire("k", cost=0).remaining
    clock.advance(1.5)
    assert 10 == rl.try_acquire("k", cost=0).remaining


def test_only_the_reconfigured_limiters_keys_are_rescaled() -> None:
    """On a shared memory backend, another limiter's keys are left alone."""
    clock = VirtualClock()
    backend = MemoryBackend(clock=clock)
    a = RateLimiter.gcra(rate=1, burst=1, backend=backend, name="a")
    b = RateLimiter.gcra(rate=1, burst=1, backend=backend, name="b")
    a.try_acquire("k")
    b.try_acquire("k")
    a.reconfigure(rate=10)
    assert pytest.approx(0.1) == a.try_acquire("k").retry_after
    assert 1.0 == b.try_acquire("k").retry_after


def test_reconfigure_emits_an_event() -> None:
    """rate_limiter.reconfigured carries the new rate, per and burst."""
    rl = RateLimiter.gcra(rate=1, name="inbound", clock=VirtualClock())
    with capture_events(kinds=["rate_limiter.reconfigured"]) as events:
        rl.reconfigure(rate=50, burst=10)
    assert [("inbound", {"rate": 50, "per": 1.0, "burst": 10})] == [
        (e.policy, dict(e.attributes)) for e in events
    ]


def test_memory_backend_rescale_counts_keys_and_skips_no_change() -> None:
    """rescale() returns how many keys it carried over; equal parameters change nothing."""
    clock = VirtualClock()
    backend = MemoryBackend(clock=clock)
    rl = RateLimiter.gcra(rate=1, burst=1, backend=backend, name="x")
    rl.try_acquire("1")
    rl.try_acquire("2")
    assert 0 == backend.rescale("token_bucket", "x:", (1, 1), (2, 2))
    assert 0 == backend.rescale("gcra", "x:", (1, 1), (1, 1))
    assert 2 == backend.rescale("gcra", "x:", (1_000_000, 1_000_000), (100_000, 100_000))


def test_algorithm_rescale_functions_leave_idle_state_alone() -> None:
    """Recovered state carries no requests in use, whatever the new parameters."""
    assert 5 == gcra_algorithm.rescale(5, 10, (100, 100), (10, 10))
    assert (50, 20) == tb_algorithm.rescale((50, 10), 20, (10, 5), (10, 5))
    assert (0, 0, 3) == sw_algorithm.rescale((0, 0, 3), 5, (10, 100), (20, 100))


def test_rescale_covers_every_key_across_chunks() -> None:
    """Keys beyond one chunk of the lock are carried over too."""
    from reliant.resilience.ratelimit.memory import RESCALE_CHUNK

    clock = VirtualClock()
    rl = RateLimiter.gcra(rate=1, burst=1, clock=clock)
    keys = [f"k{i}" for i in range(RESCALE_CHUNK + 10)]
    for key in keys:
        rl.try_acquire(key)
    rl.reconfigure(rate=10)
    first, last = rl.try_acquire(keys[0]), rl.try_acquire(keys[-1])
    assert [pytest.approx(0.1)] * 2 == [first.retry_after, last.retry_after]
