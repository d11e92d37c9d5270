"""Tests for reliant.faults.fault: injected errors, latency and results at a rate."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import Any

import pytest

from reliant._core.deadline import deadline_scope
from reliant._core.policy import Policy
from reliant.exceptions import InjectedFault, ReliantError, TimeoutExceeded
from reliant.faults.fault import DEFAULT_RATE, Fault
from reliant.resilience.pipeline import Pipeline
from reliant.resilience.timeout import Timeout
from reliant.testing import VirtualClock, capture_events


def invoke(mode: str, policy: Policy, fn: Callable[[], Any], clock: VirtualClock) -> Any:
    """Run ``fn`` under ``policy``, sync or inside a coroutine on the clock's event loop."""
    if mode == "sync":
        return policy.call(fn)

    async def afn() -> Any:
        return fn()

    return clock.run(policy.acall(afn))


class Counter:
    """A dependency that counts its calls and answers 'real'."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return "real"


def outcomes(mode: str, fault: Fault, n: int, clock: VirtualClock) -> list[str]:
    """Call ``n`` times; return 'ok' or the exception's class name for each call."""
    if mode == "sync":
        seen = []
        for _ in range(n):
            try:
                fault.call(Counter())
                seen.append("ok")
            except Exception as exc:
                seen.append(type(exc).__name__)
        return seen

    async def many() -> list[str]:
        async def real() -> str:
            return "real"

        seen = []
        for _ in range(n):
            try:
                await fault.acall(real)
                seen.append("ok")
            except Exception as exc:
                seen.append(type(exc).__name__)
        return seen

    return clock.run(many())


# -- switching ----------------------------------------------------------------------


def test_off_by_default(mode: str) -> None:
    """A new Fault does nothing until enabled, even at rate 1."""
    clock = VirtualClock()
    fault = Fault(rate=1.0, clock=clock)
    fn = Counter()
    assert "real" == invoke(mode, fault, fn, clock)
    assert (False, 1, 0) == (fault.enabled, fn.calls, fault.injected)


def test_enable_and_disable_at_run_time(mode: str) -> None:
    """enable() starts injecting, disable() stops, on the same instance."""
    clock = VirtualClock()
    fault = Fault(rate=1.0, clock=clock)
    fault.enable()
    with pytest.raises(InjectedFault):
        invoke(mode, fault, Counter(), clock)
    fault.disable()
    assert "real" == invoke(mode, fault, Counter(), clock)
    assert 1 == fault.injected


def test_enabled_at_construction(mode: str) -> None:
    """enabled=True starts switched on."""
    clock = VirtualClock()
    fault = Fault(rate=1.0, enabled=True, clock=clock)
    assert fault.enabled
    with pytest.raises(InjectedFault):
        invoke(mode, fault, Counter(), clock)


def test_enable_can_change_the_rate() -> None:
    """enable(rate) switches on at a new rate; an invalid rate is refused."""
    fault = Fault(rate=0.1)
    fault.enable(rate=0.75)
    assert (True, 0.75) == (fault.enabled, fault.rate)
    with pytest.raises(ValueError, match=r"Fault: rate must be in \[0, 1\]"):
        fault.enable(rate=1.5)
    assert 0.75 == fault.rate


def test_injected_fault_is_a_connection_error() -> None:
    """The default error is InjectedFault: a ReliantError and a ConnectionError."""
    assert issubclass(InjectedFault, ConnectionError)
    assert issubclass(InjectedFault, ReliantError)
    assert InjectedFault is Fault().options.error


# -- the rate -----------------------------------------------------------------------


def test_seeded_rate_gives_an_exact_count(mode: str) -> None:
    """With a seeded rng, the calls affected are exactly those whose draw is below rate."""
    clock = VirtualClock()
    fault = Fault(rate=0.3, enabled=True, rng=random.Random(42), clock=clock)
    reference = random.Random(42)
    expected = ["InjectedFault" if reference.random() < 0.3 else "ok" for _ in range(500)]
    assert expected == outcomes(mode, fault, 500, clock)
    assert expected.count("InjectedFault") == fault.injected


def test_rate_frequency_is_close_to_the_rate() -> None:
    """Over many calls the share affected is within a few percent of the rate."""
    fault = Fault(rate=0.2, enabled=True, rng=random.Random(7))
    affected = outcomes("sync", fault, 10_000, VirtualClock()).count("InjectedFault")
    assert 0.2 == pytest.approx(affected / 10_000, abs=0.015)


@pytest.mark.parametrize(("rate", "expected"), [(0.0, 0), (1.0, 200)])
def test_rate_bounds(mode: str, rate: float, expected: int) -> None:
    """Rate 0 never injects, rate 1 always does."""
    clock = VirtualClock()
    fault = Fault(rate=rate, enabled=True, rng=random.Random(1), clock=clock)
    assert expected == outcomes(mode, fault, 200, clock).count("InjectedFault")


def test_disabled_calls_do_not_consume_draws() -> None:
    """While disabled no random draw is taken, so the seeded sequence resumes unchanged."""
    fault = Fault(rate=0.5, rng=random.Random(3), enabled=True)
    first = outcomes("sync", fault, 10, VirtualClock())
    fault.disable()
    outcomes("sync", fault, 10, VirtualClock())
    fault.enable()
    rest = outcomes("sync", fault, 10, VirtualClock())
    again = Fault(rate=0.5, rng=random.Random(3), enabled=True)
    assert outcomes("sync", again, 20, VirtualClock()) == first + rest


# -- what is injected ---------------------------------------------------------------


def test_error_class_gives_a_fresh_exception_each_time(mode: str) -> None:
    """An error class is instantiated per injection."""
    clock = VirtualClock()
    fault = Fault(rate=1.0, error=TimeoutError, enabled=True, clock=clock)
    raised = []
    for _ in range(2):
        with pytest.raises(TimeoutError) as info:
            invoke(mode, fault, Counter(), clock)
        raised.append(info.value)
    assert raised[0] is not raised[1]


def test_error_instance_is_raised_as_is(mode: str) -> None:
    """An error instance is raised itself, and its traceback does not grow per raise."""
    clock = VirtualClock()
    error = ConnectionResetError("peer reset")
    fault = Fault(rate=1.0, error=error, enabled=True, clock=clock)
    depths = []
    for _ in range(3):
        with pytest.raises(ConnectionResetError) as info:
            invoke(mode, fault, Counter(), clock)
        assert error is info.value
        depth, tb = 0, error.__traceback__
        while tb is not None:
            depth, tb = depth + 1, tb.tb_next
        depths.append(depth)
    assert depths[0] == depths[2]


def test_error_skips_the_call(mode: str) -> None:
    """An injected error replaces the call: the dependency is not reached."""
    clock = VirtualClock()
    fn = Counter()
    with pytest.raises(InjectedFault):
        invoke(mode, Fault(rate=1.0, enabled=True, clock=clock), fn, clock)
    assert 0 == fn.calls


def test_latency_delays_then_calls(mode: str) -> None:
    """error=None with latency waits, then makes the real call."""
    clock = VirtualClock()
    fn = Counter()
    fault = Fault(rate=1.0, error=None, latency=2.0, enabled=True, clock=clock)
    assert "real" == invoke(mode, fault, fn, clock)
    assert ([2.0], 1) == (clock.sleeps, fn.calls)
    assert 2.0 == pytest.approx(clock.now())


def test_latency_then_error(mode: str) -> None:
    """With both, the latency comes first and then the error."""
    clock = VirtualClock()
    fault = Fault(rate=1.0, latency=0.5, enabled=True, clock=clock)
    with pytest.raises(InjectedFault):
        invoke(mode, fault, Counter(), clock)
    assert [0.5] == clock.sleeps


def test_result_replaces_the_call(mode: str) -> None:
    """result= with error=None returns the substitute without calling."""
    clock = VirtualClock()
    fn = Counter()
    fault = Fault(rate=1.0, error=None, result={"cached": True}, enabled=True, clock=clock)
    assert {"cached": True} == invoke(mode, fault, fn, clock)
    assert 0 == fn.calls


def test_none_is_a_valid_injected_result(mode: str) -> None:
    """result=None injects None, distinct from giving no result."""
    clock = VirtualClock()
    fault = Fault(rate=1.0, error=None, result=None, enabled=True, clock=clock)
    assert invoke(mode, fault, Counter(), clock) is None


def test_sync_latency_honours_the_deadline() -> None:
    """Sync injected latency stops at the current deadline with TimeoutExceeded."""
    clock = VirtualClock()
    fn = Counter()
    fault = Fault(rate=1.0, error=None, latency=5.0, enabled=True, clock=clock)
    with deadline_scope(0.5, clock), pytest.raises(TimeoutExceeded, match="injected latency"):
        fault.call(fn)
    assert ([0.5], 0) == (clock.sleeps, fn.calls)


def test_sync_latency_under_a_timeout_policy() -> None:
    """A sync Timeout around a slow fault sees TimeoutExceeded at its deadline."""
    clock = VirtualClock()
    fault = Fault(rate=1.0, error=None, latency=5.0, enabled=True, clock=clock)
    with pytest.raises(TimeoutExceeded):
        Pipeline(Timeout(1.0, clock=clock), fault).call(Counter())
    assert 1.0 == pytest.approx(clock.now())


def test_async_latency_is_cancelled_by_asyncio_timeout() -> None:
    """asyncio.timeout cancels injected latency on the virtual-time loop."""
    clock = VirtualClock()
    fault = Fault(rate=1.0, error=None, latency=5.0, enabled=True, clock=clock)
    reached: list[bool] = []

    async def real() -> str:
        reached.append(True)
        return "real"

    async def main() -> None:
        async with asyncio.timeout(0.5):
            await fault.acall(real)

    with pytest.raises(TimeoutError):
        clock.run(main())
    assert [] == reached
    assert 0.5 == pytest.approx(clock.now())


def test_async_latency_under_a_timeout_policy() -> None:
    """An async Timeout around a slow fault raises TimeoutExceeded at its deadline."""
    clock = VirtualClock()
    fault = Fault(rate=1.0, error=None, latency=5.0, enabled=True, clock=clock)

    async def real() -> str:
        return "real"

    with pytest.raises(TimeoutExceeded):
        clock.run(Pipeline(Timeout(1.0, clock=clock), fault).acall(real))
    assert 1.0 == pytest.approx(clock.now())


def test_async_awaits_any_awaitable() -> None:
    """acall awaits whatever awaitable the function returns, not only coroutines."""

    class Ready:
        def __await__(self) -> Any:
            yield from asyncio.sleep(0).__await__()
            return "custom"

    clock = VirtualClock()
    fault = Fault(rate=1.0, error=None, latency=0.1, enabled=True, clock=clock)
    assert "custom" == clock.run(fault.acall(Ready))


# -- events -------------------------------------------------------------------------


def test_switch_events_carry_the_rate() -> None:
    """enable() and disable() emit fault.enabled / fault.disabled with the rate."""
    fault = Fault(rate=0.25, name="db-chaos", clock=VirtualClock())
    with capture_events() as events:
        fault.enable()
        fault.enable(rate=0.5)
        fault.disable()
    assert [
        ("fault.enabled", "db-chaos", {"rate": 0.25}),
        ("fault.enabled", "db-chaos", {"rate": 0.5}),
        ("fault.disabled", "db-chaos", {"rate": 0.5}),
    ] == [(e.kind, e.policy, dict(e.attributes)) for e in events]


@pytest.mark.parametrize(
    ("options", "kind"),
    [
        ({}, "error"),
        ({"latency": 1.0}, "error"),
        ({"error": None, "latency": 1.0}, "latency"),
        ({"error": None, "result": 0}, "result"),
        ({"error": None, "latency": 1.0, "result": 0}, "result"),
    ],
)
def test_injected_event_names_the_effect(mode: str, options: dict[str, Any], kind: str) -> None:
    """fault.injected says what the caller sees: an error, a result or only latency."""
    clock = VirtualClock()
    fault = Fault(rate=1.0, enabled=True, clock=clock, **options)
    with capture_events(kinds=["fault.injected"]) as events, contextlib.suppress(InjectedFault):
        invoke(mode, fault, Counter(), clock)
    assert [{"fault": kind}] == [dict(e.attributes) for e in events]


def test_no_event_when_the_draw_spares_the_call() -> None:
    """Unaffected calls emit nothing."""
    fault = Fault(rate=0.0, enabled=True)
    with capture_events() as events:
        fault.call(Counter())
    assert [] == events


# -- options ------------------------------------------------------------------------


def test_documented_defaults() -> None:
    """Rate 0.1, InjectedFault, no latency, switched off; name 'fault'."""
    fault = Fault()
    assert (0.1, DEFAULT_RATE) == (fault.rate, DEFAULT_RATE)
    assert (InjectedFault, None, False, "fault") == (
        fault.options.error,
        fault.options.latency,
        fault.enabled,
        fault.name,
    )


def test_describe() -> None:
    """describe() reports kind, name, current rate, switch and what is injected."""
    fault = Fault(rate=0.2, latency=0.5, name="chaos")
    fault.enable(rate=0.4)
    assert {
        "kind": "Fault",
        "name": "chaos",
        "rate": 0.4,
        "enabled": True,
        "error": repr(InjectedFault),
        "latency": 0.5,
    } == fault.describe()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate": -0.1}, r"Fault: rate must be in \[0, 1\]"),
        ({"rate": 1.01}, r"Fault: rate must be in \[0, 1\]"),
        ({"rate": "high"}, "Fault: rate must be a number"),
        ({"error": "boom"}, "Fault: error must be an exception class, instance or None"),
        ({"error": int}, "Fault: error must be an exception class"),
        ({"latency": -1.0}, "Fault: latency must be a finite number >= 0"),
        ({"result": 1}, "Fault: give error= or result=, not both"),
        ({"error": None}, "Fault: nothing to inject"),
        ({"name": None}, "Fault: name must be a string"),
    ],
)
def test_invalid_options_name_the_option(options: dict[str, Any], message: str) -> None:
    """Bad options fail at construction with a message naming the option."""
    with pytest.raises(ValueError, match=message):
        Fault(**options)
