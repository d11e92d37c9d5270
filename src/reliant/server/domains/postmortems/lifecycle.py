"""A postmortem's states, the moves between them, and due dates. Pure, no I/O.

::

    draft → in_review → published
      ↑        │            │
      └────────┴────────────┘   (back to draft for edits)

Sections can be edited in ``draft`` and ``in_review``; a published postmortem goes back to
``draft`` first.
"""

from __future__ import annotations

import datetime as dt

DRAFT, IN_REVIEW, PUBLISHED = "draft", "in_review", "published"
#: Every state, in order.
STATES = (DRAFT, IN_REVIEW, PUBLISHED)
#: State → the states it may move to.
MOVES: dict[str, tuple[str, ...]] = {
    DRAFT: (IN_REVIEW,),
    IN_REVIEW: (PUBLISHED, DRAFT),
    PUBLISHED: (DRAFT,),
}
#: States whose sections may be edited.
EDITABLE = (DRAFT, IN_REVIEW)
#: Business days after the resolution a required postmortem is due by default (PagerDuty:
#: the postmortem meeting within 5 business days).
DUE_BUSINESS_DAYS = 5


def allowed(state: str) -> tuple[str, ...]:
    """The states a postmortem in ``state`` may move to."""
    return MOVES.get(state, ())


class MoveRefused(ValueError):
    """A move the lifecycle does not allow; the message names the allowed ones."""

    def __init__(self, state: str, to: str) -> None:
        moves = allowed(state)
        super().__init__(
            f"a postmortem that is {state} cannot become {to}; allowed: {', '.join(moves)}"
        )
        self.state = state
        self.to = to
        self.allowed = moves


def check(state: str, to: str) -> None:
    """Raise :class:`MoveRefused` unless ``state → to`` is allowed."""
    if to not in allowed(state):
        raise MoveRefused(state, to)


def due_date(resolved_at: float, business_days: int = DUE_BUSINESS_DAYS) -> str:
    """The date (UTC, ``YYYY-MM-DD``) ``business_days`` Mondays-to-Fridays after the day of
    ``resolved_at``: resolved on a Friday, 5 business days later is the next Friday."""
    day = dt.datetime.fromtimestamp(resolved_at, dt.UTC).date()
    left = business_days
    while left > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day.isoformat()
