"""Tests for reliant.resilience.fallback: a substitute answer when the call fails."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from reliant.exceptions import BulkheadFullError, RejectedError
from reliant.resilience.fallback import Fallback
from reliant.testing import VirtualClock, capture_events

MODES = ["sync", "async"]


class Abort(BaseException):
    """A BaseException that is not an Exception (like KeyboardInterrupt)."""


def run_call(mode: str, policy: Fallback, outcome: Callable[[], Any]) -> Any:
    """Call ``outcome`` through ``policy`` as a sync function or as a coroutine."""
    if mode == "sync":
        return policy.call(outcome)

    async def aoutcome() -> Any:
        await asyncio.sleep(0)
        return outcome()

    return asyncio.run(policy.acall(aoutcome))


def raiser(exc: BaseException) -> Callable[[], Any]:
    def fail() -> Any:
        raise exc

    return fail


@pytest.mark.parametrize("mode", MODES)
def test_success_passes_through(mode: str) -> None:
    """A successful call's result is returned untouched and emits nothing."""
    with capture_events(kinds=["fallback"]) as events:
        assert "real" == run_call(mode, Fallback(value="substitute"), lambda: "real")
    assert [] == events


@pytest.mark.parametrize("mode", MODES)
def test_value_returned_on_failure(mode: str) -> None:
    """When the call raises, the configured value is returned instead."""
    assert [] == run_call(mode, Fallback(value=[]), raiser(ConnectionError("down")))


@pytest.mark.parametrize("mode", MODES)
def test_none_is_a_valid_value(mode: str) -> None:
    """value=None is a substitute like any other."""
    assert run_call(mode, Fallback(value=None), raiser(ValueError())) is None


@pytest.mark.parametrize("mode", MODES)
def test_handler_gets_the_exception(mode: str) -> None:
    """A handler receives the very exception raised and its return value is the answer."""
    error = TimeoutError("slow")
    received: list[BaseException] = []

    def handler(exc: BaseException) -> str:
        received.append(exc)
        return f"cached after {type(exc).__name__}"

    assert "cached after TimeoutError" == run_call(mode, Fallback(handler=handler), raiser(error))
    assert [error] == received


@pytest.mark.parametrize("mode", MODES)
def test_on_filters_exception_types(mode: str) -> None:
    """Only exceptions of the ``on`` types are replaced; others pass unchanged."""
    policy = Fallback(value="default", on=(KeyError, RejectedError))
    assert "default" == run_call(mode, policy, raiser(KeyError("k")))
    assert "default" == run_call(mode, policy, raiser(BulkheadFullError("full")))
    error = ValueError("not handled")
    with pytest.raises(ValueError) as info:
        run_call(mode, policy, raiser(error))
    assert error is info.value


@pytest.mark.parametrize("mode", MODES)
def test_on_accepts_a_single_type(mode: str) -> None:
    """on= may be a single exception class."""
    policy = Fallback(value=0, on=ZeroDivisionError)
    assert (ZeroDivisionError,) == policy.options.on
    assert 0 == run_call(mode, policy, lambda: 1 / 0)


@pytest.mark.parametrize("mode", MODES)
def test_base_exceptions_pass_by_default(mode: str) -> None:
    """By default only Exception subclasses trigger the fallback."""
    with pytest.raises(Abort):
        run_call(mode, Fallback(value="x"), raiser(Abort()))


@pytest.mark.parametrize("mode", MODES)
def test_handler_error_replaces_the_original(mode: str) -> None:
    """An error raised by the handler reaches the caller, with the original as context."""
    original = ConnectionError("down")

    def handler(exc: BaseException) -> Any:
        raise LookupError("no cached copy")

    with pytest.raises(LookupError) as info:
        run_call(mode, Fallback(handler=handler), raiser(original))
    assert original is info.value.__context__


@pytest.mark.parametrize("mode", MODES)
def test_used_event(mode: str) -> None:
    """A fallback emits fallback.used with the exception, at the clock's reading."""
    clock = VirtualClock(start=7.0)
    error = OSError("disk")
    with capture_events(policy="cache") as events:
        run_call(mode, Fallback(value=1, name="cache", clock=clock), raiser(error))
    assert [("fallback.used", "cache", 7.0, {"exception": error})] == [
        (e.kind, e.policy, e.time, dict(e.attributes)) for e in events
    ]


def test_async_handler_is_awaited() -> None:
    """With acall, a coroutine-function handler is awaited for the answer."""
    seen: list[BaseException] = []

    async def handler(exc: BaseException) -> str:
        seen.append(exc)
        await asyncio.sleep(0)
        return "from async handler"

    async def fail() -> str:
        raise RuntimeError("x")

    assert "from async handler" == asyncio.run(Fallback(handler=handler).acall(fail))
    assert 1 == len(seen)


def test_awaitable_value_is_returned_as_given() -> None:
    """A value that happens to be awaitable is the answer itself, not awaited."""

    async def main() -> bool:
        future = asyncio.get_running_loop().create_future()
        future.set_result("inside")

        async def fail() -> Any:
            raise RuntimeError("x")

        return future is await Fallback(value=future).acall(fail)

    assert asyncio.run(main())


def test_async_cancellation_is_not_swallowed() -> None:
    """Cancelling the caller's task is never turned into the fallback value."""

    async def main() -> str:
        task = asyncio.create_task(Fallback(value="x").acall(asyncio.sleep, 10))
        await asyncio.sleep(0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled"
        return "swallowed"

    assert "cancelled" == asyncio.run(main())


@pytest.mark.parametrize("mode", MODES)
def test_decorator_forms(mode: str) -> None:
    """Fallback decorates sync and async functions, keeping their names."""
    policy = Fallback(value=-1)

    @policy
    def parse(text: str) -> int:
        return int(text)

    @policy
    async def aparse(text: str) -> int:
        return int(text)

    if mode == "sync":
        assert ("parse", 5, -1) == (parse.__name__, parse("5"), parse("five"))
    else:
        assert ("aparse", 5, -1) == (
            aparse.__name__,
            asyncio.run(aparse("5")),
            asyncio.run(aparse("five")),
        )


# -- options -----------------------------------------------------------------------------


def test_requires_exactly_one_of_value_and_handler() -> None:
    """Giving neither or both of value= and handler= is a ValueError."""
    with pytest.raises(ValueError, match="Fallback: give exactly one of value= or handler="):
        Fallback()
    with pytest.raises(ValueError, match="Fallback: give exactly one of value= or handler="):
        Fallback(value=1, handler=lambda exc: 2)


def test_handler_must_be_callable() -> None:
    """A non-callable handler is a ValueError naming the option."""
    with pytest.raises(ValueError, match="Fallback: handler must be callable"):
        Fallback(handler="nope")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [ValueError("instance"), "KeyError", (KeyError, 3), int])
def test_on_must_be_exception_types(bad: object) -> None:
    """on must be an exception class or a tuple of them."""
    with pytest.raises(ValueError, match="Fallback: on must be an exception class"):
        Fallback(value=1, on=bad)  # type: ignore[arg-type]


def test_describe() -> None:
    """describe() reports kind, name, the handled types and whether a handler is set."""
    assert {"kind": "Fallback", "name": "f", "on": ["KeyError"], "handler": False} == (
        Fallback(value=0, on=KeyError, name="f").describe()
    )
    assert {"kind": "Fallback", "name": "fallback", "on": ["Exception"], "handler": True} == (
        Fallback(handler=repr).describe()
    )
