"""The ``IncidentRule`` kind of ``reliant.yaml``, as ``reliant plan``/``apply`` see it::

    apiVersion: reliant.dev/v1
    kind: IncidentRule
    metadata: {name: payments-pages}
    spec:
      matchers: ['severity="page"', 'service=~"payments|ledger"']
      severity_from: {label: severity, map: {page: SEV2, ticket: SEV4}}

Each change is audited and evented as an API write is, and marks the rule
``managed_by="spec"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.domains.incidents import rulebook
from reliant.server.domains.incidents.models import IncidentRuleRow
from reliant.server.domains.incidents.recording import Acting, IncidentError
from reliant.server.domains.incidents.rules import RuleError
from reliant.server.http import Ctx, Problem
from reliant.spec.models import IncidentRuleSpec


def _spec(name: str, spec: IncidentRuleSpec | Mapping[str, Any]) -> IncidentRuleSpec:
    if isinstance(spec, IncidentRuleSpec):
        return spec
    try:
        return IncidentRuleSpec.model_validate(dict(spec))
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise Problem(422, "Invalid Request", f"IncidentRule {name!r}: {where}") from None


def _put(ctx: Ctx, name: str, spec: IncidentRuleSpec | Mapping[str, Any], exist: bool) -> None:
    acting = Acting(ctx.session, ctx.now, ctx.principal.name)
    try:
        rulebook.put(
            acting, name, _spec(name, spec), managed_by=rulebook.MANAGED_BY_SPEC, must_exist=exist
        )
    except RuleError as exc:
        raise Problem(
            422, "Invalid Request", f"IncidentRule {name!r}: {exc.where()}: {exc.message}"
        ) from None
    except IncidentError as exc:
        raise Problem(exc.status, exc.title, str(exc)) from None


class IncidentRuleHandler:
    """Stores objects of kind ``IncidentRule``: name → :class:`IncidentRuleSpec`."""

    kind = "IncidentRule"

    def current(self, session: Session) -> dict[str, dict[str, Any]]:
        """Every stored rule: name → ``IncidentRuleSpec.model_dump(mode="json")``."""
        rows = session.execute(
            select(IncidentRuleRow.name, IncidentRuleRow.spec).order_by(IncidentRuleRow.name)
        )
        return {name: dict(spec) for name, spec in rows}

    def managed(self, session: Session) -> set[str]:
        """The names of the rules ``reliant apply`` wrote, for drift detection."""
        return rulebook.managed_by_spec(session)

    def create(self, ctx: Ctx, name: str, spec: IncidentRuleSpec | Mapping[str, Any]) -> None:
        """Create a rule.

        Raises:
            Problem: 409 when it exists, 422 when the spec is invalid.
        """
        _put(ctx, name, spec, exist=False)

    def update(self, ctx: Ctx, name: str, spec: IncidentRuleSpec | Mapping[str, Any]) -> None:
        """Replace a rule's spec (a no-op when it is unchanged).

        Raises:
            Problem: 404 when it does not exist, 422 when the spec is invalid.
        """
        _put(ctx, name, spec, exist=True)

    def delete(self, ctx: Ctx, name: str) -> None:
        """Delete a rule.

        Raises:
            Problem: 404 when it does not exist.
        """
        try:
            rulebook.delete(Acting(ctx.session, ctx.now, ctx.principal.name), name)
        except IncidentError as exc:
            raise Problem(exc.status, exc.title, str(exc)) from None
