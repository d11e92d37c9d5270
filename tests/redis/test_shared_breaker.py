"""SharedBreakerState: breakers of one name in several processes share one state via Redis."""

from __future__ import annotations

import logging
import multiprocessing
import time
from typing import Any

import pytest
from redis.client import Redis
from redis_engine import RedisServer

from reliant.exceptions import CircuitOpenError
from reliant.redis import SharedBreakerState
from reliant.resilience.circuit_breaker import CircuitBreaker, CircuitState
from reliant.resilience.windows import CountWindow
from reliant.testing import VirtualClock

INTERVAL = 0.5
OPEN_FOR = 10.0
#: Real-time bound for the multi-process test.
PROCESS_TIMEOUT = 5.0


class Boom(Exception):
    """The dependency failed."""


def breaker(url: str, clock: Any, name: str = "svc") -> CircuitBreaker:
    """A breaker opening after 2 failures in 2 calls, with its own SharedBreakerState."""
    shared = SharedBreakerState(url=url, sync_interval=INTERVAL)
    return CircuitBreaker(
        name=name,
        failure_rate=1.0,
        window=CountWindow(2),
        min_calls=2,
        half_open_calls=1,
        open_for=OPEN_FOR,
        clock=clock,
        shared=shared,
    )


def run(cb: CircuitBreaker, clock: VirtualClock, mode: str, fail: bool = False) -> str:
    """One call through the sync or asyncio driver; "ok", "failed" or "rejected"."""

    def fn() -> str:
        if fail:
            raise Boom
        return "ok"

    async def afn() -> str:
        return fn()

    try:
        if mode == "sync":
            return cb.call(fn)
        return clock.run(cb.acall(afn))
    except Boom:
        return "failed"
    except CircuitOpenError:
        return "rejected"


def trip(cb: CircuitBreaker, clock: VirtualClock, mode: str) -> None:
    """Fail twice: the breaker opens."""
    assert ["failed", "failed"] == [run(cb, clock, mode, fail=True) for _ in range(2)]


def test_tripping_one_opens_the_other_within_one_interval(
    server: RedisServer, client: Redis, mode: str
) -> None:
    """A trips; B still admits before its next poll and rejects once the interval passed."""
    clock = VirtualClock()
    a, b = breaker(server.url, clock), breaker(server.url, clock)
    assert ("ok", "ok") == (run(a, clock, mode), run(b, clock, mode))
    trip(a, clock, mode)
    assert "open" == a.state.value
    assert b"open" == client.hget("reliant:cb:svc", "state")
    clock.advance(INTERVAL / 2)
    assert "ok" == run(b, clock, mode)
    clock.advance(INTERVAL / 2)
    assert "rejected" == run(b, clock, mode)
    assert "open" == b.state.value


def test_force_open_and_reset_propagate(server: RedisServer, client: Redis, mode: str) -> None:
    """force_open() in A rejects in B after one interval; reset() in A closes B again."""
    clock = VirtualClock()
    a, b = breaker(server.url, clock), breaker(server.url, clock)
    assert "ok" == run(b, clock, mode)
    a.force_open()
    clock.advance(INTERVAL)
    assert "rejected" == run(b, clock, mode)
    assert "forced_open" == b.state.value
    a.reset()
    clock.advance(INTERVAL)
    assert "ok" == run(b, clock, mode)
    assert "closed" == b.state.value


def test_half_open_verdict_propagates(server: RedisServer, client: Redis, mode: str) -> None:
    """A's successful half-open trial closes B too, though B's own open period is running."""
    clock = VirtualClock()
    a, b = breaker(server.url, clock), breaker(server.url, clock)
    assert "ok" == run(b, clock, mode)
    trip(a, clock, mode)
    clock.advance(INTERVAL)
    assert "open" == b.state.value
    clock.advance(OPEN_FOR)
    assert "ok" == run(a, clock, mode)
    assert "closed" == a.state.value
    assert "closed" == b.state.value
    assert "ok" == run(b, clock, mode)


def test_a_second_trip_after_half_open_reopens_the_others(
    server: RedisServer, client: Redis, mode: str
) -> None:
    """A's failed half-open trial opens B again, which had turned half-open on its own."""
    clock = VirtualClock()
    a, b = breaker(server.url, clock), breaker(server.url, clock)
    trip(a, clock, mode)
    clock.advance(INTERVAL)
    assert "open" == b.state.value
    clock.advance(OPEN_FOR + INTERVAL)
    assert "failed" == run(a, clock, mode, fail=True)
    assert "open" == a.state.value
    assert b.try_acquire() is False
    assert "open" == b.state.value


def test_a_stale_local_verdict_does_not_overwrite_a_newer_remote_open(
    server: RedisServer, client: Redis
) -> None:
    """A's CLOSED verdict, published after a sync applied B's newer OPEN, is not written."""
    clock = VirtualClock()
    a, b = breaker(server.url, clock), breaker(server.url, clock)
    trip(a, clock, "sync")
    clock.advance(INTERVAL)
    assert "open" == b.state.value
    clock.advance(OPEN_FOR + INTERVAL)
    assert a.try_acquire() is True  # A's half-open trial starts
    assert "failed" == run(b, clock, "sync", fail=True)  # B's own trial fails: OPEN again
    assert b"open" == client.hget("reliant:cb:svc", "state")
    # The interleaving: A's trial succeeds, but its listener waits on the lock while a
    # sync applies B's OPEN; only then does the listener get to publish CLOSED.
    shared, core = a._shared, a._core
    assert shared is not None
    core.listener = None
    a.on_success(0.0)
    core.listener = shared._published
    assert "closed" == core.state.value
    shared.sync(clock.now())
    assert "open" == core.state.value
    shared._published(CircuitState.CLOSED, clock.now())
    assert [b"open", "open"] == [client.hget("reliant:cb:svc", "state"), a.state.value]


def test_redis_killed_both_keep_deciding_locally_then_resync(
    own_server: RedisServer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """No exception while Redis is dead, one log line each; A's trip is shared once it is back."""
    caplog.set_level(logging.WARNING, logger="reliant.redis")
    clock = VirtualClock()
    a, b = breaker(own_server.url, clock), breaker(own_server.url, clock)
    assert ("ok", "ok") == (run(a, clock, mode), run(b, clock, mode))
    own_server.kill()
    for _ in range(3):
        clock.advance(INTERVAL)
        assert ("ok", "ok") == (run(a, clock, mode), run(b, clock, mode))
    trip(a, clock, mode)
    clock.advance(INTERVAL)
    assert ("rejected", "ok") == (run(a, clock, mode), run(b, clock, mode))
    unavailable = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert 2 == len(unavailable)
    own_server.start()
    clock.advance(INTERVAL)
    assert "open" == a.state.value  # A's poll writes its local OPEN back
    clock.advance(INTERVAL)
    assert "rejected" == run(b, clock, mode)


def test_invalid_options_and_double_binding_are_refused(server: RedisServer) -> None:
    """sync_interval must be positive; one SharedBreakerState serves one breaker."""
    with pytest.raises(ValueError, match="SharedBreakerState: sync_interval"):
        SharedBreakerState(url=server.url, sync_interval=0)
    with pytest.raises(ValueError, match="client or url"):
        SharedBreakerState()
    shared = SharedBreakerState(url=server.url)
    CircuitBreaker(name="x", shared=shared)
    with pytest.raises(ValueError, match="already bound"):
        CircuitBreaker(name="y", shared=shared)


# -- two real processes ---------------------------------------------------------------


def _tripper(url: str, ready: Any, go: Any, tripped: Any) -> None:
    """Process A: trip the shared breaker when told, then say so."""
    cb = breaker(url, None, name="mp")
    cb.try_acquire()  # first sync: connect and load the scripts
    ready.wait(timeout=PROCESS_TIMEOUT)
    go.wait(timeout=PROCESS_TIMEOUT)
    for _ in range(2):
        cb.acquire()
        cb.on_error(0.0, Boom())
    tripped.set()


def _watcher(url: str, ready: Any, go: Any, tripped: Any, out: Any) -> None:
    """Process B: poll its breaker's state in a bounded loop; report the delay after the trip."""
    cb = breaker(url, None, name="mp")
    cb.try_acquire()
    ready.wait(timeout=PROCESS_TIMEOUT)
    go.wait(timeout=PROCESS_TIMEOUT)
    tripped.wait(timeout=PROCESS_TIMEOUT)
    start = time.monotonic()
    deadline = start + PROCESS_TIMEOUT
    while cb.state.value != "open" and time.monotonic() < deadline:
        time.sleep(0.005)  # the real-time polling loop under test, bounded by the deadline
    out.put(time.monotonic() - start if cb.state.value == "open" else -1.0)


def test_two_processes_one_trips_the_other_sees_open(server: RedisServer, client: Redis) -> None:
    """Spawned process A trips; spawned process B sees OPEN within one sync interval."""
    ctx = multiprocessing.get_context("spawn")
    ready, go = ctx.Barrier(2), ctx.Barrier(2)
    tripped, out = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_tripper, args=(server.url, ready, go, tripped)),
        ctx.Process(target=_watcher, args=(server.url, ready, go, tripped, out)),
    ]
    for p in procs:
        p.start()
    try:
        delay = out.get(timeout=30)
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    assert 0.0 <= delay <= INTERVAL + 0.25
    assert [0, 0] == [p.exitcode for p in procs]


def test_a_bad_url_is_refused_at_construction() -> None:
    """A URL redis-py cannot parse is a ValueError at construction, not at the first call."""
    with pytest.raises(ValueError, match="SharedBreakerState: url must"):
        SharedBreakerState(url="redis//127.0.0.1:6379")
