"""Calls by outcome and latency for any policy: the :func:`metered` wrapper.

Only circuit breakers report the outcome and duration of each call they see. Wrapping
any policy or pipeline in :func:`metered` makes it emit one ``call.completed`` event
per call, with ``outcome`` and ``duration``; the Prometheus and OpenTelemetry adapters
turn it into ``reliant_calls_total`` and ``reliant_call_duration_seconds``.

Standard library only: importing this module imports no adapter library.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from reliant._core.events import BUS
from reliant._core.policy import Args, Kwargs, Policy
from reliant.exceptions import RejectedError, TimeoutExceeded

#: The event kind emitted once per call.
CALL_COMPLETED = "call.completed"

#: Every value of the ``outcome`` attribute.
OUTCOMES = ("success", "failure", "rejected", "timeout")


def outcome_of(exc: Exception) -> str:
    """Classify an exception that escaped a call.

    Args:
        exc: the exception.

    Returns:
        ``"rejected"`` for a :class:`~reliant.RejectedError`, ``"timeout"`` for a
        :class:`~reliant.TimeoutExceeded`, ``"failure"`` for anything else.
    """
    if isinstance(exc, RejectedError):
        return "rejected"
    if isinstance(exc, TimeoutExceeded):
        return "timeout"
    return "failure"


class Metered(Policy):
    """A policy that reports the outcome and duration of every call of another policy.

    With nobody subscribed to the event bus it calls straight through (one attribute
    test, no clock read). Otherwise it reads the wrapped policy's clock before and
    after the call and emits ``call.completed`` with ``outcome`` (``success``,
    ``failure``, ``rejected``, ``timeout``) and ``duration`` (seconds). A call
    interrupted by a ``BaseException`` that is not an ``Exception`` (cancellation,
    ``KeyboardInterrupt``) emits nothing.

    Args:
        policy: the policy or pipeline to wrap.
        name: the ``policy`` of the events (default: the wrapped policy's name).

    Raises:
        ValueError: if ``policy`` is not a reliant policy, or ``name`` not a string.
    """

    __slots__ = ("_ainner", "_inner", "_now", "policy")

    def __init__(self, policy: Policy, *, name: str = "") -> None:
        if not isinstance(policy, Policy):
            raise ValueError(f"Metered: policy must be a reliant policy, got {policy!r}")
        super().__init__(name=name or policy.name, clock=policy.clock)
        self.policy = policy
        self._inner = policy._run
        self._ainner = policy._arun
        self._now = self.clock.now

    def _emit(self, outcome: str, start: float) -> None:
        end = self._now()
        if BUS.active:
            BUS.emit(CALL_COMPLETED, self.name, end, {"outcome": outcome, "duration": end - start})

    def _run(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        if not BUS.active:
            return self._inner(fn, args, kwargs)
        start = self._now()
        try:
            result = self._inner(fn, args, kwargs)
        except Exception as exc:
            self._emit(outcome_of(exc), start)
            raise
        self._emit("success", start)
        return result

    async def _arun(self, fn: Callable[..., Awaitable[Any]], args: Args, kwargs: Kwargs) -> Any:
        if not BUS.active:
            return await self._ainner(fn, args, kwargs)
        start = self._now()
        try:
            result = await self._ainner(fn, args, kwargs)
        except Exception as exc:
            self._emit(outcome_of(exc), start)
            raise
        self._emit("success", start)
        return result

    def describe(self) -> dict[str, Any]:
        """Return kind, name and the wrapped policy's description."""
        return {"kind": "Metered", "name": self.name, "policy": dict(self.policy.describe())}


def metered(policy: Policy, name: str = "") -> Metered:
    """Wrap ``policy`` so every call reports its outcome and duration.

    Args:
        policy: the policy or pipeline to wrap.
        name: the ``policy`` label of its metrics (default: the policy's name).

    Returns:
        A policy used exactly like ``policy`` (``call``, ``acall``, decorator).

    Raises:
        ValueError: if ``policy`` is not a reliant policy.
    """
    return Metered(policy, name=name)


__all__ = ["CALL_COMPLETED", "OUTCOMES", "Metered", "metered", "outcome_of"]
