"""Redis-backed shared state: ``RedisBackend.from_url("redis://…")`` for RateLimiter.

Import it explicitly (``from reliant.redis import RedisBackend``): it needs redis-py,
and ``import reliant`` stays standard-library only.
"""

from reliant.redis.backend import FailMode, RedisBackend, RedisBackendOptions
from reliant.redis.breaker import SharedBreakerState

__all__ = ["FailMode", "RedisBackend", "RedisBackendOptions", "SharedBreakerState"]
