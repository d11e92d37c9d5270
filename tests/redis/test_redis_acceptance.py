"""Acceptance: 8 processes x 4 threads on one GCRA key never admit more than the limit."""

from __future__ import annotations

import multiprocessing
import time

from redis.client import Redis
from redis_engine import RedisServer, hammer

PROCESSES = 8
SECONDS = 1.5
EMISSION_US = 10_000  # 100 per second
BURST = 50


def _server_us(client: Redis) -> int:
    seconds, micros = client.time()
    return int(seconds) * 1_000_000 + int(micros)


def test_many_processes_admit_exactly_the_gcra_limit(server: RedisServer, client: Redis) -> None:
    """32 hammering threads admit at most burst + elapsed / T, and nearly that many."""
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Barrier(PROCESSES + 1)
    out = ctx.Queue()
    args = (server.url, "one-key", EMISSION_US, EMISSION_US * BURST, SECONDS, go, out)
    workers = [ctx.Process(target=hammer, args=args) for _ in range(PROCESSES)]
    for w in workers:
        w.start()
    try:
        deadline = time.monotonic() + 60
        while go.n_waiting < PROCESSES and time.monotonic() < deadline:
            time.sleep(0.01)  # readiness polling: every worker connected and waiting
        start = _server_us(client)  # before the barrier opens: before any admission
        go.wait(timeout=60)
        admitted = sum(out.get(timeout=60) for _ in workers)
        elapsed = _server_us(client) - start
    finally:
        for w in workers:
            w.join(timeout=30)
            if w.is_alive():
                w.kill()
    ceiling = BURST + elapsed // EMISSION_US
    assert admitted <= ceiling
    assert admitted >= BURST + int(0.75 * SECONDS * 1_000_000) // EMISSION_US
    assert [0] * PROCESSES == [w.exitcode for w in workers]
