"""Runbooks: executable runbooks as code, their runs, and auto-remediation from alerts.

This facade is all other domains may import::

    from reliant.server.domains.runbooks import runs_of_incident

    for run in runs_of_incident(session, incident_id):   # RunSummary, newest first
        run.id, run.runbook, run.state, run.current
    view = run_view(session, run_id)                      # RunOut (steps, outputs) or None

``SPEC_HANDLER`` is the ``Runbook`` kind's handler for ``reliant apply``. The
``runbooks.execute`` job runs steps; ``runbooks.trigger`` starts runs from firing alerts.
Every change is a ``runbook.*`` event carrying ``run``, ``runbook`` and, when set,
``incident`` (see ``docs/runbooks.md``).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from reliant.server.domains.runbooks import progress, runs, service
from reliant.server.domains.runbooks.executor import Executor
from reliant.server.domains.runbooks.schemas import (
    RunbookOut,
    RunOut,
    RunSummary,
    run_out,
    run_summary,
    runbook_out,
)
from reliant.server.domains.runbooks.spec import RunbookHandler
from reliant.server.domains.runbooks.trigger import Trigger

#: The ``Runbook`` kind's handler for the apply engine.
SPEC_HANDLER = RunbookHandler()


def runs_of_incident(session: Session, incident: int, *, limit: int = 100) -> list[RunSummary]:
    """The runs started for an incident, newest first."""
    rows, _ = runs.runs(
        session, runbook=None, states=None, incident=incident, limit=limit, before=None
    )
    paused = not service.automation(session)["enabled"]
    return [run_summary(row, paused=paused) for row in rows]


def runbook_choices(session: Session, *, limit: int = 500) -> list[RunbookOut]:
    """Runbooks by name (what a person may start a run of)."""
    rows, _ = service.page(session, service=None, limit=limit, after=None)
    return [runbook_out(row) for row in rows]


def run_view(session: Session, run_id: int) -> RunOut | None:
    """One run as the API shows it (steps rendered, secrets masked), or ``None``."""
    try:
        run = runs.get_run(session, run_id)
    except service.NotFound:
        return None
    paused = not service.automation(session)["enabled"]
    return run_out(run, progress.steps_of(session, run.id), paused=paused)


__all__ = [
    "SPEC_HANDLER",
    "Executor",
    "RunOut",
    "RunSummary",
    "RunbookHandler",
    "RunbookOut",
    "Trigger",
    "run_view",
    "runbook_choices",
    "runs_of_incident",
]
