"""Concurrent callers through one breaker: does it let them overlap?

Twenty callers start together (threads released by a barrier, or asyncio tasks
gathered) and each makes one call that sleeps 50 ms through the same closed breaker.
A breaker that never holds a lock around the call finishes in about 50 ms; one that
does serialises them into 20 × 50 ms. The figure is total wall time in ms, median of a
few runs — real sleeps, because waiting is what is measured.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks import breaker
from benchmarks.harness import Config, Row, Section, Table, below_target, peak_rss_mib, why

TITLE = "Concurrency — 20 callers × one 50 ms call through one breaker"

CALLERS = 20
SLEEP = 0.050
RUNS = 3


def _threads_wall(fn: Callable[[], Any]) -> float:
    barrier = threading.Barrier(CALLERS + 1)

    def caller() -> None:
        barrier.wait()
        fn()

    threads = [threading.Thread(target=caller) for _ in range(CALLERS)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter_ns()
    for t in threads:
        t.join()
    return (time.perf_counter_ns() - start) / 1e6


def _tasks_wall(fn: Callable[[], Awaitable[Any]]) -> float:
    async def main() -> float:
        start = time.perf_counter_ns()
        await asyncio.gather(*(fn() for _ in range(CALLERS)))
        return (time.perf_counter_ns() - start) / 1e6

    return asyncio.run(main())


def _row(
    library: str,
    wrap: Callable[[Any], Any],
    target: Any,
    wall: Callable[[Any], float],
    runs: int,
    reference: bool = False,
) -> Row:
    row = Row(library, reference=reference)
    try:
        fn = wrap(target)
        row.value = statistics.median(wall(fn) for _ in range(runs))
    except Exception as exc:
        row.note = why(exc)
        return row
    row.extras["peak RSS MiB"] = peak_rss_mib()
    return row


REF = "reliant CircuitBreaker()"


def run(cfg: Config) -> Section:
    """Time the thread and asyncio tables and check the no-serialisation target."""
    sleep = SLEEP / 10 if cfg.quick else SLEEP
    runs = 1 if cfg.quick else RUNS

    def blocking() -> int:
        time.sleep(sleep)
        return 1

    async def waiting() -> int:
        await asyncio.sleep(sleep)
        return 1

    def _same(fn: Any) -> Any:
        return fn

    section = Section("concurrency", TITLE)
    threads = Table(
        "threads",
        "ms total",
        [
            _row("(no breaker)", _same, blocking, _threads_wall, runs),
            _row(REF, breaker.reliant, blocking, _threads_wall, runs, reference=True),
            _row("pybreaker CircuitBreaker()", breaker.pybreaker_, blocking, _threads_wall, runs),
            _row("circuitbreaker @circuit", breaker.circuitbreaker_, blocking, _threads_wall, runs),
            _row("aiobreaker CircuitBreaker()", breaker.aiobreaker_, blocking, _threads_wall, runs),
            _row(
                "purgatory SyncCircuitBreakerFactory",
                breaker.purgatory_sync,
                blocking,
                _threads_wall,
                runs,
            ),
        ],
    )
    tasks = Table(
        "asyncio tasks",
        "ms total",
        [
            _row("(no breaker)", _same, waiting, _tasks_wall, runs),
            _row(REF, breaker.reliant, waiting, _tasks_wall, runs, reference=True),
            _row("circuitbreaker @circuit", breaker.circuitbreaker_, waiting, _tasks_wall, runs),
            _row("aiobreaker CircuitBreaker()", breaker.aiobreaker_, waiting, _tasks_wall, runs),
            _row(
                "purgatory AsyncCircuitBreakerFactory",
                breaker.purgatory_async,
                waiting,
                _tasks_wall,
                runs,
            ),
        ],
    )
    for t in (threads, tasks):
        t.fill_ratios()
        section.tables.append(t)
    budget = 2 * sleep * 1000
    section.targets += [
        below_target(f"threads: reliant < {budget:g} ms", threads.value(REF), budget, "ms"),
        below_target(f"asyncio: reliant < {budget:g} ms", tasks.value(REF), budget, "ms"),
    ]
    if cfg.quick:
        section.notes.append(f"--quick: each call sleeps {sleep * 1000:g} ms instead of 50 ms.")
    return section
