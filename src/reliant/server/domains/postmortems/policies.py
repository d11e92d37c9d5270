"""Use cases of error-budget policies: read, create or replace, delete (API and ``reliant
apply``), and the policies in force.

The shared declared-object use cases (``reliant.server.declared``): every real change is
audited and evented (``error_budget_policy.created`` / ``.updated`` / ``.deleted``).
Nothing here commits.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from reliant.server.declared import MANAGED_BY_API, MANAGED_BY_SPEC, Declared, Record
from reliant.server.domains.postmortems import policy
from reliant.server.domains.postmortems.models import ErrorBudgetPolicyRow
from reliant.server.domains.postmortems.recording import PostmortemConflict, PostmortemNotFound
from reliant.spec.models import ErrorBudgetPolicySpec

__all__ = [
    "MANAGED_BY_API",
    "MANAGED_BY_SPEC",
    "PolicyRecord",
    "delete",
    "get",
    "in_force",
    "managed_by_spec",
    "page",
    "put",
]

#: A stored policy.
PolicyRecord = Record[ErrorBudgetPolicySpec]

POLICIES = Declared(
    row=ErrorBudgetPolicyRow,
    spec=ErrorBudgetPolicySpec,
    kind="error_budget_policy",
    label="error-budget policy",
    path="/api/v1/error-budget-policies",
    attribute="policy",
    not_found=PostmortemNotFound,
    conflict=PostmortemConflict,
)
get = POLICIES.get
page = POLICIES.page
#: Create or replace a policy; return it and whether it was created.
put = POLICIES.put
#: Delete a policy; postmortems it required stay required.
delete = POLICIES.delete
managed_by_spec = POLICIES.managed_by_spec


def in_force(session: Session) -> list[policy.Policy]:
    """The policies in force: the declared ones by name, or the built-in default."""
    declared = [policy.Policy.of(r.name, r.spec) for r in page(session, limit=None)]
    return policy.effective(declared)
