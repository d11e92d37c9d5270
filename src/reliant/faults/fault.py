"""Fault: inject errors, latency or substitute results into calls, at a rate.

Off by default and switchable at run time (``enable()``/``disable()``), so a service
can ship with faults wired in and a chaos experiment or the control plane can turn
them on. Draws come from a seedable ``random.Random``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reliant._core import validate
from reliant._core.clock import Clock
from reliant._core.deadline import remaining
from reliant._core.events import BUS
from reliant._core.policy import Args, Kwargs, Policy
from reliant.exceptions import InjectedFault, TimeoutExceeded

if TYPE_CHECKING:
    import random

DEFAULT_RATE = 0.1
_NO_RESULT: Any = object()

ErrorSpec = type[BaseException] | BaseException | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultOptions:
    """Validated options of a :class:`Fault`."""

    rate: float = DEFAULT_RATE
    error: ErrorSpec = InjectedFault
    latency: float | None = None
    result: Any = _NO_RESULT

    def __post_init__(self) -> None:
        validate.ratio("Fault", "rate", self.rate)
        error = self.error
        if error is not None and not (
            isinstance(error, BaseException)
            or (isinstance(error, type) and issubclass(error, BaseException))
        ):
            raise ValueError(
                f"Fault: error must be an exception class, instance or None, got {error!r}"
            )
        if self.latency is not None:
            validate.non_negative("Fault", "latency", self.latency)
        if error is not None and self.result is not _NO_RESULT:
            raise ValueError(
                "Fault: give error= or result=, not both (set error=None to inject a result)"
            )
        if error is None and self.latency is None and self.result is _NO_RESULT:
            raise ValueError("Fault: nothing to inject; give error=, latency= or result=")


class Fault(Policy):
    """Inject a fault into a share ``rate`` of calls while enabled.

    Args:
        rate: probability in [0, 1] that a call is affected.
        error: the exception class or instance to raise (``None`` for none); by default
            :class:`~reliant.InjectedFault`, a ``ConnectionError``.
        latency: seconds of delay added before the call (or before the error).
        result: a value returned instead of calling (requires ``error=None``).
        enabled: whether injection starts switched on (off by default).
        name: the policy's name in events, telemetry and the control plane.
        clock: the time source for injected latency.
        rng: random source for the draws (seed it for repeatable experiments).

    Injected latency honours the current deadline: a sync Timeout around the fault
    sees ``TimeoutExceeded`` at its deadline, as it would from a reliant-aware client.
    """

    __slots__ = ("_enabled", "_rate", "_rng", "injected", "options")

    def __init__(
        self,
        *,
        rate: float = DEFAULT_RATE,
        error: ErrorSpec = InjectedFault,
        latency: float | None = None,
        result: Any = _NO_RESULT,
        enabled: bool = False,
        name: str = "",
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(name=name, clock=clock)
        self.options = FaultOptions(rate=rate, error=error, latency=latency, result=result)
        self._rate = float(rate)
        self._enabled = bool(enabled)
        if rng is None:
            import random  # imported on first use, not with the module

            rng = random.Random()
        self._rng = rng
        #: Calls affected so far.
        self.injected = 0

    @property
    def enabled(self) -> bool:
        """Whether the fault is switched on."""
        return self._enabled

    @property
    def rate(self) -> float:
        """The current injection rate."""
        return self._rate

    def enable(self, rate: float | None = None) -> None:
        """Switch injection on, optionally at a new ``rate``."""
        if rate is not None:
            self._rate = validate.ratio("Fault", "rate", rate)
        self._enabled = True
        if BUS.active:
            BUS.emit("fault.enabled", self.name, self.clock.now(), {"rate": self._rate})

    def disable(self) -> None:
        """Switch injection off."""
        self._enabled = False
        if BUS.active:
            BUS.emit("fault.disabled", self.name, self.clock.now(), {"rate": self._rate})

    def _draw(self) -> bool:
        """Decide whether this call is affected (only called while enabled)."""
        if self._rng.random() >= self._rate:
            return False
        self.injected += 1
        if BUS.active:
            o = self.options
            # Name the effect the caller sees: an error or a substitute result wins
            # over the latency that may precede it.
            if o.error is not None:
                kind = "error"
            elif o.result is not _NO_RESULT:
                kind = "result"
            else:
                kind = "latency"
            BUS.emit("fault.injected", self.name, self.clock.now(), {"fault": kind})
        return True

    def _latency(self) -> tuple[float, bool]:
        """Return the delay to inject and whether a deadline cuts it short."""
        latency = self.options.latency or 0.0
        left = remaining(self.clock)
        if left is not None and left < latency:
            return max(0.0, left), True
        return latency, False

    def _error(self) -> BaseException | None:
        """Return the exception to inject, or ``None`` when none is configured."""
        error = self.options.error
        if error is None:
            return None
        if isinstance(error, type):
            return error()
        # A shared instance would otherwise keep every raise's frames on its traceback.
        return error.with_traceback(None)

    def _deadline_error(self) -> TimeoutExceeded:
        return TimeoutExceeded(f"{self.name}: deadline reached during injected latency")

    def _run(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        if not self._enabled or not self._draw():
            return fn(*args, **kwargs)
        if self.options.latency:
            delay, cut = self._latency()
            self.clock.sleep(delay)
            if cut:
                raise self._deadline_error()
        error = self._error()
        if error is not None:
            raise error
        if self.options.result is not _NO_RESULT:
            return self.options.result
        return fn(*args, **kwargs)

    async def _arun(self, fn: Callable[..., Awaitable[Any]], args: Args, kwargs: Kwargs) -> Any:
        if not self._enabled or not self._draw():
            return await fn(*args, **kwargs)
        if self.options.latency:
            # asyncio timeouts cancel this sleep, so no deadline arithmetic is needed.
            await self.clock.asleep(self.options.latency)
        error = self._error()
        if error is not None:
            raise error
        if self.options.result is not _NO_RESULT:
            return self.options.result
        return await fn(*args, **kwargs)

    def describe(self) -> dict[str, Any]:
        """Return kind, name, options and whether it is enabled."""
        o = self.options
        return {
            "kind": "Fault",
            "name": self.name,
            "rate": self._rate,
            "enabled": self._enabled,
            "error": None if o.error is None else repr(o.error),
            "latency": o.latency,
        }
