"""Use cases of incident rules: read, create or replace, delete (API and ``reliant apply``).

Every real change is audited (before/after) and evented (``incident_rule.created`` /
``.updated`` / ``.deleted``). Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.auth import audit
from reliant.server.domains.incidents import declare
from reliant.server.domains.incidents.models import IncidentRuleRow
from reliant.server.domains.incidents.recording import (
    Acting,
    IncidentConflict,
    IncidentNotFound,
)
from reliant.server.domains.incidents.rules import compile_rule
from reliant.server.events import append
from reliant.spec.models import IncidentRuleSpec

#: ``managed_by`` of rules written through the REST API, and by ``reliant apply``.
MANAGED_BY_API = "api"
MANAGED_BY_SPEC = "spec"


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleRecord:
    """A stored rule."""

    name: str
    spec: IncidentRuleSpec
    managed_by: str
    created_at: float
    updated_at: float
    updated_by: str


def _record(row: IncidentRuleRow) -> RuleRecord:
    return RuleRecord(
        name=row.name,
        spec=IncidentRuleSpec.model_validate(row.spec),
        managed_by=row.managed_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def get(session: Session, name: str) -> RuleRecord:
    """The rule named ``name``.

    Raises:
        IncidentNotFound: there is none.
    """
    row = session.get(IncidentRuleRow, name)
    if row is None:
        raise IncidentNotFound(
            f"no incident rule named {name!r}; list them with GET /api/v1/incident-rules"
        )
    return _record(row)


def page(session: Session, *, limit: int, after: str | None = None) -> list[RuleRecord]:
    """Up to ``limit`` rules by name, after ``after``."""
    query = select(IncidentRuleRow).order_by(IncidentRuleRow.name)
    if after is not None:
        query = query.where(IncidentRuleRow.name > after)
    return [_record(r) for r in session.scalars(query.limit(limit))]


def put(
    acting: Acting,
    name: str,
    spec: IncidentRuleSpec,
    *,
    managed_by: str = MANAGED_BY_API,
    must_exist: bool | None = None,
) -> tuple[RuleRecord, bool]:
    """Create or replace a rule; return it and whether it was created.

    Args:
        must_exist: ``True`` only replace, ``False`` only create, ``None`` either.

    Raises:
        RuleError: a matcher that does not parse (its path in the spec).
        IncidentNotFound / IncidentConflict: as ``must_exist`` demands.
    """
    compile_rule(name, spec)
    session, now = acting.session, acting.now
    row = session.get(IncidentRuleRow, name, with_for_update=True)
    if row is None and must_exist:
        get(session, name)  # raises
    if row is not None and must_exist is False:
        raise IncidentConflict(
            f"an incident rule named {name!r} exists; replace it with "
            f"PUT /api/v1/incident-rules/{name}"
        )
    stored = spec.model_dump(mode="json")
    if row is None:
        row = IncidentRuleRow(
            name=name,
            spec=stored,
            managed_by=managed_by,
            created_at=now,
            updated_at=now,
            updated_by=acting.actor,
        )
        session.add(row)
        session.flush()
        declare.ensure_cursor(session, now)
        _changed(acting, name, "create", None, _state(row), {})
        return _record(row), True
    before = _state(row)
    if row.spec == stored and row.managed_by == managed_by:
        return _record(row), False
    changed = [k for k in stored if stored[k] != row.spec.get(k)]
    if row.managed_by != managed_by:
        changed.append("managed_by")
    row.spec, row.managed_by = stored, managed_by
    row.updated_at, row.updated_by = now, acting.actor
    session.flush()
    _changed(acting, name, "update", before, _state(row), {"changed": changed})
    return _record(row), False


def delete(acting: Acting, name: str) -> None:
    """Delete a rule; the incidents it declared stay.

    Raises:
        IncidentNotFound: there is no such rule.
    """
    row = acting.session.get(IncidentRuleRow, name, with_for_update=True)
    if row is None:
        get(acting.session, name)  # raises
        return
    before = _state(row)
    acting.session.delete(row)
    acting.session.flush()
    _changed(acting, name, "delete", before, None, {})


def managed_by_spec(session: Session) -> set[str]:
    """The names of the rules ``reliant apply`` wrote."""
    query = select(IncidentRuleRow.name).where(IncidentRuleRow.managed_by == MANAGED_BY_SPEC)
    return set(session.scalars(query))


def _state(row: IncidentRuleRow) -> dict[str, Any]:
    return {**row.spec, "managed_by": row.managed_by}


def _changed(
    acting: Acting,
    name: str,
    verb: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    extra: dict[str, Any],
) -> None:
    """Audit ``incident_rule.<verb>`` and append ``incident_rule.<verb>d``."""
    audit.record(
        acting.session,
        actor=acting.actor,
        action=f"incident_rule.{verb}",
        target_kind="incident_rule",
        target_id=name,
        now=acting.now,
        before=before,
        after=after,
    )
    managed = (after or before or {}).get("managed_by")
    append(
        acting.session,
        kind=f"incident_rule.{verb}d",
        now=acting.now,
        source=acting.event_source,
        attributes={"rule": name, "managed_by": managed, **extra},
    )
