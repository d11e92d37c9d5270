"""Rate limiters over a real Redis: one decision per round trip, throughput, batches.

Starts its own ``redis-server`` on a free loopback port (temp dir, no persistence),
then times, on one connection each, every library's admitted decision for one key:
reliant's GCRA (one ``EVALSHA``), limits' ``RedisStorage`` moving window and
pyrate-limiter's ``RedisBucket``. Each call is timed alone, so the first table gives
the mean, p50 and p99 per decision (round-trip bound, reported). The throughput table
runs 64 concurrent asyncio callers on ONE connection (a one-connection blocking pool)
and gives decisions/s: reliant's async GCRA with automatic pipelining against limits'
async ``RedisStorage`` moving window and pyrate-limiter's async ``RedisBucket``. The
batch table gives decisions/s for ``RedisBackend.gcra_many`` in one pipelined round
trip. Run it alone: ``python -m benchmarks.redis_limiter [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks.harness import Config, Row, Section, Table, ratio_target, render_text, why

TITLE = "Rate limiter — Redis, admitted decision for one key, one connection"
REF = "reliant RedisBackend GCRA (EVALSHA)"
LIMITS = "limits RedisStorage MovingWindowRateLimiter"
PYRATE = "pyrate-limiter RedisBucket"
#: High enough that no decision is ever denied.
LIMIT = 1_000_000_000
BATCHES = (10, 100)
#: Concurrent asyncio callers sharing one connection in the throughput table.
CALLERS = 64
THROUGHPUT = "Throughput — 64 concurrent asyncio callers, one connection, one key"
A_REF = "reliant RedisBackend.agcra (autopipelined)"
A_PLAIN = "reliant RedisBackend.agcra (autopipeline=False)"
A_LIMITS = "limits aio RedisStorage MovingWindowRateLimiter"
A_PYRATE = "pyrate-limiter async RedisBucket"
#: An async factory of (decide, close) for one library, given the URL.
AsyncMake = Callable[[str], Awaitable[tuple[Callable[[], Awaitable[Any]], Callable[[], Any]]]]


@contextmanager
def redis_server() -> Iterator[str]:
    """A redis-server of this run on a free loopback port; yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = tempfile.mkdtemp(prefix="reliant-bench-redis-")
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", tmp],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.01)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


def _reliant(url: str) -> Callable[[], Any]:
    from reliant.redis import RedisBackend

    backend = RedisBackend.from_url(url, fail_mode="closed", read_timeout=1.0)
    return lambda: backend.gcra("bench:k", 1, LIMIT, 1).allowed


def _limits(url: str) -> Callable[[], Any]:
    from limits import RateLimitItemPerSecond, storage, strategies

    limiter = strategies.MovingWindowRateLimiter(storage.RedisStorage(url))
    item = RateLimitItemPerSecond(LIMIT)
    return lambda: limiter.hit(item, "k")


def _pyrate(url: str) -> Callable[[], Any]:
    from pyrate_limiter import Duration, Limiter, Rate, RedisBucket
    from redis.client import Redis

    bucket = RedisBucket.init([Rate(LIMIT, Duration.SECOND)], Redis.from_url(url), "bench")
    limiter = Limiter(bucket)
    return lambda: limiter.try_acquire("k", blocking=False)


def _one_connection(url: str) -> Any:
    """A redis-py asyncio pool of exactly one connection (callers wait for it)."""
    from redis.asyncio import BlockingConnectionPool

    return BlockingConnectionPool.from_url(url, max_connections=1, timeout=None)


async def _a_reliant(
    url: str, autopipeline: bool = True
) -> tuple[Callable[[], Awaitable[Any]], Callable[[], Any]]:
    from redis.asyncio import Redis as AsyncRedis

    from reliant.redis import RedisBackend

    aclient = AsyncRedis(connection_pool=_one_connection(url))
    backend = RedisBackend(
        aclient=aclient, fail_mode="closed", read_timeout=1.0, autopipeline=autopipeline
    )

    async def decide() -> bool:
        return (await backend.agcra("bench:a", 1, LIMIT, 1)).allowed

    return decide, backend.aclose


async def _a_plain(url: str) -> tuple[Callable[[], Awaitable[Any]], Callable[[], Any]]:
    return await _a_reliant(url, autopipeline=False)


async def _a_limits(url: str) -> tuple[Callable[[], Awaitable[Any]], Callable[[], Any]]:
    from limits import RateLimitItemPerSecond
    from limits.aio import storage, strategies

    pool = _one_connection(url)
    store = storage.RedisStorage("async+" + url, implementation="redispy", connection_pool=pool)
    limiter = strategies.MovingWindowRateLimiter(store)
    item = RateLimitItemPerSecond(LIMIT)

    async def decide() -> bool:
        return await limiter.hit(item, "a")

    return decide, pool.aclose


async def _a_pyrate(url: str) -> tuple[Callable[[], Awaitable[Any]], Callable[[], Any]]:
    from pyrate_limiter import Duration, Limiter, Rate, RedisBucket
    from redis.asyncio import Redis as AsyncRedis

    aclient = AsyncRedis(connection_pool=_one_connection(url))
    bucket = await RedisBucket.init([Rate(LIMIT, Duration.SECOND)], aclient, "bench-a")
    limiter = Limiter(bucket)

    async def decide() -> bool:
        return await limiter.try_acquire_async("a", blocking=False)

    return decide, aclient.aclose


def _throughput_row(make: AsyncMake, library: str, url: str, total: int, ref: bool) -> Row:
    """Decisions/s of CALLERS tasks making ``total`` admitted decisions on one connection."""

    async def main() -> float:
        decide, close = await make(url)
        try:
            for _ in range(20):  # connect, load scripts
                if await decide() is not True:
                    raise RuntimeError("the decision was not an admission")
            each = total // CALLERS

            async def caller() -> None:
                for _ in range(each):
                    if await decide() is not True:
                        raise RuntimeError("the decision was not an admission")

            t0 = time.perf_counter()
            await asyncio.gather(*(caller() for _ in range(CALLERS)))
            return (time.perf_counter() - t0) / (each * CALLERS)
        finally:
            result = close()
            if asyncio.iscoroutine(result):
                await result

    seconds = asyncio.run(main())
    return Row(
        library,
        seconds * 1_000_000,
        reference=ref,
        extras={"decisions/s": 1 / seconds},
    )


def _time(fn: Callable[[], Any], calls: int) -> list[float]:
    """Microseconds of each of ``calls`` calls (after a short warm-up)."""
    for _ in range(min(calls, 200)):
        if fn() is not True:
            raise RuntimeError("the decision was not an admission")
    out = []
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for _ in range(calls):
            t0 = clock()
            fn()
            out.append((clock() - t0) / 1000)
    finally:
        gc.enable()
    return out


def _row(library: str, fn: Callable[[], Any], calls: int, reference: bool = False) -> Row:
    samples = sorted(_time(fn, calls))
    mean = statistics.fmean(samples)
    return Row(
        library,
        mean,
        reference=reference,
        extras={
            "decisions/s": 1_000_000 / mean,
            "p50 µs": samples[len(samples) // 2],
            "p99 µs": samples[min(len(samples) - 1, len(samples) * 99 // 100)],
        },
    )


def _batch_rows(url: str, calls: int) -> list[Row]:
    from reliant.redis import RedisBackend

    backend = RedisBackend.from_url(url, fail_mode="closed", read_timeout=1.0)
    rows = []
    for size in BATCHES:
        requests = [(f"bench:b{i}", 1, LIMIT, 1) for i in range(size)]
        batches = max(2, calls // size)
        samples = _time(lambda r=requests: all(d.allowed for d in backend.gcra_many(r)), batches)
        per_batch = statistics.fmean(samples)
        rows.append(
            Row(
                f"reliant gcra_many, {size} keys per batch",
                per_batch / size,
                reference=size == BATCHES[0],
                extras={"decisions/s": 1_000_000 * size / per_batch, "µs per batch": per_batch},
            )
        )
    return rows


def run(cfg: Config) -> Section:
    """Measure every row against a redis-server started for this run."""
    calls = 200 if cfg.quick else 5_000
    section = Section("redis_limiter", TITLE)
    with redis_server() as url:
        rows = []
        for library, make, ref in ((REF, _reliant, True), (LIMITS, _limits, False),
                                   (PYRATE, _pyrate, False)):  # fmt: skip
            try:
                rows.append(_row(library, make(url), calls, reference=ref))
            except Exception as exc:
                rows.append(Row(library, note=why(exc), reference=ref))
        single = Table(
            TITLE, "µs/decision", rows, extra_columns=("decisions/s", "p50 µs", "p99 µs")
        )
        single.fill_ratios()
        total = CALLERS * (10 if cfg.quick else 300)
        rows = []
        for library, amake, ref in ((A_REF, _a_reliant, True), (A_PLAIN, _a_plain, False),
                                    (A_LIMITS, _a_limits, False),
                                    (A_PYRATE, _a_pyrate, False)):  # fmt: skip
            try:
                rows.append(_throughput_row(amake, library, url, total, ref))
            except Exception as exc:
                rows.append(Row(library, note=why(exc), reference=ref))
        throughput = Table(THROUGHPUT, "µs/decision", rows, extra_columns=("decisions/s",))
        throughput.fill_ratios()
        batch = Table(
            "Batch admission — RedisBackend.gcra_many, one pipelined round trip",
            "µs/decision",
            _batch_rows(url, calls),
            extra_columns=("decisions/s", "µs per batch"),
        )
        batch.fill_ratios()
    section.tables = [single, throughput, batch]
    section.targets = [
        ratio_target(
            "decisions/s on one connection with 64 concurrent callers ≥ 2× limits",
            throughput,
            A_REF,
            A_LIMITS,
            2.0,
        )
    ]
    return section


def main(argv: list[str] | None = None) -> int:
    """Print the section as text."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.redis_limiter")
    parser.add_argument("--quick", action="store_true", help="very few iterations (smoke run)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    section = run(Config.make(quick=args.quick))
    section.seconds = time.perf_counter() - start
    print(render_text([section], [f"python {sys.version.split()[0]}"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
