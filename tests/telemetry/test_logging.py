"""Tests for reliant.telemetry.logging: structured records for state changes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from telemetry_helpers import breaker, fail, invoke, trip

from reliant import Retry
from reliant._core.events import BUS
from reliant.resilience.backoff import Backoff
from reliant.telemetry.logging import DEFAULT_LOGGER, LoggingInstrumentation, instrument
from reliant.testing import VirtualClock


@pytest.fixture
def logs() -> Iterator[LoggingInstrumentation]:
    """Reliant events logged to the default logger, closed afterwards."""
    with instrument() as handle:
        yield handle


def records(caplog: pytest.LogCaptureFixture, kind: str) -> list[logging.LogRecord]:
    """The captured records of one event kind."""
    return [r for r in caplog.records if getattr(r, "reliant_event", None) == kind]


@pytest.mark.usefixtures("logs")
def test_breaker_opening_is_a_warning_with_structured_fields(
    caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    """The transition to open is logged at WARNING with its states as extra fields."""
    clock = VirtualClock()
    with caplog.at_level(logging.DEBUG, logger=DEFAULT_LOGGER):
        trip(breaker("payments", clock), mode, clock)
    [record] = records(caplog, "circuit_breaker.state_changed")
    assert (logging.WARNING, "payments", "closed", "open") == (
        record.levelno,
        record.reliant_policy,  # type: ignore[attr-defined]
        record.reliant_from_state,  # type: ignore[attr-defined]
        record.reliant_to_state,  # type: ignore[attr-defined]
    )
    assert (
        "reliant circuit_breaker.state_changed [payments] from_state=closed to_state=open"
        == record.getMessage()
    )
    [rejected] = records(caplog, "circuit_breaker.rejected")
    assert logging.DEBUG == rejected.levelno


@pytest.mark.usefixtures("logs")
def test_retries_exhausted_carry_the_reason(caplog: pytest.LogCaptureFixture, mode: str) -> None:
    """Giving up is a WARNING naming the reason and the attempts made."""
    clock = VirtualClock()
    retry = Retry(attempts=2, backoff=Backoff.constant(0.1), name="fetch", clock=clock)
    with caplog.at_level(logging.INFO, logger=DEFAULT_LOGGER):
        invoke(retry, mode, fail, clock)
    [record] = records(caplog, "retry.exhausted")
    assert (logging.WARNING, "attempts", 2) == (
        record.levelno,
        record.reliant_reason,  # type: ignore[attr-defined]
        record.reliant_attempts,  # type: ignore[attr-defined]
    )
    assert [] == records(caplog, "retry.retrying")  # DEBUG, below the logger's level


def test_level_drops_quieter_kinds_but_keeps_openings(caplog: pytest.LogCaptureFixture) -> None:
    """level=WARNING keeps breaker openings (raised to WARNING) and drops DEBUG/INFO kinds."""
    clock = VirtualClock()
    with caplog.at_level(logging.DEBUG), instrument(level=logging.WARNING) as handle:
        trip(breaker("payments", clock), "sync", clock)
        BUS.emit("timeout.exceeded", "t", 0.0, {"timeout": 1.0})
    assert "circuit_breaker.rejected" not in handle.levels
    assert ["circuit_breaker.state_changed", "circuit_breaker.threshold_exceeded"] == sorted(
        r.reliant_event  # type: ignore[attr-defined]
        for r in caplog.records
    )


def test_records_carry_the_current_trace_and_span_ids(caplog: pytest.LogCaptureFixture) -> None:
    """Inside a span a record has otelTraceID/otelSpanID; outside it has neither."""
    tracer = TracerProvider().get_tracer("test")
    with caplog.at_level(logging.DEBUG), instrument("app.reliability"):
        with tracer.start_as_current_span("request") as span:
            BUS.emit("fallback.used", "cache", 0.0, {"exception": KeyError("x")})
        BUS.emit("fallback.used", "cache", 0.0, {"exception": KeyError("y")})
    inside, outside = records(caplog, "fallback.used")
    context = span.get_span_context()
    assert ("app.reliability", f"{context.trace_id:032x}", f"{context.span_id:016x}", True) == (
        inside.name,
        inside.otelTraceID,  # type: ignore[attr-defined]
        inside.otelSpanID,  # type: ignore[attr-defined]
        inside.otelTraceSampled,  # type: ignore[attr-defined]
    )
    assert not hasattr(outside, "otelTraceID")


def test_levels_override_and_switch_off_kinds(caplog: pytest.LogCaptureFixture) -> None:
    """levels= changes a kind's level; a level above CRITICAL switches it off."""
    levels = {"timeout.exceeded": logging.ERROR, "fallback.used": logging.CRITICAL + 1}
    with caplog.at_level(logging.DEBUG), instrument(levels=levels):
        BUS.emit("timeout.exceeded", "t", 0.0, {"timeout": 1.0})
        BUS.emit("fallback.used", "f", 0.0, {"exception": ValueError()})
    assert [("timeout.exceeded", logging.ERROR)] == [
        (r.reliant_event, r.levelno)  # type: ignore[attr-defined]
        for r in caplog.records
    ]


def test_unprintable_values_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    """A retried result is logged as a bounded repr, never in full."""
    with caplog.at_level(logging.DEBUG), instrument():
        BUS.emit("retry.retrying", "r", 0.0, {"attempt": 1, "delay": 0.1, "result": "x" * 1000})
    [record] = records(caplog, "retry.retrying")
    assert len(record.reliant_result) < 200  # type: ignore[attr-defined]


def test_close_stops_logging(caplog: pytest.LogCaptureFixture) -> None:
    """After close() nothing is logged; closing twice is harmless."""
    handle = instrument()
    handle.close()
    handle.close()
    with caplog.at_level(logging.DEBUG):
        BUS.emit("timeout.exceeded", "t", 0.0, {"timeout": 1.0})
    assert (True, []) == (handle.closed, records(caplog, "timeout.exceeded"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"level": "INFO"}, "level must be a logging level"),
        ({"levels": {"retry.retrying": -1}}, r"levels\['retry.retrying'\] must be a logging"),
    ],
)
def test_invalid_levels_are_refused(options: dict[str, object], message: str) -> None:
    """A level that is not a non-negative integer raises ValueError naming it."""
    with pytest.raises(ValueError, match=message):
        instrument(**options)  # type: ignore[arg-type]


@pytest.fixture
def otel_record_factory() -> Iterator[None]:
    """A record factory setting the trace fields first, as LoggingInstrumentor's does."""
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.otelTraceID = "from-factory"
        record.otelSpanID = "from-factory"
        record.otelTraceSampled = False
        return record

    logging.setLogRecordFactory(factory)
    yield
    logging.setLogRecordFactory(previous)


@pytest.mark.usefixtures("otel_record_factory")
def test_trace_ids_already_on_the_record_are_kept(caplog: pytest.LogCaptureFixture) -> None:
    """With a record factory that set the ids, records are still logged, its ids kept."""
    tracer = TracerProvider().get_tracer("test")
    with (
        caplog.at_level(logging.DEBUG),
        instrument("app.reliability"),
        tracer.start_as_current_span("request"),
    ):
        BUS.emit("fallback.used", "cache", 0.0, {"exception": KeyError("x")})
    [record] = records(caplog, "fallback.used")
    assert ["from-factory", "from-factory", False] == [
        record.otelTraceID,  # type: ignore[attr-defined]
        record.otelSpanID,  # type: ignore[attr-defined]
        record.otelTraceSampled,  # type: ignore[attr-defined]
    ]


def test_close_removes_the_trace_filter() -> None:
    """close() leaves the logger's filters as they were."""
    logger = logging.getLogger("app.reliability.filters")
    before = list(logger.filters)
    instrument(logger).close()
    assert before == logger.filters
