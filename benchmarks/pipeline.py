"""Five policies in one pipeline on the success path, and what each stage costs.

``Pipeline(Timeout(5), Retry(attempts=3), CircuitBreaker(), Bulkhead(max_concurrent=100),
RateLimiter.gcra(...))`` around a function that returns at once, against the nearest
stack the peers can build: tenacity's retry over a pybreaker breaker (aiobreaker in
asyncio) over a limits fixed window and a semaphore — with ``asyncio.timeout`` in
asyncio, since no peer has a sync timeout. A second table times each reliant policy
alone, so the pipeline's figure can be read by subtraction.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from typing import Any

import reliant as r
from benchmarks.harness import (
    RESULT,
    Case,
    Config,
    Row,
    Section,
    Table,
    Target,
    below_target,
    table,
)
from benchmarks.limiter import BURST, PEER_LIMIT, RATE

TITLE = "Pipeline — Timeout, Retry, CircuitBreaker, Bulkhead, RateLimiter (success path)"

#: The sync pipeline's budget in µs per call.
SYNC_BUDGET_US = 3.0


def _f() -> int:
    return RESULT


async def _af() -> int:
    return RESULT


def _policies() -> dict[str, Callable[[], Any]]:
    return {
        "Timeout(5)": lambda: r.Timeout(5),
        "Retry(attempts=3)": lambda: r.Retry(attempts=3),
        "CircuitBreaker()": lambda: r.CircuitBreaker(),
        "Bulkhead(max_concurrent=100)": lambda: r.Bulkhead(max_concurrent=100),
        "RateLimiter.gcra": lambda: r.RateLimiter.gcra(rate=RATE, burst=BURST),
    }


def reliant(fn: Any) -> Any:
    """``fn`` under the five-policy reliant pipeline."""
    return r.Pipeline(*(make() for make in _policies().values()))(fn)


def outbound(fn: Any) -> Any:
    """``fn`` under the usual outbound-call pipeline: no rate limiter, a fallback outermost."""
    return r.Pipeline(
        r.Fallback(value=None),
        r.Timeout(5),
        r.Retry(attempts=3),
        r.CircuitBreaker(),
        r.Bulkhead(max_concurrent=100),
    )(fn)


def _stage(label: str, fn: Any) -> Any:
    return _policies()[label]()(fn)


def peers_sync() -> Any:
    """tenacity retry → pybreaker → limits fixed window → bounded semaphore → ``_f``."""
    import pybreaker
    import tenacity
    from limits import RateLimitItemPerSecond, storage, strategies

    store = storage.MemoryStorage()
    hit = strategies.FixedWindowRateLimiter(store).hit
    item = RateLimitItemPerSecond(PEER_LIMIT)
    slots = threading.BoundedSemaphore(100)
    breaker = pybreaker.CircuitBreaker()

    def guarded() -> int:
        if not hit(item, "k"):
            raise RuntimeError("rate limited")
        if not slots.acquire(blocking=False):
            raise RuntimeError("bulkhead full")
        try:
            return _f()
        finally:
            slots.release()

    call = tenacity.retry(stop=tenacity.stop_after_attempt(3))(breaker(guarded))
    return call, store.timer.cancel


def peers_async() -> Any:
    """asyncio.timeout → tenacity → aiobreaker → limits fixed window → semaphore → ``_af``."""
    import aiobreaker
    import tenacity
    from limits import RateLimitItemPerSecond, storage, strategies

    store = storage.MemoryStorage()
    hit = strategies.FixedWindowRateLimiter(store).hit
    item = RateLimitItemPerSecond(PEER_LIMIT)
    slots = asyncio.Semaphore(100)
    breaker = aiobreaker.CircuitBreaker()

    async def guarded() -> int:
        if not hit(item, "k"):
            raise RuntimeError("rate limited")
        if slots.locked():
            raise RuntimeError("bulkhead full")
        async with slots:
            return await _af()

    retrying = tenacity.retry(stop=tenacity.stop_after_attempt(3))(breaker(guarded))

    async def call() -> int:
        async with asyncio.timeout(5):
            return await retrying()  # type: ignore[no-any-return]

    return call, store.timer.cancel


REF = "reliant Pipeline (5 policies)"
OUT = "reliant outbound Pipeline (Fallback, Timeout, Retry, CircuitBreaker, Bulkhead)"
PEERS = "tenacity + pybreaker + limits + semaphore"
APEERS = "asyncio.timeout + tenacity + aiobreaker + limits + semaphore"


def _stage_table(cfg: Config, title: str, fn: Any, is_async: bool, pipeline: Row) -> Table:
    cases = [Case(f"{label} alone", functools.partial(_stage, label, fn)) for label in _policies()]
    t = table(cfg, title, cases, is_async=is_async)
    t.ratio_label = "share of pipeline"
    parts = [row.value for row in t.rows]
    if all(v is not None for v in parts) and parts:
        t.rows.append(Row("sum of the five", sum(v for v in parts if v is not None)))
    for row in t.rows:
        if row.value is not None and pipeline.value:
            row.ratio = row.value / pipeline.value
    return t


def run(cfg: Config) -> Section:
    """Measure both pipelines, break the reliant one down, and check the budgets."""
    section = Section("pipeline", TITLE)
    sync = table(
        cfg,
        "sync",
        [
            Case(REF, lambda: reliant(_f), reference=True),
            Case(OUT, lambda: outbound(_f)),
            Case(PEERS, peers_sync),
        ],
        is_async=False,
    )
    asyn = table(
        cfg,
        "asyncio",
        [
            Case(REF, lambda: reliant(_af), reference=True),
            Case(OUT, lambda: outbound(_af)),
            Case(APEERS, peers_async),
        ],
        is_async=True,
    )
    section.tables += [
        sync,
        asyn,
        _stage_table(cfg, "sync, each reliant policy alone", _f, False, sync.row(REF)),
        _stage_table(cfg, "asyncio, each reliant policy alone", _af, True, asyn.row(REF)),
    ]
    s, a = sync.value(REF), asyn.value(REF)
    section.targets.append(
        below_target("sync pipeline < 3 µs/call (with RateLimiter)", s, SYNC_BUDGET_US, "µs/call")
    )
    section.targets.append(
        below_target(
            "sync outbound pipeline < 3 µs/call", sync.value(OUT), SYNC_BUDGET_US, "µs/call"
        )
    )
    if s is None or a is None:
        section.targets.append(Target("async within 2× of sync", None, "not measured"))
    else:
        section.targets.append(
            Target("async within 2× of sync", a <= 2 * s, f"async / sync = {a / s:.2f}×")
        )
    return section
