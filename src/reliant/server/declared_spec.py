"""The ``reliant apply`` handler of a kind stored as declared objects (``declared.py``).

A domain makes its kind's ``SPEC_HANDLER`` from its store, its ``put`` (which may check
more than the spec model does) and its error class; spec errors become 422 problems naming
the kind, the object and the field, domain errors the problems their ``status`` says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.declared import MANAGED_BY_SPEC, Acting, Declared, SpecT
from reliant.server.http import Ctx, Problem


@dataclass(frozen=True, slots=True, kw_only=True)
class DeclaredKindHandler(Generic[SpecT]):
    """Stores objects of one kind for the apply engine: name → spec.

    Attributes:
        kind: the kind's name in ``reliant.yaml`` (``IncidentRule``).
        store: the kind's declared-object use cases.
        put: the domain's create-or-replace (``store.put`` unless it checks more).
        acting: who acts, from the request's context.
        errors: the domain's error class (with ``status`` and ``title``).
        invalid: turns a domain-specific validation error into its message, or ``None``.
    """

    kind: str
    store: Declared[SpecT]
    #: ``put(acting, name, spec, *, managed_by, must_exist)``, as ``Declared.put``.
    put: Callable[..., object]
    acting: Callable[[Ctx], Acting]
    errors: type[Exception]
    invalid: Callable[[Exception], str | None] = lambda _exc: None

    def current(self, session: Session) -> dict[str, dict[str, Any]]:
        """Every stored object: name → its spec as JSON."""
        row = self.store.row
        rows = session.execute(select(row.name, row.spec).order_by(row.name))
        return {name: dict(spec) for name, spec in rows}

    def managed(self, session: Session) -> set[str]:
        """The names of the objects ``reliant apply`` wrote, for drift detection."""
        return self.store.managed_by_spec(session)

    def create(self, ctx: Ctx, name: str, spec: SpecT | Mapping[str, Any]) -> None:
        """Create an object.

        Raises:
            Problem: 409 when it exists, 422 when the spec is invalid.
        """
        self._put(ctx, name, spec, exist=False)

    def update(self, ctx: Ctx, name: str, spec: SpecT | Mapping[str, Any]) -> None:
        """Replace an object's spec (a no-op when it is unchanged).

        Raises:
            Problem: 404 when it does not exist, 422 when the spec is invalid.
        """
        self._put(ctx, name, spec, exist=True)

    def delete(self, ctx: Ctx, name: str) -> None:
        """Delete an object.

        Raises:
            Problem: 404 when it does not exist.
        """
        try:
            self.store.delete(self.acting(ctx), name)
        except self.errors as exc:
            raise _problem(exc) from None

    def _spec(self, name: str, spec: SpecT | Mapping[str, Any]) -> SpecT:
        model = self.store.spec
        if isinstance(spec, model):
            return spec
        try:
            return model.model_validate(dict(spec))
        except ValidationError as exc:
            where = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in exc.errors()[:5]
            )
            raise Problem(422, "Invalid Request", f"{self.kind} {name!r}: {where}") from None

    def _put(self, ctx: Ctx, name: str, spec: SpecT | Mapping[str, Any], exist: bool) -> None:
        checked = self._spec(name, spec)
        try:
            self.put(self.acting(ctx), name, checked, managed_by=MANAGED_BY_SPEC, must_exist=exist)
        except self.errors as exc:
            raise _problem(exc) from None
        except Exception as exc:
            message = self.invalid(exc)
            if message is None:
                raise
            raise Problem(422, "Invalid Request", f"{self.kind} {name!r}: {message}") from None


def _problem(exc: Exception) -> Problem:
    return Problem(getattr(exc, "status", 400), getattr(exc, "title", "Bad Request"), str(exc))
