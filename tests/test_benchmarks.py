"""The benchmark harness runs end to end in --quick mode and produces every row.

Speed is never asserted here: that is what ``make bench`` reports. These tests only
check that every section, table and row comes out, that each figure and ratio is a
finite positive number, and that a row without a figure is one whose peer library
is not installed (the ``bench`` dependency group is optional). The Redis section
needs ``redis-server`` on PATH, and the ingest and slo_eval sections PostgreSQL's ``initdb`` and
``postgres``, as here and in CI.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: row label -> the peer modules the row needs (none for reliant's own rows).
Needs = dict[str, tuple[str, ...]]

_RETRY: Needs = {
    "(undecorated function)": (),
    "reliant Retry(attempts=3)": (),
    "tenacity @retry(stop_after_attempt(3))": ("tenacity",),
    "stamina @retry(on=Exception, attempts=3)": ("stamina",),
    "backoff @on_exception(expo, max_tries=3)": ("backoff",),
}
_BREAKER_ASYNC: Needs = {
    "(undecorated function)": (),
    "reliant CircuitBreaker()": (),
    "circuitbreaker @circuit": ("circuitbreaker",),
    "aiobreaker CircuitBreaker()": ("aiobreaker",),
    "purgatory AsyncCircuitBreakerFactory": ("purgatory",),
}
_BREAKER_SYNC: Needs = {
    "(undecorated function)": (),
    "reliant CircuitBreaker()": (),
    "pybreaker CircuitBreaker()": ("pybreaker",),
    "circuitbreaker @circuit": ("circuitbreaker",),
    "aiobreaker CircuitBreaker()": ("aiobreaker",),
    "purgatory SyncCircuitBreakerFactory": ("purgatory",),
}
_STAGES: Needs = {
    "Timeout(5) alone": (),
    "Retry(attempts=3) alone": (),
    "CircuitBreaker() alone": (),
    "Bulkhead(max_concurrent=100) alone": (),
    "RateLimiter.gcra alone": (),
    "sum of the five": (),
}
_MIDDLEWARE: Needs = {
    "(bare Starlette app)": (),
    "reliant ReliantMiddleware(limiter=RateLimiter.gcra(...))": (),
    "slowapi SlowAPIASGIMiddleware (default_limits)": ("slowapi",),
    "slowapi @limiter.limit on the route": ("slowapi",),
}
_IMPORT_PEERS = (
    "tenacity stamina backoff pybreaker circuitbreaker aiobreaker purgatory limits pyrate_limiter"
)

#: section key -> table title -> row label -> peer modules the row needs.
EXPECTED: dict[str, dict[str, Needs]] = {
    "retry": {"sync": _RETRY, "asyncio": _RETRY},
    "breaker": {"sync": _BREAKER_SYNC, "asyncio": _BREAKER_ASYNC},
    "limiter": {
        "sync, try_acquire / hit": {
            "reliant RateLimiter.gcra": (),
            "reliant RateLimiter.token_bucket": (),
            "reliant RateLimiter.sliding_window": (),
            "limits FixedWindowRateLimiter": ("limits",),
            "limits SlidingWindowCounterRateLimiter": ("limits",),
            "limits MovingWindowRateLimiter": ("limits",),
            "pyrate-limiter InMemoryBucket (log)": ("pyrate_limiter",),
            "pyrate-limiter StateBucket(TokenBucket)": ("pyrate_limiter",),
        }
    },
    "redis_limiter": {
        "Rate limiter — Redis, admitted decision for one key, one connection": {
            "reliant RedisBackend GCRA (EVALSHA)": (),
            "limits RedisStorage MovingWindowRateLimiter": ("limits",),
            "pyrate-limiter RedisBucket": ("pyrate_limiter",),
        },
        "Throughput — 64 concurrent asyncio callers, one connection, one key": {
            "reliant RedisBackend.agcra (autopipelined)": (),
            "reliant RedisBackend.agcra (autopipeline=False)": (),
            "limits aio RedisStorage MovingWindowRateLimiter": ("limits",),
            "pyrate-limiter async RedisBucket": ("pyrate_limiter",),
        },
        "Batch admission — RedisBackend.gcra_many, one pipelined round trip": {
            "reliant gcra_many, 10 keys per batch": (),
            "reliant gcra_many, 100 keys per batch": (),
        },
    },
    "pipeline": {
        "sync": {
            "reliant Pipeline (5 policies)": (),
            "reliant outbound Pipeline (Fallback, Timeout, Retry, CircuitBreaker, Bulkhead)": (),
            "tenacity + pybreaker + limits + semaphore": ("tenacity", "pybreaker", "limits"),
        },
        "asyncio": {
            "reliant Pipeline (5 policies)": (),
            "reliant outbound Pipeline (Fallback, Timeout, Retry, CircuitBreaker, Bulkhead)": (),
            "asyncio.timeout + tenacity + aiobreaker + limits + semaphore": (
                "tenacity",
                "aiobreaker",
                "limits",
            ),
        },
        "sync, each reliant policy alone": _STAGES,
        "asyncio, each reliant policy alone": _STAGES,
    },
    "middleware": {
        "asgi, admitted (200)": _MIDDLEWARE,
        "asgi, rejected (429)": _MIDDLEWARE,
        "wsgi (Flask)": {
            "(bare Flask app)": (),
            "reliant ReliantWSGIMiddleware(limiter=RateLimiter.gcra(...))": (),
            "reliant ReliantWSGIMiddleware, every request rejected": (),
        },
    },
    "concurrency": {
        "threads": {
            "(no breaker)": (),
            **{k: v for k, v in _BREAKER_SYNC.items() if k != "(undecorated function)"},
        },
        "asyncio tasks": {
            "(no breaker)": (),
            **{k: v for k, v in _BREAKER_ASYNC.items() if k != "(undecorated function)"},
        },
    },
    "memory": {
        "bytes per breaker instance (10 built)": {
            "reliant CircuitBreaker() — CountWindow(100)": (),
            "reliant CircuitBreaker(window=CountWindow(1))": (),
            "pybreaker CircuitBreaker()": ("pybreaker",),
            "circuitbreaker CircuitBreaker()": ("circuitbreaker",),
            "aiobreaker CircuitBreaker()": ("aiobreaker",),
        },
        "bytes per limiter instance (10 built)": {"reliant RateLimiter.gcra (empty)": ()},
        "bytes per limiter key (100 keys, one admitted decision each)": {
            "reliant RateLimiter.gcra": (),
            "reliant RateLimiter.token_bucket": (),
            "reliant RateLimiter.sliding_window": (),
            "limits FixedWindowRateLimiter": ("limits",),
            "limits SlidingWindowCounterRateLimiter": ("limits",),
            "limits MovingWindowRateLimiter": ("limits",),
        },
    },
    "imports": {
        "import": {
            "import reliant": (),
            "reliant: the six sync policies used": (),
            "reliant: every public name used": (),
            **{name: (name,) for name in _IMPORT_PEERS.split()},
        }
    },
    "ingest": {
        "Events — POST /api/v1/events, 4 writers": {
            f"{store}, {size} events per batch": ()
            for store in ("SQLite", "PostgreSQL")
            for size in (1000, 100)
        },
        "Telemetry — POST /api/v1/ingest, gzip SDK batches, 4 writers": {
            f"{store}, {points} points per gzip batch": ()
            for store in ("SQLite", "PostgreSQL")
            for points in (500, 5000)
        },
        "API latency while 1000-event batches are ingested, 20 requests/s": {
            f"{store}, GET /api/v1/events?limit=100{query}": ()
            for store in ("SQLite", "PostgreSQL")
            for query in ("", "&service=svc-03")
        },
    },
    "slo_eval": {
        "steady evaluation cycle (every SLO read, judged and stored)": {
            "SQLite": (),
            "PostgreSQL": (),
            "SQLite, every bucket busy": (),
            "PostgreSQL, every bucket busy": (),
        }
    },
}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _run(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert 0 == proc.returncode, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """One quick run of every section, as JSON."""
    return json.loads(_run("--json"))  # type: ignore[no-any-return]


def _rows(report: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (s["key"], t["title"], r)
        for s in report["sections"]
        for t in s["tables"]
        for r in t["rows"]
    ]


def test_every_section_table_and_row_is_produced(report: dict[str, Any]) -> None:
    """The quick run yields exactly the expected sections, tables and rows, in order."""
    actual = {
        s["key"]: {t["title"]: [r["library"] for r in t["rows"]] for t in s["tables"]}
        for s in report["sections"]
    }
    expected = {k: {t: list(rows) for t, rows in v.items()} for k, v in EXPECTED.items()}
    assert expected == actual


def test_reliant_rows_always_have_a_finite_figure(report: dict[str, Any]) -> None:
    """Rows that need no peer library always run and report a finite positive figure."""
    missing = [
        (key, title, row["library"], row["note"])
        for key, title, row in _rows(report)
        if not EXPECTED[key][title][row["library"]]
        and not (row["value"] is not None and math.isfinite(row["value"]) and row["value"] > 0)
    ]
    assert [] == missing


def test_measured_rows_have_finite_positive_ratios(report: dict[str, Any]) -> None:
    """Every row with a figure also has a finite positive ratio to its reference."""
    bad = [
        (key, title, row["library"], row["ratio"])
        for key, title, row in _rows(report)
        if row["value"] is not None
        and not (row["ratio"] is not None and math.isfinite(row["ratio"]) and row["ratio"] > 0)
    ]
    assert [] == bad


def test_a_row_without_a_figure_names_a_peer_that_is_not_installed(
    report: dict[str, Any],
) -> None:
    """A peer row lacks its figure only because one of its libraries is not installed."""
    unexplained = []
    for key, title, row in _rows(report):
        if row["value"] is not None:
            continue
        needs = EXPECTED[key][title][row["library"]]
        absent = [m for m in needs if not _installed(m)]
        if not absent or not row["note"].startswith("not installed"):
            unexplained.append((key, title, row["library"], row["note"]))
    assert [] == unexplained


def test_targets_have_a_verdict_unless_a_peer_is_missing(report: dict[str, Any]) -> None:
    """Each section checks its targets; only a missing peer leaves one without a verdict."""
    every_peer_installed = all(
        _installed(m) for tables in EXPECTED.values() for rows in tables.values()
        for needs in rows.values() for m in needs
    )  # fmt: skip
    counts = {s["key"]: len(s["targets"]) for s in report["sections"]}
    undecided = [
        t["description"] for s in report["sections"] for t in s["targets"] if t["passed"] is None
    ]
    assert {
        "retry": 2,
        "breaker": 2,
        "limiter": 1,
        "redis_limiter": 1,
        "pipeline": 3,
        "middleware": 0,
        "concurrency": 2,
        "memory": 2,
        "imports": 2,
        "ingest": 3,
        "slo_eval": 2,
    } == counts
    assert every_peer_installed is False or [] == undecided


def test_markdown_output_has_a_table_per_table_and_the_targets() -> None:
    """--markdown prints each table as a Markdown table followed by the target verdicts."""
    out = _run("--markdown", "--only", "retry")
    headings = [line for line in out.splitlines() if line.startswith("## ")]
    assert ["## Results", "## Retry — success path, decorated function"] == headings[-2:]
    assert ["**sync**", "**asyncio**"] == [
        line for line in out.splitlines() if line.startswith("**") and line.endswith("**")
    ]
    assert 2 == sum(1 for line in out.splitlines() if line.startswith("| library |"))
    assert 1 == sum(1 for line in out.splitlines() if line.startswith("| target |"))
