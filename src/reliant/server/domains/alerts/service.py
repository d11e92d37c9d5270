"""Alert instances: reporting (upsert by fingerprint), states, events, and queries.

An alert is ``pending`` while active for less than its ``for_seconds``, then ``firing``
(``suppressed`` while a silence or an inhibition rule mutes it; the dispatcher sets that),
and ``resolved`` when reported inactive or when ``ends_at`` passes. An active report without
an end gets ``ends_at = now + resolve_timeout`` (Alertmanager's default, 5 minutes), so an
alert whose source stops reporting resolves by itself. ``alert.firing`` and
``alert.resolved`` events are appended on those transitions only. Nothing here commits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reliant.server.domains.alerts.labelsets import check_labels, fingerprint
from reliant.server.domains.alerts.matchers import Matcher, matches_all
from reliant.server.domains.alerts.models import AlertRow
from reliant.server.events import Severity, append

#: Seconds an alert reported active without an end stays active (Alertmanager's
#: ``resolve_timeout``).
RESOLVE_TIMEOUT = 300.0
PENDING, FIRING, SUPPRESSED, RESOLVED = "pending", "firing", "suppressed", "resolved"
STATES = (PENDING, FIRING, SUPPRESSED, RESOLVED)
#: States of an alert that is active (not resolved).
ACTIVE = (PENDING, FIRING, SUPPRESSED)
#: Event severity of each value of the ``severity`` label (others: warning).
SEVERITIES: dict[str, Severity] = {
    "critical": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "error": Severity.ERROR,
    "high": Severity.ERROR,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "ticket": Severity.WARNING,
    "info": Severity.INFO,
    "none": Severity.INFO,
    "low": Severity.INFO,
    "debug": Severity.DEBUG,
}


def event_severity(labels: Mapping[str, str]) -> Severity:
    """The event severity for an alert's ``severity`` label (warning when unknown)."""
    return SEVERITIES.get(labels.get("severity", "").lower(), Severity.WARNING)


def _event(session: Session, kind: str, row: AlertRow, now: float, at: float) -> None:
    attributes: dict[str, Any] = {
        "fingerprint": row.fingerprint,
        "alertname": row.alertname,
        "labels": dict(row.labels),
        "summary": row.annotations.get("summary", ""),
        "starts_at": row.fired_at,
    }
    if kind == "alert.resolved":
        attributes["ends_at"] = row.resolved_at
    append(
        session,
        kind=kind,
        now=now,
        service=row.service,
        severity=event_severity(row.labels),
        source=row.source,
        attributes=attributes,
        time=at,
    )


def fire(session: Session, row: AlertRow, *, at: float, now: float) -> None:
    """Move a pending alert to ``firing`` as of ``at`` and record ``alert.firing``."""
    row.state = FIRING
    row.fired_at = at
    row.silenced_by = []
    row.inhibited_by = []
    _event(session, "alert.firing", row, now, at)


def resolve(session: Session, row: AlertRow, *, at: float, now: float) -> None:
    """Resolve an active alert as of ``at``; ``alert.resolved`` only if it had fired."""
    fired = row.state in (FIRING, SUPPRESSED)
    row.state = RESOLVED
    row.resolved_at = at
    row.silenced_by = []
    row.inhibited_by = []
    if fired:
        _event(session, "alert.resolved", row, now, at)


def settle(session: Session, row: AlertRow, now: float) -> None:
    """Apply what time alone changes: past ``ends_at`` → resolved; ``for`` elapsed → firing."""
    if row.state not in ACTIVE:
        return
    if row.ends_at is not None and row.ends_at <= now:
        resolve(session, row, at=row.ends_at, now=now)
    elif row.state == PENDING and now - row.active_since >= row.for_seconds:
        fire(session, row, at=now, now=now)


def _locked(session: Session, fp: str) -> AlertRow | None:
    return session.get(AlertRow, fp, with_for_update=True, populate_existing=True)


def _finite(value: float | None, name: str) -> None:
    if value is not None and (isinstance(value, bool) or not math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")


def report(
    session: Session,
    *,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    active: bool,
    now: float,
    source: str,
    for_seconds: float = 0.0,
    ends_at: float | None = None,
    resolve_timeout: float | None = RESOLVE_TIMEOUT,
    starts_at: float | None = None,
    generator_url: str = "",
) -> AlertRow | None:
    """Upsert the alert named by the fingerprint of ``labels``; see :func:`reliant.server.
    domains.alerts.report` for the arguments.

    Args:
        resolve_timeout: seconds an active report without ``ends_at`` keeps the alert active;
            ``None``: until reported inactive (Alertmanager's webhook never re-sends firing
            alerts in between).
        starts_at: when the source says it started firing (``startsAt``), for new alerts.
        generator_url: a link to what raised it.

    Returns:
        the alert, or ``None`` when an inactive report names an unknown alert.

    Raises:
        ValueError: labels without ``alertname``, unstorable labels or annotations, a
            negative ``for_seconds``, non-finite times.
    """
    labels = check_labels(labels)
    notes = check_labels(annotations, what="annotations")
    for name, value in (("for_seconds", for_seconds), ("ends_at", ends_at), ("now", now)):
        _finite(value, name)
    _finite(starts_at, "starts_at")
    if for_seconds < 0:
        raise ValueError(f"for_seconds must be >= 0, got {for_seconds!r}")
    fp = fingerprint(labels)
    row = _locked(session, fp)
    if row is not None:
        settle(session, row, now)
    end = ends_at
    if active and end is None and resolve_timeout is not None:
        end = now + resolve_timeout
    if end is not None and end <= now:
        active = False
    if not active:
        if row is not None and row.state in ACTIVE:
            resolve(session, row, at=min(now, ends_at) if ends_at is not None else now, now=now)
        if row is not None:
            row.annotations, row.updated_at = notes, now
        return row
    begin = now if starts_at is None else min(starts_at, now)
    if row is None:
        row = _insert(session, fp, labels, begin, now, source)
    if row.state == RESOLVED:
        row.state, row.active_since, row.fired_at, row.resolved_at = PENDING, begin, None, None
    row.annotations = notes
    row.source = source[:100]
    row.for_seconds = float(for_seconds)
    row.ends_at = end
    row.updated_at = now
    row.generator_url = generator_url[:2000]
    if row.state == PENDING and now - row.active_since >= row.for_seconds:
        at = row.active_since if row.for_seconds == 0 else now
        fire(session, row, at=at, now=now)
    return row


def _insert(
    session: Session, fp: str, labels: dict[str, str], begin: float, now: float, source: str
) -> AlertRow:
    row = AlertRow(
        fingerprint=fp,
        alertname=labels["alertname"][:256],
        service=(labels.get("service") or None) and labels["service"][:256],
        labels=labels,
        annotations={},
        state=PENDING,
        source=source[:100],
        for_seconds=0.0,
        active_since=begin,
        fired_at=None,
        ends_at=None,
        resolved_at=None,
        updated_at=now,
        generator_url="",
        silenced_by=[],
        inhibited_by=[],
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # reported at the same moment by another transaction
        found = _locked(session, fp)
        assert found is not None
        settle(session, found, now)
        return found
    return row


def get(session: Session, fp: str) -> AlertRow | None:
    """The alert with fingerprint ``fp``, if any."""
    return session.get(AlertRow, fp)


#: Rows read per query while filtering a page by matchers.
_BATCH = 500


def page(
    session: Session,
    *,
    states: Sequence[str] = (),
    service: str | None = None,
    matchers: Sequence[Matcher] = (),
    limit: int,
    after: tuple[float, str] | None = None,
) -> tuple[list[AlertRow], tuple[float, str] | None]:
    """Alerts, most recently activated first, filtered; and the position after the page.

    Args:
        after: ``(active_since, fingerprint)`` of the last alert of the previous page.
    """
    out: list[AlertRow] = []
    position = after
    while True:
        query = select(AlertRow)
        if states:
            query = query.where(AlertRow.state.in_(list(states)))
        if service is not None:
            query = query.where(AlertRow.service == service)
        if position is not None:
            since, fp = position
            query = query.where(
                or_(
                    AlertRow.active_since < since,
                    and_(AlertRow.active_since == since, AlertRow.fingerprint > fp),
                )
            )
        query = query.order_by(AlertRow.active_since.desc(), AlertRow.fingerprint).limit(_BATCH)
        rows = list(session.scalars(query))
        for row in rows:
            position = (row.active_since, row.fingerprint)
            if matches_all(matchers, row.labels):
                out.append(row)
                if len(out) > limit:
                    last = out[limit - 1]
                    return out[:limit], (last.active_since, last.fingerprint)
        if len(rows) < _BATCH:
            return out, None
