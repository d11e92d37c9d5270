"""Requiring postmortems: the ``postmortems.require`` job's pass over the event log.

Each pass reads the ``incident.resolved`` and ``incident.closed`` events appended since the
last one, from a cursor stored in ``postmortem_cursor`` (committed with the pass's changes,
so an event is handled exactly once). Like the incidents' declaring job, it never passes a
missing id younger than the gap grace: on PostgreSQL a later id can commit before an
earlier one, and the earlier one's resolution must not be skipped.

For each resolved incident (not merged into another) that a policy in force requires a
postmortem of, the draft is generated, marked required with the reasons and a due date;
an existing postmortem is marked required instead. A second resolution of the same
incident (after a reopen) creates nothing more.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reliant.server.domains import incidents
from reliant.server.domains.postmortems import facts, lifecycle, service
from reliant.server.domains.postmortems.models import PostmortemCursorRow
from reliant.server.domains.postmortems.recording import Acting, PostmortemError
from reliant.server.events import EventFilter, EventRow
from reliant.server.events import query as events_query
from reliant.server.events.stream import Position

#: The cursor row's name.
CURSOR = "require"
#: Ids looked at per read of the log, and reads per pass at most.
SCAN = 1000
MAX_SCANS = 20
#: The events a pass handles: resolutions, and closings (closing an unresolved incident
#: resolves it).
RESOLUTIONS = EventFilter(kinds=("incident.resolved", "incident.closed"))
#: Who generates the required drafts.
ACTOR = "policy:error-budget"


def ensure_cursor(session: Session, now: float) -> PostmortemCursorRow:
    """The cursor, made at the log's newest event when there is none: a new installation
    starts from now rather than requiring postmortems of its whole history."""
    row = session.get(PostmortemCursorRow, CURSOR)
    if row is not None:
        return row
    row = PostmortemCursorRow(
        name=CURSOR,
        last_id=events_query.newest_id(session),
        gap=None,
        gap_since=0.0,
        given_up=0,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # made at the same moment by another transaction
        found = session.get(
            PostmortemCursorRow, CURSOR, with_for_update=True, populate_existing=True
        )
        assert found is not None
        return found
    return row


def run(session: Session, now: float) -> int:
    """One pass: handle the resolutions appended since the last pass.

    Returns:
        How many postmortems were created or marked required.
    """
    cursor = session.get(PostmortemCursorRow, CURSOR, with_for_update=True)
    if cursor is None:
        ensure_cursor(session, now)
        return 0
    position = Position(
        last=cursor.last_id, gap=cursor.gap, gap_since=cursor.gap_since, given_up=cursor.given_up
    )
    done = 0
    for _ in range(MAX_SCANS):
        scanned = events_query.scan(session, after=position.last, limit=SCAN)
        safe = position.safe_upto(scanned, now=now, server_now=now)
        if safe > position.last:
            rows = events_query.between(
                session, RESOLUTIONS, after=position.last, upto=safe, limit=SCAN
            )
            done += sum(handle(session, row, now) for row in rows)
            position.last = safe
        if len(scanned) < SCAN or safe < scanned[-1][0]:
            break
    cursor.last_id, cursor.gap, cursor.gap_since = position.last, position.gap, position.gap_since
    cursor.given_up, cursor.updated_at = position.given_up, now
    return done


def handle(session: Session, event: EventRow, now: float) -> bool:
    """Require a postmortem of the incident an event resolved, if a policy says so.

    Returns:
        Whether a postmortem was created or marked required.
    """
    attributes = event.attributes if isinstance(event.attributes, dict) else {}
    incident_id = attributes.get("incident")
    if isinstance(incident_id, bool) or not isinstance(incident_id, int) or incident_id < 1:
        return False
    try:
        found = incidents.incident_detail(session, incident_id)
    except incidents.IncidentNotFound:
        return False
    if found.row.merged_into is not None or found.row.resolved_at is None:
        return False  # a duplicate, or reopened since
    acting = Acting(session, now, ACTOR, source="server")
    existing = service.by_incident(session, incident_id)
    if existing is not None:
        if existing.required:
            return False
        needed = service.evaluate(session, found, existing.facts)
        if needed is None:
            return False
        due = lifecycle.due_date(found.row.resolved_at, needed.due_business_days)
        service.mark_required(acting, existing, needed, due)
        return True
    entries = facts.timeline_entries(session, found, now)
    computed = facts.compute(session, found, entries, now)
    if service.evaluate(session, found, computed) is None:
        return False
    try:
        service.generate(acting, incident_id)
    except PostmortemError:
        return False
    return True
