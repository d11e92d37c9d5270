"""A run's progress in the store: steps started, waiting, finished; the run advanced and
ended; each change journaled as a ``runbook.*`` event with secrets masked. Never commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.domains.incidents import put_on_timeline
from reliant.server.domains.runbooks import flow
from reliant.server.domains.runbooks.masking import Masker, excerpt
from reliant.server.domains.runbooks.models import ERROR_LENGTH, RunRow, StepRow
from reliant.server.events import Severity, append
from reliant.spec.models import RunbookSpec, RunbookStep


def spec_of(run: RunRow) -> RunbookSpec:
    """The runbook as it was when the run started."""
    return RunbookSpec.model_validate(run.spec)


def masker(run: RunRow) -> Masker:
    """The masker of the run's secret parameter values."""
    return Masker(str(v) for v in run.secrets.values())


def steps_of(session: Session, run_id: int, *, lock: bool = False) -> list[StepRow]:
    """The run's step rows in order."""
    query = select(StepRow).where(StepRow.run_id == run_id).order_by(StepRow.position)
    if lock:
        query = query.with_for_update()
    return list(session.scalars(query.execution_options(populate_existing=True)))


def event(
    session: Session,
    kind: str,
    run: RunRow,
    now: float,
    /,
    *,
    source: str = "server",
    severity: Severity = Severity.INFO,
    **attributes: Any,
) -> None:
    """Journal ``kind`` for ``run``: its id, runbook, incident (when set) and ``attributes``,
    secrets masked."""
    base: dict[str, Any] = {"run": run.id, "runbook": run.runbook, "automatic": run.automatic}
    if run.incident is not None:
        base["incident"] = run.incident
    event = append(
        session,
        kind=kind,
        now=now,
        service=run.service,
        severity=severity,
        source=source[:100],
        attributes=masker(run).data({**base, **attributes}),
    )
    if run.incident is not None:  # the run acts on another service than the incident's
        put_on_timeline(session, run.incident, event.id)


def _step_attributes(step: RunbookStep) -> dict[str, Any]:
    return {"step": step.id, "name": step.name, "kind": step.kind}


def start_step(session: Session, run: RunRow, row: StepRow, step: RunbookStep, now: float) -> None:
    """Mark a step's first (or a retried) attempt as started."""
    first = row.started_at is None
    row.attempts += 1
    if first:
        row.started_at = now
    run.state = "running"
    if run.started_at is None:
        run.started_at = now
    event(session, "runbook.step_started", run, now, attempt=row.attempts, **_step_attributes(step))


def wait(
    session: Session, run: RunRow, row: StepRow, step: RunbookStep, now: float, *, reason: str
) -> None:
    """Make the run wait for a person: an approval or a manual step's completion."""
    row.state = "waiting"
    row.waiting_for = "manual" if step.kind == "manual" else "approval"
    if row.started_at is None:
        row.started_at = now
    run.state = "waiting"
    if run.started_at is None:
        run.started_at = now
    waiting: dict[str, Any] = {
        "for": row.waiting_for,
        "destructive": step.destructive,
        "reason": reason,
    }
    event(
        session,
        "runbook.waiting",
        run,
        now,
        **waiting,
        **_step_attributes(step),
    )


def finish_step(
    session: Session,
    run: RunRow,
    row: StepRow,
    step: RunbookStep,
    now: float,
    *,
    succeeded: bool,
    output: str | None = None,
    error: str | None = None,
) -> None:
    """Record a step's end, journal it and move the run on (or end it)."""
    hide = masker(run)
    row.state = "succeeded" if succeeded else "failed"
    row.waiting_for = None
    row.claim = None
    row.claimed_until = None
    row.next_at = None
    row.finished_at = now
    if row.started_at is None:
        row.started_at = now
    if output is not None:
        row.output = hide.text(output)
    row.error = None if error is None else hide.text(error)[:ERROR_LENGTH]
    event(
        session,
        "runbook.step_finished",
        run,
        now,
        severity=Severity.INFO if succeeded else Severity.WARNING,
        state=row.state,
        duration=max(0.0, now - row.started_at),
        output=excerpt(row.output),
        error=row.error,
        **_step_attributes(step),
    )
    advance(session, run, now, succeeded=succeeded, error=row.error)


def advance(
    session: Session, run: RunRow, now: float, *, succeeded: bool, error: str | None = None
) -> None:
    """Move the run past its current step, skipping what a jump passes over."""
    steps = spec_of(run).steps
    rows = steps_of(session, run.id)
    failed_step = steps[run.position].id
    following = flow.after(steps, run.position, succeeded=succeeded)
    for index in following.skipped:
        if rows[index].state == "pending":
            rows[index].state = "skipped"
    run.position = following.position
    if following.outcome == "failed":
        reason = f"step {failed_step!r} failed" + (f": {error}" if error else "")
        finish_run(session, run, now, "failed", error=reason)
    elif following.outcome is not None:
        finish_run(session, run, now, following.outcome)
    else:
        run.state = "running"


def finish_run(
    session: Session,
    run: RunRow,
    now: float,
    state: str,
    *,
    error: str | None = None,
    source: str = "server",
) -> None:
    """End the run: every step not yet final is skipped (or cancelled), secrets forgotten."""
    rows = steps_of(session, run.id)
    for row in rows:
        if row.state not in flow.STEP_FINAL:
            row.state = "cancelled" if state == "cancelled" else "skipped"
            row.claim = None
            row.claimed_until = None
            row.waiting_for = None
            if row.started_at is not None and row.finished_at is None:
                row.finished_at = now
    run.state = state
    run.finished_at = now
    run.position = len(rows)
    hide = masker(run)
    run.error = None if error is None else hide.text(error)[:ERROR_LENGTH]
    failed = [r.step_id for r in rows if r.state == "failed"]
    severity = {"succeeded": Severity.INFO, "failed": Severity.ERROR}.get(state, Severity.WARNING)
    event(
        session,
        "runbook.run_finished",
        run,
        now,
        source=source,
        severity=severity,
        state=state,
        duration=max(0.0, now - (run.started_at or run.created_at)),
        failed_steps=failed,
        error=run.error,
    )
    run.secrets = {}
