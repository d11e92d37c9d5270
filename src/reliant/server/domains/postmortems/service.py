"""Use cases of postmortems: generate from an incident, read, edit, move, refresh the facts.

Writers take an :class:`~reliant.server.domains.postmortems.recording.Acting` and record
each change as a ``postmortem.*`` event and an audit record. Every change increments
``version``; an edit names the version it was made on and a stale one is refused, so two
editors never silently overwrite each other. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reliant.server.domains import incidents
from reliant.server.domains.postmortems import draft, facts, lifecycle, policies, policy
from reliant.server.domains.postmortems.models import PostmortemRow, PostmortemServiceRow
from reliant.server.domains.postmortems.recording import (
    Acting,
    PostmortemConflict,
    PostmortemNotFound,
    record,
    require,
    services_of,
    set_services,
)
from reliant.server.domains.postmortems.schemas import (
    LIST_SECTIONS,
    TEXT_SECTIONS,
    PostmortemIn,
    url_of,
)

#: Fields an edit may change, besides the sections.
EDIT_FIELDS = ("title", "due", *TEXT_SECTIONS, *LIST_SECTIONS, "timeline", "action_items",
               "supporting_information")  # fmt: skip


def by_incident(session: Session, incident_id: int) -> PostmortemRow | None:
    """The postmortem of an incident, if it has one."""
    query = select(PostmortemRow).where(PostmortemRow.incident_id == incident_id)
    return session.scalars(query).first()


def _incident(session: Session, incident_id: int) -> incidents.Detail:
    try:
        return incidents.incident_detail(session, incident_id)
    except incidents.IncidentNotFound as exc:
        raise PostmortemNotFound(str(exc)) from None


def exists_conflict(row: PostmortemRow) -> PostmortemConflict:
    """The 409 of a second generation, pointing at the existing postmortem."""
    return PostmortemConflict(
        f"incident #{row.incident_id} has a postmortem already: {url_of(row.id)} "
        "(refresh its facts with POST .../refresh)",
        postmortem=row.id,
        url=url_of(row.id),
    )


def evaluate(
    session: Session, found: incidents.Detail, computed: dict[str, Any]
) -> policy.Requirement | None:
    """Whether the policies in force require a postmortem of this (resolved) incident."""
    if found.row.resolved_at is None:
        return None
    return policy.requirement(
        policies.in_force(session),
        severity=found.row.severity,
        services=found.services,
        consumed=facts.consumed_by_slo(computed),
    )


def generate(acting: Acting, incident_id: int) -> PostmortemRow:
    """Create the draft of an incident's postmortem: generated text, facts, timeline,
    suggested action items; required (with a due date) when a policy says so.

    Raises:
        PostmortemNotFound: no such incident.
        PostmortemConflict: the incident has a postmortem already (naming its URL).
    """
    session, now = acting.session, acting.now
    existing = by_incident(session, incident_id)
    if existing is not None:
        raise exists_conflict(existing)
    found = _incident(session, incident_id)
    entries = facts.timeline_entries(session, found, now)
    computed = facts.compute(session, found, entries, now)
    needed = evaluate(session, found, computed)
    row = PostmortemRow(
        incident_id=found.row.id,
        state=lifecycle.DRAFT,
        title=draft.title(found),
        required=needed is not None,
        required_reason="" if needed is None else needed.reason,
        due=_due(found, needed),
        version=1,
        summary=draft.summary(found, computed),
        impact=draft.impact(computed),
        root_causes=[],
        trigger="",
        resolution=draft.resolution(found),
        detection=draft.detection(found, computed),
        went_well=[],
        went_wrong=[],
        got_lucky=[],
        timeline=facts.postmortem_timeline(entries),
        action_items=draft.suggested_actions(found),
        supporting_information="",
        facts=computed,
        created_at=now,
        created_by=acting.actor[:200],
        updated_at=now,
        updated_by=acting.actor[:200],
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # generated at the same moment by another transaction
        other = by_incident(session, incident_id)
        if other is None:
            raise
        raise exists_conflict(other) from None
    set_services(session, row.id, list(found.services))
    attributes = {
        "title": row.title,
        "state": row.state,
        "required": row.required,
        "reason": row.required_reason,
        "due": row.due,
    }
    record(
        acting, row, "postmortem.created", attributes,
        action="postmortem.create", before=None, after=snapshot(row),
    )  # fmt: skip
    return row


def _due(found: incidents.Detail, needed: policy.Requirement | None) -> str | None:
    if needed is None or found.row.resolved_at is None:
        return None
    return lifecycle.due_date(found.row.resolved_at, needed.due_business_days)


def snapshot(row: PostmortemRow) -> dict[str, Any]:
    """The audited state of a postmortem (its sections, not its facts)."""
    return {
        "state": row.state,
        "required": row.required,
        "required_reason": row.required_reason,
        "version": row.version,
        **{name: _copy(getattr(row, name)) for name in EDIT_FIELDS},
    }


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def page(
    session: Session,
    *,
    state: str | None = None,
    required: bool | None = None,
    service: str | None = None,
    limit: int,
    before: int | None = None,
) -> tuple[list[PostmortemRow], bool]:
    """Postmortems, newest first, filtered; and whether more follow."""
    query = select(PostmortemRow).order_by(PostmortemRow.id.desc())
    if state is not None:
        query = query.where(PostmortemRow.state == state)
    if required is not None:
        query = query.where(PostmortemRow.required == required)
    if service is not None:
        linked = select(PostmortemServiceRow.postmortem_id).where(
            PostmortemServiceRow.service == service
        )
        query = query.where(PostmortemRow.id.in_(linked))
    if before is not None:
        query = query.where(PostmortemRow.id < before)
    rows = list(session.scalars(query.limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def services_by_postmortem(session: Session, ids: Sequence[int]) -> dict[int, list[str]]:
    """The services of each of these postmortems."""
    found: dict[int, list[str]] = {i: [] for i in ids}
    query = (
        select(PostmortemServiceRow.postmortem_id, PostmortemServiceRow.service)
        .where(PostmortemServiceRow.postmortem_id.in_(list(ids)))
        .order_by(PostmortemServiceRow.service)
    )
    for postmortem_id, service in session.execute(query):
        found[int(postmortem_id)].append(service)
    return found


def _check_version(row: PostmortemRow, version: int) -> None:
    if version != row.version:
        raise PostmortemConflict(
            f"postmortem #{row.id} changed since version {version}: it is at version "
            f"{row.version} (changed by {row.updated_by}). Reload it, apply your edit again "
            f"and send version {row.version}",
            version=row.version,
        )


def _check_editable(row: PostmortemRow) -> None:
    if row.state not in lifecycle.EDITABLE:
        raise PostmortemConflict(
            f"postmortem #{row.id} is {row.state}: move it back to draft to edit it "
            f"(POST {url_of(row.id)}/state with state draft)",
            state=row.state,
            allowed=list(lifecycle.allowed(row.state)),
        )


def edit(acting: Acting, postmortem_id: int, body: PostmortemIn) -> PostmortemRow:
    """Change the fields given in ``body`` (made on ``body.version``).

    Raises:
        PostmortemNotFound: no such postmortem.
        PostmortemConflict: a stale version, or a published postmortem.
    """
    row = require(acting.session, postmortem_id, lock=True)
    _check_version(row, body.version)
    _check_editable(row)
    values = body.model_dump(mode="json")  # nested defaults filled in
    given = {name: values[name] for name in body.model_fields_set}
    before = snapshot(row)
    changed = []
    for name in EDIT_FIELDS:
        if name not in given:
            continue
        value = given[name]
        if value is None and name != "due":
            continue  # null leaves a section as it is; a null due date clears it
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed.append(name)
    if not changed:
        return row
    _bump(acting, row)
    record(
        acting, row, "postmortem.updated", {"changed": changed, "version": row.version},
        action="postmortem.update", before=before, after=snapshot(row),
    )  # fmt: skip
    return row


def _bump(acting: Acting, row: PostmortemRow) -> None:
    row.version += 1
    row.updated_at = acting.now
    row.updated_by = acting.actor[:200]


def transition(
    acting: Acting, postmortem_id: int, to: str, version: int | None = None
) -> PostmortemRow:
    """Move a postmortem to ``to``.

    Raises:
        PostmortemNotFound: no such postmortem.
        PostmortemConflict: the move is not allowed (naming the allowed ones), or a stale
            version.
    """
    row = require(acting.session, postmortem_id, lock=True)
    if version is not None:
        _check_version(row, version)
    try:
        lifecycle.check(row.state, to)
    except lifecycle.MoveRefused as exc:
        raise PostmortemConflict(
            f"postmortem #{row.id}: {exc}", state=exc.state, allowed=list(exc.allowed)
        ) from None
    before = snapshot(row)
    old, row.state = row.state, to
    _bump(acting, row)
    record(
        acting, row, "postmortem.state_changed",
        {"from": old, "to": to, "version": row.version, "title": row.title},
        action="postmortem.state", before=before, after=snapshot(row),
    )  # fmt: skip
    return row


def refresh(acting: Acting, postmortem_id: int) -> PostmortemRow:
    """Recompute the facts; add new timeline entries and follow-up tasks; leave every
    edited text as it is. A policy requiring it now marks it required.

    Raises:
        PostmortemNotFound: no such postmortem (or its incident is gone).
        PostmortemConflict: it is published.
    """
    session, now = acting.session, acting.now
    row = require(session, postmortem_id, lock=True)
    _check_editable(row)
    found = _incident(session, row.incident_id)
    entries = facts.timeline_entries(session, found, now)
    before = snapshot(row)
    row.facts = facts.compute(session, found, entries, now)
    changed = ["facts"]
    keys = {e.get("key") for e in row.timeline if e.get("key")}
    new = [e for e in facts.postmortem_timeline(entries) if e["key"] not in keys]
    if new:
        row.timeline = sorted([*row.timeline, *new], key=lambda e: float(e["at"]))
        changed.append("timeline")
    titles = {a["title"] for a in row.action_items}
    tasks = [a for a in draft.suggested_actions(found) if a["title"] not in titles]
    if tasks:
        row.action_items = [*row.action_items, *tasks]
        changed.append("action_items")
    needed = evaluate(session, found, row.facts)
    if needed is not None and not row.required:
        row.required, row.required_reason = True, needed.reason
        row.due = row.due or _due(found, needed)
        changed.append("required")
    set_services(session, row.id, list(found.services))
    _bump(acting, row)
    record(
        acting, row, "postmortem.updated",
        {"changed": changed, "version": row.version, "refreshed": True},
        action="postmortem.refresh", before=before, after=snapshot(row),
    )  # fmt: skip
    return row


def mark_required(
    acting: Acting, row: PostmortemRow, needed: policy.Requirement, due: str | None
) -> None:
    """Mark an existing postmortem required by a policy (the requiring job)."""
    before = snapshot(row)
    row.required, row.required_reason = True, needed.reason
    row.due = row.due or due
    _bump(acting, row)
    record(
        acting, row, "postmortem.updated",
        {"changed": ["required"], "version": row.version, "reason": needed.reason},
        action="postmortem.require", before=before, after=snapshot(row),
    )  # fmt: skip


__all__ = [
    "Acting",
    "by_incident",
    "edit",
    "generate",
    "page",
    "refresh",
    "require",
    "services_of",
    "transition",
]
