"""Rate limiting: GCRA, token bucket and sliding-window counter, keyed, over a backend.

:class:`RateLimiter` validates and drives; a :class:`RateLimitBackend` holds per-key
state and makes each decision atomically. :class:`MemoryBackend` (the default) keeps
it in this process; a shared backend (Redis) implements the same protocol.
"""

from reliant.resilience.ratelimit.backend import Decision, RateLimitBackend
from reliant.resilience.ratelimit.limiter import RateLimiter, RateLimiterOptions
from reliant.resilience.ratelimit.memory import MemoryBackend

__all__ = ["Decision", "MemoryBackend", "RateLimitBackend", "RateLimiter", "RateLimiterOptions"]
