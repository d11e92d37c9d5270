"""Applier: config documents applied to live breakers, limiters, faults and pipelines."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from reliant import CircuitBreaker, CircuitState, Fault, Pipeline, RateLimiter, Retry
from reliant.agent.apply import Applier, ManagedPipeline
from reliant.exceptions import CircuitOpenError, InjectedFault
from reliant.telemetry.metered import metered
from reliant.testing import VirtualClock, capture_events


def doc(version: int, **sections: Any) -> dict[str, Any]:
    return {"service": "payments", "version": version, **sections}


def applied(events: list[Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(e.kind, e.policy, dict(e.attributes)) for e in events]


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def applier(clock: VirtualClock) -> Applier:
    return Applier(clock=clock)


# -- breakers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("forced_open", CircuitState.FORCED_OPEN),
        ("disabled", CircuitState.DISABLED),
        ("metrics_only", CircuitState.METRICS_ONLY),
    ],
)
def test_a_breaker_override_forces_the_state_and_its_removal_resets(
    applier: Applier, clock: VirtualClock, state: str, expected: CircuitState
) -> None:
    """The document's state is forced; when the override goes, the breaker is CLOSED again."""
    breaker = CircuitBreaker(name="payments-db", clock=clock)
    applier.watch([breaker])
    with capture_events(kinds=["config"]) as events:
        applier.apply(doc(1, breakers={"payments-db": {"state": state}}))
        assert expected == breaker.state
        applier.apply(doc(2, breakers={}))
    assert CircuitState.CLOSED == breaker.state
    assert [
        ("config.applied", "payments-db", {"version": 1, "target": "breaker", "change": state}),
        ("config.applied", "payments-db", {"version": 2, "target": "breaker", "change": "automatic"}),  # noqa: E501
    ] == applied(events)  # fmt: skip


def test_a_forced_open_breaker_rejects_calls(applier: Applier, clock: VirtualClock) -> None:
    """The override changes what callers see at once."""
    breaker = CircuitBreaker(name="db", clock=clock)
    applier.watch([breaker])
    applier.apply(doc(1, breakers={"db": {"state": "forced_open"}}))
    with pytest.raises(CircuitOpenError):
        breaker.call(lambda: 1)


def test_a_breaker_the_code_forced_is_left_alone(applier: Applier, clock: VirtualClock) -> None:
    """Only what the agent forced is undone."""
    breaker = CircuitBreaker(name="db", clock=clock)
    breaker.force_open()
    applier.watch([breaker])
    applier.apply(doc(1, breakers={}))
    assert CircuitState.FORCED_OPEN == breaker.state


def test_the_same_document_twice_changes_nothing(applier: Applier, clock: VirtualClock) -> None:
    """A repeated override emits no second event."""
    breaker = CircuitBreaker(name="db", clock=clock)
    applier.watch([breaker])
    with capture_events(kinds=["config.applied"]) as events:
        applier.apply(doc(1, breakers={"db": {"state": "forced_open"}}))
        applier.apply(doc(2, breakers={"db": {"state": "forced_open"}}))
    assert 1 == len(events)


def test_an_unknown_state_is_rejected_and_changes_nothing(
    applier: Applier, clock: VirtualClock
) -> None:
    """config.rejected names what was wrong; the breaker keeps running."""
    breaker = CircuitBreaker(name="db", clock=clock)
    applier.watch([breaker])
    with capture_events(kinds=["config"]) as events:
        applier.apply(doc(3, breakers={"db": {"state": "half_open"}}))
    assert CircuitState.CLOSED == breaker.state
    assert [("config.rejected", "db")] == [(e.kind, e.policy) for e in events]
    assert events[0].attributes["error"].startswith("breaker 'db': state must be one of")


def test_policies_watched_later_get_the_current_document(
    applier: Applier, clock: VirtualClock
) -> None:
    """watch() applies the last document to the new policies at once."""
    applier.apply(doc(1, breakers={"db": {"state": "forced_open"}}))
    breaker = CircuitBreaker(name="db", clock=clock)
    applier.watch([breaker])
    assert CircuitState.FORCED_OPEN == breaker.state


def test_pipelines_and_wrappers_register_their_named_policies(
    applier: Applier, clock: VirtualClock
) -> None:
    """Inner breakers of a pipeline (and of a metered wrapper) are matched by name."""
    breaker = CircuitBreaker(name="db", clock=clock)
    applier.watch([metered(Pipeline(Retry(clock=clock), Pipeline(breaker)))])
    applier.apply(doc(1, breakers={"db": {"state": "disabled"}}))
    assert CircuitState.DISABLED == breaker.state


def test_watched_policies_are_held_weakly(applier: Applier, clock: VirtualClock) -> None:
    """The applier does not keep a dropped policy alive."""
    import weakref

    breaker = CircuitBreaker(name="db", clock=clock)
    ref = weakref.ref(breaker)
    applier.watch([breaker])
    del breaker
    gc.collect()
    assert ref() is None
    applier.apply(doc(1, breakers={"db": {"state": "forced_open"}}))


def test_every_policy_of_a_name_obeys(applier: Applier, clock: VirtualClock) -> None:
    """Two breakers with one name (two pipelines) are both forced."""
    a, b = CircuitBreaker(name="db", clock=clock), CircuitBreaker(name="db", clock=clock)
    applier.watch([a, b])
    applier.apply(doc(1, breakers={"db": {"state": "forced_open"}}))
    assert [CircuitState.FORCED_OPEN] * 2 == [a.state, b.state]


# -- limiters -------------------------------------------------------------------------


def test_a_limiter_override_changes_the_rate_and_its_removal_restores_the_code(
    applier: Applier, clock: VirtualClock
) -> None:
    """rate/per/burst apply at run time; omitted ones keep the code's; removal restores."""
    limiter = RateLimiter.gcra(rate=10, per=1.0, burst=5, name="inbound", clock=clock)
    applier.watch([limiter])
    with capture_events(kinds=["config.applied"]) as events:
        applier.apply(doc(1, limiters={"inbound": {"rate": 50.0}}))
        assert (50.0, 1.0, 5) == (limiter.options.rate, limiter.options.per, limiter.options.burst)
        applier.apply(doc(2, limiters={"inbound": {"rate": 2, "per": 2.0, "burst": 1}}))
        assert (2, 2.0, 1) == (limiter.options.rate, limiter.options.per, limiter.options.burst)
        applier.apply(doc(3))
    assert (10, 1.0, 5) == (limiter.options.rate, limiter.options.per, limiter.options.burst)
    assert [("override", 50.0), ("override", 2), ("code", 10)] == [
        (e.attributes["change"], e.attributes["rate"]) for e in events
    ]


def test_a_limiter_at_the_new_rate_admits_accordingly(
    applier: Applier, clock: VirtualClock
) -> None:
    """After an override to 1 per second with burst 1, a second call is rejected."""
    limiter = RateLimiter.gcra(rate=100, name="inbound", clock=clock)
    applier.watch([limiter])
    applier.apply(doc(1, limiters={"inbound": {"rate": 1, "burst": 1}}))
    assert [True, False] == [limiter.try_acquire().allowed for _ in range(2)]


def test_an_invalid_limiter_override_is_rejected(applier: Applier, clock: VirtualClock) -> None:
    """A negative rate emits config.rejected with the limiter's own message."""
    limiter = RateLimiter.gcra(rate=10, name="inbound", clock=clock)
    applier.watch([limiter])
    with capture_events(kinds=["config.rejected"]) as events:
        applier.apply(doc(1, limiters={"inbound": {"rate": -1}}))
    assert 10 == limiter.options.rate
    assert (
        "RateLimiter.gcra: rate must be a finite number > 0, got -1"
        == events[0].attributes["error"]
    )


# -- faults ---------------------------------------------------------------------------


def test_a_fault_switches_on_and_off_and_back_to_the_code(
    applier: Applier, clock: VirtualClock
) -> None:
    """enabled: true turns it on (optionally at a rate); removal restores the code's state."""
    fault = Fault(rate=1.0, name="latency", clock=clock)
    applier.watch([fault])
    applier.apply(doc(1, faults={"latency": {"enabled": True}}))
    with pytest.raises(InjectedFault):
        fault.call(lambda: 1)
    applier.apply(doc(2, faults={"latency": {"enabled": True, "rate": 0.25}}))
    assert (True, 0.25) == (fault.enabled, fault.rate)
    applier.apply(doc(3, faults={"latency": {"enabled": False}}))
    assert (False, 0.25) == (fault.enabled, fault.rate)
    applier.apply(doc(4))
    assert (False, 1.0) == (fault.enabled, fault.rate)


def test_a_fault_the_code_enabled_is_restored_enabled(
    applier: Applier, clock: VirtualClock
) -> None:
    """An operator may switch a fault off for a while; the code's choice comes back."""
    fault = Fault(rate=0.5, enabled=True, name="chaos", clock=clock)
    applier.watch([fault])
    applier.apply(doc(1, faults={"chaos": {"enabled": False}}))
    assert not fault.enabled
    applier.apply(doc(2, faults={}))
    assert (True, 0.5) == (fault.enabled, fault.rate)


def test_a_malformed_fault_override_is_rejected(applier: Applier, clock: VirtualClock) -> None:
    """enabled must be a boolean."""
    fault = Fault(name="chaos", clock=clock)
    applier.watch([fault])
    with capture_events(kinds=["config.rejected"]) as events:
        applier.apply(doc(1, faults={"chaos": {"enabled": "yes"}}))
    assert (False, ["chaos"]) == (fault.enabled, [e.policy for e in events])


# -- managed pipelines ----------------------------------------------------------------


def run(mode: str, policy: ManagedPipeline, fn: Any) -> Any:
    if mode == "sync":
        return policy.call(fn)

    async def afn() -> Any:
        return fn()

    return VirtualClock().run(policy.acall(afn))


def test_a_managed_pipeline_runs_the_default_until_the_document_defines_it(
    applier: Applier, mode: str
) -> None:
    """No spec: calls run under the default (none at all without one)."""
    handle = applier.pipeline("charge", None)
    assert "ok" == run(mode, handle, lambda: "ok")
    assert [] == list(handle.current)  # type: ignore[call-overload]


def test_a_managed_pipeline_follows_the_documents_spec(
    applier: Applier, clock: VirtualClock, mode: str
) -> None:
    """A spec builds the pipeline; the same spec keeps it; a removed one restores the default."""
    handle = applier.pipeline("charge", [{"kind": "retry", "attempts": 1}])
    default = handle.current
    spec = [{"kind": "circuit_breaker", "name": "charge-db", "min_calls": 1}]
    applier.apply(doc(1, policies={"charge": {"description": "", "pipeline": spec}}))
    built = handle.current
    assert (["CircuitBreaker"], 1) == (
        [p["kind"] for p in built.describe()["policies"]],
        handle.version,
    )
    applier.apply(doc(2, policies={"charge": {"description": "changed", "pipeline": spec}}))
    assert built is handle.current
    with pytest.raises(ZeroDivisionError):
        run(mode, handle, lambda: 1 / 0)
    with pytest.raises(CircuitOpenError):
        run(mode, handle, lambda: "ok")
    applier.apply(doc(3))
    assert default is handle.current


def test_a_managed_pipelines_breakers_obey_overrides(applier: Applier, clock: VirtualClock) -> None:
    """The policies of a rebuilt pipeline are watched like any other."""
    handle = applier.pipeline("charge", None)
    spec = [{"kind": "circuit_breaker", "name": "charge-db"}]
    applier.apply(
        doc(
            1,
            policies={"charge": {"pipeline": spec}},
            breakers={"charge-db": {"state": "forced_open"}},
        )
    )
    with pytest.raises(CircuitOpenError):
        handle.call(lambda: "ok")


def test_a_spec_that_does_not_build_is_rejected_and_the_old_pipeline_kept(
    applier: Applier,
) -> None:
    """config.rejected carries the registry's located error."""
    handle = applier.pipeline("charge", None)
    before = handle.current
    with capture_events(kinds=["config.rejected"]) as events:
        applier.apply(doc(1, policies={"charge": {"pipeline": [{"kind": "retry", "attempts": 0}]}}))
    assert before is handle.current
    assert events[0].attributes["error"].startswith("pipeline 'charge'[0]")


def test_one_handle_per_name(applier: Applier) -> None:
    """pipeline(name) returns the same handle every time."""
    assert applier.pipeline("charge", None) is applier.pipeline("charge", None)
    assert {"kind": "ManagedPipeline", "name": "charge", "version": None} == {
        k: v for k, v in applier.pipeline("charge", None).describe().items() if k != "current"
    }
