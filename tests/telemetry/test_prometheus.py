"""Tests for reliant.telemetry.prometheus: reliant events as Prometheus metrics."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from telemetry_helpers import breaker, fail, flaky, invoke, trip

from reliant import CircuitBreaker, RateLimiter, Retry
from reliant._core.events import BUS
from reliant.resilience.backoff import Backoff
from reliant.telemetry import prometheus
from reliant.telemetry.prometheus import PrometheusInstrumentation, instrument
from reliant.testing import VirtualClock


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh registry per test."""
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> Iterator[PrometheusInstrumentation]:
    """Reliant metrics on the test's registry, closed afterwards."""
    with instrument(registry) as handle:
        yield handle


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    """The current value of one series (None when it does not exist)."""
    return registry.get_sample_value(name, labels)


@pytest.mark.usefixtures("metrics")
def test_breaker_opening_sets_the_state_gauge_and_counts_calls(
    registry: CollectorRegistry, mode: str
) -> None:
    """Two failures open the breaker: state gauge open=1, others 0; calls by outcome."""
    clock = VirtualClock()
    trip(breaker("payments", clock), mode, clock)
    states = {
        state: value(registry, "reliant_circuit_breaker_state", policy="payments", state=state)
        for state in ("closed", "open", "half_open", "forced_open", "disabled", "metrics_only")
    }
    assert {
        "closed": 0.0,
        "open": 1.0,
        "half_open": 0.0,
        "forced_open": 0.0,
        "disabled": 0.0,
        "metrics_only": 0.0,
    } == states
    calls = "reliant_circuit_breaker_calls_total"
    assert 2.0 == value(registry, calls, policy="payments", outcome="failure")
    assert 1.0 == value(registry, calls, policy="payments", outcome="rejected")
    assert None is value(registry, calls, policy="payments", outcome="success")
    assert 1.0 == value(
        registry,
        "reliant_circuit_breaker_transitions_total",
        policy="payments",
        from_state="closed",
        to_state="open",
    )
    assert 1.0 == value(
        registry, "reliant_rejections_total", policy="payments", kind="circuit_breaker"
    )


@pytest.mark.usefixtures("metrics")
def test_breaker_call_durations_fill_the_histogram(registry: CollectorRegistry, mode: str) -> None:
    """Each permitted call's duration lands in the histogram of its outcome."""
    clock = VirtualClock()
    cb = CircuitBreaker(name="db", clock=clock)

    def slowish() -> str:
        clock.advance(0.2)
        return "ok"

    invoke(cb, mode, slowish, clock)
    invoke(cb, mode, slowish, clock)
    name = "reliant_circuit_breaker_call_duration_seconds"
    assert 2.0 == value(registry, f"{name}_count", policy="db", outcome="success")
    assert 0.4 == pytest.approx(value(registry, f"{name}_sum", policy="db", outcome="success"))
    assert 0.0 == value(registry, f"{name}_bucket", policy="db", outcome="success", le="0.1")
    assert 2.0 == value(registry, f"{name}_bucket", policy="db", outcome="success", le="0.25")
    assert 1.0 == value(registry, "reliant_circuit_breaker_state", policy="db", state="closed")


@pytest.mark.usefixtures("metrics")
def test_retries_are_counted_with_the_reason_they_stopped(
    registry: CollectorRegistry, mode: str
) -> None:
    """Each retry counts an attempt; a success after retries and a give-up are counted."""
    clock = VirtualClock()
    retry = Retry(attempts=3, backoff=Backoff.constant(0.1), name="fetch", clock=clock)
    assert "ok" == invoke(retry, mode, flaky(2), clock)
    assert isinstance(invoke(retry, mode, fail, clock), ValueError)
    assert 4.0 == value(registry, "reliant_retry_attempts_total", policy="fetch")
    assert 1.0 == value(registry, "reliant_retry_succeeded_total", policy="fetch")
    assert 1.0 == value(
        registry, "reliant_retry_exhausted_total", policy="fetch", reason="attempts"
    )


@pytest.mark.usefixtures("metrics")
def test_limiter_decisions_are_counted_without_the_key(
    registry: CollectorRegistry, mode: str
) -> None:
    """Allowed and rejected decisions are counted by policy; the key is never a label."""
    clock = VirtualClock()
    limiter = RateLimiter(
        rate=2, per=1.0, name="api", clock=clock, key=lambda args, kwargs: "user-12345"
    )
    outcomes = [invoke(limiter, mode, lambda: "ok", clock) for _ in range(3)]
    assert ["ok", "ok", "RateLimitedError"] == [
        o if isinstance(o, str) else type(o).__name__ for o in outcomes
    ]
    decisions = "reliant_rate_limiter_decisions_total"
    assert 2.0 == value(registry, decisions, policy="api", decision="allowed")
    assert 1.0 == value(registry, decisions, policy="api", decision="rejected")
    assert 1.0 == value(registry, "reliant_rejections_total", policy="api", kind="rate_limiter")
    assert b"user-12345" not in generate_latest(registry)


@pytest.mark.usefixtures("metrics")
def test_every_kind_of_rejection_is_counted_by_kind(registry: CollectorRegistry) -> None:
    """Bulkhead, limiter, adaptive limit, throttle and breaker rejections share one counter."""
    for kind, attributes in [
        ("bulkhead.rejected", {"max_concurrent": 1, "waited": 0.0}),
        ("rate_limiter.rejected", {"key": "k", "remaining": 0, "retry_after": 1.0}),
        ("adaptive_limit.rejected", {"limit": 7, "inflight": 7}),
        ("throttle.rejected", {"probability": 0.5}),
        ("circuit_breaker.rejected", {"state": "forced_open", "retry_after": None}),
    ]:
        BUS.emit(kind, "edge", 0.0, attributes)
    counted = {
        kind: value(registry, "reliant_rejections_total", policy="edge", kind=kind)
        for kind in ("bulkhead", "rate_limiter", "adaptive_limit", "throttle", "circuit_breaker")
    }
    assert dict.fromkeys(counted, 1.0) == counted
    assert 7.0 == value(registry, "reliant_adaptive_limit", policy="edge")
    assert 1.0 == value(
        registry, "reliant_circuit_breaker_state", policy="edge", state="forced_open"
    )


@pytest.mark.usefixtures("metrics")
def test_other_events_feed_their_own_metrics(registry: CollectorRegistry) -> None:
    """Timeouts, fallbacks, hedges, faults and adaptive limit changes each have a metric."""
    for kind, attributes in [
        ("timeout.exceeded", {"timeout": 1.0}),
        ("fallback.used", {"exception": ValueError("secret message")}),
        ("hedge.launched", {"attempt": 2}),
        ("hedge.won", {"attempt": 2}),
        ("hedge.won", {"attempt": 1}),
        ("fault.enabled", {"rate": 0.1}),
        ("fault.injected", {"fault": "latency"}),
        ("adaptive_limit.limit_changed", {"old": 10, "new": 12}),
        ("retry.exhausted", {"attempts": 1, "reason": "budget"}),
    ]:
        BUS.emit(kind, "p", 0.0, attributes)
    assert [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 12.0, 1.0] == [
        value(registry, "reliant_timeouts_total", policy="p"),
        value(registry, "reliant_fallbacks_total", policy="p"),
        value(registry, "reliant_hedge_attempts_total", policy="p"),
        value(registry, "reliant_hedge_wins_total", policy="p", winner="hedge"),
        value(registry, "reliant_hedge_wins_total", policy="p", winner="primary"),
        value(registry, "reliant_fault_enabled", policy="p"),
        value(registry, "reliant_faults_injected_total", policy="p", fault="latency"),
        value(registry, "reliant_adaptive_limit", policy="p"),
        value(registry, "reliant_retry_exhausted_total", policy="p", reason="budget"),
    ]
    assert b"secret message" not in generate_latest(registry)


def test_close_unsubscribes_and_frees_the_registry(registry: CollectorRegistry) -> None:
    """After close() events are not recorded and the registry can be instrumented again."""
    handle = instrument(registry)
    handle.close()
    handle.close()
    BUS.emit("timeout.exceeded", "p", 0.0, {"timeout": 1.0})
    assert (True, None) == (
        handle.closed,
        value(registry, "reliant_timeouts_total", policy="p"),
    )
    with instrument(registry):
        BUS.emit("timeout.exceeded", "p", 0.0, {"timeout": 1.0})
        assert 1.0 == value(registry, "reliant_timeouts_total", policy="p")


@pytest.mark.usefixtures("metrics")
def test_a_registry_cannot_be_instrumented_twice(registry: CollectorRegistry) -> None:
    """A second instrumentation of the same registry and namespace is refused."""
    with pytest.raises(ValueError, match=r"prometheus\.instrument: the registry already has"):
        instrument(registry)


def test_namespace_prefixes_every_name(registry: CollectorRegistry) -> None:
    """namespace= replaces the ``reliant`` prefix."""
    with instrument(registry, namespace="shop"):
        BUS.emit("fallback.used", "p", 0.0, {"exception": ValueError()})
        assert 1.0 == value(registry, "shop_fallbacks_total", policy="p")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"namespace": "9lives"}, "namespace must be letters"),
        ({"namespace": "a-b"}, "namespace must be letters"),
        ({"buckets": ()}, "buckets must be a non-empty increasing"),
        ({"buckets": (1.0, 0.5)}, "buckets must be a non-empty increasing"),
        ({"buckets": (0.0, 1.0)}, "buckets item must be"),
    ],
)
def test_invalid_options_are_refused(
    registry: CollectorRegistry, options: dict[str, object], message: str
) -> None:
    """A bad namespace or bucket list raises ValueError naming the option."""
    with pytest.raises(ValueError, match=message):
        instrument(registry, **options)  # type: ignore[arg-type]


def test_track_publishes_a_breaker_state_before_any_event(registry: CollectorRegistry) -> None:
    """track() seeds the state gauge from the breaker itself."""
    cb = CircuitBreaker(name="stock", clock=VirtualClock())
    cb.force_open()
    with instrument(registry) as handle:
        handle.track(cb)
        assert 1.0 == value(
            registry, "reliant_circuit_breaker_state", policy="stock", state="forced_open"
        )


@pytest.mark.usefixtures("metrics")
def test_counts_stay_exact_under_threads(registry: CollectorRegistry) -> None:
    """Four threads recording at once lose no increment."""
    cb = CircuitBreaker(name="shared", clock=VirtualClock())
    start = threading.Barrier(4)

    def work() -> None:
        start.wait()
        for _ in range(500):
            cb.call(lambda: None)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert 2000.0 == value(
        registry, "reliant_circuit_breaker_calls_total", policy="shared", outcome="success"
    )


def test_default_registry_is_prometheus_clients_global_one() -> None:
    """With no registry the metrics go to prometheus_client.REGISTRY."""
    from prometheus_client import REGISTRY

    with instrument() as handle:
        assert REGISTRY is handle.registry
        assert "PrometheusInstrumentation(namespace='reliant', open)" == repr(handle)
    assert None is REGISTRY.get_sample_value("reliant_timeouts_total", {"policy": "p"})
    assert prometheus.DEFAULT_NAMESPACE == handle.namespace
