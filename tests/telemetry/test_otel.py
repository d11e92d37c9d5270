"""Tests for reliant.telemetry.otel: span events, call spans and OpenTelemetry metrics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from telemetry_helpers import breaker, fail, flaky, invoke, trip

from reliant import CircuitBreaker, Pipeline, Retry
from reliant._core.events import BUS, Event
from reliant.resilience.backoff import Backoff
from reliant.telemetry.otel import (
    OpenTelemetryInstrumentation,
    instrument,
    span_attributes,
    traced,
)
from reliant.testing import VirtualClock


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """An in-memory span exporter."""
    return InMemorySpanExporter()


@pytest.fixture
def tracer_provider(spans: InMemorySpanExporter) -> TracerProvider:
    """A tracer provider exporting every span to ``spans`` at once."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    return provider


@pytest.fixture
def reader() -> InMemoryMetricReader:
    """An in-memory metric reader."""
    return InMemoryMetricReader()


@pytest.fixture
def otel(
    tracer_provider: TracerProvider, reader: InMemoryMetricReader
) -> Iterator[OpenTelemetryInstrumentation]:
    """Reliant instrumented on the test's providers, closed afterwards."""
    meter_provider = MeterProvider(metric_readers=[reader])
    with instrument(tracer_provider, meter_provider) as handle:
        yield handle
    meter_provider.shutdown()


def points(reader: InMemoryMetricReader, name: str) -> dict[tuple[tuple[str, Any], ...], Any]:
    """The data points of metric ``name`` by their sorted attributes."""
    data = reader.get_metrics_data()
    found: dict[tuple[tuple[str, Any], ...], Any] = {}
    if data is None:  # nothing was ever recorded
        return found
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        found[tuple(sorted(point.attributes.items()))] = point
    return found


def only_span(spans: InMemorySpanExporter) -> ReadableSpan:
    """The single finished span."""
    finished = spans.get_finished_spans()
    assert 1 == len(finished)
    return finished[0]


def test_traced_call_runs_in_a_span_holding_its_events(
    otel: OpenTelemetryInstrumentation, spans: InMemorySpanExporter, mode: str
) -> None:
    """A traced pipeline opens one span; retries and breaker outcomes are its events."""
    clock = VirtualClock()
    cb = CircuitBreaker(name="payments", clock=clock)
    retry = Retry(attempts=3, backoff=Backoff.constant(0.1), name="payments-retry", clock=clock)
    policy = otel.traced(Pipeline(retry, cb, name="payments-call"))
    assert "ok" == invoke(policy, mode, flaky(1), clock)
    span = only_span(spans)
    assert "payments-call" == span.name
    assert [
        "circuit_breaker.failure",
        "retry.retrying",
        "circuit_breaker.success",
        "retry.succeeded",
    ] == [e.name for e in span.events]
    retrying = span.events[1].attributes
    assert retrying is not None
    assert ("payments-retry", 1, "ValueError", "flaky") == (
        retrying["reliant.policy"],
        retrying["reliant.attempt"],
        retrying["exception.type"],
        retrying["exception.message"],
    )
    assert span.attributes is not None
    assert ("payments-call", "payments", "closed") == (
        span.attributes["reliant.policy"],
        span.attributes["reliant.circuit_breaker.name"],
        span.attributes["reliant.circuit_breaker.state"],
    )
    assert StatusCode.UNSET == span.status.status_code


def test_a_rejection_marks_the_span_as_an_error(
    otel: OpenTelemetryInstrumentation, spans: InMemorySpanExporter, mode: str
) -> None:
    """A call the open breaker rejects leaves an ERROR span with the breaker's state."""
    clock = VirtualClock()
    cb = breaker("payments", clock)
    invoke(cb, mode, fail, clock)
    invoke(cb, mode, fail, clock)
    outcome = invoke(otel.traced(cb, "charge"), mode, lambda: "never", clock)
    assert "CircuitOpenError" == type(outcome).__name__
    span = only_span(spans)
    assert ["circuit_breaker.rejected", "exception"] == [e.name for e in span.events]
    assert StatusCode.ERROR == span.status.status_code
    assert span.attributes is not None
    assert "open" == span.attributes["reliant.circuit_breaker.state"]


def test_state_changes_are_span_events(
    otel: OpenTelemetryInstrumentation, spans: InMemorySpanExporter, mode: str
) -> None:
    """The call that opens the breaker records the transition on its span."""
    clock = VirtualClock()
    cb = breaker("payments", clock)
    invoke(cb, mode, fail, clock)
    invoke(otel.traced(cb), mode, fail, clock)
    span = only_span(spans)
    changed = [e for e in span.events if e.name == "circuit_breaker.state_changed"]
    assert 1 == len(changed)
    assert changed[0].attributes is not None
    assert ("closed", "open") == (
        changed[0].attributes["reliant.from_state"],
        changed[0].attributes["reliant.to_state"],
    )


def test_metrics_mirror_the_prometheus_ones(
    otel: OpenTelemetryInstrumentation, reader: InMemoryMetricReader, mode: str
) -> None:
    """Breaker calls, state, durations and retries are recorded through the metrics API."""
    clock = VirtualClock()
    trip(breaker("payments", clock), mode, clock)
    retry = Retry(attempts=2, backoff=Backoff.constant(0.1), name="fetch", clock=clock)
    invoke(retry, mode, fail, clock)
    calls = points(reader, "reliant.circuit_breaker.calls")
    assert 2 == calls[(("outcome", "failure"), ("policy", "payments"))].value
    assert 1 == calls[(("outcome", "rejected"), ("policy", "payments"))].value
    state = points(reader, "reliant.circuit_breaker.state")
    assert 1 == state[(("policy", "payments"), ("state", "open"))].value
    assert 0 == state[(("policy", "payments"), ("state", "closed"))].value
    durations = points(reader, "reliant.circuit_breaker.call.duration")
    assert 2 == durations[(("outcome", "failure"), ("policy", "payments"))].count
    assert 1 == points(reader, "reliant.retry.attempts")[(("policy", "fetch"),)].value
    exhausted = points(reader, "reliant.retry.exhausted")
    assert 1 == exhausted[(("policy", "fetch"), ("reason", "attempts"))].value


def test_events_outside_any_span_still_count(
    otel: OpenTelemetryInstrumentation, reader: InMemoryMetricReader, spans: InMemorySpanExporter
) -> None:
    """With no current span only metrics are recorded."""
    BUS.emit("timeout.exceeded", "slow", 0.0, {"timeout": 1.0})
    assert 1 == points(reader, "reliant.timeouts")[(("policy", "slow"),)].value
    assert () == spans.get_finished_spans()


def test_close_stops_recording(
    tracer_provider: TracerProvider, reader: InMemoryMetricReader, spans: InMemorySpanExporter
) -> None:
    """After close() neither span events nor metrics are recorded."""
    meter_provider = MeterProvider(metric_readers=[reader])
    handle = instrument(tracer_provider, meter_provider)
    handle.close()
    handle.close()
    clock = VirtualClock()
    policy = traced(breaker("payments", clock), tracer_provider=tracer_provider)
    invoke(policy, "sync", fail, clock)
    recorded = points(reader, "reliant.circuit_breaker.calls")
    meter_provider.shutdown()
    assert (["exception"], {}) == ([e.name for e in only_span(spans).events], recorded)


def test_traced_without_instrumentation_still_records_exceptions(
    tracer_provider: TracerProvider, spans: InMemorySpanExporter, mode: str
) -> None:
    """traced() alone gives a span per call with the exception recorded."""
    clock = VirtualClock()
    policy = traced(
        breaker("db", clock), "query", tracer_provider=tracer_provider, attributes={"db": "x"}
    )
    assert isinstance(invoke(policy, mode, fail, clock), ValueError)
    span = only_span(spans)
    assert span.attributes is not None
    assert ("query", "db", "x", ["exception"]) == (
        span.name,
        span.attributes["reliant.policy"],
        span.attributes["db"],
        [e.name for e in span.events],
    )
    assert {"kind": "Traced", "name": "query"} == {
        k: v for k, v in policy.describe().items() if k != "policy"
    }


def test_traced_refuses_what_is_not_a_policy() -> None:
    """traced() of a plain function raises ValueError."""
    with pytest.raises(ValueError, match="Traced: policy must be a reliant policy"):
        traced(print)  # type: ignore[arg-type]


def test_span_attributes_keep_only_primitive_values() -> None:
    """Exceptions become exception.type/message; None and results are left out."""
    event = Event(
        "retry.retrying",
        "p",
        0.0,
        {"attempt": 2, "delay": 0.5, "exception": KeyError("k"), "result": object(), "x": None},
    )
    assert {
        "reliant.policy": "p",
        "reliant.attempt": 2,
        "reliant.delay": 0.5,
        "exception.type": "KeyError",
        "exception.message": "'k'",
    } == span_attributes(event)
