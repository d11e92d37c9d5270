"""Automatic pipelining: concurrent asyncio decisions share round trips, exactly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from redis.client import Redis
from redis_engine import RedisServer

from reliant.redis import RedisBackend
from reliant.resilience.ratelimit import Decision
from reliant.testing import VirtualClock

#: One request per minute: the burst alone decides what is admitted.
MINUTE_US = 60_000_000
OPEN = Decision(True, 0, 0.0, 0.0)


def _counting(backend: RedisBackend) -> list[int]:
    """Count (and size) the batches ``backend`` sends; returns the list of sizes."""
    sizes: list[int] = []
    send = backend.adecide_many

    async def counted(algorithm: Any, requests: Sequence[Any]) -> list[Decision]:
        sizes.append(len(requests))
        return await send(algorithm, requests)

    backend.adecide_many = counted  # type: ignore[method-assign]
    return sizes


def _gather(backend: RedisBackend, calls: Sequence[Callable[[], Awaitable[Decision]]]) -> Any:
    """Run ``calls`` as concurrent tasks on a fresh loop; their Decisions in order."""

    async def main() -> list[Decision]:
        try:
            return list(await asyncio.gather(*(call() for call in calls)))
        finally:
            await backend.aclose()

    return asyncio.run(main())


def test_concurrent_callers_on_one_key_admit_exactly_the_burst(
    server: RedisServer, client: Redis
) -> None:
    """200 concurrent tasks on a key with a burst of 37 are admitted exactly 37 times."""
    backend = RedisBackend.from_url(server.url, read_timeout=2.0, fail_mode="closed")
    sizes = _counting(backend)
    burst = 37
    call = [lambda: backend.agcra("k", MINUTE_US, burst * MINUTE_US, 1)] * 200
    decisions = _gather(backend, call)
    assert burst == sum(d.allowed for d in decisions)
    assert [True] * burst + [False] * (200 - burst) == [d.allowed for d in decisions]
    assert [200] == sizes  # one round trip for the 200 decisions


@pytest.mark.parametrize("algorithm", ["gcra", "token_bucket", "sliding_window"])
def test_pipelined_decisions_equal_one_call_each(
    server: RedisServer, client: Redis, algorithm: str
) -> None:
    """Concurrent pipelined requests decide as the same requests awaited one by one."""
    params = {
        "gcra": (100_000, 500_000),
        "token_bucket": (100_000, 5),
        "sliding_window": (7, 250_000),
    }
    a, b = params[algorithm]
    steps = [(0.0, 12), (0.05, 3), (0.3, 20), (0.0, 1), (1.7, 9)]  # (advance, callers)

    def run(autopipeline: bool) -> list[Decision]:
        clock = VirtualClock(start=50.0)
        backend = RedisBackend.from_url(
            server.url,
            read_timeout=2.0,
            server_time=False,
            clock=clock,
            autopipeline=autopipeline,
            namespace=f"ap{autopipeline}:",
        )
        op = getattr(backend, "a" + algorithm)

        async def main() -> list[Decision]:
            out: list[Decision] = []
            for advance, callers in steps:
                clock.advance(advance)
                keys = [("x", "y")[i % 2] for i in range(callers)]
                calls = [op(k, a, b, 1 + i % 3) for i, k in enumerate(keys)]
                if autopipeline:  # concurrent: one batch per step
                    out += await asyncio.gather(*calls)
                else:  # one by one, in order
                    out += [await call for call in calls]
            await backend.aclose()
            return out

        return asyncio.run(main())

    assert run(False) == run(True)


def test_batches_are_bounded_and_keep_order(server: RedisServer, client: Redis) -> None:
    """600 callers in one tick go out as batches of 256, 256 and 88, decided in order."""
    backend = RedisBackend.from_url(server.url, read_timeout=2.0, fail_mode="closed")
    sizes = _counting(backend)
    call = [lambda: backend.agcra("k", MINUTE_US, 300 * MINUTE_US, 1)] * 600
    decisions = _gather(backend, call)
    assert [256, 256, 88] == sizes
    assert [True] * 300 + [False] * 300 == [d.allowed for d in decisions]


def test_autopipeline_off_sends_one_call_per_decision(server: RedisServer, client: Redis) -> None:
    """autopipeline=False decides each call in its own EVALSHA, never as a batch."""
    # Five connections open at once: a 50 ms connect timeout can lose to a GC pause.
    backend = RedisBackend.from_url(
        server.url, connect_timeout=2.0, read_timeout=2.0, autopipeline=False
    )
    sizes = _counting(backend)
    decisions = _gather(backend, [lambda: backend.agcra("k", MINUTE_US, 2 * MINUTE_US, 1)] * 5)
    assert 2 == sum(d.allowed for d in decisions)  # order across connections is not kept
    assert [] == sizes


def test_autopipeline_must_be_a_bool() -> None:
    """A non-bool autopipeline is rejected at construction, naming the option."""
    with pytest.raises(ValueError, match="RedisBackend: autopipeline must be True or False"):
        RedisBackend.from_url("redis://127.0.0.1:1/0", autopipeline="yes")


@pytest.mark.parametrize("fail_mode", ["open", "closed", "local"])
def test_redis_killed_during_a_batch_gives_every_caller_the_fail_mode(
    own_server: RedisServer, fail_mode: str
) -> None:
    """Redis dies as a batch is sent: each caller gets the fail-mode Decision, no exception."""
    backend = RedisBackend.from_url(
        own_server.url,
        fail_mode=fail_mode,  # type: ignore[arg-type]
        read_timeout=2.0,
        clock=VirtualClock(),
    )
    send = backend.adecide_many

    async def killing(algorithm: Any, requests: Sequence[Any]) -> list[Decision]:
        await backend.aclient.ping()  # the connection is open when Redis dies
        own_server.kill()
        return await send(algorithm, requests)

    backend.adecide_many = killing  # type: ignore[method-assign]
    decisions = _gather(backend, [lambda: backend.agcra("k", MINUTE_US, 2 * MINUTE_US, 1)] * 50)
    if fail_mode == "open":
        assert [OPEN] * 50 == decisions
    elif fail_mode == "closed":
        assert [False] * 50 == [d.allowed for d in decisions]
    else:  # the in-process limiter decides the batch in order: its burst of 2
        assert [True, True] + [False] * 48 == [d.allowed for d in decisions]
    assert not backend.healthy


def test_an_unexpected_error_in_a_batch_gives_the_fail_mode(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A batch that raises something unexpected is decided by the fail mode, and logged."""
    caplog.set_level(logging.WARNING, logger="reliant.redis")
    backend = RedisBackend.from_url("redis://127.0.0.1:1/0", fail_mode="open")

    async def broken(algorithm: Any, requests: Sequence[Any]) -> list[Decision]:
        raise RuntimeError("boom")

    backend.adecide_many = broken  # type: ignore[method-assign]
    decisions = _gather(backend, [lambda: backend.agcra("k", MINUTE_US, 2 * MINUTE_US, 1)] * 3)
    assert [OPEN] * 3 == decisions
    assert ["reliant.redis: pipelined batch failed"] == [
        r.getMessage() for r in caplog.records if r.name == "reliant.redis"
    ]


def test_failing_batches_log_one_traceback_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Batch after failing batch on one loop: the fail mode each time, one log line."""
    caplog.set_level(logging.WARNING, logger="reliant.redis")
    backend = RedisBackend.from_url("redis://127.0.0.1:1/0", fail_mode="open")

    async def broken(algorithm: Any, requests: Sequence[Any]) -> list[Decision]:
        raise RuntimeError("boom")

    backend.adecide_many = broken  # type: ignore[method-assign]

    async def main() -> list[Decision]:
        return [await backend.agcra("k", MINUTE_US, 2 * MINUTE_US, 1) for _ in range(5)]

    assert [OPEN] * 5 == VirtualClock().run(main())
    assert ["reliant.redis: pipelined batch failed"] == [
        r.getMessage() for r in caplog.records if r.name == "reliant.redis"
    ]
