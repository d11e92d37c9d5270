"""Tests for reliant._core.policy: the Policy base and its three forms of use."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from reliant._core.clock import MONOTONIC
from reliant._core.policy import Args, Kwargs, Policy
from reliant.testing import VirtualClock


class Recording(Policy):
    """A pass-through policy that records which driver ran."""

    __slots__ = ("runs",)

    def __init__(self, *, name: str = "", clock: Any = None) -> None:
        super().__init__(name=name, clock=clock)
        self.runs: list[str] = []

    def _run(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        self.runs.append("sync")
        return fn(*args, **kwargs)

    async def _arun(self, fn: Callable[..., Awaitable[Any]], args: Args, kwargs: Kwargs) -> Any:
        self.runs.append("async")
        return await fn(*args, **kwargs)


def add(a: int, b: int = 0, *, scale: int = 1) -> int:
    """Add and scale."""
    return (a + b) * scale


async def aadd(a: int, b: int = 0, *, scale: int = 1) -> int:
    """Add and scale, asynchronously."""
    await asyncio.sleep(0)
    return (a + b) * scale


def test_call_forwards_args_and_kwargs() -> None:
    """call() runs the sync driver with positional and keyword arguments."""
    policy = Recording()
    assert 12 == policy.call(add, 1, 2, scale=4)
    assert ["sync"] == policy.runs


def test_acall_forwards_args_and_kwargs() -> None:
    """acall() returns a coroutine that runs the async driver."""
    policy = Recording()
    assert 12 == asyncio.run(policy.acall(aadd, 1, b=2, scale=4))
    assert ["async"] == policy.runs


def test_decorator_keeps_name_and_wraps_sync() -> None:
    """Decorating a sync function keeps its metadata and routes calls through _run."""
    policy = Recording()
    wrapped = policy(add)
    assert "add" == wrapped.__name__
    assert "Add and scale." == wrapped.__doc__
    assert add is wrapped.__wrapped__  # type: ignore[attr-defined]
    assert not inspect.iscoroutinefunction(wrapped)
    assert 6 == wrapped(1, 2, scale=2)
    assert ["sync"] == policy.runs


def test_decorator_keeps_name_and_wraps_async() -> None:
    """Decorating an async function gives an async function that runs _arun."""
    policy = Recording()
    wrapped = policy(aadd)
    assert "aadd" == wrapped.__name__
    assert inspect.iscoroutinefunction(wrapped)
    assert inspect.signature(aadd) == inspect.signature(wrapped)
    assert 6 == asyncio.run(wrapped(1, 2, scale=2))
    assert ["async"] == policy.runs


def test_decorator_as_at_syntax_on_methods() -> None:
    """The decorator works on methods, passing self through."""
    policy = Recording()

    class Client:
        factor = 3

        @policy
        def get(self, x: int) -> int:
            return x * self.factor

        @policy
        async def aget(self, x: int) -> int:
            return x * self.factor

    client = Client()
    assert 6 == client.get(2)
    assert 9 == asyncio.run(client.aget(3))
    assert ["sync", "async"] == policy.runs


def test_decorator_awaits_objects_with_async_call() -> None:
    """An object whose __call__ is a coroutine function gets the async wrapper."""

    class Handler:
        async def __call__(self, x: int) -> int:
            return x + 1

    policy = Recording()
    wrapped = policy(Handler())
    assert inspect.iscoroutinefunction(wrapped)
    assert 2 == asyncio.run(wrapped(1))
    assert ["async"] == policy.runs


def test_decorator_rejects_non_callable() -> None:
    """Decorating something that is not callable raises TypeError."""
    with pytest.raises(TypeError, match="Recording decorates callables"):
        Recording()(42)  # type: ignore[call-overload]


def test_name_defaults_to_lowercase_class_name() -> None:
    """Without name=, a policy is named after its class."""
    assert "recording" == Recording().name
    assert "db" == Recording(name="db").name


def test_clock_defaults_to_monotonic() -> None:
    """Without clock=, a policy uses the monotonic clock."""
    assert MONOTONIC is Recording().clock
    clock = VirtualClock()
    assert clock is Recording(clock=clock).clock


def test_invalid_name_rejected() -> None:
    """A non-string name is a ValueError naming the class and option."""
    with pytest.raises(ValueError, match="Recording: name must be a string"):
        Recording(name=3)  # type: ignore[arg-type]


def test_invalid_clock_rejected() -> None:
    """A clock without now/sleep/asleep is a ValueError naming the class and option."""
    with pytest.raises(ValueError, match=r"Recording: clock must have now\(\), sleep\(\)"):
        Recording(clock=object())


def test_describe_and_repr() -> None:
    """describe() gives kind and name; repr shows them."""
    policy = Recording(name="svc")
    assert {"kind": "Recording", "name": "svc"} == dict(policy.describe())
    assert "Recording(name='svc')" == repr(policy)


def test_policy_is_abstract() -> None:
    """Policy itself cannot be instantiated without the two drivers."""
    with pytest.raises(TypeError):
        Policy(name="", clock=None)  # type: ignore[abstract]


def test_exceptions_propagate_unchanged_through_all_forms() -> None:
    """The user's exception reaches the caller as-is through call, acall and decorator."""
    policy = Recording()
    error = LookupError("missing")

    def fail() -> None:
        raise error

    async def afail() -> None:
        raise error

    with pytest.raises(LookupError) as sync_info:
        policy.call(fail)
    with pytest.raises(LookupError) as async_info:
        asyncio.run(policy.acall(afail))
    with pytest.raises(LookupError) as deco_info:
        policy(fail)()
    assert error is sync_info.value is async_info.value is deco_info.value
