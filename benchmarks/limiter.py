"""Rate limiters, in memory, on the success path: one decision for one key.

Limits are set so high that every call is admitted. Each decision is made through
``functools.partial(method, ..., "k")`` so every library pays the same call overhead
and gets the same key.
"""

from __future__ import annotations

import functools
from typing import Any

import reliant as r
from benchmarks.harness import Case, Config, Section, ratio_target, table

TITLE = "Rate limiter — in-memory, admitted decision for one key"

#: High enough that no run is ever limited: a million per second with a burst of a
#: billion (1000 s of traffic at that rate) for reliant; a billion per second for peers.
RATE = 1_000_000
BURST = 1_000_000_000
PEER_LIMIT = 1_000_000_000


def _allowed(decision: Any) -> bool:
    return bool(decision.allowed)


def _true(result: Any) -> bool:
    return result is True


def reliant(algorithm: str) -> Any:
    """A reliant in-memory limiter's ``try_acquire`` for key ``"k"``."""
    if algorithm == "gcra":
        limiter = r.RateLimiter.gcra(rate=RATE, burst=BURST)
    elif algorithm == "token_bucket":
        limiter = r.RateLimiter.token_bucket(rate=RATE, burst=BURST)
    else:
        limiter = r.RateLimiter.sliding_window(rate=PEER_LIMIT)
    return functools.partial(limiter.try_acquire, "k")


def limits_(strategy: str) -> Any:
    """A limits 5.x strategy's ``hit`` on in-memory storage for key ``"k"``."""
    from limits import RateLimitItemPerSecond, storage, strategies

    store = storage.MemoryStorage()
    limiter = getattr(strategies, strategy)(store)
    hit = functools.partial(limiter.hit, RateLimitItemPerSecond(PEER_LIMIT), "k")
    return hit, store.timer.cancel


def pyrate(kind: str) -> Any:
    """A pyrate-limiter 4.x ``Limiter.try_acquire`` that never blocks, for key ``"k"``."""
    from pyrate_limiter import Duration, InMemoryBucket, Limiter, Rate, StateBucket, TokenBucket

    rate = Rate(PEER_LIMIT, Duration.SECOND)
    if kind == "log":
        bucket: Any = InMemoryBucket([rate])
    else:
        bucket = StateBucket([rate], algorithm=TokenBucket())
    limiter = Limiter(bucket)
    return functools.partial(limiter.try_acquire, "k", blocking=False), limiter.close


REF = "reliant RateLimiter.gcra"
PEER = "limits FixedWindowRateLimiter"


def cases() -> list[Case]:
    """The rows of the table."""
    return [
        Case(REF, lambda: reliant("gcra"), reference=True, check=_allowed),
        Case("reliant RateLimiter.token_bucket", lambda: reliant("token_bucket"), check=_allowed),
        Case(
            "reliant RateLimiter.sliding_window",
            lambda: reliant("sliding_window"),
            check=_allowed,
        ),
        Case(PEER, lambda: limits_("FixedWindowRateLimiter"), check=_true),
        Case(
            "limits SlidingWindowCounterRateLimiter",
            lambda: limits_("SlidingWindowCounterRateLimiter"),
            check=_true,
        ),
        Case(
            "limits MovingWindowRateLimiter",
            lambda: limits_("MovingWindowRateLimiter"),
            check=_true,
        ),
        Case("pyrate-limiter InMemoryBucket (log)", lambda: pyrate("log"), check=_true),
        Case("pyrate-limiter StateBucket(TokenBucket)", lambda: pyrate("gcra"), check=_true),
    ]


def run(cfg: Config) -> Section:
    """Measure the table and check the limits target."""
    section = Section("limiter", TITLE)
    sync = table(cfg, "sync, try_acquire / hit", cases(), is_async=False)
    section.tables.append(sync)
    section.targets.append(
        ratio_target("GCRA ≥ 3× cheaper than limits' fixed window", sync, REF, PEER, 3.0)
    )
    section.notes += [
        "limits' moving window keeps one entry per admitted request in the window and "
        "inserts each new one at the front of a list, so its cost grows with the traffic "
        "held in the window (here ≈ the calls of one repeat).",
        "pyrate-limiter's InMemoryBucket also keeps one entry per request (a log); its "
        "StateBucket(TokenBucket) is its constant-size GCRA.",
    ]
    return section
