"""Use cases of error-budget policies: read, create or replace, delete (API and ``reliant
apply``), and the policies in force.

Every real change is audited (before/after) and evented (``error_budget_policy.created`` /
``.updated`` / ``.deleted``). Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.auth import audit
from reliant.server.domains.postmortems import policy
from reliant.server.domains.postmortems.models import ErrorBudgetPolicyRow
from reliant.server.domains.postmortems.recording import (
    Acting,
    PostmortemConflict,
    PostmortemNotFound,
)
from reliant.server.events import append
from reliant.spec.models import ErrorBudgetPolicySpec

#: ``managed_by`` of policies written through the REST API, and by ``reliant apply``.
MANAGED_BY_API = "api"
MANAGED_BY_SPEC = "spec"


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyRecord:
    """A stored policy."""

    name: str
    spec: ErrorBudgetPolicySpec
    managed_by: str
    created_at: float
    updated_at: float
    updated_by: str


def _record(row: ErrorBudgetPolicyRow) -> PolicyRecord:
    return PolicyRecord(
        name=row.name,
        spec=ErrorBudgetPolicySpec.model_validate(row.spec),
        managed_by=row.managed_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def get(session: Session, name: str) -> PolicyRecord:
    """The policy named ``name``.

    Raises:
        PostmortemNotFound: there is none.
    """
    row = session.get(ErrorBudgetPolicyRow, name)
    if row is None:
        raise PostmortemNotFound(
            f"no error-budget policy named {name!r}; list them with "
            "GET /api/v1/error-budget-policies"
        )
    return _record(row)


def page(session: Session, *, limit: int | None, after: str | None = None) -> list[PolicyRecord]:
    """Up to ``limit`` policies by name, after ``after``."""
    query = select(ErrorBudgetPolicyRow).order_by(ErrorBudgetPolicyRow.name)
    if after is not None:
        query = query.where(ErrorBudgetPolicyRow.name > after)
    return [_record(r) for r in session.scalars(query.limit(limit))]


def in_force(session: Session) -> list[policy.Policy]:
    """The policies in force: the declared ones by name, or the built-in default."""
    declared = [policy.Policy.of(r.name, r.spec) for r in page(session, limit=None)]
    return policy.effective(declared)


def put(
    acting: Acting,
    name: str,
    spec: ErrorBudgetPolicySpec,
    *,
    managed_by: str = MANAGED_BY_API,
    must_exist: bool | None = None,
) -> tuple[PolicyRecord, bool]:
    """Create or replace a policy; return it and whether it was created.

    Args:
        must_exist: ``True`` only replace, ``False`` only create, ``None`` either.

    Raises:
        PostmortemNotFound / PostmortemConflict: as ``must_exist`` demands.
    """
    session, now = acting.session, acting.now
    row = session.get(ErrorBudgetPolicyRow, name, with_for_update=True)
    if row is None and must_exist:
        get(session, name)  # raises
    if row is not None and must_exist is False:
        raise PostmortemConflict(
            f"an error-budget policy named {name!r} exists; replace it with "
            f"PUT /api/v1/error-budget-policies/{name}"
        )
    stored = spec.model_dump(mode="json")
    if row is None:
        row = ErrorBudgetPolicyRow(
            name=name,
            spec=stored,
            managed_by=managed_by,
            created_at=now,
            updated_at=now,
            updated_by=acting.actor[:200],
        )
        session.add(row)
        session.flush()
        _changed(acting, name, "create", None, _state(row), {})
        return _record(row), True
    before = _state(row)
    if row.spec == stored and row.managed_by == managed_by:
        return _record(row), False
    changed = [k for k in stored if stored[k] != row.spec.get(k)]
    if row.managed_by != managed_by:
        changed.append("managed_by")
    row.spec, row.managed_by = stored, managed_by
    row.updated_at, row.updated_by = now, acting.actor[:200]
    session.flush()
    _changed(acting, name, "update", before, _state(row), {"changed": changed})
    return _record(row), False


def delete(acting: Acting, name: str) -> None:
    """Delete a policy; postmortems it required stay required.

    Raises:
        PostmortemNotFound: there is no such policy.
    """
    row = acting.session.get(ErrorBudgetPolicyRow, name, with_for_update=True)
    if row is None:
        get(acting.session, name)  # raises
        return
    before = _state(row)
    acting.session.delete(row)
    acting.session.flush()
    _changed(acting, name, "delete", before, None, {})


def managed_by_spec(session: Session) -> set[str]:
    """The names of the policies ``reliant apply`` wrote."""
    query = select(ErrorBudgetPolicyRow.name).where(
        ErrorBudgetPolicyRow.managed_by == MANAGED_BY_SPEC
    )
    return set(session.scalars(query))


def _state(row: ErrorBudgetPolicyRow) -> dict[str, Any]:
    return {**row.spec, "managed_by": row.managed_by}


def _changed(
    acting: Acting,
    name: str,
    verb: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    extra: dict[str, Any],
) -> None:
    """Audit ``error_budget_policy.<verb>`` and append ``error_budget_policy.<verb>d``."""
    audit.record(
        acting.session,
        actor=acting.actor,
        action=f"error_budget_policy.{verb}",
        target_kind="error_budget_policy",
        target_id=name,
        now=acting.now,
        before=before,
        after=after,
    )
    managed = (after or before or {}).get("managed_by")
    append(
        acting.session,
        kind=f"error_budget_policy.{verb}d",
        now=acting.now,
        source=acting.event_source[:100],
        attributes={"policy": name, "managed_by": managed, **extra},
    )
