"""The in-memory backend: bounded keys, eviction order, atomic decisions."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator

import pytest

from reliant._core.clock import MONOTONIC
from reliant.resilience.ratelimit import MemoryBackend, RateLimitBackend, RateLimiter
from reliant.testing import VirtualClock

T = 10_000_000  # 10 s per request, in µs


def test_is_a_rate_limit_backend() -> None:
    """MemoryBackend satisfies the RateLimitBackend protocol."""
    assert isinstance(MemoryBackend(), RateLimitBackend)


@pytest.mark.parametrize("algorithm", ["gcra", "token_bucket", "sliding_window"])
def test_holds_at_most_max_keys_per_algorithm(algorithm: str) -> None:
    """However many keys are used, a table never holds more than max_keys."""
    clock = VirtualClock()
    backend = MemoryBackend(max_keys=50, clock=clock)
    rl = getattr(RateLimiter, algorithm)(rate=1, per=10.0, backend=backend)
    for i in range(1000):
        rl.try_acquire(f"user-{i}")
        clock.advance(0.001)
        assert len(backend) <= 50
    assert 50 == len(backend)


def test_recovered_keys_are_evicted_before_busy_ones() -> None:
    """A key whose state has fully recovered goes before any key still limited."""
    clock = VirtualClock()
    backend = MemoryBackend(max_keys=3, clock=clock)
    backend.gcra("a", T, T, 1)
    backend.gcra("b", T, T, 1)
    clock.advance(5.0)
    backend.gcra("c", T, T, 1)
    clock.advance(6.0)  # a and b recovered at t=10; c is limited until t=15
    backend.gcra("d", T, T, 1)
    assert 2 == len(backend)
    assert [0, 0] == [backend.gcra(k, T, T, 0).remaining for k in "cd"]


def test_least_recently_used_key_is_evicted_when_none_recovered() -> None:
    """With every key limited, the one decided on longest ago is dropped."""
    clock = VirtualClock()
    backend = MemoryBackend(max_keys=3, clock=clock)
    for key in ("a", "b", "c"):
        backend.gcra(key, T, T, 1)
    clock.advance(1.0)
    backend.gcra("a", T, T, 1)  # denied, but used: "b" is now the oldest
    backend.gcra("d", T, T, 1)
    # A peek (cost 0) shows a key's state without adding it: 1 left means forgotten.
    assert {"a": 0, "b": 1, "c": 0, "d": 0} == {
        k: backend.gcra(k, T, T, 0).remaining for k in "abcd"
    }


def test_peeks_and_denials_never_add_keys() -> None:
    """Only an admitted request with cost > 0 stores state."""
    backend = MemoryBackend(clock=VirtualClock())
    backend.gcra("peek", T, T, 0)
    backend.token_bucket("never", T, 1, 2)
    backend.sliding_window("never", 1, T, 2)
    assert 0 == len(backend)


def test_clear_forgets_every_key() -> None:
    """clear() empties every table."""
    backend = MemoryBackend(clock=VirtualClock())
    backend.gcra("a", T, T, 1)
    backend.token_bucket("a", T, 1, 1)
    backend.sliding_window("a", 1, T, 1)
    assert 3 == len(backend)
    backend.clear()
    assert (0, True) == (len(backend), backend.gcra("a", T, T, 1).allowed)
    assert "MemoryBackend(max_keys=100000, keys=1)" == repr(backend)


def test_async_variants_make_the_same_decisions() -> None:
    """agcra / atoken_bucket / asliding_window decide exactly like the sync methods."""
    sync, async_ = MemoryBackend(clock=VirtualClock()), MemoryBackend(clock=VirtualClock())

    async def decide() -> list[object]:
        return [
            await async_.agcra("k", T, 2 * T, 1),
            await async_.atoken_bucket("k", T, 2, 3),
            await async_.asliding_window("k", 1, T, 1),
        ]

    expected = [
        sync.gcra("k", T, 2 * T, 1),
        sync.token_bucket("k", T, 2, 3),
        sync.sliding_window("k", 1, T, 1),
    ]
    assert expected == asyncio.run(decide())


def test_default_clock_is_monotonic() -> None:
    """Without a clock the backend reads the process's monotonic clock."""
    backend = MemoryBackend()
    assert MONOTONIC is backend.clock
    assert backend.gcra("k", T, T, 1).allowed
    assert not backend.gcra("k", T, T, 1).allowed


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_keys": 0}, "MemoryBackend: max_keys must be an integer >= 1, got 0"),
        ({"max_keys": 1.5}, "MemoryBackend: max_keys must be an integer >= 1, got 1.5"),
        ({"clock": object()}, "MemoryBackend: clock must have now(), sleep() and asleep()"),
    ],
)
def test_bad_options_raise(options: dict[str, object], message: str) -> None:
    """Invalid options are rejected at construction, by name and range."""
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        MemoryBackend(**options)  # type: ignore[arg-type]


@pytest.fixture
def tight_switching() -> Iterator[None]:
    """Switch threads as often as CPython allows, to provoke races."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


@pytest.mark.usefixtures("tight_switching")
@pytest.mark.parametrize("algorithm", ["gcra", "token_bucket", "sliding_window"])
def test_concurrent_decisions_never_over_admit(algorithm: str) -> None:
    """Eight threads racing on one key get exactly the allowance, no more."""
    clock = VirtualClock()  # frozen: only the burst can be admitted
    rl = getattr(RateLimiter, algorithm)(rate=2000, per=1000.0, clock=clock)
    admitted = [0] * 8
    start = threading.Barrier(8)

    def worker(i: int) -> None:
        start.wait()
        for _ in range(500):
            if rl.try_acquire("shared").allowed:
                admitted[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 2000 == sum(admitted)
