"""Redis failing is a decided case: the fail mode answers, nothing leaks, recovery is automatic."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

import pytest
from redis_engine import RedisServer, free_port

from reliant.redis import RedisBackend
from reliant.resilience.breaker_state import CircuitState
from reliant.resilience.ratelimit import Decision
from reliant.testing import VirtualClock

#: One request per minute, burst 2.
REQUEST = ("k", 60_000_000, 120_000_000, 1)
OPEN = Decision(True, 0, 0.0, 0.0)


def _once(backend: RedisBackend, coro: Coroutine[Any, Any, Any]) -> Any:
    """Run one async call on a fresh loop, closing the loop-bound client after it."""

    async def main() -> Any:
        try:
            return await coro
        finally:
            await backend.aclose()

    return asyncio.run(main())


def decide(backend: RedisBackend, mode: str) -> Decision:
    """One GCRA decision for REQUEST through the sync or the asyncio method."""
    if mode == "sync":
        return backend.gcra(*REQUEST)
    return _once(backend, backend.agcra(*REQUEST))  # type: ignore[no-any-return]


def decide_many(backend: RedisBackend, mode: str) -> list[Decision]:
    """A batch of two REQUESTs through the sync or the asyncio method."""
    if mode == "sync":
        return backend.gcra_many([REQUEST, REQUEST])
    return _once(backend, backend.agcra_many([REQUEST, REQUEST]))  # type: ignore[no-any-return]


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage().split(" (")[0] for r in caplog.records if r.name == "reliant.redis"]


@pytest.mark.parametrize("fail_mode", ["open", "closed", "local"])
def test_killing_redis_gives_the_fail_mode_then_recovers(
    own_server: RedisServer, mode: str, fail_mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Killed mid-run: fail-mode decisions, no exception, one log line; back when Redis is."""
    caplog.set_level(logging.WARNING, logger="reliant.redis")
    clock = VirtualClock()
    backend = RedisBackend.from_url(
        own_server.url,
        fail_mode=fail_mode,
        clock=clock,
        retry_interval=5.0,  # type: ignore[arg-type]
    )
    assert [True, True, False] == [decide(backend, mode).allowed for _ in range(3)]
    own_server.kill()
    during = [decide(backend, mode) for _ in range(6)] + decide_many(backend, mode)
    if fail_mode == "open":
        assert [OPEN] * 8 == during
    elif fail_mode == "closed":
        assert [False] * 8 == [d.allowed for d in during]
        assert all(0 < d.retry_after <= 5.0 for d in during)
    else:  # a fresh in-process limiter: its own burst of 2, then denials
        assert [True, True] + [False] * 6 == [d.allowed for d in during]
    assert CircuitState.OPEN == backend.breaker.state
    assert not backend.healthy

    own_server.start()  # same port, empty (no persistence)
    clock.advance(5.1)  # the breaker lets one trial call through
    assert Decision(True, 1, 0.0, 60.0) == decide(backend, mode)
    assert backend.healthy
    assert [True, False] == [d.allowed for d in decide_many(backend, mode)]
    assert [
        "reliant.redis: Redis unavailable",
        "reliant.redis: Redis answers again; deciding in Redis",
    ] == _messages(caplog)


def test_an_unreachable_redis_never_raises(mode: str) -> None:
    """With nothing listening, every call is answered by the fail mode, quickly."""
    backend = RedisBackend.from_url(f"redis://127.0.0.1:{free_port()}/0", fail_mode="open")
    assert [OPEN] * 5 == [decide(backend, mode) for _ in range(5)]
    assert [OPEN, OPEN] == decide_many(backend, mode)
    assert CircuitState.OPEN == backend.breaker.state


def test_fail_closed_denies_with_the_breaker_wait(mode: str) -> None:
    """Fail-closed denies; once the breaker is open retry_after is its remaining open time."""
    clock = VirtualClock()
    url = f"redis://127.0.0.1:{free_port()}/0"
    backend = RedisBackend.from_url(url, fail_mode="closed", retry_interval=2.0, clock=clock)
    for _ in range(3):
        decide(backend, mode)
    clock.advance(0.5)
    assert Decision(False, 0, 1.5, 1.5) == decide(backend, mode)
