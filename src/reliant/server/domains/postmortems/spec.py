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

from reliant.server.declared_spec import DeclaredKindHandler
from reliant.server.domains.postmortems import policies
from reliant.server.domains.postmortems.recording import Acting, PostmortemError
from reliant.server.http import Ctx
from reliant.spec.models import ErrorBudgetPolicySpec


def _acting(ctx: Ctx) -> Acting:
    return Acting(ctx.session, ctx.now, ctx.principal.name)


#: The handler of kind ``ErrorBudgetPolicy`` for the apply engine:
#: name → :class:`ErrorBudgetPolicySpec`.
HANDLER: DeclaredKindHandler[ErrorBudgetPolicySpec] = DeclaredKindHandler(
    kind="ErrorBudgetPolicy",
    store=policies.POLICIES,
    put=policies.put,
    acting=_acting,
    errors=PostmortemError,
)
