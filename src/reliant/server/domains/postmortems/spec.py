"""The ``ErrorBudgetPolicy`` kind of ``reliant.yaml``, as ``reliant plan``/``apply`` see it::

    apiVersion: reliant.dev/v1
    kind: ErrorBudgetPolicy
    metadata: {name: payments}
    spec:
      services: [checkout, ledger]
      postmortem: {severity_at_most: SEV2, budget_consumed_over: 20, due_business_days: 5}

Each change is audited and evented as an API write is, and marks the policy
``managed_by="spec"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.domains.postmortems import policies
from reliant.server.domains.postmortems.models import ErrorBudgetPolicyRow
from reliant.server.domains.postmortems.recording import Acting, PostmortemError
from reliant.server.http import Ctx, Problem
from reliant.spec.models import ErrorBudgetPolicySpec


def _spec(name: str, spec: ErrorBudgetPolicySpec | Mapping[str, Any]) -> ErrorBudgetPolicySpec:
    if isinstance(spec, ErrorBudgetPolicySpec):
        return spec
    try:
        return ErrorBudgetPolicySpec.model_validate(dict(spec))
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise Problem(422, "Invalid Request", f"ErrorBudgetPolicy {name!r}: {where}") from None


def _put(ctx: Ctx, name: str, spec: ErrorBudgetPolicySpec | Mapping[str, Any], exist: bool) -> None:
    acting = Acting(ctx.session, ctx.now, ctx.principal.name)
    try:
        policies.put(
            acting,
            name,
            _spec(name, spec),
            managed_by=policies.MANAGED_BY_SPEC,
            must_exist=exist,
        )
    except PostmortemError as exc:
        raise Problem(exc.status, exc.title, str(exc)) from None


class ErrorBudgetPolicyHandler:
    """Stores objects of kind ``ErrorBudgetPolicy``: name → :class:`ErrorBudgetPolicySpec`."""

    kind = "ErrorBudgetPolicy"

    def current(self, session: Session) -> dict[str, dict[str, Any]]:
        """Every stored policy: name → ``ErrorBudgetPolicySpec.model_dump(mode="json")``."""
        rows = session.execute(
            select(ErrorBudgetPolicyRow.name, ErrorBudgetPolicyRow.spec).order_by(
                ErrorBudgetPolicyRow.name
            )
        )
        return {name: dict(spec) for name, spec in rows}

    def managed(self, session: Session) -> set[str]:
        """The names of the policies ``reliant apply`` wrote, for drift detection."""
        return policies.managed_by_spec(session)

    def create(self, ctx: Ctx, name: str, spec: ErrorBudgetPolicySpec | Mapping[str, Any]) -> None:
        """Create a policy.

        Raises:
            Problem: 409 when it exists, 422 when the spec is invalid.
        """
        _put(ctx, name, spec, exist=False)

    def update(self, ctx: Ctx, name: str, spec: ErrorBudgetPolicySpec | Mapping[str, Any]) -> None:
        """Replace a policy's spec (a no-op when it is unchanged).

        Raises:
            Problem: 404 when it does not exist, 422 when the spec is invalid.
        """
        _put(ctx, name, spec, exist=True)

    def delete(self, ctx: Ctx, name: str) -> None:
        """Delete a policy.

        Raises:
            Problem: 404 when it does not exist.
        """
        try:
            policies.delete(Acting(ctx.session, ctx.now, ctx.principal.name), name)
        except PostmortemError as exc:
            raise Problem(exc.status, exc.title, str(exc)) from None
