"""The ``SLO`` kind of ``reliant.yaml``, as ``reliant plan``/``apply`` see it.

``apply`` reads :meth:`SLOHandler.current`, diffs it against the files, and calls
``create``/``update``/``delete`` inside its transaction; each change is audited and evented
as an API write is, and marks the SLO ``managed_by="spec"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.domains.slo import service
from reliant.server.domains.slo.models import SLORow
from reliant.server.http import Ctx, Problem, conflict, not_found
from reliant.spec.models import SLOSpec


def _spec(name: str, spec: SLOSpec | Mapping[str, Any]) -> SLOSpec:
    if isinstance(spec, SLOSpec):
        return spec
    try:
        return SLOSpec.model_validate(dict(spec))
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise Problem(422, "Invalid Request", f"SLO {name!r}: {where}") from None


def _put(ctx: Ctx, name: str, spec: SLOSpec | Mapping[str, Any], must_exist: bool) -> None:
    try:
        service.put(
            ctx, name, _spec(name, spec), managed_by=service.MANAGED_BY_SPEC, must_exist=must_exist
        )
    except service.InvalidSLO as exc:
        raise Problem(422, "Invalid Request", f"SLO {name!r}: {exc}") from None


class SLOHandler:
    """Stores objects of kind ``SLO``: name → :class:`~reliant.spec.models.SLOSpec`."""

    kind = "SLO"

    def current(self, session: Session) -> dict[str, dict[str, Any]]:
        """Every stored SLO: name → ``SLOSpec.model_dump(mode="json")``."""
        rows = session.execute(select(SLORow.name, SLORow.spec).order_by(SLORow.name))
        return {name: dict(spec) for name, spec in rows}

    def managed(self, session: Session) -> set[str]:
        """The names of the SLOs that ``reliant apply`` wrote, for drift detection."""
        query = select(SLORow.name).where(SLORow.managed_by == service.MANAGED_BY_SPEC)
        return set(session.scalars(query))

    def create(self, ctx: Ctx, name: str, spec: SLOSpec | Mapping[str, Any]) -> None:
        """Create an SLO.

        Raises:
            Problem: 409 when it exists, 422 when the spec is invalid or unstorable.
        """
        try:
            _put(ctx, name, spec, must_exist=False)
        except service.SLOExists as exc:
            raise conflict(str(exc)) from None

    def update(self, ctx: Ctx, name: str, spec: SLOSpec | Mapping[str, Any]) -> None:
        """Replace an SLO's spec (a no-op when it is unchanged).

        Raises:
            Problem: 404 when it does not exist, 422 when the spec is invalid or unstorable.
        """
        try:
            _put(ctx, name, spec, must_exist=True)
        except service.SLONotFound:
            raise not_found("SLO", name) from None

    def delete(self, ctx: Ctx, name: str) -> None:
        """Delete an SLO.

        Raises:
            Problem: 404 when it does not exist.
        """
        try:
            service.delete(ctx, name)
        except service.SLONotFound:
            raise not_found("SLO", name) from None
