"""OpenTelemetry for reliant: span events, breaker state on spans, metrics, call spans.

Importing this module imports ``opentelemetry`` (the API only; the SDK is the
application's choice); ``import reliant`` never does.

- :func:`instrument` subscribes to the event bus. Each reliant event becomes an event on
  the span current where it happened (a retry, a breaker transition, a rejection…);
  breaker events also set ``reliant.circuit_breaker.name`` / ``.state`` on that span;
  and the metrics of the Prometheus adapter are recorded through the metrics API.
- :func:`traced` wraps a policy (or pipeline) so each call runs in its own span, with
  exceptions recorded on it — the span the events above land on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.util.types import AttributeValue

from reliant._core.events import Event
from reliant._core.policy import Args, Kwargs, Policy
from reliant.telemetry._metrics import METRICS, Instrumentation, Metric

#: The instrumentation scope name of reliant's tracer and meter.
SCOPE = "reliant"
#: Prefix of every instrument name: ``reliant.circuit_breaker.calls``.
NAMESPACE = "reliant"
#: Advisory bucket boundaries of the call-duration histogram, in seconds.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_PRIMITIVE = (bool, str, int, float)


def _version() -> str:
    from reliant import __version__

    return __version__


class _Recorder:
    """Records catalogue metrics through the OpenTelemetry metrics API."""

    __slots__ = ("_attributes", "_instruments")

    def __init__(self, meter: metrics.Meter) -> None:
        self._instruments: dict[str, Any] = {}
        # Attribute dicts by (metric, label values), built once per series.
        self._attributes: dict[tuple[str, tuple[str, ...]], dict[str, str]] = {}
        for metric in METRICS:
            name = f"{NAMESPACE}.{metric.otel}"
            unit, description = metric.unit, metric.description
            instrument: Any
            if metric.kind == "counter":
                instrument = meter.create_counter(name, unit=unit, description=description)
            elif metric.kind == "histogram":
                instrument = meter.create_histogram(
                    name,
                    unit=unit,
                    description=description,
                    explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
                )
            else:
                instrument = meter.create_gauge(name, unit=unit, description=description)
            self._instruments[metric.otel] = instrument

    def _attrs(self, metric: Metric, labels: tuple[str, ...]) -> dict[str, str]:
        key = (metric.otel, labels)
        attributes = self._attributes.get(key)
        if attributes is None:
            attributes = self._attributes[key] = dict(zip(metric.labels, labels, strict=True))
        return attributes

    def add(self, metric: Metric, labels: tuple[str, ...], amount: float = 1) -> None:
        self._instruments[metric.otel].add(amount, self._attrs(metric, labels))

    def observe(self, metric: Metric, labels: tuple[str, ...], value: float) -> None:
        self._instruments[metric.otel].record(value, self._attrs(metric, labels))

    def set(self, metric: Metric, labels: tuple[str, ...], value: float) -> None:
        self._instruments[metric.otel].set(value, self._attrs(metric, labels))


def span_attributes(event: Event) -> dict[str, AttributeValue]:
    """Return an event's attributes in the form a span event accepts.

    The policy name becomes ``reliant.policy``; primitive attributes become
    ``reliant.<name>``; an exception becomes ``exception.type`` and
    ``exception.message`` (OpenTelemetry's semantic conventions); other values (a
    retried result, ``None``) are left out.
    """
    attributes: dict[str, AttributeValue] = {"reliant.policy": event.policy}
    for key, value in event.attributes.items():
        if isinstance(value, BaseException):
            attributes["exception.type"] = type(value).__qualname__
            attributes["exception.message"] = str(value)
        elif isinstance(value, _PRIMITIVE):
            attributes[f"reliant.{key}"] = value
    return attributes


class OpenTelemetryInstrumentation(Instrumentation):
    """Reliant events as span events and OpenTelemetry metrics.

    ``close()`` unsubscribes; instruments already created stay with the meter
    provider (the metrics API cannot remove them) but receive nothing more.

    Attributes:
        tracer_provider: the provider :meth:`traced` spans come from (``None``: global).
        meter_provider: the provider the metrics were created on (``None``: global).
    """

    __slots__ = ("meter_provider", "tracer_provider")

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None,
        meter_provider: metrics.MeterProvider | None,
    ) -> None:
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        meter = metrics.get_meter(SCOPE, _version(), meter_provider=meter_provider)
        super().__init__(_Recorder(meter))

    def _listener(self) -> Callable[[Event], None]:
        return self._on_event

    def _on_event(self, event: Event) -> None:
        self._translator(event)
        span = trace.get_current_span()
        if not span.is_recording():
            return
        span.add_event(event.kind, span_attributes(event))
        if event.kind.startswith("circuit_breaker."):
            state = self._translator.states.get(event.policy)
            if state is not None:
                span.set_attribute("reliant.circuit_breaker.name", event.policy)
                span.set_attribute("reliant.circuit_breaker.state", state)

    def traced(
        self,
        policy: Policy,
        name: str = "",
        *,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> Traced:
        """Wrap ``policy`` in a span per call, from this instrumentation's tracer provider.

        See :func:`traced`.
        """
        return Traced(
            policy, name=name, tracer_provider=self.tracer_provider, attributes=attributes
        )


class Traced(Policy):
    """A policy that runs each call of another policy inside its own span.

    The span is current while the wrapped policy runs, so the events its policies emit
    land on it (with :func:`instrument`); an exception that escapes — the user's or a
    rejection — is recorded on the span, whose status becomes ERROR.

    Args:
        policy: the policy or pipeline to wrap.
        name: the span name (default: the wrapped policy's name).
        tracer_provider: where spans come from (default: the global provider).
        attributes: extra span attributes set on every span.
    """

    __slots__ = ("_ainner", "_attributes", "_inner", "_tracer", "policy")

    def __init__(
        self,
        policy: Policy,
        *,
        name: str = "",
        tracer_provider: trace.TracerProvider | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> None:
        if not isinstance(policy, Policy):
            raise ValueError(f"Traced: policy must be a reliant policy, got {policy!r}")
        super().__init__(name=name or policy.name, clock=policy.clock)
        self.policy = policy
        self._inner = policy._run
        self._ainner = policy._arun
        self._tracer = trace.get_tracer(SCOPE, _version(), tracer_provider=tracer_provider)
        self._attributes: dict[str, AttributeValue] = {
            "reliant.policy": policy.name,
            **(attributes or {}),
        }

    def _run(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        with self._tracer.start_as_current_span(self.name, attributes=self._attributes):
            return self._inner(fn, args, kwargs)

    async def _arun(self, fn: Callable[..., Awaitable[Any]], args: Args, kwargs: Kwargs) -> Any:
        with self._tracer.start_as_current_span(self.name, attributes=self._attributes):
            return await self._ainner(fn, args, kwargs)

    def describe(self) -> dict[str, Any]:
        """Return kind, name and the wrapped policy's description."""
        return {"kind": "Traced", "name": self.name, "policy": dict(self.policy.describe())}


def traced(
    policy: Policy,
    name: str = "",
    *,
    tracer_provider: trace.TracerProvider | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Traced:
    """Wrap ``policy`` so each call runs inside its own span.

    Args:
        policy: the policy or pipeline to wrap.
        name: the span name (default: the policy's name).
        tracer_provider: where spans come from (default: the global provider).
        attributes: extra attributes for every span.

    Returns:
        A policy used exactly like ``policy`` (``call``, ``acall``, decorator).

    Raises:
        ValueError: if ``policy`` is not a reliant policy.
    """
    return Traced(policy, name=name, tracer_provider=tracer_provider, attributes=attributes)


def instrument(
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> OpenTelemetryInstrumentation:
    """Record every reliant event on the current span and as OpenTelemetry metrics.

    Args:
        tracer_provider: the provider for :meth:`OpenTelemetryInstrumentation.traced`
            spans (span events go to whatever span is current, wherever it came from).
        meter_provider: the provider metrics are created on (default: the global one).

    Returns:
        The live instrumentation; ``close()`` it to stop.
    """
    return OpenTelemetryInstrumentation(tracer_provider, meter_provider)


__all__ = [
    "DURATION_BUCKETS",
    "OpenTelemetryInstrumentation",
    "Traced",
    "instrument",
    "span_attributes",
    "traced",
]
