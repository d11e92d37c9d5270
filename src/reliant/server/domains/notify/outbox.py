"""Delivery decisions of the outbox: what an answer means and when to try again. No I/O.

A receiver's answer is ``delivered`` (2xx), ``retry`` (408, 425, 429, 5xx, a timeout or a
connection error) or ``dead`` (any other answer: 400, 401, 403, 404, 410, … — vendors say
not to retry those). Retries back off exponentially with jitter, from
:data:`INITIAL_BACKOFF` up to :data:`MAX_BACKOFF`, honouring ``Retry-After``, until the
notification has waited :data:`MAX_AGE`; then it is a dead letter.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

#: Seconds before the first retry (the backoff's first ceiling).
INITIAL_BACKOFF = 10.0
#: Longest wait between two attempts, in seconds.
MAX_BACKOFF = 300.0
#: Longest ``Retry-After`` honoured, in seconds.
MAX_RETRY_AFTER = 3600.0
#: Seconds a notification is retried before it becomes a dead letter.
MAX_AGE = 86400.0
#: Statuses worth retrying besides 5xx.
RETRYABLE = frozenset({408, 425, 429})
#: The kinds of outcome.
DELIVERED, RETRY, DEAD = "delivered", "retry", "dead"


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """What came of one delivery attempt.

    Attributes:
        outcome: ``delivered``, ``retry`` or ``dead``.
        status_code: the HTTP status (SMTP reply code for email), if an answer came.
        detail: what happened, for people: the receiver's answer or the error.
        retry_after: seconds the receiver asked to wait, if it said.
    """

    outcome: str
    status_code: int | None
    detail: str
    retry_after: float | None = None


def classify(status: int, text: str, retry_after: float | None = None) -> Result:
    """The outcome of an HTTP answer with ``status`` and body ``text``."""
    snippet = " ".join(text.split())[:300]
    detail = f"HTTP {status}" + (f": {snippet}" if snippet else "")
    if 200 <= status < 300:
        return Result(outcome=DELIVERED, status_code=status, detail=detail)
    if status in RETRYABLE or status >= 500:
        return Result(outcome=RETRY, status_code=status, detail=detail, retry_after=retry_after)
    if 300 <= status < 400:
        detail += " (redirects are not followed: set the receiver's final URL)"
    return Result(outcome=DEAD, status_code=status, detail=detail)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or an HTTP date), if valid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)


def backoff(failures: int, rng: random.Random) -> float:
    """Seconds to wait after ``failures`` retryable failures in a row (equal jitter).

    The ceiling doubles from :data:`INITIAL_BACKOFF` to :data:`MAX_BACKOFF`; the wait is
    drawn between half the ceiling and the ceiling, so waits never collapse to zero.
    """
    ceiling = min(MAX_BACKOFF, INITIAL_BACKOFF * 2.0 ** min(max(failures, 1) - 1, 32))
    return ceiling / 2 + rng.uniform(0.0, ceiling / 2)


def next_wait(failures: int, result: Result, rng: random.Random) -> float:
    """Seconds until the next attempt after a retryable ``result``."""
    wait = backoff(failures, rng)
    if result.retry_after is not None:
        wait = max(wait, min(result.retry_after, MAX_RETRY_AFTER))
    return wait


def expired(due_since: float, at: float) -> bool:
    """Whether an attempt at ``at`` would be past the retry window opened at ``due_since``."""
    return at - due_since > MAX_AGE
