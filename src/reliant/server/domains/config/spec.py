"""The ``Policy`` kind of ``reliant.yaml``, as ``reliant plan``/``apply`` see it.

``apply`` reads :meth:`PolicyHandler.current`, diffs it against the file, and calls
``create``/``update``/``delete`` inside its transaction; each change is audited, evented
and bumps the config version of the service(s) concerned, as an API write would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.domains.config import service
from reliant.server.domains.config.models import PolicyRow
from reliant.server.http import Ctx, Problem, conflict, not_found
from reliant.spec.models import PolicySpec

#: ``managed_by`` of policies written by ``reliant apply``.
MANAGED_BY = "spec"


def _spec(name: str, spec: PolicySpec | Mapping[str, Any]) -> PolicySpec:
    if isinstance(spec, PolicySpec):
        return spec
    try:
        return PolicySpec.model_validate(dict(spec))
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise Problem(422, "Invalid Request", f"policy {name!r}: {where}") from None


def _put(ctx: Ctx, name: str, spec: PolicySpec | Mapping[str, Any], must_exist: bool) -> None:
    try:
        service.put_policy(
            ctx, name, _spec(name, spec), managed_by=MANAGED_BY, must_exist=must_exist
        )
    except service.InvalidError as exc:
        raise Problem(422, "Invalid Request", f"policy {name!r}: {exc}") from None


class PolicyHandler:
    """Stores objects of kind ``Policy``: name → :class:`~reliant.spec.models.PolicySpec`."""

    kind = "Policy"

    def current(self, session: Session) -> dict[str, dict[str, Any]]:
        """Every stored policy: name → ``PolicySpec.model_dump(mode="json")``."""
        rows = session.scalars(select(PolicyRow).order_by(PolicyRow.name))
        return {row.name: dict(row.spec) for row in rows}

    def managed(self, session: Session) -> set[str]:
        """The names of the policies that ``reliant apply`` wrote, for drift detection."""
        query = select(PolicyRow.name).where(PolicyRow.managed_by == MANAGED_BY)
        return set(session.scalars(query))

    def create(self, ctx: Ctx, name: str, spec: PolicySpec | Mapping[str, Any]) -> None:
        """Create a policy.

        Raises:
            Problem: 409 when it exists, 422 when the store cannot keep its text.
        """
        try:
            _put(ctx, name, spec, must_exist=False)
        except service.ConflictError as exc:
            raise conflict(str(exc)) from None

    def update(self, ctx: Ctx, name: str, spec: PolicySpec | Mapping[str, Any]) -> None:
        """Replace a policy's spec (a no-op when it is unchanged).

        Raises:
            Problem: 404 when it does not exist, 422 when the store cannot keep its text.
        """
        try:
            _put(ctx, name, spec, must_exist=True)
        except service.NotFoundError:
            raise not_found("policy", name) from None

    def delete(self, ctx: Ctx, name: str) -> None:
        """Delete a policy.

        Raises:
            Problem: 404 when it does not exist.
        """
        try:
            service.delete_policy(ctx, name)
        except service.NotFoundError:
            raise not_found("policy", name) from None
