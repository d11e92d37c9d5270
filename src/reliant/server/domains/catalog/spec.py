"""The catalog's part in ``reliant apply``: the ``Service`` kind's handler.

The apply engine reads :meth:`ServiceHandler.current`, diffs it against ``reliant.yaml`` and
calls ``create``/``update``/``delete`` for the differences, all in one transaction. Writes go
through the same use cases as the API (audit record and event each), marking the services
``managed_by="spec"``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.domains.catalog import service
from reliant.server.domains.catalog.models import ServiceRow
from reliant.server.domains.catalog.service import MANAGED_BY_SPEC, Recorder
from reliant.spec.models import ServiceSpec


class ServiceHandler:
    """Reads and writes the ``Service`` kind for the apply engine."""

    kind = "Service"

    def current(self, session: Session) -> dict[str, dict[str, Any]]:
        """Every service in the catalog: name → spec as ``ServiceSpec.model_dump(mode="json")``."""
        records = service.page(session, limit=None)
        return {r.name: r.spec.model_dump(mode="json") for r in records}

    def managed(self, session: Session) -> set[str]:
        """The names of the services that ``reliant apply`` wrote (``managed_by="spec"``)."""
        query = select(ServiceRow.name).where(ServiceRow.managed_by == MANAGED_BY_SPEC)
        return set(session.scalars(query))

    def create(self, ctx: Recorder, name: str, spec: dict[str, Any]) -> None:
        """Add a service declared in the spec.

        Raises:
            pydantic.ValidationError: ``spec`` is not a valid ``ServiceSpec``.
            ServiceExists: a service has this name already.
        """
        service.create(ctx, name, ServiceSpec.model_validate(spec), managed_by=MANAGED_BY_SPEC)

    def update(self, ctx: Recorder, name: str, spec: dict[str, Any]) -> None:
        """Replace a service's spec with the declared one (a no-op when they are equal).

        Raises:
            pydantic.ValidationError: ``spec`` is not a valid ``ServiceSpec``.
            ServiceNotFound: there is no such service.
        """
        service.update(ctx, name, ServiceSpec.model_validate(spec), managed_by=MANAGED_BY_SPEC)

    def delete(self, ctx: Recorder, name: str) -> None:
        """Remove a service no longer declared (``--prune``), even if others depend on it.

        Raises:
            ServiceNotFound: there is no such service.
        """
        service.delete(ctx, name, force=True)
