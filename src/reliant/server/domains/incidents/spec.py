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

from reliant.server.declared_spec import DeclaredKindHandler
from reliant.server.domains.incidents import rulebook
from reliant.server.domains.incidents.recording import Acting, IncidentError
from reliant.server.domains.incidents.rules import RuleError
from reliant.server.http import Ctx
from reliant.spec.models import IncidentRuleSpec


def _acting(ctx: Ctx) -> Acting:
    return Acting(ctx.session, ctx.now, ctx.principal.name)


def _invalid(exc: Exception) -> str | None:
    return f"{exc.where()}: {exc.message}" if isinstance(exc, RuleError) else None


#: The handler of kind ``IncidentRule`` for the apply engine: name → :class:`IncidentRuleSpec`.
HANDLER: DeclaredKindHandler[IncidentRuleSpec] = DeclaredKindHandler(
    kind="IncidentRule",
    store=rulebook.RULES,
    put=rulebook.put,
    acting=_acting,
    errors=IncidentError,
    invalid=_invalid,
)
