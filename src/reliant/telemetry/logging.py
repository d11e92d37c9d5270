"""Structured log records for reliant's state changes, with trace and span ids.

:func:`instrument` subscribes to the event bus and logs the event kinds worth a line —
breaker transitions, retries given up, rejections, timeouts, fallbacks, fault
switches — each with its attributes as ``extra`` fields (``reliant_event``,
``reliant_policy``, ``reliant_to_state``…) so a JSON formatter emits them as fields.
When OpenTelemetry is installed and a span is current, records also carry
``otelTraceID``, ``otelSpanID`` and ``otelTraceSampled`` (the names OpenTelemetry's own
logging instrumentation uses). They are added by a filter on the logger, never over
values already on the record: with OpenTelemetry's ``LoggingInstrumentor`` installed,
its record factory has set them first and those stay.
"""

from __future__ import annotations

import logging
import reprlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from reliant._core.events import Event, Subscription, subscribe

#: The logger records go to unless another is given.
DEFAULT_LOGGER = "reliant.events"
#: The level each event kind is logged at; kinds not listed are not logged. A breaker
#: transition into ``open`` or ``forced_open`` is logged at WARNING at least.
DEFAULT_LEVELS: Mapping[str, int] = MappingProxyType(
    {
        "circuit_breaker.state_changed": logging.INFO,
        "circuit_breaker.threshold_exceeded": logging.WARNING,
        "circuit_breaker.rejected": logging.DEBUG,
        "retry.retrying": logging.DEBUG,
        "retry.exhausted": logging.WARNING,
        "retry.succeeded": logging.DEBUG,
        "timeout.exceeded": logging.INFO,
        "bulkhead.rejected": logging.DEBUG,
        "rate_limiter.rejected": logging.DEBUG,
        "fallback.used": logging.INFO,
        "hedge.launched": logging.DEBUG,
        "fault.injected": logging.DEBUG,
        "fault.enabled": logging.WARNING,
        "fault.disabled": logging.INFO,
        "adaptive_limit.limit_changed": logging.DEBUG,
        "adaptive_limit.rejected": logging.DEBUG,
        "throttle.rejected": logging.DEBUG,
    }
)
#: The lowest level logged unless another is given.
DEFAULT_LEVEL = logging.DEBUG

_OPENING = frozenset({"open", "forced_open"})
_OWNER = "reliant.telemetry.logging.instrument"
#: The longest text field (an exception message, a result's repr) kept in a record.
_MAX_TEXT = 160
_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = _MAX_TEXT


def _value(value: object) -> object:
    """Return ``value`` as a log field: exceptions as ``Type: message``, text bounded."""
    if isinstance(value, BaseException):
        value = f"{type(value).__qualname__}: {value}"
    if isinstance(value, str):
        return value if len(value) <= _MAX_TEXT else value[: _MAX_TEXT - 3] + "..."
    if value is None or isinstance(value, bool | int | float):
        return value
    return _repr.repr(value)


def _highest(kind: str, level: int) -> int:
    """Return the highest level an event of ``kind`` logged at ``level`` can reach."""
    return max(level, logging.WARNING) if kind == "circuit_breaker.state_changed" else level


def _trace_ids() -> Callable[[], dict[str, object]] | None:
    """Return a function giving the current span's ids, or None without OpenTelemetry."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None

    def ids() -> dict[str, object]:
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return {}
        return {
            "otelTraceID": format(context.trace_id, "032x"),
            "otelSpanID": format(context.span_id, "016x"),
            "otelTraceSampled": context.trace_flags.sampled,
        }

    return ids


class _TraceIds(logging.Filter):
    """Add the current span's ids to reliant's records, keeping any already set.

    ``extra=`` cannot carry them: ``makeRecord`` refuses to overwrite an attribute,
    and a record factory (OpenTelemetry's ``LoggingInstrumentor``) may have set them.
    """

    def __init__(self, ids: Callable[[], dict[str, object]]) -> None:
        super().__init__()
        self._ids = ids

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "reliant_event"):  # only reliant's own records
            fields = record.__dict__
            for key, value in self._ids().items():
                fields.setdefault(key, value)
        return True


class LoggingInstrumentation:
    """Reliant events written as log records; ``close()`` stops it.

    Attributes:
        logger: where the records go.
        level: the lowest level logged.
        levels: the level of each logged event kind.
    """

    __slots__ = ("_filter", "_subscription", "level", "levels", "logger")

    def __init__(self, logger: logging.Logger, level: int, levels: Mapping[str, int]) -> None:
        self.logger = logger
        self.level = level
        self.levels = MappingProxyType(dict(levels))
        ids = _trace_ids()
        self._filter = _TraceIds(ids) if ids is not None and self.levels else None
        if self._filter is not None:
            logger.addFilter(self._filter)
        self._subscription: Subscription | None = (
            subscribe(self._on_event, kinds=self.levels) if self.levels else None
        )

    def _on_event(self, event: Event) -> None:
        level = self.levels[event.kind]
        attributes = event.attributes
        if event.kind == "circuit_breaker.state_changed" and attributes["to_state"] in _OPENING:
            level = max(level, logging.WARNING)
        if level < self.level or not self.logger.isEnabledFor(level):
            return
        fields = {key: _value(value) for key, value in attributes.items()}
        extra: dict[str, Any] = {
            "reliant_event": event.kind,
            "reliant_policy": event.policy,
            "reliant_time": event.time,
        }
        extra.update((f"reliant_{key}", value) for key, value in fields.items())
        details = " ".join(f"{key}={value}" for key, value in fields.items())
        self.logger.log(level, "reliant %s [%s] %s", event.kind, event.policy, details, extra=extra)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._subscription is None

    def close(self) -> None:
        """Stop logging events; closing twice is harmless."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.close()
        trace_filter, self._filter = self._filter, None
        if trace_filter is not None:
            self.logger.removeFilter(trace_filter)

    def __enter__(self) -> LoggingInstrumentation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def instrument(
    logger: logging.Logger | str | None = None,
    *,
    level: int = DEFAULT_LEVEL,
    levels: Mapping[str, int] | None = None,
) -> LoggingInstrumentation:
    """Log reliant's state changes as structured records.

    Args:
        logger: a logger or logger name (default ``"reliant.events"``).
        level: the lowest level logged; kinds whose level is below it are not even
            delivered to the adapter.
        levels: per-kind levels merged over :data:`DEFAULT_LEVELS` (a kind mapped to a
            level above ``CRITICAL`` is switched off; new kinds are added).

    Returns:
        The live instrumentation; ``close()`` it to stop.

    Raises:
        ValueError: if ``level`` or a value in ``levels`` is not an integer level.
    """
    merged = dict(DEFAULT_LEVELS)
    merged.update(levels or {})
    for option, each in (("level", level), *((f"levels[{k!r}]", v) for k, v in merged.items())):
        if isinstance(each, bool) or not isinstance(each, int) or each < 0:
            raise ValueError(
                f"{_OWNER}: {option} must be a logging level (an integer >= 0), got {each!r}"
            )
    wanted = {
        kind: each
        for kind, each in merged.items()
        if each <= logging.CRITICAL and level <= _highest(kind, each)
    }
    if logger is None or isinstance(logger, str):
        logger = logging.getLogger(logger or DEFAULT_LOGGER)
    return LoggingInstrumentation(logger, level, wanted)


__all__ = [
    "DEFAULT_LEVEL",
    "DEFAULT_LEVELS",
    "DEFAULT_LOGGER",
    "LoggingInstrumentation",
    "instrument",
]
