"""Fallback: answer with a substitute value when the call fails."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from reliant._core import validate
from reliant._core.clock import Clock
from reliant._core.events import BUS
from reliant._core.policy import Args, Kwargs, Policy

_MISSING: Any = object()


@dataclass(frozen=True, slots=True, kw_only=True)
class FallbackOptions:
    """Validated options of a :class:`Fallback`."""

    value: Any = _MISSING
    handler: Callable[[BaseException], Any] | None = None
    on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        has_value = self.value is not _MISSING
        if has_value == (self.handler is not None):
            raise ValueError("Fallback: give exactly one of value= or handler=")
        if self.handler is not None and not callable(self.handler):
            raise ValueError(f"Fallback: handler must be callable, got {self.handler!r}")
        object.__setattr__(self, "on", validate.exception_types("Fallback", "on", self.on))


class Fallback(Policy):
    """Return ``value`` (or ``handler(exc)``) when the call raises one of ``on``.

    Args:
        value: the substitute result.
        handler: called with the exception to produce the result; for ``acall`` it
            may be a coroutine function. Raising from it replaces the error.
        on: exception types that trigger the fallback (all ``Exception`` by default).
            Use several Fallback policies for different answers per exception type.
        name: the policy's name in events and telemetry.
        clock: the time source (for event times).
    """

    __slots__ = ("_handler", "_on", "_value", "options")

    def __init__(
        self,
        *,
        value: Any = _MISSING,
        handler: Callable[[BaseException], Any] | None = None,
        on: type[BaseException] | tuple[type[BaseException], ...] = (Exception,),
        name: str = "",
        clock: Clock | None = None,
    ) -> None:
        super().__init__(name=name, clock=clock)
        self.options = FallbackOptions(
            value=value, handler=handler, on=on if isinstance(on, tuple) else (on,)
        )
        self._on = self.options.on
        self._handler = handler
        self._value = value

    def _used(self, exc: BaseException) -> None:
        if BUS.active:
            BUS.emit("fallback.used", self.name, self.clock.now(), {"exception": exc})

    def _run(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        try:
            return fn(*args, **kwargs)
        except self._on as exc:
            self._used(exc)
            if self._handler is None:
                return self._value
            return self._handler(exc)

    async def _arun(self, fn: Callable[..., Awaitable[Any]], args: Args, kwargs: Kwargs) -> Any:
        try:
            return await fn(*args, **kwargs)
        except self._on as exc:
            self._used(exc)
            if self._handler is None:
                return self._value  # returned as given, even if it is awaitable
            result = self._handler(exc)
            if inspect.isawaitable(result):
                return await result
            return result

    def describe(self) -> dict[str, Any]:
        """Return kind, name and options."""
        return {
            "kind": "Fallback",
            "name": self.name,
            "on": [t.__name__ for t in self._on],
            "handler": self._handler is not None,
        }
