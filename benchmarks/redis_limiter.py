"""Rate limiters over a real Redis: one decision per round trip, and batches.

Starts its own ``redis-server`` on a free loopback port (temp dir, no persistence),
then times, on one connection each, every library's admitted decision for one key:
reliant's GCRA (one ``EVALSHA``), limits' ``RedisStorage`` moving window and
pyrate-limiter's ``RedisBucket``. Each call is timed alone, so the table gives the
mean, p50 and p99 per decision; the batch table gives decisions/s for
``RedisBackend.gcra_many`` in one pipelined round trip. Run it alone:
``python -m benchmarks.redis_limiter [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
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
        batch = Table(
            "Batch admission — RedisBackend.gcra_many, one pipelined round trip",
            "µs/decision",
            _batch_rows(url, calls),
            extra_columns=("decisions/s", "µs per batch"),
        )
        batch.fill_ratios()
    section.tables = [single, batch]
    section.targets = [
        ratio_target("reliant GCRA ≥ 2× limits' moving window", single, REF, LIMITS, 2.0)
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
