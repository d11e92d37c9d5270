"""Who acts, the domain's errors, and how every change of a postmortem is recorded.

Every change appends one ``postmortem.*`` event (its service: the first of the incident's
services) and one audit record. Nothing here commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.auth import audit
from reliant.server.declared import Acting as Acting  # re-exported: the domain's actor
from reliant.server.domains.postmortems.models import PostmortemRow, PostmortemServiceRow
from reliant.server.events import Severity, append


class PostmortemError(Exception):
    """A request that cannot be done as asked; ``status`` is its HTTP status."""

    status = 400
    title = "Bad Request"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.extra = extra


class PostmortemNotFound(PostmortemError):
    """No such postmortem, incident or policy."""

    status = 404
    title = "Not Found"


class PostmortemConflict(PostmortemError):
    """A change the postmortem's state or version does not allow."""

    status = 409
    title = "Conflict"


def require(session: Session, postmortem_id: int, *, lock: bool = False) -> PostmortemRow:
    """The postmortem with this id.

    Raises:
        PostmortemNotFound: there is none.
    """
    row = session.get(PostmortemRow, postmortem_id, with_for_update=lock or None)
    if row is None:
        raise PostmortemNotFound(
            f"no postmortem #{postmortem_id}; list them with GET /api/v1/postmortems"
        )
    return row


def services_of(session: Session, postmortem_id: int) -> list[str]:
    """The services of a postmortem's incident, by name."""
    query = (
        select(PostmortemServiceRow.service)
        .where(PostmortemServiceRow.postmortem_id == postmortem_id)
        .order_by(PostmortemServiceRow.service)
    )
    return list(session.scalars(query))


def set_services(session: Session, postmortem_id: int, services: list[str]) -> None:
    """Make the postmortem's services exactly ``services``."""
    have = set(services_of(session, postmortem_id))
    want = set(services)
    for name in sorted(have - want):
        found = session.get(PostmortemServiceRow, {"postmortem_id": postmortem_id, "service": name})
        if found is not None:
            session.delete(found)
    for name in sorted(want - have):
        session.add(PostmortemServiceRow(postmortem_id=postmortem_id, service=name))
    session.flush()


def record(
    acting: Acting,
    row: PostmortemRow,
    kind: str,
    attributes: dict[str, Any],
    *,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Append the ``postmortem.*`` event ``kind`` and audit ``action`` on ``row``."""
    services = services_of(acting.session, row.id)
    append(
        acting.session,
        kind=kind,
        now=acting.now,
        service=services[0] if services else None,
        severity=Severity.INFO,
        source=acting.event_source[:100],
        attributes={"postmortem": row.id, "incident": row.incident_id, **attributes},
    )
    audit.record(
        acting.session,
        actor=acting.actor,
        action=action,
        target_kind="postmortem",
        target_id=str(row.id),
        now=acting.now,
        before=before,
        after=after,
    )
