"""Use cases of incident rules: read, create or replace, delete (API and ``reliant apply``).

The shared declared-object use cases (``reliant.server.declared``) with a rule's own checks:
its matchers must parse, and the declaring job's cursor starts when the first rule exists.
Every real change is audited and evented (``incident_rule.created`` / ``.updated`` /
``.deleted``). Nothing here commits.
"""

from __future__ import annotations

from reliant.server.declared import MANAGED_BY_API, MANAGED_BY_SPEC, Declared, Record
from reliant.server.domains.incidents import declare
from reliant.server.domains.incidents.models import IncidentRuleRow
from reliant.server.domains.incidents.recording import (
    Acting,
    IncidentConflict,
    IncidentNotFound,
)
from reliant.server.domains.incidents.rules import compile_rule
from reliant.spec.models import IncidentRuleSpec

__all__ = [
    "MANAGED_BY_API",
    "MANAGED_BY_SPEC",
    "RuleRecord",
    "delete",
    "get",
    "managed_by_spec",
    "page",
    "put",
]

#: A stored rule.
RuleRecord = Record[IncidentRuleSpec]

RULES = Declared(
    row=IncidentRuleRow,
    spec=IncidentRuleSpec,
    kind="incident_rule",
    label="incident rule",
    path="/api/v1/incident-rules",
    attribute="rule",
    not_found=IncidentNotFound,
    conflict=IncidentConflict,
)
get = RULES.get
page = RULES.page
managed_by_spec = RULES.managed_by_spec
#: Delete a rule; the incidents it declared stay.
delete = RULES.delete


def put(
    acting: Acting,
    name: str,
    spec: IncidentRuleSpec,
    *,
    managed_by: str = MANAGED_BY_API,
    must_exist: bool | None = None,
) -> tuple[RuleRecord, bool]:
    """Create or replace a rule; return it and whether it was created.

    Args:
        must_exist: ``True`` only replace, ``False`` only create, ``None`` either.

    Raises:
        RuleError: a matcher that does not parse (its path in the spec).
        IncidentNotFound / IncidentConflict: as ``must_exist`` demands.
    """
    compile_rule(name, spec)
    return RULES.put(
        acting,
        name,
        spec,
        managed_by=managed_by,
        must_exist=must_exist,
        created=declare.ensure_cursor,
    )
