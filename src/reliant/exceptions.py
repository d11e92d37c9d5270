"""The one exception tree of reliant.

::

    Exception
    └── ReliantError                 anything reliant raises on its own account
        ├── RejectedError            a policy refused the call before running it;
        │   │                        .retry_after says when trying again may succeed
        │   ├── CircuitOpenError     the circuit breaker is open (or forced open)
        │   ├── BulkheadFullError    no concurrency slot within max_wait
        │   ├── RateLimitedError     the rate limiter denied the request
        │   ├── ConcurrencyLimitError the adaptive concurrency limit is reached
        │   └── ThrottledError       client-side adaptive throttling shed the call
        ├── TimeoutExceeded          the call outlived its Timeout (also a TimeoutError)
        └── InjectedFault            the default error a Fault injects (also a ConnectionError)

Retries never wrap: when attempts run out, the last exception is re-raised unchanged.
Invalid options raise ``ValueError`` at construction, naming the option and its range.
"""

from __future__ import annotations


class ReliantError(Exception):
    """Base of every exception reliant raises on its own account."""


class RejectedError(ReliantError):
    """A policy refused the call without running it.

    Attributes:
        policy: the ``name`` of the refusing policy.
        retry_after: seconds until a new attempt may be admitted, if known.
    """

    def __init__(self, message: str, *, policy: str = "", retry_after: float | None = None):
        super().__init__(message)
        self.policy = policy
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), str(self), self.policy, self.retry_after))


def _rebuild(
    cls: type[RejectedError], message: str, policy: str, retry_after: float | None
) -> RejectedError:
    return cls(message, policy=policy, retry_after=retry_after)


class CircuitOpenError(RejectedError):
    """The circuit breaker rejected the call because it is open or forced open."""


class BulkheadFullError(RejectedError):
    """The bulkhead had no free slot within its ``max_wait``."""


class RateLimitedError(RejectedError):
    """The rate limiter denied the request; ``retry_after`` says when to come back."""


class ConcurrencyLimitError(RejectedError):
    """The adaptive concurrency limit is reached; the call was shed."""


class ThrottledError(RejectedError):
    """Client-side adaptive throttling rejected the call locally."""


class TimeoutExceeded(ReliantError, TimeoutError):
    """The call did not finish within its timeout.

    Attributes:
        timeout: the budget that was exceeded, in seconds.
    """

    def __init__(self, message: str, *, timeout: float | None = None):
        super().__init__(message)
        self.timeout = timeout

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_timeout, (type(self), str(self), self.timeout))


def _rebuild_timeout(
    cls: type[TimeoutExceeded], message: str, timeout: float | None
) -> TimeoutExceeded:
    return cls(message, timeout=timeout)


class InjectedFault(ReliantError, ConnectionError):
    """The error a :class:`~reliant.Fault` raises when no other error type is given.

    It is a ``ConnectionError`` so that code handling a lost dependency handles it too.
    """


__all__ = [
    "BulkheadFullError",
    "CircuitOpenError",
    "ConcurrencyLimitError",
    "InjectedFault",
    "RateLimitedError",
    "RejectedError",
    "ReliantError",
    "ThrottledError",
    "TimeoutExceeded",
]
