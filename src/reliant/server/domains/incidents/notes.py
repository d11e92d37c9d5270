"""Use cases of the timeline: manual entries, and pinning entries. Nothing here commits.

A manual entry is a note row plus an ``incident.note_added`` event at the note's time, so
the timeline, its stream and the event log all show it. Pins are not timeline entries
themselves: they are audited and evented (``incident.entry_pinned`` /
``incident.entry_unpinned``) without being linked to the timeline.
"""

from __future__ import annotations

from typing import Any

from reliant.server.domains.incidents import timeline
from reliant.server.domains.incidents.models import IncidentNoteRow, IncidentPinRow, IncidentRow
from reliant.server.domains.incidents.recording import (
    Acting,
    IncidentNotFound,
    record_audit,
    require,
    services_of,
)
from reliant.server.domains.incidents.recording import event as record_event
from reliant.server.events import append
from reliant.server.events.query import as_dict


def add_note(
    acting: Acting, incident_id: int, text: str, *, by: str | None, at: float | None
) -> dict[str, Any]:
    """Add a manual entry to an incident's timeline; return the entry.

    Args:
        by: who it is about or from (default: the caller).
        at: when it happened (default: now); the timeline orders by it.
    """
    row = require(acting.session, incident_id, lock=True)
    author = by or acting.actor
    when = acting.now if at is None else at
    note = IncidentNoteRow(incident_id=row.id, event_id=0, text=text, by=author, at=when)
    acting.session.add(note)
    acting.session.flush()
    attributes = {"note": note.id, "text": text, "by": author}
    appended = record_event(acting, row, timeline.NOTE_KIND, attributes, time=when)
    note.event_id = appended.id
    row.updated_at = acting.now
    record_audit(acting, "incident.note", row, before=None, after={**attributes, "at": when})
    acting.session.flush()
    return timeline.entry(as_dict(appended))


def pin(acting: Acting, incident_id: int, key: str, pinned: bool) -> dict[str, Any]:
    """Pin (or unpin) the entry ``key`` of an incident's timeline; return ``{key, pinned}``.

    Raises:
        IncidentNotFound: no such incident, or no such entry on its timeline.
    """
    session = acting.session
    row = require(session, incident_id, lock=True)
    event_id = timeline.find_entry(session, row, key)
    if event_id is None:
        raise IncidentNotFound(
            f"incident #{row.id}'s timeline has no entry {key!r}; "
            f"see GET /api/v1/incidents/{row.id}/timeline"
        )
    found = session.get(IncidentPinRow, {"incident_id": row.id, "key": key})
    if (found is not None) == pinned:
        return {"key": key, "pinned": pinned}
    if pinned:
        session.add(
            IncidentPinRow(
                incident_id=row.id,
                key=key,
                event_id=event_id,
                pinned_at=acting.now,
                pinned_by=acting.actor,
            )
        )
    else:
        session.delete(found)
    session.flush()
    _record_pin(acting, row, key, pinned)
    return {"key": key, "pinned": pinned}


def _record_pin(acting: Acting, row: IncidentRow, key: str, pinned: bool) -> None:
    services = services_of(acting.session, row.id)
    append(
        acting.session,
        kind="incident.entry_pinned" if pinned else "incident.entry_unpinned",
        now=acting.now,
        service=services[0] if services else None,
        source=acting.event_source,
        attributes={"incident": row.id, "key": key},
    )
    action = "incident.pin" if pinned else "incident.unpin"
    record_audit(acting, action, row, before=None, after={"key": key, "pinned": pinned})
