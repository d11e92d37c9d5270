"""Run use cases: start a run (or preview one), list runs, people's decisions, cancel.

Writes are audited and journaled; nothing here commits (the request or job does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reliant.server.auth import audit
from reliant.server.domains.incidents import incident_exists
from reliant.server.domains.runbooks import flow, progress, rendering
from reliant.server.domains.runbooks.models import RunbookRow, RunRow, StepRow
from reliant.server.domains.runbooks.service import (
    Conflict,
    Invalid,
    Loc,
    NotFound,
    server_problems,
)
from reliant.spec.models import RunbookSpec
from reliant.spec.runbooks import MASK


def resolve_params(
    spec: RunbookSpec, given: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Every parameter's value (given, else its default, else ``""``) and the secret ones.

    Raises:
        Invalid: an unknown parameter, or a required one missing.
    """
    declared = {p.name: p for p in spec.parameters}
    known = ", ".join(declared) or "none declared"
    problems: list[tuple[Loc, str]] = [
        (("params", k), f"unknown parameter {k!r} (parameters: {known})")
        for k in given
        if k not in declared
    ]
    found: dict[str, str] = {}
    for p in spec.parameters:
        if p.name in given:
            found[p.name] = given[p.name]
        elif p.default is not None:
            found[p.name] = p.default
        elif p.required:
            problems.append((("params", p.name), "required parameter: give it a value"))
        else:
            found[p.name] = ""
    if problems:
        raise Invalid(problems)
    return found, {k: v for k, v in found.items() if declared[k].secret}


def preview(
    name: str,
    spec: RunbookSpec,
    given: Mapping[str, str],
    *,
    incident: int | None,
    approve_destructive: bool,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A dry run: the parameters and every step rendered, secrets masked; nothing runs.

    Raises:
        Invalid: the runbook (against the allow-list now) or the parameters are invalid.
    """
    problems = server_problems(spec, env)
    if problems:
        raise Invalid(problems, prefix=f"runbook {name!r}: ")
    found, secrets = resolve_params(spec, given)
    context = rendering.values(
        spec, found, run_id=None, runbook=name, service=spec.service, incident=incident, masked=True
    )
    return {
        "runbook": name,
        "dry_run": True,
        "service": spec.service,
        "incident": incident,
        "params": {k: (MASK if k in secrets else v) for k, v in found.items()},
        "steps": [
            {
                "id": step.id,
                "name": step.name,
                "kind": step.kind,
                "destructive": step.destructive,
                "needs_approval": flow.needs_approval(
                    step, automatic=False, approve_destructive=approve_destructive
                ),
                "rendered": rendering.rendered(step, context),
            }
            for step in spec.steps
        ],
    }


def start(
    session: Session,
    runbook: RunbookRow,
    given: Mapping[str, str],
    *,
    now: float,
    actor: str,
    incident: int | None = None,
    approve_destructive: bool = False,
    trigger: dict[str, Any] | None = None,
    service: str | None = None,
    env: Mapping[str, str] | None = None,
) -> RunRow:
    """Start a run (its steps run from the next ``runbooks.execute`` tick).

    Args:
        actor: who starts it: a principal's name, or ``alert:<alertname>`` for a trigger.
        trigger: the alert that started it (automatic runs only).
        service: the run's service when the runbook names none (an alert's label).

    Raises:
        Invalid: the runbook (against the allow-list now) or the parameters are invalid.
    """
    spec = RunbookSpec.model_validate(runbook.spec)
    problems = server_problems(spec, env)
    if problems:
        raise Invalid(problems, prefix=f"runbook {runbook.name!r}: ")
    if incident is not None and not incident_exists(session, incident):
        raise Invalid(
            [
                (
                    ("incident",),
                    f"there is no incident #{incident}; list them with `reliant incidents list`",
                )
            ]
        )
    found, secrets = resolve_params(spec, given)
    automatic = trigger is not None
    run = RunRow(
        runbook=runbook.name,
        service=spec.service or service,
        spec=runbook.spec,
        state="pending",
        params={k: (MASK if k in secrets else v) for k, v in found.items()},
        secrets=secrets,
        incident=incident,
        automatic=automatic,
        trigger=trigger,
        approve_destructive=approve_destructive and not automatic,
        position=0,
        created_at=now,
        created_by=actor[:100],
    )
    session.add(run)
    session.flush()
    for i, step in enumerate(spec.steps):
        session.add(
            StepRow(
                run_id=run.id,
                position=i,
                step_id=step.id,
                kind=step.kind,
                state="pending",
                needs_approval=flow.needs_approval(
                    step, automatic=automatic, approve_destructive=run.approve_destructive
                ),
                attempts=0,
            )
        )
    summary = {
        "runbook": run.runbook,
        "params": run.params,
        "incident": incident,
        "approve_destructive": run.approve_destructive,
        "automatic": automatic,
    }
    audit.record(
        session,
        actor=actor[:100],
        action="runbook.run",
        target_kind="runbook_run",
        target_id=str(run.id),
        now=now,
        after=summary,
    )
    progress.event(
        session,
        "runbook.run_started",
        run,
        now,
        source=actor,
        params=run.params,
        started_by=run.created_by,
        trigger=trigger,
        steps=len(spec.steps),
    )
    session.flush()
    return run


def get_run(session: Session, run_id: int, *, lock: bool = False) -> RunRow:
    """The run ``run_id``.

    Raises:
        NotFound: there is none.
    """
    run = session.get(RunRow, run_id, with_for_update=lock or None, populate_existing=lock)
    if run is None:
        raise NotFound(f"no runbook run {run_id}")
    return run


def runs(
    session: Session,
    *,
    runbook: str | None,
    states: list[str] | None,
    incident: int | None,
    limit: int,
    before: int | None,
) -> tuple[list[RunRow], bool]:
    """A page of runs, newest first, and whether more follow."""
    query = select(RunRow).order_by(RunRow.id.desc()).limit(limit + 1)
    if runbook is not None:
        query = query.where(RunRow.runbook == runbook)
    if states:
        query = query.where(RunRow.state.in_(states))
    if incident is not None:
        query = query.where(RunRow.incident == incident)
    if before is not None:
        query = query.where(RunRow.id < before)
    rows = list(session.scalars(query))
    return rows[:limit], len(rows) > limit


def _current(session: Session, run: RunRow) -> tuple[StepRow, Any]:
    if run.state not in flow.ACTIVE:
        raise Conflict(f"run {run.id} has ended ({run.state})")
    rows = progress.steps_of(session, run.id, lock=True)
    return rows[run.position], progress.spec_of(run).steps[run.position]


def _waiting(
    session: Session, run: RunRow, step_id: str | None, waiting_for: str
) -> tuple[StepRow, Any]:
    row, step = _current(session, run)
    if row.state != "waiting" or row.waiting_for != waiting_for:
        what = "an approval" if waiting_for == "approval" else "a manual step's completion"
        raise Conflict(
            f"run {run.id} is not waiting for {what} "
            f"(its current step {row.step_id!r} is {row.state})"
        )
    if step_id is not None and step_id != row.step_id:
        raise Conflict(f"run {run.id} waits at step {row.step_id!r}, not {step_id!r}")
    return row, step


def approve(
    session: Session, run_id: int, *, step_id: str | None, comment: str, actor: str, now: float
) -> RunRow:
    """Approve what the run waits for: an approval step (it succeeds) or a destructive step
    (it runs).

    Raises:
        NotFound: no such run. Conflict: it waits for no approval (or at another step).
    """
    run = get_run(session, run_id, lock=True)
    row, step = _waiting(session, run, step_id, "approval")
    comment = progress.masker(run).text(comment)  # a secret pasted in stays hidden
    row.decided_by = actor[:100]
    row.comment = comment or None
    progress.event(
        session,
        "runbook.approved",
        run,
        now,
        source=actor,
        step=row.step_id,
        by=actor,
        comment=comment,
    )
    if step.kind == "approval":
        said = f"approved by {actor}" + (f": {comment}" if comment else "")
        progress.finish_step(session, run, row, step, now, succeeded=True, output=said)
    else:
        row.state = "pending"
        row.waiting_for = None
        run.state = "running"
    _audit(session, run, "runbook.approve", actor, now, row.step_id, comment)
    return run


def reject(
    session: Session, run_id: int, *, step_id: str | None, comment: str, actor: str, now: float
) -> RunRow:
    """Reject what the run waits for: the step fails (its ``on_failure`` decides what next).

    Raises:
        NotFound: no such run. Conflict: it waits for no approval (or at another step).
    """
    run = get_run(session, run_id, lock=True)
    row, step = _waiting(session, run, step_id, "approval")
    comment = progress.masker(run).text(comment)  # a secret pasted in stays hidden
    row.decided_by = actor[:100]
    row.comment = comment or None
    progress.event(
        session,
        "runbook.rejected",
        run,
        now,
        source=actor,
        step=row.step_id,
        by=actor,
        comment=comment,
    )
    said = f"rejected by {actor}" + (f": {comment}" if comment else "")
    progress.finish_step(session, run, row, step, now, succeeded=False, error=said)
    _audit(session, run, "runbook.reject", actor, now, row.step_id, comment)
    return run


def complete(
    session: Session, run_id: int, step_id: str, *, comment: str, actor: str, now: float
) -> RunRow:
    """Mark the manual step the run waits at as done.

    Raises:
        NotFound: no such run. Conflict: it waits at no manual step, or at another one.
    """
    run = get_run(session, run_id, lock=True)
    row, step = _waiting(session, run, step_id, "manual")
    comment = progress.masker(run).text(comment)  # a secret pasted in stays hidden
    row.decided_by = actor[:100]
    row.comment = comment or None
    said = f"completed by {actor}" + (f": {comment}" if comment else "")
    progress.finish_step(session, run, row, step, now, succeeded=True, output=said)
    _audit(session, run, "runbook.complete", actor, now, row.step_id, comment)
    return run


def cancel(session: Session, run_id: int, *, actor: str, now: float) -> RunRow:
    """Cancel an active run: no further step starts; a running command is killed.

    Raises:
        NotFound: no such run. Conflict: it has ended.
    """
    run = get_run(session, run_id, lock=True)
    if run.state not in flow.ACTIVE:
        raise Conflict(f"run {run.id} has ended ({run.state}); nothing to cancel")
    progress.steps_of(session, run.id, lock=True)
    progress.finish_run(session, run, now, "cancelled", error=f"cancelled by {actor}", source=actor)
    _audit(session, run, "runbook.cancel", actor, now, None, "")
    return run


def _audit(
    session: Session,
    run: RunRow,
    action: str,
    actor: str,
    now: float,
    step: str | None,
    comment: str,
) -> None:
    audit.record(
        session,
        actor=actor[:100],
        action=action,
        target_kind="runbook_run",
        target_id=str(run.id),
        now=now,
        after={"state": run.state, "step": step, "comment": comment},
    )


def automatic_runs(session: Session, runbook: str, since: float) -> int:
    """How many automatic runs of ``runbook`` started at or after ``since``."""
    query = select(func.count()).where(
        RunRow.runbook == runbook, RunRow.automatic.is_(True), RunRow.created_at >= since
    )
    return int(session.scalar(query) or 0)


def last_automatic(session: Session, runbook: str) -> RunRow | None:
    """The newest automatic run of ``runbook``."""
    query = (
        select(RunRow)
        .where(RunRow.runbook == runbook, RunRow.automatic.is_(True))
        .order_by(RunRow.id.desc())
        .limit(1)
    )
    return session.scalar(query)
