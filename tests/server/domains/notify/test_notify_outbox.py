"""Delivery decisions: which answers are retried, how long to wait, when to give up."""

from __future__ import annotations

import random

import pytest

from reliant.server.domains.notify import outbox
from reliant.server.domains.notify.outbox import DEAD, DELIVERED, RETRY, Result


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, DELIVERED),
        (202, DELIVERED),
        (400, DEAD),
        (401, DEAD),
        (403, DEAD),
        (404, DEAD),
        (410, DEAD),
        (422, DEAD),
        (301, DEAD),
        (408, RETRY),
        (429, RETRY),
        (500, RETRY),
        (502, RETRY),
        (503, RETRY),
    ],
)
def test_answers_are_classified_as_vendors_document(status: int, outcome: str) -> None:
    """2xx delivered; 408/429/5xx retried; other codes (400, 401, 403, 404, 410…) dead."""
    assert outcome == outbox.classify(status, "").outcome


def test_detail_quotes_the_answer_on_one_line() -> None:
    """The detail names the status and the start of the body, whitespace collapsed."""
    assert "HTTP 400: invalid_payload more" == outbox.classify(400, "invalid_payload\n more").detail


def test_retry_after_seconds_and_dates() -> None:
    """Retry-After in seconds or as an HTTP date gives seconds to wait; junk gives None."""
    now = 1_800_000_000.0
    assert (30.0, 60.0, None, None) == (
        outbox.parse_retry_after("30", now),
        outbox.parse_retry_after("Fri, 15 Jan 2027 08:01:00 GMT", now),
        outbox.parse_retry_after("soon", now),
        outbox.parse_retry_after(None, now),
    )


def test_backoff_doubles_with_equal_jitter_up_to_the_cap() -> None:
    """Waits lie in [ceiling/2, ceiling], the ceiling doubling from 10 s to 300 s."""
    rng = random.Random(3)
    for failures, ceiling in [(1, 10.0), (2, 20.0), (3, 40.0), (5, 160.0), (6, 300.0), (60, 300.0)]:
        waits = [outbox.backoff(failures, rng) for _ in range(200)]
        assert (True, True) == (min(waits) >= ceiling / 2, max(waits) <= ceiling)


def test_backoff_is_reproducible_with_a_seed() -> None:
    """The same seed gives the same waits."""
    first = [outbox.backoff(n, random.Random(9)) for n in range(1, 8)]
    assert first == [outbox.backoff(n, random.Random(9)) for n in range(1, 8)]


def test_retry_after_lengthens_the_wait_up_to_an_hour() -> None:
    """A longer Retry-After wins over the backoff, capped at one hour."""
    rng = random.Random(1)
    asked = Result(outcome=RETRY, status_code=429, detail="", retry_after=100.0)
    greedy = Result(outcome=RETRY, status_code=429, detail="", retry_after=99_999.0)
    assert (100.0, 3600.0) == (outbox.next_wait(1, asked, rng), outbox.next_wait(1, greedy, rng))


def test_notifications_expire_after_a_day() -> None:
    """An attempt more than 24 h after the window opened is past it."""
    assert (False, True) == (outbox.expired(0.0, 86400.0), outbox.expired(0.0, 86400.5))
