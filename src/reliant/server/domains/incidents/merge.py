"""Merging a duplicate incident into its primary.

The duplicate is closed with ``merged_into`` set; its alerts, services, SLOs, status
updates, tasks, notes, pins and subscribers move to the primary. Its own timeline events
stay linked to it, and the primary's timeline includes every incident merged into it, so
the primary shows the duplicate's whole history, ``incident.merged`` included. Nothing here
commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from reliant.server.domains.incidents import lifecycle, notifications
from reliant.server.domains.incidents.models import (
    IncidentAlertRow,
    IncidentNoteRow,
    IncidentPinRow,
    IncidentRow,
    IncidentServiceRow,
    IncidentSLORow,
    IncidentTaskRow,
    IncidentUpdateRow,
)
from reliant.server.domains.incidents.recording import (
    Acting,
    IncidentConflict,
    InvalidIncident,
    move,
    record_audit,
    require,
    snapshot,
)
from reliant.server.domains.incidents.recording import event as record_event
from reliant.server.domains.incidents.service import drop_links


def merge(acting: Acting, duplicate_id: int, primary_id: int) -> IncidentRow:
    """Merge incident ``duplicate_id`` into ``primary_id``; return the primary.

    Raises:
        InvalidIncident: the two are the same incident.
        IncidentNotFound: either does not exist.
        IncidentConflict: the duplicate is closed already, or the primary is closed.
    """
    if duplicate_id == primary_id:
        raise InvalidIncident(f"incident #{duplicate_id} cannot be merged into itself")
    session = acting.session
    # Lock in id order, so two merges crossing each other cannot deadlock.
    first, second = sorted((duplicate_id, primary_id))
    rows = {first: require(session, first, lock=True), second: require(session, second, lock=True)}
    duplicate, primary = rows[duplicate_id], rows[primary_id]
    if duplicate.state == lifecycle.CLOSED:
        where = f" into #{duplicate.merged_into}" if duplicate.merged_into else ""
        raise IncidentConflict(f"incident #{duplicate.id} is closed (merged{where}) already")
    if primary.state == lifecycle.CLOSED:
        raise IncidentConflict(
            f"incident #{primary.id} is closed; merge into an incident that is not closed"
        )
    moved = _move_children(acting, duplicate.id, primary.id)
    subscribers = sorted({*primary.subscribers, *duplicate.subscribers})
    if subscribers != list(primary.subscribers):
        primary.subscribers = subscribers
    primary.updated_at = acting.now
    before = snapshot(duplicate)
    old = move(acting, duplicate, lifecycle.CLOSED)
    duplicate.merged_into = primary.id
    # Incidents merged into the duplicate before now belong to the primary too.
    session.execute(
        update(IncidentRow)
        .where(IncidentRow.merged_into == duplicate.id)
        .values(merged_into=primary.id)
    )
    attributes = {"into": primary.id, "from": old, "title": duplicate.title, "moved": moved}
    record_event(acting, duplicate, "incident.merged", attributes)
    record_audit(acting, "incident.merge", duplicate, before=before, after=snapshot(duplicate))
    notifications.send(acting, duplicate, change=f"merged into #{primary.id}")
    return primary


def _move_children(acting: Acting, source: int, target: int) -> dict[str, int]:
    """Move a duplicate's links and children to the primary; return how many of each."""
    session = acting.session
    moved: dict[str, int] = {}
    have_alerts = {
        a.fingerprint: a
        for a in session.scalars(
            select(IncidentAlertRow).where(IncidentAlertRow.incident_id == target)
        )
    }
    alerts = list(
        session.scalars(select(IncidentAlertRow).where(IncidentAlertRow.incident_id == source))
    )
    for alert in alerts:
        kept = have_alerts.get(alert.fingerprint)
        if kept is None:
            session.add(
                IncidentAlertRow(
                    incident_id=target,
                    fingerprint=alert.fingerprint,
                    alertname=alert.alertname,
                    labels=dict(alert.labels),
                    state=alert.state,
                    linked_at=alert.linked_at,
                    resolved_at=alert.resolved_at,
                )
            )
        elif alert.state == "firing":
            kept.state, kept.resolved_at = "firing", None
    moved["alerts"] = len(alerts)
    links: tuple[tuple[Any, str, str], ...] = (
        (IncidentServiceRow, "service", "services"),
        (IncidentSLORow, "slo", "slos"),
    )
    for model, column, label in links:
        names = set(
            session.scalars(select(getattr(model, column)).where(model.incident_id == source))
        )
        have = set(
            session.scalars(select(getattr(model, column)).where(model.incident_id == target))
        )
        for name in sorted(names - have):
            session.add(model(incident_id=target, **{column: name}))
        moved[label] = len(names)
    pins = list(session.scalars(select(IncidentPinRow).where(IncidentPinRow.incident_id == source)))
    pinned = set(
        session.scalars(select(IncidentPinRow.key).where(IncidentPinRow.incident_id == target))
    )
    for pin in pins:
        if pin.key not in pinned:
            session.add(
                IncidentPinRow(
                    incident_id=target,
                    key=pin.key,
                    event_id=pin.event_id,
                    pinned_at=pin.pinned_at,
                    pinned_by=pin.pinned_by,
                )
            )
        session.delete(pin)
    session.flush()
    drop_links(session, source)
    children: tuple[tuple[Any, str], ...] = (
        (IncidentUpdateRow, "updates"),
        (IncidentTaskRow, "tasks"),
        (IncidentNoteRow, "notes"),
    )
    for child, label in children:
        result = session.execute(
            update(child).where(child.incident_id == source).values(incident_id=target)
        )
        moved[label] = int(getattr(result, "rowcount", 0) or 0)
    return moved
