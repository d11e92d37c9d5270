"""An incident's timeline: its events and its services' events, in time order, with pins.

The entries are events of the log, chosen by one SQL condition (:func:`condition`):

- the events linked to the incident, or to an incident merged into it: its own
  ``incident.*`` events (a manual entry is an ``incident.note_added`` event), the
  ``alert.*`` events of its alerts and the ``runbook.*`` events of its runbook runs
  (whichever service the runbook acts on);
- events of its services of the kinds that explain an incident — ``alert.*``,
  ``circuit_breaker.*``, ``config.*``, ``slo.*``, ``runbook.*``, ``oncall.page.*`` and
  any kind starting with ``deploy`` — from 30 minutes before it was declared until it was
  closed (or now).

The condition reads the incident's links when it runs, so a live stream picks up services
linked after it started. Entries have keys: ``note:<id>`` for manual entries,
``event:<id>`` for the rest; pins are stored by key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from reliant.server.domains.incidents.models import (
    IncidentEventRow,
    IncidentNoteRow,
    IncidentPinRow,
    IncidentRow,
    IncidentServiceRow,
)
from reliant.server.events import EventRow
from reliant.server.events.query import as_dict

#: Seconds before the declaration from which the services' events are shown.
LOOKBEHIND = 1800.0
#: Kind prefixes of the services' events a timeline shows.
KIND_PREFIXES = (
    "alert.",
    "circuit_breaker.",
    "config.",
    "slo.",
    "runbook.",
    "oncall.page.",
    "deploy",
)
#: The kind of a manual entry's event.
NOTE_KIND = "incident.note_added"
#: The end of time, for incidents not closed yet.
_FOREVER = 1e300
#: Longest ``text`` of an entry describing an event.
_TEXT = 300


def family(incident_id: int) -> Any:
    """The ids of an incident and of the incidents merged into it (a subquery)."""
    return select(IncidentRow.id).where(
        or_(IncidentRow.id == incident_id, IncidentRow.merged_into == incident_id)
    )


def condition(incident_id: int, *, start: float, until: float | None = None) -> ColumnElement[bool]:
    """The SQL condition selecting the events of an incident's timeline.

    Args:
        start: the declaration time minus :data:`LOOKBEHIND`.
        until: a further bound on the services' events (``now`` for reads); they end at
            the incident's closing in any case.
    """
    linked = select(IncidentEventRow.event_id).where(
        IncidentEventRow.incident_id.in_(family(incident_id))
    )
    services = select(IncidentServiceRow.service).where(
        IncidentServiceRow.incident_id == incident_id
    )
    closed = select(IncidentRow.closed_at).where(IncidentRow.id == incident_id).scalar_subquery()
    kinds = or_(*(EventRow.kind.startswith(p, autoescape=True) for p in KIND_PREFIXES))
    around = [
        EventRow.service.in_(services),
        kinds,
        EventRow.time >= start,
        EventRow.time <= func.coalesce(closed, _FOREVER),
    ]
    if until is not None:
        around.append(EventRow.time <= until)
    return or_(EventRow.id.in_(linked), and_(*around))


def start_of(row: IncidentRow) -> float:
    """From when an incident's services' events are shown."""
    return row.created_at - LOOKBEHIND


def page(
    session: Session,
    row: IncidentRow,
    *,
    now: float,
    limit: int,
    after: tuple[float, int] | None = None,
    pinned: bool | None = None,
) -> tuple[list[dict[str, Any]], tuple[float, int] | None]:
    """Entries oldest first, from after ``(time, event id)``; and the position of the
    next page (``None`` on the last one).

    Args:
        pinned: ``True`` only pinned entries, ``False`` only unpinned ones.
    """
    where = [condition(row.id, start=start_of(row), until=now)]
    pins = select(IncidentPinRow.event_id).where(IncidentPinRow.incident_id == row.id)
    if pinned is True:
        where.append(EventRow.id.in_(pins))
    elif pinned is False:
        where.append(EventRow.id.not_in(pins))
    if after is not None:
        time, event_id = after
        where.append(or_(EventRow.time > time, and_(EventRow.time == time, EventRow.id > event_id)))
    query = select(EventRow).where(*where).order_by(EventRow.time, EventRow.id).limit(limit + 1)
    rows = list(session.scalars(query))
    keys = pinned_keys(session, row.id)
    entries = [entry(as_dict(r), keys) for r in rows[:limit]]
    more = len(rows) > limit
    return entries, ((rows[limit - 1].time, rows[limit - 1].id) if more else None)


def pinned_keys(session: Session, incident_id: int) -> set[str]:
    """The keys of an incident's pinned entries."""
    query = select(IncidentPinRow.key).where(IncidentPinRow.incident_id == incident_id)
    return set(session.scalars(query))


def entry(
    event: Mapping[str, Any], pinned: set[str] | frozenset[str] = frozenset()
) -> dict[str, Any]:
    """A timeline entry from an event as the API shows it (``query.as_dict``)."""
    attributes = dict(event.get("attributes") or {})
    note = event["kind"] == NOTE_KIND and isinstance(attributes.get("note"), int)
    key = f"note:{attributes['note']}" if note else f"event:{event['id']}"
    return {
        "key": key,
        "type": "note" if note else "event",
        "time": event["time"],
        "event_id": event["id"],
        "kind": event["kind"],
        "service": event.get("service"),
        "severity": event.get("severity"),
        "source": event.get("source"),
        "by": str(attributes.get("by") or event.get("source") or ""),
        "text": str(attributes.get("text", "")) if note else describe(event),
        "attributes": attributes,
        "pinned": key in pinned,
    }


def describe(event: Mapping[str, Any]) -> str:
    """One line saying what an event means, for people."""
    kind = str(event["kind"])
    a: Mapping[str, Any] = event.get("attributes") or {}
    text = _known(kind, a)
    if text is None:
        shown = " ".join(f"{k}={_short(v)}" for k, v in list(a.items())[:6])
        text = f"{kind} {shown}".strip()
    return text[:_TEXT]


def _known(kind: str, a: Mapping[str, Any]) -> str | None:
    name = a.get("alertname", "alert")
    if kind == "alert.firing":
        summary = a.get("summary")
        return f"alert {name} firing" + (f": {summary}" if summary else "")
    if kind == "alert.resolved":
        return f"alert {name} resolved"
    if kind == "incident.declared":
        return f"incident declared: {a.get('title')} ({a.get('severity')})"
    if kind in ("incident.acknowledged", "incident.mitigated", "incident.resolved"):
        return f"incident {a.get('to')}"
    if kind in ("incident.closed", "incident.reopened"):
        return f"incident {kind.split('.')[1]}"
    if kind == "incident.updated":
        return f"status update by {a.get('by')}: {a.get('text')}"
    if kind == "incident.role_assigned":
        person = a.get("person")
        return f"{person} is {a.get('role')}" if person else f"{a.get('role')} unassigned"
    if kind == "incident.merged":
        return f"incident #{a.get('incident')} merged into #{a.get('into')}"
    if kind in ("incident.task_added", "incident.task_done"):
        return f"task {'added' if kind.endswith('added') else 'done'}: {a.get('title')}"
    if kind == "circuit_breaker.state_changed":
        return f"breaker {a.get('name')}: {a.get('from_state')} -> {a.get('to_state')}"
    if kind == "slo.burn_rate_high":
        return f"SLO {a.get('slo')} burns its budget too fast ({a.get('severity')})"
    if kind.startswith("runbook."):
        return _runbook(kind.removeprefix("runbook."), a)
    if kind.startswith("oncall.page."):
        return _page(kind.removeprefix("oncall.page."), a)
    return None


def _page(what: str, a: Mapping[str, Any]) -> str | None:
    page = f"page #{a.get('id')}"
    receivers = ", ".join(map(str, a.get("receivers") or [])) or "nobody"
    if what in ("triggered", "reopened"):
        return f"{page} {what} through {a.get('policy')}: notified {receivers}"
    if what == "escalated":
        return f"{page} escalated to level {a.get('level')}: notified {receivers}"
    if what in ("acknowledged", "resolved"):
        return f"{page} {what} by {a.get('by')}"
    if what == "exhausted":
        return f"{page}: nobody acknowledged after every level"
    return None


def _runbook(what: str, a: Mapping[str, Any]) -> str | None:
    run = f"runbook {a.get('runbook')} run #{a.get('run')}"
    step = f"step {a.get('name') or a.get('step')}"
    if what == "run_started":
        return f"{run} started by {a.get('started_by')}"
    if what == "step_started":
        return f"{run}: {step} ({a.get('kind')}) started"
    if what == "waiting":
        return f"{run}: {step} waits for {a.get('for')}"
    if what in ("approved", "rejected"):
        return f"{run}: {step} {what} by {a.get('by')}"
    if what == "step_finished":
        error = a.get("error")
        return f"{run}: {step} {a.get('state')}" + (f": {error}" if error else "")
    if what == "run_finished":
        return f"{run} {a.get('state')}"
    if what == "run_skipped":
        return f"runbook {a.get('runbook')} not run: {a.get('reason')}"
    return None


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 60 else text[:59] + "…"


def find_entry(session: Session, row: IncidentRow, key: str) -> int | None:
    """The event id of the entry ``key`` on an incident's timeline, if it is there."""
    kind, _, raw = key.partition(":")
    if kind == "note":
        note = session.get(IncidentNoteRow, int(raw))
        return note.event_id if note is not None and note.incident_id == row.id else None
    event_id = int(raw)
    query = select(EventRow.id).where(
        EventRow.id == event_id,
        EventRow.kind != NOTE_KIND,  # a note's key is note:<id>
        condition(row.id, start=start_of(row)),
    )
    return event_id if session.scalar(query) is not None else None


def first_position(session: Session, row: IncidentRow) -> int:
    """The stream position just before an incident's first timeline event (its newest
    event id when it has none yet): where a stream without ``after`` starts."""
    start = start_of(row)
    earliest = session.scalar(select(func.min(EventRow.id)).where(EventRow.time >= start))
    linked = session.scalar(
        select(func.min(IncidentEventRow.event_id)).where(
            IncidentEventRow.incident_id.in_(family(row.id))
        )
    )
    found = [int(i) for i in (earliest, linked) if i is not None]
    if found:
        return min(found) - 1
    return int(session.scalar(select(func.max(EventRow.id))) or 0)
