"""Aggregation groups: when a group notifies, and about what. Pure; time is passed in.

Alerts taken by a route are grouped by the values of the route's ``group_by`` labels; a
group is named by its *group key*, ``<route key>:<group labels>`` as Alertmanager writes it.
A group flushes first ``group_wait`` after its first alert fired (at once if that is past),
then every ``group_interval``. At each flush, with Alertmanager's notification pipeline:

1. a route muted by its time intervals sends nothing;
2. silenced and inhibited alerts are left out; if none remain, nothing is sent;
3. the notification log entry of (group, receiver) decides (:func:`needs_update`): the first
   notification needs a firing alert; then a notification goes out when an alert fires that
   the last one did not list, when every alert resolved (if the receiver had heard of any),
   when alerts resolved since the last one, or — nothing else having changed — when
   ``repeat_interval`` has passed since the last one. Repeats are checked at flushes only, so
   the repeat interval is rounded up to a whole number of group intervals;
4. resolved alerts leave the group after the flush (notified or not), and an empty group
   ends. So an alert that fires and resolves within ``group_wait`` notifies nobody.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reliant.server.domains.alerts.labelsets import format_labels

FIRST = "first_notification"
NEW_ALERTS = "new_alerts_in_group"
ALL_RESOLVED = "all_alerts_resolved"
NEW_RESOLVED = "new_resolved_alerts"
REPEAT = "repeat_interval_elapsed"


@dataclass(frozen=True, slots=True)
class Entry:
    """What the last notification of a group to a receiver said, and when."""

    firing: frozenset[str]
    resolved: frozenset[str]
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """An alert in a group, as a flush sees it."""

    fingerprint: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    firing: bool
    starts_at: float | None = None
    ends_at: float | None = None
    generator_url: str = ""
    muted: bool = False

    def as_webhook(self) -> dict[str, Any]:
        """The alert as Alertmanager's webhook lists it (times as epoch seconds)."""
        return {
            "status": "firing" if self.firing else "resolved",
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": self.starts_at,
            "endsAt": None if self.firing else self.ends_at,
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Flush:
    """What one flush of a group does.

    Attributes:
        reason: why it notifies (``first_notification``, …), or ``None``: nothing is sent.
        status: ``firing`` if any notified alert fires, else ``resolved``.
        alerts: the alerts the notification lists (muted ones left out).
        entry: the notification log entry to store when it notifies.
        drop: fingerprints of the resolved alerts that leave the group.
    """

    reason: str | None
    status: str
    alerts: tuple[Member, ...]
    entry: Entry | None
    drop: tuple[str, ...]


def group_key(route_key: str, group_labels: Mapping[str, str]) -> str:
    """Alertmanager's group key: ``{}/{severity="page"}:{alertname="X"}``."""
    return f"{route_key}:{format_labels(group_labels)}"


def dedup_key(receiver: str, key: str) -> str:
    """The notification's dedup key: one stream per receiver and group."""
    return f"{receiver}:{key}"


def first_flush(fired_at: float, group_wait: float, now: float) -> float:
    """When a group created at ``now`` for an alert that fired at ``fired_at`` first flushes."""
    return max(now, fired_at + group_wait)


def needs_update(
    entry: Entry | None,
    firing: frozenset[str],
    resolved: frozenset[str],
    *,
    repeat: float,
    now: float,
) -> str | None:
    """Alertmanager's dedup decision (``DedupStage.needsUpdate``), receivers sending resolved.

    Returns:
        the reason to notify, or ``None`` to send nothing.
    """
    if entry is None:
        return FIRST if firing else None
    if not firing <= entry.firing:
        return FIRST if not entry.firing else NEW_ALERTS
    if not firing:
        return ALL_RESOLVED if entry.firing else None
    if not resolved <= entry.resolved:
        return NEW_RESOLVED
    return REPEAT if now - entry.at >= repeat else None


def _order(m: Member) -> tuple[str, str, list[tuple[str, str]]]:
    return (m.labels.get("job", ""), m.labels.get("instance", ""), sorted(m.labels.items()))


def flush(
    members: Iterable[Member],
    entry: Entry | None,
    *,
    repeat: float,
    now: float,
    time_muted: bool = False,
) -> Flush:
    """Decide one flush of a group holding ``members`` (see the module's steps)."""
    alerts = sorted(members, key=_order)
    drop = tuple(m.fingerprint for m in alerts if not m.firing)
    visible = tuple(m for m in alerts if not m.muted)
    if time_muted or not visible:
        return Flush(reason=None, status="", alerts=(), entry=None, drop=drop)
    firing = frozenset(m.fingerprint for m in visible if m.firing)
    resolved = frozenset(m.fingerprint for m in visible if not m.firing)
    reason = needs_update(entry, firing, resolved, repeat=repeat, now=now)
    if reason is None:
        return Flush(reason=None, status="", alerts=(), entry=None, drop=drop)
    return Flush(
        reason=reason,
        status="firing" if firing else "resolved",
        alerts=visible,
        entry=Entry(firing, resolved, now),
        drop=drop,
    )


def common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """The pairs every mapping has (Alertmanager's ``commonLabels``/``commonAnnotations``)."""
    if not maps:
        return {}
    out = dict(maps[0])
    for other in maps[1:]:
        out = {k: v for k, v in out.items() if other.get(k) == v}
    return out
