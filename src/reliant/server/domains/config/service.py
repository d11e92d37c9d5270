"""Config use cases: overrides, policies and the versioned config document of a service.

Every change of a service's document — an override set or removed, a policy created,
changed, moved or deleted — increments that service's version in the same transaction,
writes an audit record and a ``config.changed`` event. Writing what is already stored
changes nothing: no version, no audit, no event. Use cases never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from reliant.server.db.text import unstorable
from reliant.server.domains.config.models import ConfigVersionRow, OverrideRow, PolicyRow
from reliant.server.domains.config.notify import changed
from reliant.spec.models import PolicySpec

if TYPE_CHECKING:
    from reliant.server.http import Ctx

#: The event every change of a config document appends.
CHANGED = "config.changed"


class NotFoundError(LookupError):
    """The override or policy does not exist."""


class ConflictError(ValueError):
    """The object already exists."""


class InvalidError(ValueError):
    """The object holds something the store cannot keep."""


def version(session: Session, service: str) -> int:
    """The version of ``service``'s config document (0 when nothing was ever configured)."""
    found = session.get(ConfigVersionRow, service)
    return 0 if found is None else found.version


def lock(session: Session, services: Sequence[str]) -> None:
    """Serialise changes to ``services``' documents until the transaction ends.

    PostgreSQL: the version rows are locked (created first when missing), in name order so
    two writers never deadlock. SQLite: the transaction already holds the write lock.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    names = sorted(set(services))
    session.execute(
        postgresql.insert(ConfigVersionRow)
        .values([{"service": s, "version": 0, "updated_at": 0.0} for s in names])
        .on_conflict_do_nothing(index_elements=["service"])
    )
    session.execute(
        select(ConfigVersionRow.service)
        .where(ConfigVersionRow.service.in_(names))
        .order_by(ConfigVersionRow.service)
        .with_for_update()
    )


def bump(session: Session, service: str, now: float) -> int:
    """Increment ``service``'s version (after :func:`lock`) and return the new one.

    Streams of the service wake once the transaction commits.
    """
    row = session.get(ConfigVersionRow, service, populate_existing=True)
    if row is None:
        row = ConfigVersionRow(service=service, version=0, updated_at=now)
        session.add(row)
    row.version += 1
    row.updated_at = now
    session.flush()
    changed(session, service)
    return row.version


def document(session: Session, service: str) -> dict[str, Any]:
    """The config document ``service``'s SDK applies (version 0, empty, when unconfigured).

    The version is read first: content read after it is at least as new, so a reader that
    saw version N never misses a change made after N.
    """
    doc: dict[str, Any] = {
        "service": service,
        "version": version(session, service),
        "breakers": {},
        "limiters": {},
        "faults": {},
        "policies": {},
        "flags": {},
    }
    for row in overrides(session, service):
        doc[row.kind][row.name] = dict(row.value)
    query = select(PolicyRow).where(PolicyRow.service == service).order_by(PolicyRow.name)
    for policy in session.scalars(query):
        spec = dict(policy.spec)
        spec.pop("service", None)
        doc["policies"][policy.name] = spec
    return doc


def overrides(session: Session, service: str) -> list[OverrideRow]:
    """Every override of ``service``, by kind and name."""
    query = (
        select(OverrideRow)
        .where(OverrideRow.service == service)
        .order_by(OverrideRow.kind, OverrideRow.name)
    )
    return list(session.scalars(query))


def _override_id(service: str, kind: str, name: str) -> str:
    return f"{service}/{kind}/{name}"


def _announce(
    ctx: Ctx,
    service: str,
    target: str,
    name: str,
    *,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> int:
    new_version = bump(ctx.session, service, ctx.now)
    ctx.event(
        CHANGED,
        service=service,
        attributes={
            "target": target,
            "name": name,
            "change": "removed" if after is None else "set",
            "before": before,
            "after": after,
            "version": new_version,
        },
    )
    return new_version


def set_override(
    ctx: Ctx, service: str, kind: str, name: str, value: dict[str, Any]
) -> tuple[OverrideRow, bool]:
    """Set an override; return it and whether anything changed."""
    lock(ctx.session, [service])
    row = ctx.session.get(OverrideRow, (service, kind, name), populate_existing=True)
    if row is not None and row.value == value:
        return row, False
    before = None if row is None else dict(row.value)
    if row is None:
        row = OverrideRow(service=service, kind=kind, name=name, value=value)
        ctx.session.add(row)
    row.value = value
    row.updated_at = ctx.now
    row.updated_by = ctx.principal.name
    target = _override_id(service, kind, name)
    ctx.audit("override.set", "override", target, before=before, after=value)
    _announce(ctx, service, kind.removesuffix("s"), name, before=before, after=value)
    return row, True


def remove_override(ctx: Ctx, service: str, kind: str, name: str) -> None:
    """Remove an override: the SDK object returns to what its code says.

    Raises:
        NotFoundError: there is no such override.
    """
    lock(ctx.session, [service])
    row = ctx.session.get(OverrideRow, (service, kind, name), populate_existing=True)
    if row is None:
        raise NotFoundError(f"service {service!r} has no override of {kind} {name!r}")
    before = dict(row.value)
    ctx.session.delete(row)
    target = _override_id(service, kind, name)
    ctx.audit("override.remove", "override", target, before=before, after=None)
    _announce(ctx, service, kind.removesuffix("s"), name, before=before, after=None)


def get_policy(session: Session, name: str) -> PolicyRow | None:
    """The policy named ``name``, if any."""
    return session.get(PolicyRow, name)


def list_policies(
    session: Session, *, service: str | None, limit: int, after: str | None = None
) -> tuple[list[PolicyRow], str | None]:
    """A page of policies by name; the name to continue after when more follow."""
    query = select(PolicyRow).order_by(PolicyRow.name).limit(limit + 1)
    if service is not None:
        query = query.where(PolicyRow.service == service)
    if after is not None:
        query = query.where(PolicyRow.name > after)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].name if more and rows else None


def put_policy(
    ctx: Ctx,
    name: str,
    spec: PolicySpec,
    *,
    managed_by: str | None,
    must_exist: bool | None = None,
) -> tuple[PolicyRow, bool, bool]:
    """Create or replace a policy.

    Args:
        managed_by: ``"spec"`` when ``reliant apply`` writes; ``None`` for an API write,
            which keeps what the policy had (so a hand edit of a spec-managed policy shows
            as drift) and marks a new one ``"api"``.
        must_exist: ``True``: only replace; ``False``: only create; ``None``: either.

    Returns:
        the policy, whether it was created, and whether anything changed.

    Raises:
        NotFoundError: ``must_exist`` and there is no such policy.
        ConflictError: ``must_exist is False`` and the policy exists.
        InvalidError: the spec holds NUL characters or lone surrogates.
    """
    after = spec.model_dump(mode="json")
    if unstorable(after):
        raise InvalidError("text may not hold NUL characters (\\u0000) or lone surrogates")
    row = ctx.session.get(PolicyRow, name, populate_existing=True)
    services = [spec.service] if row is None else [spec.service, row.service]
    lock(ctx.session, services)
    row = ctx.session.get(PolicyRow, name, populate_existing=True, with_for_update=True)
    if row is None and must_exist:
        raise NotFoundError(f"no policy named {name!r}")
    if row is not None and must_exist is False:
        raise ConflictError(f"a policy named {name!r} exists")
    if managed_by is None:
        managed_by = "api" if row is None else row.managed_by
    if row is not None and row.spec == after and row.managed_by == managed_by:
        return row, False, False
    before = None if row is None else dict(row.spec)
    created = row is None
    if row is None:
        row = PolicyRow(name=name, created_at=ctx.now)
        ctx.session.add(row)
    row.service = spec.service
    row.spec = after
    row.managed_by = managed_by
    row.updated_at = ctx.now
    row.updated_by = ctx.principal.name
    action = "policy.create" if created else "policy.update"
    ctx.audit(action, "policy", name, before=before, after=after)
    if before is not None and before.get("service") != spec.service:
        _announce(ctx, str(before["service"]), "policy", name, before=before, after=None)
        before = None
    if before != after:
        _announce(ctx, spec.service, "policy", name, before=before, after=after)
    return row, created, True


def delete_policy(ctx: Ctx, name: str) -> None:
    """Delete a policy; its service's SDK stops using it.

    Raises:
        NotFoundError: there is no such policy.
    """
    row = ctx.session.get(PolicyRow, name)
    if row is not None:
        lock(ctx.session, [row.service])
        row = ctx.session.get(PolicyRow, name, populate_existing=True, with_for_update=True)
    if row is None:
        raise NotFoundError(f"no policy named {name!r}")
    before = dict(row.spec)
    ctx.session.delete(row)
    ctx.audit("policy.delete", "policy", name, before=before, after=None)
    _announce(ctx, row.service, "policy", name, before=before, after=None)
