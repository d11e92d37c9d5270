"""Tests for reliant.resilience.pipeline: several policies applied as one."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from reliant._core.policy import Args, Kwargs, Policy
from reliant.exceptions import TimeoutExceeded
from reliant.faults.fault import Fault
from reliant.resilience.backoff import Backoff
from reliant.resilience.fallback import Fallback
from reliant.resilience.pipeline import Pipeline
from reliant.resilience.retry import Retry
from reliant.resilience.timeout import Timeout
from reliant.testing import VirtualClock, capture_events

NO_WAIT = Backoff.constant(0.0)


def invoke(mode: str, policy: Policy, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``fn(*args, **kwargs)`` under ``policy``, sync or inside a coroutine."""
    if mode == "sync":
        return policy.call(fn, *args, **kwargs)

    async def afn(*a: Any, **kw: Any) -> Any:
        await asyncio.sleep(0)
        return fn(*a, **kw)

    return asyncio.run(policy.acall(afn, *args, **kwargs))


class Tag(Policy):
    """A policy that logs when the call enters and leaves it."""

    __slots__ = ("log",)

    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__(name=name, clock=None)
        self.log = log

    def _run(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        self.log.append(f"{self.name}>")
        try:
            return fn(*args, **kwargs)
        finally:
            self.log.append(f"<{self.name}")

    async def _arun(self, fn: Callable[..., Awaitable[Any]], args: Args, kwargs: Kwargs) -> Any:
        self.log.append(f"{self.name}>")
        try:
            return await fn(*args, **kwargs)
        finally:
            self.log.append(f"<{self.name}")


def test_first_policy_is_outermost(mode: str) -> None:
    """Pipeline(a, b, c) runs the call inside c, inside b, inside a."""
    log: list[str] = []

    def call() -> str:
        log.append("call")
        return "ok"

    pipeline = Pipeline(Tag("a", log), Tag("b", log), Tag("c", log))
    assert "ok" == invoke(mode, pipeline, call)
    assert ["a>", "b>", "c>", "call", "<c", "<b", "<a"] == log


def test_fallback_outside_retry_sees_only_the_final_failure(mode: str) -> None:
    """Fallback(Retry(...)): every attempt is made, then the fallback answers."""
    calls: list[int] = []

    def failing() -> str:
        calls.append(1)
        raise ConnectionError

    pipeline = Pipeline(Fallback(value="cached"), Retry(attempts=3, backoff=NO_WAIT))
    assert "cached" == invoke(mode, pipeline, failing)
    assert 3 == len(calls)


def test_retry_outside_fallback_never_sees_the_failure(mode: str) -> None:
    """Retry(Fallback(...)): the fallback answers the first failure; nothing is retried."""
    calls: list[int] = []

    def failing() -> str:
        calls.append(1)
        raise ConnectionError

    pipeline = Pipeline(Retry(attempts=3, backoff=NO_WAIT), Fallback(value="cached"))
    with capture_events(kinds=["retry"]) as events:
        assert "cached" == invoke(mode, pipeline, failing)
    assert (1, []) == (len(calls), events)


def test_pipelines_nest(mode: str) -> None:
    """A pipeline inside a pipeline runs in its place, as if flattened."""
    log: list[str] = []
    inner = Pipeline(Tag("b", log), Tag("c", log))
    outer = Pipeline(Tag("a", log), inner, Tag("d", log))
    invoke(mode, outer, lambda: log.append("call"))
    assert ["a>", "b>", "c>", "d>", "call", "<d", "<c", "<b", "<a"] == log


def test_arguments_reach_the_function(mode: str) -> None:
    """Positional and keyword arguments pass through every stage unchanged."""
    pipeline = Pipeline(Retry(backoff=NO_WAIT), Fault(), Fallback(value=None))
    assert ((1, 2), {"key": "v"}) == invoke(mode, pipeline, lambda *a, **kw: (a, kw), 1, 2, key="v")


def test_empty_pipeline_just_calls(mode: str) -> None:
    """With no policies, the pipeline calls the function."""
    assert 5 == invoke(mode, Pipeline(), lambda x: x + 1, 4)


def test_exceptions_pass_through_unchanged(mode: str) -> None:
    """An exception no policy handles reaches the caller as the same object."""
    error = KeyError("missing")

    def failing() -> None:
        raise error

    pipeline = Pipeline(Retry(retry_on=ConnectionError), Fault(), Fallback(value=0, on=OSError))
    with pytest.raises(KeyError) as info:
        invoke(mode, pipeline, failing)
    assert error is info.value


def test_disabled_fault_is_transparent_until_enabled(mode: str) -> None:
    """A disabled Fault in a pipeline changes nothing; enabling it reaches the Fallback."""
    fault = Fault(rate=1.0)
    pipeline = Pipeline(Fallback(value="degraded"), fault)
    assert "real" == invoke(mode, pipeline, lambda: "real")
    fault.enable()
    assert "degraded" == invoke(mode, pipeline, lambda: "real")


def test_retry_inside_a_sync_timeout_respects_its_deadline() -> None:
    """Timeout(Retry(...)): retries stop before the timeout's deadline."""
    clock = VirtualClock()
    calls: list[float] = []

    def failing() -> None:
        calls.append(clock.now())
        raise ConnectionError

    pipeline = Pipeline(
        Timeout(1.0, clock=clock), Retry(attempts=10, backoff=Backoff.constant(0.4), clock=clock)
    )
    with pytest.raises(ConnectionError):
        pipeline.call(failing)
    assert [0.0, 0.4, 0.8] == pytest.approx(calls)


def test_retry_inside_an_async_timeout_respects_its_deadline() -> None:
    """In asyncio too, retries whose wait would reach the deadline are not started."""
    clock = VirtualClock()
    calls: list[float] = []

    async def failing() -> None:
        calls.append(clock.now())
        raise ConnectionError

    pipeline = Pipeline(
        Timeout(1.0, clock=clock), Retry(attempts=10, backoff=Backoff.constant(0.3), clock=clock)
    )
    with pytest.raises(ConnectionError):
        clock.run(pipeline.acall(failing))
    assert [0.0, 0.3, 0.6, 0.9] == pytest.approx(calls)


# -- the decorator form -------------------------------------------------------------


def test_decorates_sync_functions() -> None:
    """@Pipeline(...) keeps a sync function's name, docstring and signature."""
    pipeline = Pipeline(Fallback(value=-1), Retry(backoff=NO_WAIT))

    @pipeline
    def divide(a: int, b: int, *, round_down: bool = True) -> int:
        """Divide a by b."""
        return a // b

    assert (5, -1) == (divide(10, 2), divide(1, 0))
    assert ("divide", "Divide a by b.") == (divide.__name__, divide.__doc__)
    assert ["a", "b", "round_down"] == list(inspect.signature(divide).parameters)


def test_decorates_async_functions() -> None:
    """@Pipeline(...) on a coroutine function gives a coroutine function."""
    attempts: list[int] = []

    @Pipeline(Fallback(value="fallback"), Retry(attempts=2, backoff=NO_WAIT))
    async def fetch(url: str) -> str:
        """Fetch a URL."""
        attempts.append(1)
        await asyncio.sleep(0)
        raise ConnectionError(url)

    assert inspect.iscoroutinefunction(fetch)
    assert ("fetch", "Fetch a URL.") == (fetch.__name__, fetch.__doc__)
    assert "fallback" == asyncio.run(fetch("/x"))
    assert 2 == len(attempts)


def test_decorator_rejects_non_callables() -> None:
    """Decorating something that is not callable fails at once."""
    with pytest.raises(TypeError, match="Pipeline decorates callables"):
        Pipeline()(42)  # type: ignore[call-overload]


# -- construction -------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["retry", Retry, lambda fn: fn, None])
def test_rejects_non_policies(bad: object) -> None:
    """Only policy instances are accepted, and the message gives the position."""
    with pytest.raises(ValueError, match="Pipeline: argument 1 must be a reliant policy"):
        Pipeline(Retry(), bad)  # type: ignore[arg-type]


def test_sequence_protocol_and_describe() -> None:
    """A pipeline has a length, iterates outermost first and describes every policy."""
    retry, fallback = Retry(name="r"), Fallback(value=1, name="f")
    pipeline = Pipeline(fallback, retry, name="payments")
    assert (2, [fallback, retry]) == (len(pipeline), list(pipeline))
    assert (fallback, retry) == pipeline.policies
    described = pipeline.describe()
    assert ("Pipeline", "payments") == (described["kind"], described["name"])
    assert [fallback.describe(), retry.describe()] == described["policies"]
    assert "Pipeline(Fallback(name='f'), Retry(name='r'), name='payments')" == repr(pipeline)
    assert "pipeline" == Pipeline().name


def test_async_timeout_cancels_a_retry_in_flight() -> None:
    """An attempt still running at the Timeout's deadline is cancelled: TimeoutExceeded."""
    clock = VirtualClock()
    calls: list[float] = []

    async def slow_failure() -> None:
        calls.append(clock.now())
        await asyncio.sleep(0.5)
        raise ConnectionError

    pipeline = Pipeline(
        Timeout(1.0, clock=clock), Retry(attempts=10, backoff=Backoff.constant(0.3), clock=clock)
    )
    with pytest.raises(TimeoutExceeded):
        clock.run(pipeline.acall(slow_failure))
    assert [0.0, 0.8] == pytest.approx(calls)
    assert 1.0 == pytest.approx(clock.now())
