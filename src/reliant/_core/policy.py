"""The protocol every policy follows, and the three ways to use one.

A policy implements two drivers over one decision core: ``_run`` (sync) and
``_arun`` (asyncio), each taking the callable with its positional and keyword
arguments unpacked (``fn, args, kwargs``) so that a pipeline can chain policies
without building a closure per call. The public forms — :meth:`Policy.call`,
:meth:`Policy.acall` and use as a decorator — are defined once here.
"""

from __future__ import annotations

import functools
import inspect
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, ParamSpec, TypeVar, overload

from reliant._core.clock import MONOTONIC, Clock

P = ParamSpec("P")
R = TypeVar("R")

Args = tuple[Any, ...]
Kwargs = dict[str, Any]
#: Shared empty kwargs: drivers only ever unpack it, never mutate it.
NO_KWARGS: Kwargs = {}


class Policy(ABC):
    """Base of every resilience policy.

    Subclasses set ``name`` and ``clock`` and implement ``_run`` and ``_arun``.
    """

    __slots__ = ("__weakref__", "clock", "name")

    name: str
    clock: Clock

    def __init__(self, *, name: str, clock: Clock | None) -> None:
        if not isinstance(name, str):
            raise ValueError(f"{type(self).__name__}: name must be a string, got {name!r}")
        if clock is not None and not isinstance(clock, Clock):
            raise ValueError(
                f"{type(self).__name__}: clock must have now(), sleep() and asleep(), got {clock!r}"
            )
        self.name = name or type(self).__name__.lower()
        self.clock = clock if clock is not None else MONOTONIC

    @abstractmethod
    def _run(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        """Run ``fn(*args, **kwargs)`` under this policy, synchronously."""

    @abstractmethod
    async def _arun(self, fn: Callable[..., Awaitable[Any]], args: Args, kwargs: Kwargs) -> Any:
        """Await ``fn(*args, **kwargs)`` under this policy."""

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call ``fn(*args, **kwargs)`` under this policy and return its result."""
        return self._run(fn, args, kwargs)  # type: ignore[no-any-return]

    def acall(
        self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, R]:
        """Await ``fn(*args, **kwargs)`` under this policy: ``await policy.acall(fn, ...)``."""
        return self._arun(fn, args, kwargs)

    @overload
    def __call__(
        self, fn: Callable[P, Coroutine[Any, Any, R]]
    ) -> Callable[P, Coroutine[Any, Any, R]]: ...

    @overload
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]: ...

    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Decorate a sync or async function so every call runs under this policy."""
        # An object whose __call__ is a coroutine function is awaited too.
        if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__):
            arun = self._arun

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                return await arun(fn, args, kwargs)

            return async_wrapper
        if not callable(fn):
            raise TypeError(f"{type(self).__name__} decorates callables, got {fn!r}")
        run = self._run

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            return run(fn, args, kwargs)

        return wrapper

    def describe(self) -> Mapping[str, Any]:
        """Return the policy's kind, name and options, for logs and the control plane."""
        return {"kind": type(self).__name__, "name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
