"""Memory held by a breaker or limiter instance, and by a limiter per key.

Bytes are what ``tracemalloc`` sees allocated (and still held after a collection)
while many instances are built, or many keys decided, divided by their number:
Python-level allocations, which is what grows with instances and keys.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

import reliant as r
from benchmarks.harness import Config, Row, Section, Table, below_target, why
from benchmarks.limiter import BURST, PEER_LIMIT, RATE

TITLE = "Memory — bytes per instance and per limiter key"

#: DESIGN.md: a breaker or limiter instance stays under 2 KiB plus its window.
INSTANCE_BUDGET = 2048


def _held_each(build: Callable[[], Any], count: int) -> float:
    build()  # imports, caches and first-use allocations are not the instance's
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [build() for _ in range(count)]
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (after - before - sys.getsizeof(kept)) / count


def _instance_row(label: str, build: Callable[[], Any], count: int, ref: bool = False) -> Row:
    row = Row(label, reference=ref)
    try:
        row.value = _held_each(build, count)
    except Exception as exc:
        row.note = why(exc)
    return row


def _per_key_row(label: str, make: Callable[[], Any], keys: int, ref: bool = False) -> Row:
    """``make()`` returns ``(decide(key), close)``; bytes held per distinct key decided."""
    row = Row(label, reference=ref)
    try:
        decide, close = make()
    except Exception as exc:
        row.note = why(exc)
        return row
    names = [f"user-{i}" for i in range(keys)]
    decide("warm-up")
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for name in names:
            decide(name)
        gc.collect()
        row.value = (tracemalloc.get_traced_memory()[0] - before) / keys
    finally:
        tracemalloc.stop()
        close()
    return row


# -- builders ---------------------------------------------------------------------------


def _reliant_breaker() -> Any:
    return r.CircuitBreaker()


def _reliant_small_breaker() -> Any:
    return r.CircuitBreaker(window=r.CountWindow(1), min_calls=1)


def _pybreaker() -> Any:
    import pybreaker

    return pybreaker.CircuitBreaker()


def _circuitbreaker() -> Any:
    import circuitbreaker

    return circuitbreaker.CircuitBreaker()


def _aiobreaker() -> Any:
    import aiobreaker

    return aiobreaker.CircuitBreaker()


def _reliant_limiter() -> Any:
    return r.RateLimiter.gcra(rate=RATE, burst=BURST)


def _reliant_keys(algorithm: str) -> Any:
    limiter = getattr(r.RateLimiter, algorithm)(rate=100, per=1.0)
    return limiter.try_acquire, lambda: None


def _limits_keys(strategy: str) -> Any:
    from limits import RateLimitItemPerSecond, storage, strategies

    store = storage.MemoryStorage()
    hit = getattr(strategies, strategy)(store).hit
    item = RateLimitItemPerSecond(PEER_LIMIT)
    return (lambda key: hit(item, key)), store.timer.cancel


REF_BREAKER = "reliant CircuitBreaker() — CountWindow(100)"
SMALL_BREAKER = "reliant CircuitBreaker(window=CountWindow(1))"
REF_LIMITER = "reliant RateLimiter.gcra (empty)"
REF_KEYS = "reliant RateLimiter.gcra"


def run(cfg: Config) -> Section:
    """Measure bytes per instance and per key, and check the instance budget."""
    count = 10 if cfg.quick else 200
    keys = 100 if cfg.quick else 10_000
    section = Section("memory", TITLE)
    breakers = Table(
        f"bytes per breaker instance ({count} built)",
        "bytes",
        [
            _instance_row(REF_BREAKER, _reliant_breaker, count, ref=True),
            _instance_row(SMALL_BREAKER, _reliant_small_breaker, count),
            _instance_row("pybreaker CircuitBreaker()", _pybreaker, count),
            _instance_row("circuitbreaker CircuitBreaker()", _circuitbreaker, count),
            _instance_row("aiobreaker CircuitBreaker()", _aiobreaker, count),
        ],
        extra_columns=(),
    )
    limiters = Table(
        f"bytes per limiter instance ({count} built)",
        "bytes",
        [_instance_row(REF_LIMITER, _reliant_limiter, count, ref=True)],
        extra_columns=(),
    )
    per_key = Table(
        f"bytes per limiter key ({keys:,} keys, one admitted decision each)",
        "bytes/key",
        [
            _per_key_row(REF_KEYS, lambda: _reliant_keys("gcra"), keys, ref=True),
            _per_key_row(
                "reliant RateLimiter.token_bucket", lambda: _reliant_keys("token_bucket"), keys
            ),
            _per_key_row(
                "reliant RateLimiter.sliding_window", lambda: _reliant_keys("sliding_window"), keys
            ),
            _per_key_row(
                "limits FixedWindowRateLimiter",
                lambda: _limits_keys("FixedWindowRateLimiter"),
                keys,
            ),
            _per_key_row(
                "limits SlidingWindowCounterRateLimiter",
                lambda: _limits_keys("SlidingWindowCounterRateLimiter"),
                keys,
            ),
            _per_key_row(
                "limits MovingWindowRateLimiter",
                lambda: _limits_keys("MovingWindowRateLimiter"),
                keys,
            ),
        ],
        extra_columns=(),
    )
    for t in (breakers, limiters, per_key):
        t.fill_ratios()
        section.tables.append(t)
    section.targets += [
        below_target(
            "breaker instance (smallest window) < 2 KiB",
            breakers.value(SMALL_BREAKER),
            INSTANCE_BUDGET,
            "bytes",
        ),
        below_target(
            "GCRA limiter instance < 2 KiB", limiters.value(REF_LIMITER), INSTANCE_BUDGET, "bytes"
        ),
    ]
    section.notes += [
        "tracemalloc counts Python allocations held after a collection; locks and "
        "C-level buffers outside the Python allocator are not in these figures.",
        "pyrate-limiter is not in the per-key table: one Limiter over one bucket does not "
        "partition by the name passed to try_acquire.",
    ]
    return section
