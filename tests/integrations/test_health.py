"""Health: liveness and readiness answers, sync (threads) and async (event loop)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import reliant
from reliant.integrations.health import Health
from reliant.testing import VirtualClock


@pytest.fixture
def hang() -> Iterator[threading.Event]:
    """An event a hanging check waits on; set at teardown so its thread ends."""
    event = threading.Event()
    yield event
    event.set()


def _ready(health: Health, mode: str) -> tuple[int, Any]:
    if mode == "sync":
        status, body = health.readyz()
    else:
        status, body = VirtualClock().run(health.areadyz())
    return status, json.loads(body)


def test_livez_is_always_ok() -> None:
    """Liveness answers 200 with an empty check list, whatever the breakers say."""
    breaker = reliant.CircuitBreaker(name="db")
    breaker.force_open()
    health = Health(breakers=[breaker])
    assert (200, b'{"status":"ok","checks":{}}') == health.livez()


def test_ready_without_anything_registered(mode: str) -> None:
    """With nothing registered the service is ready."""
    assert (200, {"status": "ok", "checks": {}}) == _ready(Health(), mode)


@pytest.mark.parametrize(
    ("action", "status", "expected"),
    [
        ("reset", 200, {"status": "ok", "state": "closed"}),
        ("force_open", 503, {"status": "fail", "state": "forced_open"}),
        ("disable", 200, {"status": "ok", "state": "disabled"}),
    ],
)
def test_breaker_state_decides_readiness(
    mode: str, action: str, status: int, expected: dict[str, str]
) -> None:
    """A forced-open breaker fails readiness; closed and disabled ones do not."""
    breaker = reliant.CircuitBreaker(name="payments")
    getattr(breaker, action)()
    health = Health()
    health.add_breaker(breaker)
    assert (status, {"status": "ok" if status == 200 else "fail", "checks": {
        "breaker:payments": expected
    }}) == _ready(health, mode)  # fmt: skip


def test_a_tripped_breaker_fails_readiness(mode: str) -> None:
    """A breaker that opened on failures makes the service not ready."""
    clock = VirtualClock()
    breaker = reliant.CircuitBreaker(
        name="db", min_calls=1, window=reliant.CountWindow(1), clock=clock
    )

    def fail() -> None:
        raise ConnectionError

    with pytest.raises(ConnectionError):
        breaker.call(fail)
    health = Health(breakers=[breaker])
    assert (503, "open") == (_ready(health, mode)[0], breaker.state.value)


def test_check_outcomes(mode: str) -> None:
    """A check passes unless it raises or returns False; async checks are awaited."""

    def ok() -> None:
        return None

    def false() -> bool:
        return False

    async def raises() -> None:
        raise OSError("refused")

    health = Health(checks={"ok": ok, "false": false, "raises": raises})
    assert (
        503,
        {
            "status": "fail",
            "checks": {
                "ok": {"status": "ok"},
                "false": {"status": "fail", "reason": "returned False"},
                "raises": {"status": "fail", "reason": "raised OSError"},
            },
        },
    ) == _ready(health, mode)


def test_a_hanging_sync_check_times_out(mode: str, hang: threading.Event) -> None:
    """A sync check running past the timeout fails readiness and is abandoned."""
    health = Health(timeout=0.05, checks={"slow": hang.wait})
    expected = {
        "status": "fail",
        "checks": {"slow": {"status": "fail", "reason": "timed out after 0.05s"}},
    }
    assert (503, expected) == _ready(health, mode)


def test_a_hanging_async_check_times_out(mode: str) -> None:
    """An async check running past the timeout fails readiness."""

    async def slow() -> None:
        await asyncio.sleep(3600)

    health = Health(timeout=0.05, checks={"slow": slow})
    status, body = _ready(health, mode)
    assert (503, "timed out after 0.05s") == (status, body["checks"]["slow"]["reason"])


def test_draining_fails_readiness(mode: str) -> None:
    """After drain(), readiness fails so traffic moves away before shutdown."""
    health = Health()
    health.drain()
    status, body = _ready(health, mode)
    assert (503, "fail") == (status, body["checks"]["draining"]["status"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"livez_path": "livez"}, "livez_path must be a path"),
        ({"livez_path": "/x", "readyz_path": "/x"}, "livez_path and readyz_path must differ"),
        ({"timeout": 0}, "timeout"),
        ({"cache": -1}, "cache"),
        ({"breakers": [object()]}, "breaker must be"),
        ({"checks": {"x": 1}}, "check 'x' must be callable"),
    ],
)
def test_invalid_options_are_refused(options: dict[str, Any], message: str) -> None:
    """Bad paths, timeouts, breakers or checks raise ValueError naming Health."""
    with pytest.raises(ValueError, match=f"Health: {message}"):
        Health(**options)


def test_a_hung_check_runs_once_however_many_probes(mode: str, hang: threading.Event) -> None:
    """40 probes of a hung check start it once: the first times out, the rest see it running."""
    calls: list[int] = []

    def slow() -> None:
        calls.append(1)
        hang.wait()

    health = Health(timeout=0.05, checks={"slow": slow})
    reasons = [_ready(health, mode)[1]["checks"]["slow"]["reason"] for _ in range(40)]
    assert [1, ["timed out after 0.05s"] + ["still running after 0.05s"] * 39] == [
        len(calls),
        reasons,
    ]


def test_a_hung_check_that_ends_answers_the_next_probe(mode: str, hang: threading.Event) -> None:
    """Once the hung run finishes, its outcome answers the next probe: ready again."""
    health = Health(timeout=0.05, checks={"slow": hang.wait})
    first = _ready(health, mode)[0]
    hang.set()
    assert health._runs["slow"].done.wait(10.0)
    assert [503, 200] == [first, _ready(health, mode)[0]]


def _counting(calls: list[int]) -> Any:
    """An async check counting its runs (async: no thread racing a virtual-time loop)."""

    async def check() -> None:
        calls.append(1)

    return check


def test_outcomes_are_reused_within_the_cache_period(mode: str) -> None:
    """Probes within `cache` seconds reuse the check's outcome; the check runs once."""
    calls: list[int] = []
    health = Health(checks={"db": _counting(calls)})
    statuses = [_ready(health, mode)[0] for _ in range(5)]
    assert [[200] * 5, 1] == [statuses, len(calls)]


def test_the_check_runs_again_once_the_cache_period_passed(mode: str) -> None:
    """After `cache` seconds on the Health's clock, the next probe runs the check again."""
    calls: list[int] = []
    clock = VirtualClock()
    health = Health(cache=1.0, clock=clock, checks={"db": _counting(calls)})
    _ready(health, mode)
    clock.advance(0.9)
    _ready(health, mode)
    clock.advance(0.1)
    _ready(health, mode)
    assert 2 == len(calls)


def test_breakers_and_draining_are_read_on_every_probe(mode: str) -> None:
    """The cache covers checks only: a breaker forced open fails the very next probe."""
    breaker = reliant.CircuitBreaker(name="db")
    health = Health(breakers=[breaker], checks={"db": _counting([])})
    first = _ready(health, mode)[0]
    breaker.force_open()
    second = _ready(health, mode)[0]
    breaker.reset()
    health.drain()
    assert [200, 503, 503] == [first, second, _ready(health, mode)[0]]
