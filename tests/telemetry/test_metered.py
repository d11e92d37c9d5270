"""Tests for reliant.telemetry.metered: calls by outcome and duration for any policy."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry

import reliant.telemetry
from reliant import CircuitBreaker, Pipeline, Retry, Timeout
from reliant._core.events import BUS
from reliant.exceptions import BulkheadFullError, TimeoutExceeded
from reliant.resilience.backoff import Backoff
from reliant.telemetry import otel, prometheus
from reliant.telemetry.metered import OUTCOMES, Metered, metered, outcome_of
from reliant.telemetry.prometheus import PrometheusInstrumentation
from reliant.testing import VirtualClock, capture_events


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh registry per test."""
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> Iterator[PrometheusInstrumentation]:
    """Reliant metrics on the test's registry, closed afterwards."""
    with prometheus.instrument(registry) as handle:
        yield handle


def run(policy: Any, mode: str, fn: Callable[[], Any], clock: VirtualClock) -> Any:
    """Run ``fn`` under ``policy`` (sync or asyncio); return its result or the exception."""

    async def afn() -> Any:
        return fn()

    try:
        if mode == "sync":
            return policy.call(fn)
        return clock.run(policy.acall(afn))
    except Exception as exc:
        return exc


def raising(exc: Exception) -> Callable[[], Any]:
    """A call that raises ``exc``."""

    def call() -> Any:
        raise exc

    return call


def calls(registry: CollectorRegistry, policy: str, outcome: str) -> float | None:
    """The value of ``reliant_calls_total`` for one policy and outcome."""
    return registry.get_sample_value("reliant_calls_total", {"policy": policy, "outcome": outcome})


def test_outcome_of_classifies_rejections_timeouts_and_failures() -> None:
    """RejectedError subclasses are rejected, TimeoutExceeded a timeout, the rest failures."""
    assert "rejected" == outcome_of(BulkheadFullError("full"))
    assert "timeout" == outcome_of(TimeoutExceeded("late"))
    assert "failure" == outcome_of(ValueError("boom"))


@pytest.mark.usefixtures("metrics")
def test_calls_are_counted_by_outcome(registry: CollectorRegistry, mode: str) -> None:
    """Success, failure, rejection and timeout each land in their own series."""
    clock = VirtualClock()
    policy = metered(Retry(attempts=1, name="inner", clock=clock), "svc")
    run(policy, mode, lambda: "ok", clock)
    run(policy, mode, lambda: "ok", clock)
    run(policy, mode, raising(ValueError("boom")), clock)
    run(policy, mode, raising(BulkheadFullError("full", policy="b")), clock)
    run(policy, mode, raising(TimeoutExceeded("late", timeout=1.0)), clock)
    counted = {outcome: calls(registry, "svc", outcome) for outcome in OUTCOMES}
    assert {"success": 2.0, "failure": 1.0, "rejected": 1.0, "timeout": 1.0} == counted


@pytest.mark.usefixtures("metrics")
def test_real_rejections_and_timeouts_are_classified(
    registry: CollectorRegistry, mode: str
) -> None:
    """An open breaker's rejection counts as rejected; a Timeout policy's as timeout."""
    clock = VirtualClock()
    cb = CircuitBreaker(name="cb", clock=clock)
    cb.force_open()
    run(metered(cb), mode, lambda: "ok", clock)
    assert 1.0 == calls(registry, "cb", "rejected")

    def slow() -> str:
        clock.sleep(2.0)
        return "late"

    run(metered(Timeout(1.0, name="t", clock=clock)), "sync", slow, clock)
    assert 1.0 == calls(registry, "t", "timeout")


@pytest.mark.usefixtures("metrics")
def test_duration_histogram_observes_virtual_durations(
    registry: CollectorRegistry, mode: str
) -> None:
    """A call that sleeps 0.25 s on the policy's clock is observed as exactly 0.25 s."""
    clock = VirtualClock()
    policy = metered(Retry(attempts=1, name="db", clock=clock))

    def quarter() -> str:
        clock.sleep(0.25)
        return "ok"

    run(policy, mode, quarter, clock)
    run(policy, mode, quarter, clock)
    labels = {"policy": "db", "outcome": "success"}
    assert 2.0 == registry.get_sample_value("reliant_call_duration_seconds_count", labels)
    assert 0.5 == registry.get_sample_value("reliant_call_duration_seconds_sum", labels)
    bucket = {**labels, "le": "0.25"}
    assert 2.0 == registry.get_sample_value("reliant_call_duration_seconds_bucket", bucket)
    below = {**labels, "le": "0.1"}
    assert 0.0 == registry.get_sample_value("reliant_call_duration_seconds_bucket", below)


def test_one_event_per_call_with_outcome_and_duration(mode: str) -> None:
    """Each call emits one call.completed, named after the wrapper, timed on the clock."""
    clock = VirtualClock(10.0)
    policy = metered(Retry(attempts=3, backoff=Backoff.constant(1.0), clock=clock), "api")
    with capture_events(kinds=["call"]) as events:
        run(policy, mode, raising(ValueError("boom")), clock)
    assert [("call.completed", "api", 12.0, {"outcome": "failure", "duration": 2.0})] == [
        (e.kind, e.policy, e.time, dict(e.attributes)) for e in events
    ]


class CountingClock(VirtualClock):
    """A virtual clock that counts its readings."""

    __slots__ = ("reads",)

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def now(self) -> float:
        self.reads += 1
        return super().now()


def test_nobody_listening_means_no_clock_read(mode: str) -> None:
    """With no subscriber the wrapper calls straight through without reading the clock."""
    clock = CountingClock()
    policy = metered(Pipeline(clock=clock))

    async def afn() -> str:
        return "ok"

    def call() -> str:
        if mode == "sync":
            return policy.call(lambda: "ok")
        # asyncio.run: VirtualClock.run's event loop would read the clock itself.
        return asyncio.run(policy.acall(afn))

    assert False is BUS.active
    assert "ok" == call()
    assert 0 == clock.reads
    with capture_events():
        call()
    assert 2 == clock.reads


@pytest.mark.usefixtures("metrics")
def test_wraps_a_pipeline_and_keeps_its_name(registry: CollectorRegistry, mode: str) -> None:
    """A metered pipeline counts each call once, under the pipeline's name, after retries."""
    clock = VirtualClock()
    pipeline = Pipeline(
        Retry(attempts=3, backoff=Backoff.constant(0.5), clock=clock),
        CircuitBreaker(name="payments", clock=clock),
        name="checkout",
        clock=clock,
    )
    left = [1]

    def flaky() -> str:
        if left[0]:
            left[0] -= 1
            raise ValueError("flaky")
        return "ok"

    assert "ok" == run(metered(pipeline), mode, flaky, clock)
    assert 1.0 == calls(registry, "checkout", "success")
    assert None is calls(registry, "checkout", "failure")
    labels = {"policy": "checkout", "outcome": "success"}
    assert 0.5 == registry.get_sample_value("reliant_call_duration_seconds_sum", labels)


@pytest.mark.usefixtures("metrics")
def test_works_as_a_decorator(registry: CollectorRegistry) -> None:
    """@metered(policy) decorates sync and async functions alike."""
    clock = VirtualClock()
    policy = metered(Retry(attempts=1, clock=clock), "deco")

    @policy
    def sync_fn(x: int) -> int:
        return x + 1

    @policy
    async def async_fn(x: int) -> int:
        return x * 2

    assert 2 == sync_fn(1)
    assert 6 == clock.run(async_fn(3))
    assert 2.0 == calls(registry, "deco", "success")


def test_handle_metered_and_describe(metrics: PrometheusInstrumentation) -> None:
    """handle.metered() builds the same wrapper; describe() nests the wrapped policy."""
    inner = Retry(attempts=2, name="r")
    wrapped = metrics.metered(inner, "outer")
    assert isinstance(wrapped, Metered)
    assert "outer" == wrapped.name
    assert inner.clock is wrapped.clock
    described = wrapped.describe()
    assert ("Metered", "outer", "r") == (
        described["kind"],
        described["name"],
        described["policy"]["name"],
    )


def test_rejects_what_is_not_a_policy() -> None:
    """Wrapping a plain function raises ValueError naming Metered."""
    with pytest.raises(ValueError, match="Metered: policy must be a reliant policy"):
        metered(print)  # type: ignore[arg-type]


def test_reachable_from_the_package() -> None:
    """reliant.telemetry.metered is the module, loaded on first access."""
    assert metered is reliant.telemetry.metered.metered


def test_opentelemetry_records_calls_and_durations(mode: str) -> None:
    """The OTel adapter records reliant.calls and reliant.call.duration."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    clock = VirtualClock()
    policy = metered(Retry(attempts=1, clock=clock), "otel-svc")

    def quarter() -> str:
        clock.sleep(0.25)
        return "ok"

    with otel.instrument(meter_provider=provider):
        run(policy, mode, quarter, clock)
        run(policy, mode, raising(ValueError("boom")), clock)
    data = reader.get_metrics_data()
    provider.shutdown()
    assert data is not None
    found: dict[str, Any] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    found[f"{metric.name}{sorted((point.attributes or {}).items())}"] = point
    success = found["reliant.calls[('outcome', 'success'), ('policy', 'otel-svc')]"]
    failure = found["reliant.calls[('outcome', 'failure'), ('policy', 'otel-svc')]"]
    durations = [
        found[f"reliant.call.duration[('outcome', '{outcome}'), ('policy', 'otel-svc')]"]
        for outcome in ("success", "failure")
    ]
    assert (1, 1) == (success.value, failure.value)
    assert ([1, 1], 0.25) == ([d.count for d in durations], sum(d.sum for d in durations))
