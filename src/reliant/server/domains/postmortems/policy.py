"""Error-budget policies: when a resolved incident requires a postmortem. Pure, no I/O.

A policy covers some services (none listed: all) and requires a postmortem of an incident
that is severe enough (``severity_at_most``) or consumed more than a share of a linked
SLO's error budget (``budget_consumed_over``). Without any declared policy the built-in
default applies: SEV1–SEV2, or more than 20 % of a budget (the SRE Workbook's policy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reliant.server.domains.postmortems.lifecycle import DUE_BUSINESS_DAYS
from reliant.spec.models import ErrorBudgetPolicySpec

#: Severities, worst first (as the incidents domain orders them).
SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4", "SEV5")
#: The built-in policy's name.
DEFAULT_NAME = "default"
#: The built-in policy's thresholds: SEV2 or worse, more than 20 % of a budget.
DEFAULT_SEVERITY = "SEV2"
DEFAULT_BUDGET_PERCENT = 20.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """A policy as evaluated: declared (``builtin`` false) or the built-in default."""

    name: str
    services: tuple[str, ...]
    severity_at_most: str | None
    budget_consumed_over: float | None
    due_business_days: int
    builtin: bool = False

    @classmethod
    def of(cls, name: str, spec: ErrorBudgetPolicySpec) -> Policy:
        """The policy a stored spec declares."""
        need = spec.postmortem
        return cls(
            name=name,
            services=tuple(spec.services),
            severity_at_most=need.severity_at_most,
            budget_consumed_over=need.budget_consumed_over,
            due_business_days=need.due_business_days,
        )

    def covers(self, services: Sequence[str]) -> bool:
        """Whether the policy covers an incident of ``services``."""
        return not self.services or bool(set(self.services) & set(services))

    def reasons(self, severity: str, consumed: Mapping[str, float | None]) -> list[str]:
        """Why the policy requires a postmortem of this incident (empty: it does not)."""
        found = []
        at_most = self.severity_at_most
        if at_most is not None and _rank(severity) <= _rank(at_most):
            found.append(f"{severity} ≤ {at_most}")
        over = self.budget_consumed_over
        if over is not None:
            for name, percent in sorted(consumed.items()):
                if percent is not None and percent > over:
                    found.append(f"{name} consumed {percent:.1f} % of its budget (> {over:g} %)")
        return found


#: The policy in force when none is declared.
DEFAULT = Policy(
    name=DEFAULT_NAME,
    services=(),
    severity_at_most=DEFAULT_SEVERITY,
    budget_consumed_over=DEFAULT_BUDGET_PERCENT,
    due_business_days=DUE_BUSINESS_DAYS,
    builtin=True,
)


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def effective(declared: Sequence[Policy]) -> list[Policy]:
    """The policies in force: the declared ones, or the built-in default without any."""
    return list(declared) if declared else [DEFAULT]


@dataclass(frozen=True, slots=True, kw_only=True)
class Requirement:
    """Why a postmortem is required, by which policies, and how many business days it has."""

    reasons: tuple[str, ...]
    policies: tuple[str, ...]
    due_business_days: int

    @property
    def reason(self) -> str:
        """The reasons in one line."""
        return "; ".join(self.reasons)


def requirement(
    policies: Sequence[Policy],
    *,
    severity: str,
    services: Sequence[str],
    consumed: Mapping[str, float | None],
) -> Requirement | None:
    """Whether any policy covering the incident requires a postmortem, and why.

    Args:
        policies: the policies in force (:func:`effective`).
        severity: the incident's severity.
        services: the incident's services.
        consumed: each linked SLO's budget consumed during the incident, in percent
            (``None``: unknown).

    Returns:
        the reasons (each once) and the shortest due delay of the requiring policies, or
        ``None`` when no policy requires one.
    """
    reasons: list[str] = []
    names: list[str] = []
    days: list[int] = []
    for policy in policies:
        if not policy.covers(services):
            continue
        found = policy.reasons(severity, consumed)
        if found:
            names.append(policy.name)
            days.append(policy.due_business_days)
            reasons += [r for r in found if r not in reasons]
    if not reasons:
        return None
    return Requirement(reasons=tuple(reasons), policies=tuple(names), due_business_days=min(days))
