"""The ``Runbook`` kind of ``reliant.yaml``, as ``reliant plan``/``apply`` see it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.domains.runbooks import service
from reliant.server.domains.runbooks.models import RunbookRow
from reliant.server.http import Ctx, Problem
from reliant.spec.models import RunbookSpec


def _spec(name: str, spec: RunbookSpec | Mapping[str, Any]) -> RunbookSpec:
    if isinstance(spec, RunbookSpec):
        return spec
    try:
        return RunbookSpec.model_validate(dict(spec))
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise Problem(422, "Invalid Request", f"Runbook {name!r}: {where}") from None


def _put(ctx: Ctx, name: str, spec: RunbookSpec | Mapping[str, Any], must_exist: bool) -> None:
    try:
        service.put(
            ctx,
            name,
            _spec(name, spec),
            managed_by=service.MANAGED_BY_SPEC,
            must_exist=must_exist,
        )
    except service.RunbookError as exc:
        raise Problem(exc.status, exc.title, str(exc)) from None


class RunbookHandler:
    """Stores objects of kind ``Runbook``: name → :class:`~reliant.spec.models.RunbookSpec`."""

    kind = "Runbook"

    def current(self, session: Session) -> dict[str, dict[str, Any]]:
        """Every stored runbook: name → ``RunbookSpec.model_dump(mode="json")``."""
        rows = session.execute(select(RunbookRow.name, RunbookRow.spec).order_by(RunbookRow.name))
        return {name: dict(spec) for name, spec in rows}

    def managed(self, session: Session) -> set[str]:
        """The names of the runbooks ``reliant apply`` wrote, for drift detection."""
        query = select(RunbookRow.name).where(RunbookRow.managed_by == service.MANAGED_BY_SPEC)
        return set(session.scalars(query))

    def create(self, ctx: Ctx, name: str, spec: RunbookSpec | Mapping[str, Any]) -> None:
        """Create a runbook.

        Raises:
            Problem: 409 when it exists; 422 when invalid (an executable off the allow-list).
        """
        _put(ctx, name, spec, must_exist=False)

    def update(self, ctx: Ctx, name: str, spec: RunbookSpec | Mapping[str, Any]) -> None:
        """Replace a runbook's spec (a no-op when unchanged).

        Raises:
            Problem: 404 when it does not exist, 422 when invalid.
        """
        _put(ctx, name, spec, must_exist=True)

    def delete(self, ctx: Ctx, name: str) -> None:
        """Delete a runbook (its runs keep their copy).

        Raises:
            Problem: 404 when it does not exist.
        """
        try:
            service.delete(ctx, name)
        except service.RunbookError as exc:
            raise Problem(exc.status, exc.title, str(exc)) from None
