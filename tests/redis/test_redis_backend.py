"""RedisBackend decides like the memory backend, in one atomic Lua call per decision."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest
from redis.client import Redis
from redis.cluster import key_slot
from redis_engine import RedisServer

from reliant.redis import RedisBackend
from reliant.resilience.ratelimit import Decision, MemoryBackend, RateLimiter
from reliant.testing import VirtualClock

#: (algorithm, a, b) per algorithm: GCRA 10/s burst 5, bucket 10/s capacity 5,
#: window 7 per 0.25 s.
PARAMS = {
    "gcra": (100_000, 500_000),
    "token_bucket": (100_000, 5),
    "sliding_window": (7, 250_000),
}


def _sequence(seed: int, n: int = 150) -> list[tuple[float, str, int]]:
    """(advance seconds, key, cost) steps, bursty and with idle gaps."""
    rng = random.Random(seed)
    steps = []
    for _ in range(n):
        advance = rng.choice([0.0, 0.0, 0.0, 0.001, 0.013, 0.05, 0.1, 0.37, 1.5])
        steps.append((advance, rng.choice(["a", "b"]), rng.choice([1, 1, 1, 0, 2, 3, 9])))
    return steps


def _run(mode: str, fn: Callable[[RedisBackend], Any], backend: RedisBackend) -> Any:
    if mode == "sync":
        return fn(backend)

    async def main() -> Any:
        try:
            return await fn(backend)
        finally:
            await backend.aclose()

    return asyncio.run(main())


@pytest.mark.parametrize("algorithm", list(PARAMS))
@pytest.mark.parametrize("seed", [1, 2])
def test_decisions_equal_the_memory_backend(
    server: RedisServer, client: Redis, mode: str, algorithm: str, seed: int
) -> None:
    """The same times and costs give the same Decisions in Redis as in memory."""
    clock = VirtualClock(start=1000.0)
    memory = MemoryBackend(clock=clock)
    a, b = PARAMS[algorithm]
    steps = _sequence(seed)
    expected = []
    for advance, key, cost in steps:
        clock.advance(advance)
        expected.append(getattr(memory, algorithm)(key, a, b, cost))
    assert {True, False} == {d.allowed for d in expected}
    replay = VirtualClock(start=1000.0)
    backend = RedisBackend.from_url(server.url, server_time=False, clock=replay, read_timeout=1.0)

    if mode == "sync":

        def drive(be: RedisBackend) -> list[Decision]:
            out = []
            for advance, key, cost in steps:
                replay.advance(advance)
                out.append(getattr(be, algorithm)(key, a, b, cost))
            return out

    else:

        async def drive(be: RedisBackend) -> list[Decision]:  # type: ignore[misc]
            out = []
            for advance, key, cost in steps:
                replay.advance(advance)
                out.append(await getattr(be, "a" + algorithm)(key, a, b, cost))
            return out

    assert expected == _run(mode, drive, backend)
    assert backend.healthy


def test_server_time_gcra_admits_the_burst_then_denies(client: Redis) -> None:
    """On Redis' clock, a burst of 3 at 1/s is admitted and the 4th waits about 1 s."""
    backend = RedisBackend(client)
    decisions = [backend.gcra("k", 1_000_000, 3_000_000, 1) for _ in range(4)]
    assert [True, True, True, False] == [d.allowed for d in decisions]
    assert [2, 1, 0, 0] == [d.remaining for d in decisions]
    assert 0.9 < decisions[3].retry_after <= 1.0


def test_cost_above_the_burst_is_never_admitted(client: Redis) -> None:
    """A cost no wait can admit is denied with retry_after = inf, like in memory."""
    backend = RedisBackend(client)
    assert float("inf") == backend.gcra("k", 1_000_000, 3_000_000, 4).retry_after
    assert float("inf") == backend.sliding_window("k", 3, 1_000_000, 4).retry_after
    assert float("inf") == backend.token_bucket("k", 1_000_000, 3, 4).retry_after


def test_noscript_is_recovered_after_script_flush(client: Redis) -> None:
    """After SCRIPT FLUSH the scripts are loaded again and decisions go on in Redis."""
    backend = RedisBackend(client, fail_mode="closed")
    assert backend.gcra("k", 1_000_000, 2_000_000, 1).allowed
    client.script_flush()
    assert Decision(True, 0, 0.0, 2.0) == _rounded(backend.gcra("k", 1_000_000, 2_000_000, 1))
    client.script_flush()
    assert [False] == [d.allowed for d in backend.gcra_many([("k", 1_000_000, 2_000_000, 1)])]
    assert backend.healthy


def _rounded(d: Decision) -> Decision:
    return d._replace(reset_after=round(d.reset_after, 1))


def test_keys_carry_a_hash_tag_and_a_ttl(client: Redis) -> None:
    """Keys are namespace + algorithm + {key}: one Cluster slot, expiring when idle."""
    backend = RedisBackend(client)
    limiter = RateLimiter.gcra(rate=10, burst=5, backend=backend, name="api")
    limiter.try_acquire("user-1")
    RateLimiter.sliding_window(rate=5, backend=backend, name="api").try_acquire("user-1")
    assert [b"reliant:rl:g:{api:user-1}", b"reliant:rl:w:{api:user-1}"] == sorted(client.keys())
    assert key_slot(b"reliant:rl:g:{api:user-1}") == key_slot(b"api:user-1")
    assert 0 < client.pttl("reliant:rl:g:{api:user-1}") <= 100
    assert 0 < client.pttl("reliant:rl:w:{api:user-1}") <= 2000


def test_batch_decides_like_one_by_one(server: RedisServer, client: Redis, mode: str) -> None:
    """decide_many gives, in one round trip, the decisions of the same calls in order."""
    clock = VirtualClock(start=50.0)
    memory = MemoryBackend(clock=clock)
    requests = [(k, 100_000, 300_000, c) for k, c in [("a", 1), ("b", 2), ("a", 1), ("a", 2)]]
    expected = [memory.gcra(*r) for r in requests]
    backend = RedisBackend.from_url(server.url, server_time=False, clock=clock, read_timeout=1.0)
    if mode == "sync":
        assert expected == backend.gcra_many(requests)
        assert [] == backend.decide_many("sliding_window", [])
    else:

        async def main() -> list[Decision]:
            try:
                return await backend.agcra_many(requests)
            finally:
                await backend.aclose()

        assert expected == asyncio.run(main())


def test_decide_many_rejects_an_unknown_algorithm(client: Redis) -> None:
    """An unknown algorithm name is a ValueError naming the option."""
    with pytest.raises(ValueError, match="algorithm"):
        RedisBackend(client).decide_many("leaky", [])  # type: ignore[arg-type]


def test_rate_limiter_over_redis_rejects_past_its_burst(client: Redis) -> None:
    """A RateLimiter given a RedisBackend admits its burst, then rejects."""
    limiter = RateLimiter.gcra(rate=1, per=60, burst=2, backend=RedisBackend(client), name="x")
    assert [True, True, False] == [limiter.try_acquire("k").allowed for _ in range(3)]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("fail_mode", "maybe"),
        ("connect_timeout", 0),
        ("read_timeout", -1.0),
        ("retry_interval", float("inf")),
        ("namespace", 3),
        ("server_time", "yes"),
    ],
)
def test_invalid_options_are_rejected_by_name(option: str, value: object) -> None:
    """Each invalid option raises ValueError naming the class and the option."""
    with pytest.raises(ValueError, match=f"RedisBackend: {option}"):
        RedisBackend(url="redis://127.0.0.1:1/0", **{option: value})


def test_a_client_or_url_is_required() -> None:
    """Without a client or URL the backend cannot work: ValueError at construction."""
    with pytest.raises(ValueError, match="client, aclient or url"):
        RedisBackend()
