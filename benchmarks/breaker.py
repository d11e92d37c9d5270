"""Circuit breakers on the success path: a closed breaker around a function that returns.

Every breaker is built with its library's defaults and used as a decorator. A closed
breaker still has to admit the call and record its outcome — reliant records it in a
sliding window of the last 100 calls (failure and slow-call rates, as resilience4j);
the peers count consecutive failures.
"""

from __future__ import annotations

import itertools
from typing import Any

import reliant as r
from benchmarks.harness import RESULT, Case, Config, Section, Table, Target, table

TITLE = "Circuit breaker — success path, closed breaker, decorated function"

_names = itertools.count()


def _f() -> int:
    return RESULT


async def _af() -> int:
    return RESULT


def reliant(fn: Any) -> Any:
    """``fn`` under a reliant CircuitBreaker with default options."""
    return r.CircuitBreaker()(fn)


def pybreaker_(fn: Any) -> Any:
    """``fn`` under a pybreaker.CircuitBreaker (sync only without tornado)."""
    import pybreaker

    return pybreaker.CircuitBreaker()(fn)


def circuitbreaker_(fn: Any) -> Any:
    """``fn`` under circuitbreaker's ``@circuit``, which handles sync and async."""
    from circuitbreaker import circuit

    return circuit(name=f"bench-{next(_names)}")(fn)


def aiobreaker_(fn: Any) -> Any:
    """``fn`` under an aiobreaker.CircuitBreaker, which handles sync and async."""
    import aiobreaker

    return aiobreaker.CircuitBreaker()(fn)


def purgatory_sync(fn: Any) -> Any:
    """``fn`` under purgatory's in-memory sync breaker factory."""
    from purgatory import SyncCircuitBreakerFactory

    return SyncCircuitBreakerFactory()(f"bench-{next(_names)}")(fn)


def purgatory_async(fn: Any) -> Any:
    """``fn`` under purgatory's in-memory asyncio breaker factory."""
    from purgatory import AsyncCircuitBreakerFactory

    return AsyncCircuitBreakerFactory()(f"bench-{next(_names)}")(fn)


REF = "reliant CircuitBreaker()"
PEER = "circuitbreaker @circuit"


def _sync_cases() -> list[Case]:
    return [
        Case("(undecorated function)", lambda: _f),
        Case(REF, lambda: reliant(_f), reference=True),
        Case("pybreaker CircuitBreaker()", lambda: pybreaker_(_f)),
        Case(PEER, lambda: circuitbreaker_(_f)),
        Case("aiobreaker CircuitBreaker()", lambda: aiobreaker_(_f)),
        Case("purgatory SyncCircuitBreakerFactory", lambda: purgatory_sync(_f)),
    ]


def _async_cases() -> list[Case]:
    return [
        Case("(undecorated function)", lambda: _af),
        Case(REF, lambda: reliant(_af), reference=True),
        Case(PEER, lambda: circuitbreaker_(_af)),
        Case("aiobreaker CircuitBreaker()", lambda: aiobreaker_(_af)),
        Case("purgatory AsyncCircuitBreakerFactory", lambda: purgatory_async(_af)),
    ]


def _no_costlier(description: str, t: Table) -> Target:
    ours, theirs = t.value(REF), t.value(PEER)
    if ours is None or theirs is None:
        return Target(description, None, "not measured")
    return Target(description, ours <= theirs, f"{PEER} / reliant = {theirs / ours:.2f}×")


def run(cfg: Config) -> Section:
    """Measure the sync and async tables and check the circuitbreaker target."""
    section = Section("breaker", TITLE)
    sync = table(cfg, "sync", _sync_cases(), is_async=False)
    asyn = table(cfg, "asyncio", _async_cases(), is_async=True)
    section.tables += [sync, asyn]
    section.targets += [
        _no_costlier("sync: reliant no costlier than circuitbreaker", sync),
        _no_costlier("async: reliant no costlier than circuitbreaker", asyn),
    ]
    section.notes.append(
        "pybreaker's asyncio support needs tornado, so it has no async row; "
        "reliant and circuitbreaker handle both from one decorator."
    )
    return section
