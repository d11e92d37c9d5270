"""SLOs: error budgets counted exactly from telemetry, burn rates and burn-rate alerts.

This facade is all other domains may import::

    from reliant.server.domains.slo import get_slo, slo_status

    record = get_slo(session, "checkout-availability")   # SLORecord | None
    status = slo_status(session, "checkout-availability", now)
    status.assessment.budget.remaining, status.assessment.firing

``SPEC_HANDLER`` is the ``SLO`` kind's handler for ``reliant apply``; ``evaluate_all``
runs one evaluation cycle (the ``slo.evaluate`` job does it every 30 s); ``warning_lines``
gives ``reliant validate``'s lines for an SLO document.
"""

from reliant.server.domains.slo.cycle import Cycle, alerts_reporter
from reliant.server.domains.slo.cycle import run_cycle as evaluate_all
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
from reliant.server.domains.slo.service import status as slo_status
from reliant.server.domains.slo.spec import SLOHandler
from reliant.spec.slo_budget import SLOWarning
from reliant.spec.slo_plan import DEFAULT_ALERT_NAME, Plan, compile_plan, warning_lines

#: The ``SLO`` kind's handler for the apply engine.
SPEC_HANDLER = SLOHandler()

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
    "slo_status",
    "warning_lines",
]
