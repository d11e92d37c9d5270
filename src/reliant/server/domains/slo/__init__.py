"""SLOs: error budgets counted exactly from telemetry, burn rates and burn-rate alerts.

This facade is all other domains may import::

    from reliant.server.domains.slo import get_slo, slo_status

    record = get_slo(session, "checkout-availability")   # SLORecord | None
    status = slo_status(session, "checkout-availability", now)
    status.assessment.budget.remaining, status.assessment.firing

``SPEC_HANDLER`` is the ``SLO`` kind's handler for ``reliant apply``; ``evaluate_all``
runs one evaluation cycle (the ``slo.evaluate`` job does it every 30 s); ``warning_lines``
gives ``reliant validate``'s lines for an SLO document. ``slice_counts`` and ``slo_series``
count an SLO's good and total calls over any range and chart its budget (postmortems).
"""

from sqlalchemy.orm import Session

from reliant.server.domains import telemetry
from reliant.server.domains.slo.assess import good_total
from reliant.server.domains.slo.cycle import Cycle, alerts_reporter
from reliant.server.domains.slo.cycle import run_cycle as evaluate_all
from reliant.server.domains.slo.evaluate import picks
from reliant.server.domains.slo.service import (
    MANAGED_BY_API,
    MANAGED_BY_SPEC,
    SLOError,
    SLONotFound,
    SLORecord,
    Status,
)
from reliant.server.domains.slo.service import get as get_slo
from reliant.server.domains.slo.service import page as list_slos
from reliant.server.domains.slo.service import series as slo_series
from reliant.server.domains.slo.service import status as slo_status
from reliant.server.domains.slo.spec import SLOHandler
from reliant.spec.slo_budget import SLOWarning
from reliant.spec.slo_plan import DEFAULT_ALERT_NAME, Plan, compile_plan, warning_lines

#: The ``SLO`` kind's handler for the apply engine.
SPEC_HANDLER = SLOHandler()


def slice_counts(
    session: Session, plan: Plan, *, origin: int, step: int, since: int, until: int
) -> dict[int, tuple[int, int]]:
    """Good and total calls of an SLO's SLI per slice of ``step`` seconds from ``origin``.

    Only the 10 s rollup buckets starting in ``[since, until)`` are read; slice ``i`` holds
    those starting in ``[origin + i * step, origin + (i + 1) * step)``. Slices without calls
    are absent. One slice over a whole range (``origin=since``, ``step=until - since``)
    gives that range's counts.

    Raises:
        ValueError: ``step`` is not positive or ``origin`` is after ``since``.
    """
    bounds = () if plan.bound is None else (plan.bound,)
    found = telemetry.slice_sums(
        session, since=since, until=until, origin=origin, step=step, bounds=bounds,
        services=[plan.service], operation=plan.operation,
    ).get((plan.service, plan.operation), {})  # fmt: skip
    chosen = picks(plan, bounds)
    return {i: good_total(sums, chosen) for i, sums in found.items()}


__all__ = [
    "DEFAULT_ALERT_NAME",
    "MANAGED_BY_API",
    "MANAGED_BY_SPEC",
    "SPEC_HANDLER",
    "Cycle",
    "Plan",
    "SLOError",
    "SLOHandler",
    "SLONotFound",
    "SLORecord",
    "SLOWarning",
    "Status",
    "alerts_reporter",
    "compile_plan",
    "evaluate_all",
    "get_slo",
    "list_slos",
    "slice_counts",
    "slo_series",
    "slo_status",
    "warning_lines",
]
