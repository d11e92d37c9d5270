"""reliant: the reliability playbook as software for Python services.

This module only re-exports the SDK's public names; ``import reliant`` loads nothing
outside the standard library. See ``docs/`` for each policy.
"""

from reliant._core.clock import Clock, MonotonicClock
from reliant._core.deadline import remaining as deadline_remaining
from reliant._core.events import Event, Subscription, subscribe
from reliant._core.policy import Policy
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
    "deadline_remaining",
    "subscribe",
]
