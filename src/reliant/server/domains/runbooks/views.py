"""Pages of runbooks: the runbooks and the kill switch (``/runbooks``), a run
(``/runs/{id}``), and starting a run (``POST /runs``, from an incident's page).

A run's page shows its parameters (secrets masked, as the API shows them), each step's
kind, state, timing, captured output and error, and the buttons its state allows
(operators): approve or reject an approval gate, mark a manual step done, cancel. While a
step may start or is running the page refreshes its live part every 2 s (an htmx ``GET``
of the same URL answers only that part). Forms carry the session's CSRF token and call the
API's route functions, so changes are audited and journaled as through
``/api/v1/runbook-runs``; viewers see no buttons and get 403 if they post anyway.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from reliant.server.auth.roles import Role
from reliant.server.domains.runbooks import api, runs, schemas, service
from reliant.server.http import Problem
from reliant.server.web.pages import CSRF_FIELD, Page, PageDep, PageError, redirect
from reliant.spec.models import STEP_ID_PATTERN, RunbookSpec

router = APIRouter(include_in_schema=False)

CsrfField = Annotated[str, Form(alias=CSRF_FIELD)]
#: Runs listed under the runbooks.
RECENT_RUNS = 20
#: Characters of a step's captured output the page shows (the API has all of it).
OUTPUT_SHOWN = 8000
#: States in which the run's page refreshes itself.
LIVE = ("pending", "running")
#: What the run's page says after a change (``?done=``).
DONE = {
    "started": "Run started: its steps run from the next tick of the runbooks.execute job.",
    "approved": "Approved.",
    "rejected": "Rejected: the step failed.",
    "completed": "Step marked done.",
    "cancelled": "Run cancelled.",
}


def _run_id(run_id: str) -> int:
    if not run_id.isdigit() or not 1 <= int(run_id) <= schemas.MAX_ID:
        raise PageError(404, "No such run", f"{run_id[:40]!r} is not a run's number.")
    return int(run_id)


RunId = Annotated[int, Depends(_run_id)]


def level(state: str) -> str:
    """The pill level of a run's or step's state."""
    return {
        "succeeded": "ok",
        "failed": "critical",
        "waiting": "warning",
        "running": "info",
        "polling": "info",
        "pending": "info",
    }.get(state, "unknown")


def parse_params(text: str) -> dict[str, str]:
    """Parameters typed one ``name=value`` a line (blank lines ignored).

    Raises:
        ValueError: a line without ``=``, or a name given twice.
    """
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"params line {number}: write name=value")
        if name in found:
            raise ValueError(f"params line {number}: {name!r} is given twice")
        found[name] = value.strip()
    return found


# -- runbooks and the kill switch --------------------------------------------------------


@router.get("/runbooks", response_class=HTMLResponse)
def runbooks_page(page: PageDep) -> HTMLResponse:
    """Every runbook with its steps and last run, recent runs, and the kill switch."""
    session = page.ctx.session
    rows, more = service.page(session, service=None, limit=500, after=None)
    listed = []
    for row in rows:
        spec = RunbookSpec.model_validate(row.spec)
        last, _ = runs.runs(
            session, runbook=row.name, states=None, incident=None, limit=1, before=None
        )
        listed.append(
            {
                "row": row,
                "spec": spec,
                "destructive": [s.id for s in spec.steps if s.destructive],
                "last": last[0] if last else None,
            }
        )
    recent, _ = runs.runs(
        session, runbook=None, states=None, incident=None, limit=RECENT_RUNS, before=None
    )
    return page.render(
        "runbooks/runbooks.html",
        nav_key="runbooks",
        runbooks=listed,
        more=more is not None,
        recent=recent,
        automation=service.automation(session),
        switched=page.request.query_params.get("switched", ""),
        level=level,
    )


@router.post("/runbooks/automation")
def switch_automation(
    page: PageDep, csrf_token: CsrfField = "", enabled: Annotated[str, Form(max_length=10)] = ""
) -> Response:
    """Switch automatic runs and new steps on or off (admins), as the settings API does."""
    page.require(Role.ADMIN)
    page.check_csrf(csrf_token)
    if enabled not in ("true", "false"):
        raise PageError(422, "Cannot switch", "enabled: true or false.")
    api.put_automation(schemas.AutomationIn(enabled=enabled == "true"), page.ctx)
    return redirect(f"/runbooks?switched={'on' if enabled == 'true' else 'off'}")


# -- starting a run ----------------------------------------------------------------------


@router.post("/runs", response_class=HTMLResponse)
def start(
    page: PageDep,
    csrf_token: CsrfField = "",
    runbook: Annotated[str, Form(max_length=100)] = "",
    incident: Annotated[str, Form(max_length=20)] = "",
    params: Annotated[str, Form(max_length=100_000)] = "",
    dry_run: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Start a run of ``runbook`` for ``incident`` (then open it), or show a dry run."""
    page.require(Role.OPERATOR)
    page.check_csrf(csrf_token)
    form = {"runbook": runbook, "incident": incident, "params": params}
    incident_id = int(incident) if incident.isdigit() else None
    try:
        given = parse_params(params)
        body = schemas.RunIn.model_validate(
            {"params": given, "incident": incident_id, "dry_run": bool(dry_run)}
        )
        name = runbook.strip()
        if body.dry_run:
            with api.problems():
                found = service.require(page.ctx.session, name)
                preview = runs.preview(
                    name,
                    RunbookSpec.model_validate(found.spec),
                    body.params,
                    incident=body.incident,
                    approve_destructive=False,
                )
            return page.render(
                "runbooks/start.html", nav_key="runbooks", preview=preview, error="", form=form
            )
        with api.problems():
            service.require(page.ctx.session, name)  # 404 before the name's pattern
        made = api.start_run(name, body, page.ctx)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        error = _first(exc) if isinstance(exc, ValidationError) else str(exc)
        return _start_error(page, 422, error, form)
    except Problem as exc:
        return _start_error(page, exc.status, exc.detail or exc.title, form)
    assert isinstance(made, schemas.RunOut)
    return redirect(f"/runs/{made.id}?done=started")


def _first(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "form"
    return f"{where}: {str(first['msg']).removeprefix('Value error, ')}"


def _start_error(page: Page, status: int, error: str, form: dict[str, str]) -> HTMLResponse:
    return page.render(
        "runbooks/start.html",
        status=status,
        nav_key="runbooks",
        preview=None,
        error=error,
        form=form,
    )


# -- a run -------------------------------------------------------------------------------


def _run_page(page: Page, run_id: int, *, status: int = 200, error: str = "") -> HTMLResponse:
    try:
        run = api.get_run(run_id, page.ctx)
    except Problem:
        raise PageError(404, "No such run", f"There is no runbook run {run_id}.") from None
    context: dict[str, Any] = {
        "run": run,
        "level": level,
        "live": run.state in LIVE,
        "shown": OUTPUT_SHOWN,
        "error": error,
    }
    if page.htmx:
        return page.render("runbooks/_run_live.html", headers={"Vary": "HX-Request"}, **context)
    done = page.request.query_params.get("done", "")
    return page.render(
        "runbooks/run.html",
        status=status,
        headers={"Vary": "HX-Request"},
        nav_key="runbooks",
        done=DONE.get(done, ""),
        **context,
    )


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(run_id: RunId, page: PageDep) -> HTMLResponse:
    """A run: its parameters, steps, outputs, and what an operator may decide."""
    return _run_page(page, run_id)


def _decide(page: Page, run_id: int, csrf_token: str, call: Any, done: str) -> Response:
    page.require(Role.OPERATOR)
    page.check_csrf(csrf_token)
    try:
        call()
    except ValidationError as exc:
        return _run_page(page, run_id, status=422, error=_first(exc))
    except Problem as exc:
        if exc.status == 404:
            raise PageError(404, "No such run", exc.detail) from None
        return _run_page(page, run_id, status=exc.status, error=exc.detail or exc.title)
    return redirect(f"/runs/{run_id}?done={done}")


Comment = Annotated[str, Form(max_length=4000)]
StepField = Annotated[str, Form(max_length=100)]


@router.post("/runs/{run_id}/approve", response_class=HTMLResponse)
def approve(
    run_id: RunId,
    page: PageDep,
    csrf_token: CsrfField = "",
    step: StepField = "",
    comment: Comment = "",
) -> Response:
    """Approve what the run waits for (the step named, to be sure)."""

    def call() -> None:
        decision = schemas.DecisionIn.model_validate({"step": step or None, "comment": comment})
        api.approve_run(run_id, page.ctx, decision)

    return _decide(page, run_id, csrf_token, call, "approved")


@router.post("/runs/{run_id}/reject", response_class=HTMLResponse)
def reject(
    run_id: RunId,
    page: PageDep,
    csrf_token: CsrfField = "",
    step: StepField = "",
    comment: Comment = "",
) -> Response:
    """Reject what the run waits for: the step fails."""

    def call() -> None:
        decision = schemas.DecisionIn.model_validate({"step": step or None, "comment": comment})
        api.reject_run(run_id, page.ctx, decision)

    return _decide(page, run_id, csrf_token, call, "rejected")


@router.post("/runs/{run_id}/steps/{step}/complete", response_class=HTMLResponse)
def complete(
    run_id: RunId, step: str, page: PageDep, csrf_token: CsrfField = "", comment: Comment = ""
) -> Response:
    """Mark the manual step the run waits at as done."""
    if not re.match(STEP_ID_PATTERN, step):
        raise PageError(404, "No such step", f"{step[:60]!r} is not a step id.")

    def call() -> None:
        body = schemas.CompleteIn.model_validate({"comment": comment})
        api.complete_step(run_id, step, page.ctx, body)

    return _decide(page, run_id, csrf_token, call, "completed")


@router.post("/runs/{run_id}/cancel", response_class=HTMLResponse)
def cancel(run_id: RunId, page: PageDep, csrf_token: CsrfField = "") -> Response:
    """Cancel an active run (the page asks first)."""
    return _decide(page, run_id, csrf_token, lambda: api.cancel_run(run_id, page.ctx), "cancelled")
