"""One pass of the alert dispatcher: states, muting, groups, flushes, notifications.

Each pass, in the caller's transaction:

1. resolves alerts past ``ends_at`` and moves pending alerts whose ``for`` elapsed to firing;
2. marks firing alerts ``suppressed`` while an active silence or an inhibition rule mutes
   them (and ``firing`` again when nothing does);
3. routes every firing alert through the routing tree into aggregation groups (creating
   groups, which first flush ``group_wait`` after their first alert fired);
4. flushes each group that is due (:mod:`grouping`) and, when a flush must notify, puts one
   notification in the notify outbox (``reliant.server.domains.notify.enqueue``) with the
   group key and the dedup key ``<receiver>:<group key>``.

Alert rows another transaction holds (a report being written) are left to the next pass.
Only the leader runs passes (the ``alerts.dispatch`` job, every second).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from reliant.server.domains.alerts import configuration, grouping, service, silencing
from reliant.server.domains.alerts.inhibit import Inhibitor
from reliant.server.domains.alerts.models import (
    AlertGroupMemberRow,
    AlertGroupRow,
    AlertRow,
    NotificationLogRow,
)
from reliant.server.domains.alerts.routing import Route
from reliant.server.domains.alerts.silences import Silence, silenced_by
from reliant.server.domains.notify import enqueue

#: Seconds a notification log entry outlives its last notification, at least (Alertmanager
#: keeps them 120 hours; an entry lives at least twice the repeat interval).
LOG_RETENTION = 120 * 3600.0

Notify = Callable[..., None]


@dataclass(slots=True)
class _Wanted:
    """A group as this pass's firing alerts want it."""

    route: Route
    labels: dict[str, str]
    fingerprints: set[str]
    fired: float


@dataclass(slots=True)
class Pass:
    """What one pass did."""

    settled: int = 0
    groups: int = 0
    flushed: int = 0
    notifications: list[dict[str, Any]] = field(default_factory=list)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def group_id(route: Route, group_labels: dict[str, str]) -> str:
    """The stored id of the group of ``route`` with ``group_labels``."""
    return _digest(route.id, grouping.group_key(route.key, group_labels))


def log_id(receiver: str, group_key: str) -> str:
    """The stored id of the notification log entry of a group and receiver."""
    return _digest(receiver, group_key)


def _active_rows(session: Session) -> list[AlertRow]:
    """Active alerts, locked for this pass.

    Rows another transaction holds (a report being written) are skipped: they are settled,
    muted and routed on the next pass (groups already holding them still flush them).
    """
    query = select(AlertRow).where(AlertRow.state.in_(service.ACTIVE))
    locked = query.order_by(AlertRow.fingerprint).with_for_update(skip_locked=True)
    return list(session.scalars(locked))


def _mute(
    rows: Sequence[AlertRow], silences: Sequence[Silence], inhibitor: Inhibitor, now: float
) -> None:
    for row in rows:
        if row.state not in (service.FIRING, service.SUPPRESSED):
            continue
        silenced = silenced_by(silences, row.labels, now)
        by = inhibitor.inhibited_by(row.labels)
        inhibited = [by] if by is not None else []
        state = service.SUPPRESSED if silenced or inhibited else service.FIRING
        if (row.state, list(row.silenced_by), list(row.inhibited_by)) != (
            state,
            silenced,
            inhibited,
        ):
            row.state, row.silenced_by, row.inhibited_by = state, silenced, inhibited


def run(session: Session, now: float, *, notify: Notify = enqueue) -> Pass:
    """One dispatcher pass at ``now`` (see the module docstring); it never commits.

    Args:
        notify: where notifications go: the notify facade's ``enqueue`` (a parameter so
            tests may watch the calls).
    """
    done = Pass()
    config = configuration.current(session)
    rows = _active_rows(session)
    for row in rows:
        before = row.state
        service.settle(session, row, now)
        done.settled += row.state != before
    firing = [r for r in rows if r.state in (service.FIRING, service.SUPPRESSED)]
    silences = silencing.active(session, now)
    inhibitor = Inhibitor(config.inhibit_rules, [(r.fingerprint, r.labels) for r in firing])
    _mute(firing, silences, inhibitor, now)

    wanted: dict[str, _Wanted] = {}
    for row in firing:
        for route in config.route.match(row.labels):
            labels = route.group_labels(row.labels)
            gid = group_id(route, labels)
            fired = row.fired_at if row.fired_at is not None else now
            want = wanted.setdefault(gid, _Wanted(route, labels, set(), fired))
            want.fingerprints.add(row.fingerprint)
            want.fired = min(want.fired, fired)

    groups = {g.id: g for g in session.scalars(select(AlertGroupRow))}
    members: dict[str, set[str]] = defaultdict(set)
    for m in session.scalars(select(AlertGroupMemberRow)):
        members[m.group_id].add(m.fingerprint)
    for gid, want in wanted.items():
        if gid not in groups:
            groups[gid] = AlertGroupRow(
                id=gid,
                route_id=want.route.id,
                receiver=want.route.receiver,
                group_key=grouping.group_key(want.route.key, want.labels),
                group_labels=want.labels,
                created_at=now,
                next_flush_at=grouping.first_flush(want.fired, want.route.group_wait, now),
                flushed_at=None,
            )
            session.add(groups[gid])

    known = {r.fingerprint: r for r in rows}
    needed = {fp for fps in members.values() for fp in fps} - set(known)
    if needed:
        for r in session.scalars(select(AlertRow).where(AlertRow.fingerprint.in_(sorted(needed)))):
            known[r.fingerprint] = r
    firing_fps = {r.fingerprint for r in firing}
    for gid in groups:
        wants = wanted[gid].fingerprints if gid in wanted else set()
        have = members[gid]
        for fp in sorted(wants - have):
            session.add(AlertGroupMemberRow(group_id=gid, fingerprint=fp))
        # Firing alerts routed elsewhere now, and deleted alerts, leave at once; resolved
        # ones stay until the next flush has reported them.
        gone = {fp for fp in have - wants if fp in firing_fps or fp not in known}
        _drop(session, gid, gone)
        members[gid] = (have | wants) - gone
    session.flush()
    done.groups = len(groups)

    for gid, group in sorted(groups.items(), key=lambda g: g[1].next_flush_at):
        if group.next_flush_at > now:
            continue
        found = config.routes.get(group.route_id)
        if found is None or not members[gid]:
            _end(session, group, members[gid])  # its route is gone, or nothing is left
            continue
        route = found
        done.flushed += 1
        batch = [
            _member(known[fp], silences, inhibitor, now)
            for fp in sorted(members[gid])
            if fp in known
        ]
        entry_row = session.get(NotificationLogRow, log_id(route.receiver, group.group_key))
        entry = (
            None
            if entry_row is None
            else grouping.Entry(
                frozenset(entry_row.firing), frozenset(entry_row.resolved), entry_row.notified_at
            )
        )
        decision = grouping.flush(
            batch,
            entry,
            repeat=route.repeat_interval,
            now=now,
            time_muted=bool(config.time_muted(route, now)),
        )
        group.flushed_at = now
        group.next_flush_at = now + route.group_interval
        group.receiver = route.receiver
        if decision.reason is not None and decision.entry is not None:
            call = {
                "receiver": route.receiver,
                "dedup_key": grouping.dedup_key(route.receiver, group.group_key),
                "status": decision.status,
                "group_key": group.group_key,
                "alerts": [m.as_webhook() for m in decision.alerts],
                "group_labels": dict(group.group_labels),
                "common_labels": grouping.common([m.labels for m in decision.alerts]),
                "common_annotations": grouping.common([m.annotations for m in decision.alerts]),
                "now": now,
            }
            notify(session, **call)
            done.notifications.append(call)
            _log(session, route, group.group_key, decision.entry, entry_row, now)
        _drop(session, gid, set(decision.drop))
        members[gid] -= set(decision.drop)
        if not members[gid]:
            _end(session, group, set())
    return done


def _member(
    row: AlertRow, silences: Sequence[Silence], inhibitor: Inhibitor, now: float
) -> grouping.Member:
    firing = row.state in (service.FIRING, service.SUPPRESSED)
    if firing:
        muted = row.state == service.SUPPRESSED
    else:
        muted = bool(silenced_by(silences, row.labels, now)) or (
            inhibitor.inhibited_by(row.labels) is not None
        )
    return grouping.Member(
        fingerprint=row.fingerprint,
        labels=dict(row.labels),
        annotations=dict(row.annotations),
        firing=firing,
        starts_at=row.fired_at,
        ends_at=row.resolved_at,
        generator_url=row.generator_url,
        muted=muted,
    )


def _log(
    session: Session,
    route: Route,
    key: str,
    entry: grouping.Entry,
    row: NotificationLogRow | None,
    now: float,
) -> None:
    if row is None:
        row = NotificationLogRow(
            id=log_id(route.receiver, key), receiver=route.receiver, group_key=key
        )
        session.add(row)
    row.firing = sorted(entry.firing)
    row.resolved = sorted(entry.resolved)
    row.notified_at = now
    row.expires_at = now + max(LOG_RETENTION, 2 * route.repeat_interval)


def _drop(session: Session, gid: str, fingerprints: set[str]) -> None:
    if fingerprints:
        session.execute(
            delete(AlertGroupMemberRow).where(
                AlertGroupMemberRow.group_id == gid,
                AlertGroupMemberRow.fingerprint.in_(sorted(fingerprints)),
            )
        )


def _end(session: Session, group: AlertGroupRow, fingerprints: set[str]) -> None:
    _drop(session, group.id, fingerprints)
    session.delete(group)


def groups_page(
    session: Session, *, limit: int, after: str | None = None
) -> tuple[list[tuple[AlertGroupRow, list[str]]], str | None]:
    """Aggregation groups by id with their alerts' fingerprints; the id to continue after."""
    query = select(AlertGroupRow).order_by(AlertGroupRow.id).limit(limit + 1)
    if after is not None:
        query = query.where(AlertGroupRow.id > after)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    found: dict[str, list[str]] = defaultdict(list)
    if rows:
        members = select(AlertGroupMemberRow).where(
            AlertGroupMemberRow.group_id.in_([r.id for r in rows])
        )
        for m in session.scalars(members.order_by(AlertGroupMemberRow.fingerprint)):
            found[m.group_id].append(m.fingerprint)
    return [(r, found[r.id]) for r in rows], rows[-1].id if more and rows else None
