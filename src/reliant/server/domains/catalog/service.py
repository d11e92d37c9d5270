"""Use cases of the service catalog: read, create, replace, delete, and the graph.

Writers take a :class:`Recorder` — the request's ``Ctx`` or anything shaped like it — and
record every real change twice: an audit record (before/after) and an event
(``service.created`` / ``service.updated`` / ``service.deleted``). Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy import ColumnElement, exists, func, select, type_coerce
from sqlalchemy import delete as sql_delete
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reliant.server.domains.catalog import graph as graphs
from reliant.server.domains.catalog.models import DependencyRow, ServiceRow
from reliant.server.events import EventRow, Severity
from reliant.spec.models import ServiceSpec

#: ``managed_by`` of services written through the REST API.
MANAGED_BY_API = "api"
#: ``managed_by`` of services written by ``reliant apply``.
MANAGED_BY_SPEC = "spec"
SPEC_FIELDS: tuple[str, ...] = tuple(ServiceSpec.model_fields)

Change = Literal["created", "updated", "unchanged"]


class Recorder(Protocol):
    """What a writer needs from its caller: the transaction, the time, audit and events."""

    @property
    def session(self) -> Session: ...

    @property
    def now(self) -> float: ...

    def audit(
        self,
        action: str,
        target_kind: str,
        target_id: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None: ...

    def event(
        self,
        kind: str,
        *,
        service: str | None = None,
        severity: Severity = Severity.INFO,
        attributes: dict[str, Any] | None = None,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    """A service as stored: its spec, who manages it, and when it was created and changed."""

    name: str
    spec: ServiceSpec
    managed_by: str
    created_at: float
    updated_at: float

    def snapshot(self) -> dict[str, Any]:
        """The audited state: the spec as JSON plus ``managed_by``."""
        return {**self.spec.model_dump(mode="json"), "managed_by": self.managed_by}


class CatalogError(Exception):
    """A catalog request that cannot be done as asked; ``status`` is its HTTP status."""

    status = 400
    title = "Bad Request"


class ServiceNotFound(CatalogError):
    """No service has this name."""

    status = 404
    title = "Not Found"

    def __init__(self, name: str) -> None:
        super().__init__(f"no service named {name!r}; list them with GET /api/v1/services")
        self.name = name


class ServiceExists(CatalogError):
    """A service with this name exists already."""

    status = 409
    title = "Conflict"

    def __init__(self, name: str) -> None:
        super().__init__(
            f"a service named {name!r} exists; replace it with PUT /api/v1/services/{name}"
        )
        self.name = name


class HasDependents(CatalogError):
    """Other services declare a hard dependency on the one to delete."""

    status = 409
    title = "Conflict"

    def __init__(self, name: str, dependents: Sequence[str]) -> None:
        verb = "declares" if len(dependents) == 1 else "declare"
        super().__init__(
            f"{', '.join(dependents)} {verb} a hard dependency on {name!r}; remove it from "
            "their dependencies first, or delete anyway with ?force=true (CLI: --force)"
        )
        self.name = name
        self.dependents = list(dependents)


class InvalidService(CatalogError):
    """A spec the store cannot hold (PostgreSQL text cannot contain NUL characters)."""

    status = 422
    title = "Invalid Request"

    def __init__(self, loc: Sequence[str | int], message: str) -> None:
        super().__init__(f"{'.'.join(map(str, loc))}: {message}")
        self.loc = list(loc)
        self.message = message


def check_storable(spec: ServiceSpec) -> None:
    """Refuse text the store cannot hold: any string (key or value) with a NUL character.

    Raises:
        InvalidService: naming the offending field's location.
    """
    loc = _nul_at(spec.model_dump(mode="json"), [])
    if loc is not None:
        raise InvalidService(loc, "text must not contain NUL (\\u0000) characters")


def _nul_at(value: Any, loc: list[str | int]) -> list[str | int] | None:
    if isinstance(value, str):
        return loc if "\x00" in value else None
    if isinstance(value, dict):
        pairs: list[tuple[str | int, Any]] = list(value.items())
    elif isinstance(value, list):
        pairs = list(enumerate(value))
    else:
        return None
    for key, item in pairs:
        if isinstance(key, str) and "\x00" in key:
            return [*loc, key]
        found = _nul_at(item, [*loc, key])
        if found is not None:
            return found
    return None


# -- reads -------------------------------------------------------------------------------


def get(session: Session, name: str) -> ServiceRecord | None:
    """The service named ``name``, or ``None``."""
    row = session.get(ServiceRow, name)
    return None if row is None else _records(session, [row])[0]


def require(session: Session, name: str) -> ServiceRecord:
    """The service named ``name``.

    Raises:
        ServiceNotFound: there is none.
    """
    record = get(session, name)
    if record is None:
        raise ServiceNotFound(name)
    return record


def names(session: Session) -> list[str]:
    """Every service's name, sorted."""
    return list(session.scalars(select(ServiceRow.name).order_by(ServiceRow.name)))


def page(
    session: Session,
    *,
    limit: int | None,
    after: str | None = None,
    owner: str | None = None,
    tier: int | None = None,
    environment: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> list[ServiceRecord]:
    """Up to ``limit`` services sorted by name, after ``after``, matching every filter.

    Args:
        limit: the most services to return; ``None`` for all.
        labels: label key → value; a service matches when it carries all of them.
    """
    query = select(ServiceRow).order_by(ServiceRow.name).limit(limit)
    if after is not None:
        query = query.where(ServiceRow.name > after)
    if owner is not None:
        query = query.where(ServiceRow.owner == owner)
    if tier is not None:
        query = query.where(ServiceRow.tier == tier)
    if environment is not None:
        query = query.where(ServiceRow.environment == environment)
    dialect = session.get_bind().dialect.name
    for key, value in (labels or {}).items():
        query = query.where(_has_label(dialect, key, value))
    return _records(session, list(session.scalars(query)))


def _has_label(dialect: str, key: str, value: str) -> ColumnElement[bool]:
    # Whole keys, never JSON paths: label keys such as "app.kubernetes.io/name" hold dots.
    if dialect == "postgresql":
        return type_coerce(ServiceRow.labels, JSONB).contains({key: value})
    pairs = func.json_each(ServiceRow.labels).table_valued("key", "value")
    return exists().where(pairs.c.key == key, pairs.c.value == value)


def dependents(session: Session, name: str) -> list[tuple[str, str]]:
    """The services declaring a dependency on ``name``, as (service, kind), sorted."""
    query = (
        select(DependencyRow.service, DependencyRow.kind)
        .where(DependencyRow.depends_on == name)
        .order_by(DependencyRow.service)
    )
    return [(service, kind) for service, kind in session.execute(query)]


def missing(session: Session, wanted: Sequence[str]) -> list[str]:
    """Those of ``wanted`` that are not in the catalog, in the given order."""
    if not wanted:
        return []
    found = set(session.scalars(select(ServiceRow.name).where(ServiceRow.name.in_(wanted))))
    return [name for name in wanted if name not in found]


def last_event_at(session: Session, name: str) -> float | None:
    """When the newest event about ``name`` happened (one indexed lookup), or ``None``."""
    query = (
        select(EventRow.time).where(EventRow.service == name).order_by(EventRow.id.desc()).limit(1)
    )
    return session.scalar(query)


def dependency_graph(
    session: Session, *, center: str | None = None, depth: int = 1
) -> graphs.Graph:
    """The whole dependency graph, or ``center``'s neighbourhood within ``depth`` hops.

    Raises:
        ServiceNotFound: ``center`` is neither a service nor a dependency of one.
    """
    services = {
        name: (tier, owner)
        for name, tier, owner in session.execute(
            select(ServiceRow.name, ServiceRow.tier, ServiceRow.owner)
        )
    }
    edges = [
        graphs.Edge(source, target, kind)
        for source, target, kind in session.execute(
            select(DependencyRow.service, DependencyRow.depends_on, DependencyRow.kind)
        )
    ]
    try:
        return graphs.build(services, edges, center=center, depth=depth)
    except KeyError:
        raise ServiceNotFound(str(center)) from None


# -- writes ------------------------------------------------------------------------------


def create(
    ctx: Recorder, name: str, spec: ServiceSpec, *, managed_by: str = MANAGED_BY_API
) -> ServiceRecord:
    """Add a service to the catalog.

    Raises:
        ServiceExists: a service has this name already.
        InvalidService: the spec holds text the store cannot keep.
    """
    check_storable(spec)
    if ctx.session.get(ServiceRow, name) is not None:
        raise ServiceExists(name)
    row = ServiceRow(name=name, managed_by=managed_by, created_at=ctx.now, updated_at=ctx.now)
    _assign(row, spec)
    try:
        with ctx.session.begin_nested():
            ctx.session.add(row)
            ctx.session.flush()
    except IntegrityError:
        raise ServiceExists(name) from None  # created concurrently
    _replace_dependencies(ctx.session, name, spec)
    record = _record(row, spec)
    ctx.audit("service.create", "service", name, after=record.snapshot())
    ctx.event(
        "service.created",
        service=name,
        attributes={"owner": spec.owner, "tier": spec.tier, "managed_by": managed_by},
    )
    return record


def update(
    ctx: Recorder, name: str, spec: ServiceSpec, *, managed_by: str | None = None
) -> tuple[ServiceRecord, bool]:
    """Replace a service's spec; a no-op (no audit, no event) when nothing differs.

    Args:
        managed_by: the new manager; ``None`` keeps the current one.

    Returns:
        the service as now stored, and whether anything changed.

    Raises:
        ServiceNotFound: there is no such service.
        InvalidService: the spec holds text the store cannot keep.
    """
    check_storable(spec)
    row = ctx.session.get(ServiceRow, name)
    if row is None:
        raise ServiceNotFound(name)
    before = _records(ctx.session, [row])[0]
    after = ServiceRecord(
        name, spec, managed_by or before.managed_by, before.created_at, before.updated_at
    )
    old, new = before.snapshot(), after.snapshot()
    changed = [key for key in (*SPEC_FIELDS, "managed_by") if old[key] != new[key]]
    if not changed:
        return before, False
    _assign(row, spec)
    row.managed_by = after.managed_by
    row.updated_at = ctx.now
    if "dependencies" in changed:
        _replace_dependencies(ctx.session, name, spec)
    record = _record(row, spec)
    ctx.audit("service.update", "service", name, before=old, after=new)
    ctx.event("service.updated", service=name, attributes={"changed": changed})
    return record, True


def put(
    ctx: Recorder, name: str, spec: ServiceSpec, *, managed_by: str = MANAGED_BY_API
) -> tuple[ServiceRecord, Change]:
    """Create a service or replace its spec (``managed_by`` applies only when creating)."""
    if ctx.session.get(ServiceRow, name) is None:
        return create(ctx, name, spec, managed_by=managed_by), "created"
    record, changed = update(ctx, name, spec)
    return record, "updated" if changed else "unchanged"


def delete(ctx: Recorder, name: str, *, force: bool = False) -> ServiceRecord:
    """Remove a service and the dependencies it declares (those on it stay, undeclared).

    Raises:
        ServiceNotFound: there is no such service.
        HasDependents: others declare a hard dependency on it and ``force`` is false.
    """
    record = require(ctx.session, name)
    hard = [s for s, kind in dependents(ctx.session, name) if kind == "hard" and s != name]
    if hard and not force:
        raise HasDependents(name, hard)
    ctx.session.execute(sql_delete(DependencyRow).where(DependencyRow.service == name))
    ctx.session.execute(sql_delete(ServiceRow).where(ServiceRow.name == name))
    ctx.audit("service.delete", "service", name, before=record.snapshot())
    ctx.event(
        "service.deleted", service=name, attributes={"forced": bool(hard), "dependents": hard}
    )
    return record


# -- rows <-> records --------------------------------------------------------------------


def _assign(row: ServiceRow, spec: ServiceSpec) -> None:
    row.owner = spec.owner
    row.tier = spec.tier
    row.environment = spec.environment
    row.description = spec.description
    row.links = [link.model_dump(mode="json") for link in spec.links]
    row.labels = dict(spec.labels)


def _replace_dependencies(session: Session, name: str, spec: ServiceSpec) -> None:
    session.execute(sql_delete(DependencyRow).where(DependencyRow.service == name))
    session.add_all(
        DependencyRow(service=name, depends_on=dep.service, kind=dep.kind, position=i)
        for i, dep in enumerate(spec.dependencies)
    )
    session.flush()


def _record(row: ServiceRow, spec: ServiceSpec) -> ServiceRecord:
    return ServiceRecord(row.name, spec, row.managed_by, row.created_at, row.updated_at)


def _records(session: Session, rows: Sequence[ServiceRow]) -> list[ServiceRecord]:
    deps: dict[str, list[dict[str, str]]] = {row.name: [] for row in rows}
    if rows:
        query = (
            select(DependencyRow)
            .where(DependencyRow.service.in_(deps))
            .order_by(DependencyRow.service, DependencyRow.position)
        )
        for dep in session.scalars(query):
            deps[dep.service].append({"service": dep.depends_on, "kind": dep.kind})
    return [
        _record(
            row,
            ServiceSpec.model_validate(
                {
                    "owner": row.owner,
                    "tier": row.tier,
                    "environment": row.environment,
                    "description": row.description,
                    "links": row.links,
                    "dependencies": deps[row.name],
                    "labels": row.labels,
                }
            ),
        )
        for row in rows
    ]
