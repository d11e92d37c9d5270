"""reliant: the reliability playbook as software for Python services.

This module only re-exports the SDK's public names. It loads them lazily (PEP 562):
``import reliant`` costs almost nothing, and ``reliant.Retry`` imports only what
``Retry`` needs, so a program pays for the policies it uses. See ``docs/`` for each.
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING: importing typing alone would double the cost of
# `import reliant`. Type checkers treat any constant of this name the same way.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

    from reliant._core.clock import Clock, MonotonicClock
    from reliant._core.deadline import remaining as deadline_remaining
    from reliant._core.events import Event, Subscription, subscribe
    from reliant._core.policy import Policy
    from reliant.agent.agent import connect
    from reliant.exceptions import (
        BulkheadFullError,
        CircuitOpenError,
        ConcurrencyLimitError,
        InjectedFault,
        RateLimitedError,
        RejectedError,
        ReliantError,
        ThrottledError,
        TimeoutExceeded,
    )
    from reliant.faults.fault import Fault
    from reliant.resilience.adaptive import AdaptiveLimit
    from reliant.resilience.backoff import Backoff
    from reliant.resilience.budget import RetryBudget
    from reliant.resilience.bulkhead import Bulkhead
    from reliant.resilience.circuit_breaker import CircuitBreaker, CircuitMetrics, CircuitState
    from reliant.resilience.fallback import Fallback
    from reliant.resilience.hedge import Hedge
    from reliant.resilience.pipeline import Pipeline
    from reliant.resilience.ratelimit import Decision, MemoryBackend, RateLimitBackend, RateLimiter
    from reliant.resilience.registry import Registry, build_pipeline, build_policy
    from reliant.resilience.retry import Retry
    from reliant.resilience.throttle import Throttle
    from reliant.resilience.timeout import Timeout
    from reliant.resilience.windows import CountWindow, TimeWindow

#: The package version; a test keeps it equal to pyproject.toml's.
__version__ = "0.1.0"

#: Public name -> (module, attribute) it is re-exported from.
_EXPORTS: dict[str, tuple[str, str]] = {
    "AdaptiveLimit": ("reliant.resilience.adaptive", "AdaptiveLimit"),
    "Backoff": ("reliant.resilience.backoff", "Backoff"),
    "Bulkhead": ("reliant.resilience.bulkhead", "Bulkhead"),
    "BulkheadFullError": ("reliant.exceptions", "BulkheadFullError"),
    "CircuitBreaker": ("reliant.resilience.circuit_breaker", "CircuitBreaker"),
    "CircuitMetrics": ("reliant.resilience.circuit_breaker", "CircuitMetrics"),
    "CircuitOpenError": ("reliant.exceptions", "CircuitOpenError"),
    "CircuitState": ("reliant.resilience.circuit_breaker", "CircuitState"),
    "Clock": ("reliant._core.clock", "Clock"),
    "ConcurrencyLimitError": ("reliant.exceptions", "ConcurrencyLimitError"),
    "CountWindow": ("reliant.resilience.windows", "CountWindow"),
    "Decision": ("reliant.resilience.ratelimit", "Decision"),
    "Event": ("reliant._core.events", "Event"),
    "Fallback": ("reliant.resilience.fallback", "Fallback"),
    "Fault": ("reliant.faults.fault", "Fault"),
    "Hedge": ("reliant.resilience.hedge", "Hedge"),
    "InjectedFault": ("reliant.exceptions", "InjectedFault"),
    "MemoryBackend": ("reliant.resilience.ratelimit", "MemoryBackend"),
    "MonotonicClock": ("reliant._core.clock", "MonotonicClock"),
    "Pipeline": ("reliant.resilience.pipeline", "Pipeline"),
    "Policy": ("reliant._core.policy", "Policy"),
    "RateLimitBackend": ("reliant.resilience.ratelimit", "RateLimitBackend"),
    "RateLimitedError": ("reliant.exceptions", "RateLimitedError"),
    "RateLimiter": ("reliant.resilience.ratelimit", "RateLimiter"),
    "Registry": ("reliant.resilience.registry", "Registry"),
    "RejectedError": ("reliant.exceptions", "RejectedError"),
    "ReliantError": ("reliant.exceptions", "ReliantError"),
    "Retry": ("reliant.resilience.retry", "Retry"),
    "RetryBudget": ("reliant.resilience.budget", "RetryBudget"),
    "Subscription": ("reliant._core.events", "Subscription"),
    "Throttle": ("reliant.resilience.throttle", "Throttle"),
    "ThrottledError": ("reliant.exceptions", "ThrottledError"),
    "TimeWindow": ("reliant.resilience.windows", "TimeWindow"),
    "Timeout": ("reliant.resilience.timeout", "Timeout"),
    "TimeoutExceeded": ("reliant.exceptions", "TimeoutExceeded"),
    "build_pipeline": ("reliant.resilience.registry", "build_pipeline"),
    "build_policy": ("reliant.resilience.registry", "build_policy"),
    "connect": ("reliant.agent.agent", "connect"),
    "deadline_remaining": ("reliant._core.deadline", "remaining"),
    "subscribe": ("reliant._core.events", "subscribe"),
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use and cache it in the module."""
    try:
        module_name, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'reliant' has no attribute {name!r}") from None
    from importlib import import_module

    value = getattr(import_module(module_name), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "AdaptiveLimit",
    "Backoff",
    "Bulkhead",
    "BulkheadFullError",
    "CircuitBreaker",
    "CircuitMetrics",
    "CircuitOpenError",
    "CircuitState",
    "Clock",
    "ConcurrencyLimitError",
    "CountWindow",
    "Decision",
    "Event",
    "Fallback",
    "Fault",
    "Hedge",
    "InjectedFault",
    "MemoryBackend",
    "MonotonicClock",
    "Pipeline",
    "Policy",
    "RateLimitBackend",
    "RateLimitedError",
    "RateLimiter",
    "Registry",
    "RejectedError",
    "ReliantError",
    "Retry",
    "RetryBudget",
    "Subscription",
    "Throttle",
    "ThrottledError",
    "TimeWindow",
    "Timeout",
    "TimeoutExceeded",
    "__version__",
    "build_pipeline",
    "build_policy",
    "connect",
    "deadline_remaining",
    "subscribe",
]
