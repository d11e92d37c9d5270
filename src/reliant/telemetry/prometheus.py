"""Prometheus metrics for every reliant policy, through ``prometheus_client``.

Importing this module imports ``prometheus_client``; ``import reliant`` never does.
:func:`instrument` subscribes to the event bus: no policy changes, and nothing is
recorded for policies that emit nothing. See ``docs/telemetry.md`` for the catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from reliant._core import validate
from reliant.telemetry._metrics import METRICS, Instrumentation, Metric

#: The default metric name prefix: ``reliant_circuit_breaker_calls_total``.
DEFAULT_NAMESPACE = "reliant"
#: Default call-duration buckets, in seconds (prometheus_client's own defaults).
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

_Family = Counter | Gauge | Histogram
_OWNER = "reliant.telemetry.prometheus.instrument"


class _Recorder:
    """Records catalogue metrics on ``prometheus_client`` families (thread-safe)."""

    __slots__ = ("_children", "families", "registry")

    def __init__(
        self, registry: CollectorRegistry, namespace: str, buckets: Sequence[float]
    ) -> None:
        self.registry = registry
        self.families: dict[str, _Family] = {}
        # Labelled children by (metric, label values): .labels() takes a lock and
        # validates its arguments on every call; a dict lookup does neither.
        self._children: dict[tuple[str, tuple[str, ...]], Any] = {}
        try:
            for metric in METRICS:
                self.families[metric.prometheus] = _family(metric, namespace, buckets, registry)
        except ValueError as exc:
            self.unregister()
            raise ValueError(
                f"{_OWNER}: the registry already has reliant metrics under namespace "
                f"{namespace!r}; close the other instrumentation first ({exc})"
            ) from None

    def _child(self, metric: Metric, labels: tuple[str, ...]) -> Any:
        key = (metric.prometheus, labels)
        child = self._children.get(key)
        if child is None:
            # Two threads racing here get the same child: labels() is idempotent.
            child = self._children[key] = self.families[metric.prometheus].labels(*labels)
        return child

    def add(self, metric: Metric, labels: tuple[str, ...], amount: float = 1) -> None:
        self._child(metric, labels).inc(amount)

    def observe(self, metric: Metric, labels: tuple[str, ...], value: float) -> None:
        self._child(metric, labels).observe(value)

    def set(self, metric: Metric, labels: tuple[str, ...], value: float) -> None:
        self._child(metric, labels).set(value)

    def unregister(self) -> None:
        for family in self.families.values():
            self.registry.unregister(family)
        self.families.clear()
        self._children.clear()


def _family(
    metric: Metric, namespace: str, buckets: Sequence[float], registry: CollectorRegistry
) -> _Family:
    name = f"{namespace}_{metric.prometheus}" if namespace else metric.prometheus
    labels = metric.labels
    if metric.kind == "counter":
        return Counter(name, metric.description, labels, registry=registry)
    if metric.kind == "histogram":
        return Histogram(name, metric.description, labels, registry=registry, buckets=buckets)
    return Gauge(name, metric.description, labels, registry=registry)


class PrometheusInstrumentation(Instrumentation):
    """Reliant metrics recorded on a Prometheus registry.

    ``close()`` unsubscribes from the event bus and removes the metrics from the
    registry, so the same registry can be instrumented again.

    Attributes:
        registry: the registry the metrics live in.
        namespace: the metric name prefix.
    """

    __slots__ = ("_recorder", "namespace", "registry")

    def __init__(
        self, registry: CollectorRegistry, namespace: str, buckets: Sequence[float]
    ) -> None:
        self.registry = registry
        self.namespace = namespace
        self._recorder = _Recorder(registry, namespace, buckets)
        super().__init__(self._recorder)

    def _closed(self) -> None:
        self._recorder.unregister()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"PrometheusInstrumentation(namespace={self.namespace!r}, {state})"


def instrument(
    registry: CollectorRegistry | None = None,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    buckets: Sequence[float] = DEFAULT_BUCKETS,
) -> PrometheusInstrumentation:
    """Record every reliant policy's events as Prometheus metrics.

    Args:
        registry: where the metrics live (``prometheus_client.REGISTRY`` by default).
        namespace: the metric name prefix (letters, digits and ``_``; may be empty).
        buckets: upper bounds, in seconds, of the call-duration histogram buckets
            (``+Inf`` is added by ``prometheus_client``).

    Returns:
        The live instrumentation; ``close()`` it to stop.

    Raises:
        ValueError: for an invalid namespace or buckets, or a registry that already
            holds reliant metrics under ``namespace``.
    """
    if not isinstance(namespace, str) or not (
        namespace == "" or (namespace.replace("_", "a").isalnum() and not namespace[0].isdigit())
    ):
        raise ValueError(
            f"{_OWNER}: namespace must be letters, digits and '_' not starting with a digit, "
            f"got {namespace!r}"
        )
    bounds = tuple(validate.positive(_OWNER, "buckets item", b) for b in buckets)
    if not bounds or list(bounds) != sorted(set(bounds)):
        raise ValueError(
            f"{_OWNER}: buckets must be a non-empty increasing sequence of positive "
            f"numbers, got {buckets!r}"
        )
    return PrometheusInstrumentation(REGISTRY if registry is None else registry, namespace, bounds)


__all__ = ["DEFAULT_BUCKETS", "DEFAULT_NAMESPACE", "PrometheusInstrumentation", "instrument"]
