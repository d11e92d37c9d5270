"""Telemetry adapters: Prometheus, OpenTelemetry and structured logs.

Each adapter lives in its own module and is imported only when used, together with its
library: ``reliant.telemetry.prometheus`` (``prometheus_client``),
``reliant.telemetry.otel`` (``opentelemetry``) and ``reliant.telemetry.logging`` (the
standard ``logging``); ``reliant.telemetry.metered`` (standard library only) holds the
``metered(policy)`` wrapper that reports every call's outcome and duration. Importing
this package imports none of them; the submodules are also reachable as attributes
(``reliant.telemetry.prometheus.instrument(...)``).

Every adapter subscribes to the event bus (``reliant.subscribe``); none changes a
policy. See ``docs/telemetry.md``.
"""

from __future__ import annotations

TYPE_CHECKING = False

if TYPE_CHECKING:
    from types import ModuleType

_SUBMODULES = frozenset({"logging", "metered", "otel", "prometheus"})


def __getattr__(name: str) -> ModuleType:
    """Import an adapter module on first use."""
    if name not in _SUBMODULES:
        raise AttributeError(f"module 'reliant.telemetry' has no attribute {name!r}")
    from importlib import import_module

    return import_module(f"{__name__}.{name}")


__all__ = ["logging", "metered", "otel", "prometheus"]
