"""Helpers shared by the telemetry tests: drive real policies through call() or acall()."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reliant import CircuitBreaker, CountWindow, Policy
from reliant.testing import VirtualClock


def invoke(policy: Policy, mode: str, fn: Callable[[], Any], clock: VirtualClock) -> Any:
    """Run ``fn`` under ``policy`` (sync or asyncio); return its result or the exception."""

    async def afn() -> Any:
        return fn()

    try:
        if mode == "sync":
            return policy.call(fn)
        return clock.run(policy.acall(afn))
    except Exception as exc:
        return exc


def fail() -> None:
    """A call that always fails."""
    raise ValueError("boom")


def flaky(failures: int) -> Callable[[], str]:
    """A call that fails ``failures`` times, then answers ``"ok"``."""
    left = [failures]

    def call() -> str:
        if left[0] > 0:
            left[0] -= 1
            raise ValueError("flaky")
        return "ok"

    return call


def breaker(name: str, clock: VirtualClock) -> CircuitBreaker:
    """A breaker that opens after two failures in its first two calls."""
    return CircuitBreaker(name=name, window=CountWindow(4), min_calls=2, clock=clock)


def trip(cb: CircuitBreaker, mode: str, clock: VirtualClock) -> None:
    """Open ``cb`` with two failures, then have it reject one call."""
    invoke(cb, mode, fail, clock)
    invoke(cb, mode, fail, clock)
    invoke(cb, mode, fail, clock)
