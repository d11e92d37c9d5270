"""Silences: matchers and a time window muting the alerts they match. Pure.

A silence is ``pending`` before ``starts_at``, ``active`` while
``starts_at <= now < ends_at``, and ``expired`` from ``ends_at`` on. An active silence mutes
every alert whose labels all its matchers match: the alert's state is ``suppressed`` and
no notification mentions it. When the silence ends, an alert still firing goes out at its
group's next flush (Alertmanager's semantics).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from reliant.server.domains.alerts.matchers import Matcher, escape, matches_all, parse_matchers

PENDING, ACTIVE, EXPIRED = "pending", "active", "expired"
STATES = (PENDING, ACTIVE, EXPIRED)


@dataclass(frozen=True, slots=True, kw_only=True)
class Silence:
    """A silence as the dispatcher sees it."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float

    def state(self, now: float) -> str:
        """``pending``, ``active`` or ``expired`` at ``now``."""
        if now < self.starts_at:
            return PENDING
        return ACTIVE if now < self.ends_at else EXPIRED

    def mutes(self, labels: Mapping[str, str], now: float) -> bool:
        """Whether this silence is active at ``now`` and matches ``labels``."""
        return self.state(now) == ACTIVE and matches_all(self.matchers, labels)


def silenced_by(silences: Iterable[Silence], labels: Mapping[str, str], now: float) -> list[str]:
    """The ids of the silences muting ``labels`` at ``now``, sorted."""
    return sorted(s.id for s in silences if s.mutes(labels, now))


def check_matchers(texts: Sequence[str]) -> tuple[Matcher, ...]:
    """A silence's matchers from their texts, checked as Alertmanager checks them.

    Raises:
        ValueError: no matcher, a bad matcher, or only matchers that match the empty string
            (such a silence would mute every alert lacking a label).
    """
    matchers: list[Matcher] = []
    for index, text in enumerate(texts):
        try:
            matchers.extend(parse_matchers(text))
        except ValueError as exc:
            raise ValueError(f"matchers[{index}]: {exc}") from None
    if not matchers:
        raise ValueError('matchers: at least one matcher is required, e.g. alertname="Down"')
    if all(m.matches({}) for m in matchers):
        raise ValueError("matchers: at least one matcher must not match the empty string")
    return tuple(matchers)


def exact(labels: Mapping[str, str]) -> list[str]:
    """Matcher texts selecting exactly the label set ``labels`` ("silence this alert")."""
    return [f'{name}="{escape(labels[name])}"' for name in sorted(labels)]
