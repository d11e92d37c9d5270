"""Named objects declared through the REST API or ``reliant apply``: one implementation of
their use cases (read, page, create or replace, delete) for the domains that store them.

An object is a row with ``name`` (the key), ``spec`` (the kind's spec as JSON),
``managed_by`` (``api`` or ``spec``), ``created_at``, ``updated_at`` and ``updated_by``.
Every real change is audited (``<kind>.create`` / ``.update`` / ``.delete``, before and
after) and evented (``<kind>.created`` / ``.updated`` / ``.deleted`` with the object's name,
``managed_by`` and, for updates, the spec fields that ``changed``). Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.auth import audit
from reliant.server.events import append

#: ``managed_by`` of objects written through the REST API, and by ``reliant apply``.
MANAGED_BY_API = "api"
MANAGED_BY_SPEC = "spec"
#: Longest ``updated_by`` and event ``source`` stored.
ACTOR_LENGTH = 200
SOURCE_LENGTH = 100

SpecT = TypeVar("SpecT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Acting:
    """Who changes objects, when, in which transaction.

    Attributes:
        session: the caller's transaction (never committed here).
        now: the server's clock.
        actor: who acts: a token's name, or ``<kind>:<name>`` for a job; shown as ``by`` and
            recorded in the audit log.
        source: the ``source`` of the events (the actor for API calls, ``server`` for jobs).
    """

    session: Session
    now: float
    actor: str
    source: str = field(default="")

    @property
    def event_source(self) -> str:
        """The events' ``source``."""
        return self.source or self.actor


@dataclass(frozen=True, slots=True, kw_only=True)
class Record(Generic[SpecT]):
    """A stored object."""

    name: str
    spec: SpecT
    managed_by: str
    created_at: float
    updated_at: float
    updated_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Declared(Generic[SpecT]):
    """The use cases of one kind of declared object.

    Attributes:
        row: the table's mapped class.
        spec: the kind's spec model.
        kind: the audit and event prefix (``incident_rule``).
        label: the object in messages (``incident rule``).
        path: its REST collection (``/api/v1/incident-rules``), named in messages.
        attribute: the events' attribute holding the name (``rule``).
        not_found: raised for a missing object (message says how to list them).
        conflict: raised by a create-only ``put`` of an existing name.
    """

    row: Any
    spec: type[SpecT]
    kind: str
    label: str
    path: str
    attribute: str
    not_found: Callable[[str], Exception]
    conflict: Callable[[str], Exception]

    def record(self, row: Any) -> Record[SpecT]:
        """The stored row as a record."""
        return Record(
            name=row.name,
            spec=self.spec.model_validate(row.spec),
            managed_by=row.managed_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )

    def get(self, session: Session, name: str) -> Record[SpecT]:
        """The object named ``name``.

        Raises:
            not_found: there is none.
        """
        row = session.get(self.row, name)
        if row is None:
            raise self.not_found(f"no {self.label} named {name!r}; list them with GET {self.path}")
        return self.record(row)

    def page(
        self, session: Session, *, limit: int | None, after: str | None = None
    ) -> list[Record[SpecT]]:
        """Up to ``limit`` objects (``None``: all) by name, after ``after``."""
        query = select(self.row).order_by(self.row.name)
        if after is not None:
            query = query.where(self.row.name > after)
        if limit is not None:
            query = query.limit(limit)
        return [self.record(r) for r in session.scalars(query)]

    def put(
        self,
        acting: Acting,
        name: str,
        spec: SpecT,
        *,
        managed_by: str = MANAGED_BY_API,
        must_exist: bool | None = None,
        created: Callable[[Session, float], object] | None = None,
    ) -> tuple[Record[SpecT], bool]:
        """Create or replace an object; return it and whether it was created.

        Args:
            must_exist: ``True`` only replace, ``False`` only create, ``None`` either.
            created: called after a creation (in the transaction).

        Raises:
            not_found / conflict: as ``must_exist`` demands.
        """
        session, now = acting.session, acting.now
        actor = acting.actor[:ACTOR_LENGTH]
        row = session.get(self.row, name, with_for_update=True)
        if row is None and must_exist:
            self.get(session, name)  # raises
        if row is not None and must_exist is False:
            raise self.conflict(
                f"an {self.label} named {name!r} exists; replace it with PUT {self.path}/{name}"
            )
        stored = spec.model_dump(mode="json")
        if row is None:
            row = self.row(
                name=name,
                spec=stored,
                managed_by=managed_by,
                created_at=now,
                updated_at=now,
                updated_by=actor,
            )
            session.add(row)
            session.flush()
            if created is not None:
                created(session, now)
            self._changed(acting, name, "create", None, _state(row), {})
            return self.record(row), True
        before = _state(row)
        if row.spec == stored and row.managed_by == managed_by:
            return self.record(row), False
        changed = [k for k in stored if stored[k] != row.spec.get(k)]
        if row.managed_by != managed_by:
            changed.append("managed_by")
        row.spec, row.managed_by = stored, managed_by
        row.updated_at, row.updated_by = now, actor
        session.flush()
        self._changed(acting, name, "update", before, _state(row), {"changed": changed})
        return self.record(row), False

    def delete(self, acting: Acting, name: str) -> None:
        """Delete an object.

        Raises:
            not_found: there is no such object.
        """
        row = acting.session.get(self.row, name, with_for_update=True)
        if row is None:
            self.get(acting.session, name)  # raises
            return
        before = _state(row)
        acting.session.delete(row)
        acting.session.flush()
        self._changed(acting, name, "delete", before, None, {})

    def managed_by_spec(self, session: Session) -> set[str]:
        """The names of the objects ``reliant apply`` wrote."""
        query = select(self.row.name).where(self.row.managed_by == MANAGED_BY_SPEC)
        return set(session.scalars(query))

    def _changed(
        self,
        acting: Acting,
        name: str,
        verb: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        extra: dict[str, Any],
    ) -> None:
        """Audit ``<kind>.<verb>`` and append ``<kind>.<verb>d``."""
        audit.record(
            acting.session,
            actor=acting.actor,
            action=f"{self.kind}.{verb}",
            target_kind=self.kind,
            target_id=name,
            now=acting.now,
            before=before,
            after=after,
        )
        managed = (after or before or {}).get("managed_by")
        append(
            acting.session,
            kind=f"{self.kind}.{verb}d",
            now=acting.now,
            source=acting.event_source[:SOURCE_LENGTH],
            attributes={self.attribute: name, "managed_by": managed, **extra},
        )


def _state(row: Any) -> dict[str, Any]:
    return {**row.spec, "managed_by": row.managed_by}
