"""Routes of runbooks: ``/api/v1/runbooks``, runs at ``/api/v1/runbook-runs``, decisions,
and the kill switch at ``/api/v1/settings/runbooks``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response
from fastapi.responses import JSONResponse

from reliant.server.db.text import unstorable
from reliant.server.domains.runbooks import progress, runs, schemas, service
from reliant.server.domains.runbooks.models import RunRow
from reliant.server.http import Admin, Ctx, Operator, Problem, Viewer, decode_cursor, encode_cursor
from reliant.spec.models import NAME_HINT, NAME_PATTERN, STEP_ID_PATTERN, RunbookSpec

router = APIRouter(prefix="/api/v1", tags=["runbooks"])

#: Largest page a list endpoint returns.
MAX_PAGE = 500
DEFAULT_PAGE = 100

RunbookName = Annotated[
    str, Path(pattern=NAME_PATTERN, max_length=100, description=f"the runbook's name: {NAME_HINT}")
]
RunId = Annotated[int, Path(ge=1, le=schemas.MAX_ID, description="the run's id")]
StepId = Annotated[str, Path(pattern=STEP_ID_PATTERN, description="the step's id")]


@contextmanager
def problems() -> Iterator[None]:
    """Answer the domain's errors as problem documents (422s locate each problem)."""
    try:
        yield
    except service.Invalid as exc:
        errors = [{"loc": ["body", *loc], "msg": msg} for loc, msg in exc.problems]
        raise Problem(exc.status, exc.title, str(exc), errors=errors) from None
    except service.RunbookError as exc:
        raise Problem(exc.status, exc.title, str(exc)) from None


def _paused(ctx: Ctx) -> bool:
    return not service.automation(ctx.session)["enabled"]


@router.get("/runbooks")
def list_runbooks(
    ctx: Viewer,
    service_name: Annotated[
        str | None, Query(alias="service", pattern=NAME_PATTERN, max_length=100)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: str | None = None,
) -> schemas.RunbookPage:
    """Runbooks by name, of one service or all."""
    after = None
    if cursor:
        after = decode_cursor(cursor).get("after")
        if not isinstance(after, str) or unstorable(after):
            raise Problem(400, "Bad Request", "the cursor is malformed: pass back `next` unchanged")
    rows, last = service.page(ctx.session, service=service_name, limit=limit, after=after)
    return schemas.RunbookPage(
        items=[schemas.runbook_out(r) for r in rows],
        next=encode_cursor({"after": last}) if last else None,
    )


@router.get("/runbooks/{name}")
def get_runbook(name: RunbookName, ctx: Viewer) -> schemas.RunbookOut:
    """One runbook."""
    with problems():
        return schemas.runbook_out(service.require(ctx.session, name))


@router.put(
    "/runbooks/{name}", responses={201: {"model": schemas.RunbookOut, "description": "Created"}}
)
def put_runbook(
    name: RunbookName, body: RunbookSpec, ctx: Operator, response: Response
) -> schemas.RunbookOut:
    """Create (201) or replace (200) a runbook; shell steps' executables must be on the
    server's allow-list (``RELIANT_RUNBOOK_EXECUTABLES``)."""
    with problems():
        row, created, _ = service.put(ctx, name, body)
    if created:
        response.status_code = 201
    return schemas.runbook_out(row)


@router.delete("/runbooks/{name}", status_code=204)
def delete_runbook(name: RunbookName, ctx: Operator) -> Response:
    """Delete a runbook; its runs, active ones included, keep their copy of it."""
    with problems():
        service.delete(ctx, name)
    return Response(status_code=204)


@router.post(
    "/runbooks/{name}/runs",
    status_code=201,
    response_model=schemas.RunOut,
    responses={200: {"model": schemas.DryRunOut, "description": "a dry run: nothing ran"}},
)
def start_run(name: RunbookName, body: schemas.RunIn, ctx: Operator) -> schemas.RunOut | Response:
    """Start a run (201); its steps run from the next tick of ``runbooks.execute``. With
    ``dry_run``, answer every step rendered (secrets masked) and run nothing (200)."""
    if unstorable(body.params):
        raise Problem(422, "Invalid Request", "params: text may not hold NUL characters")
    with problems():
        runbook = service.require(ctx.session, name)
        if body.dry_run:
            preview = runs.preview(
                name,
                RunbookSpec.model_validate(runbook.spec),
                body.params,
                incident=body.incident,
                approve_destructive=body.approve_destructive,
            )
            return JSONResponse(schemas.DryRunOut.model_validate(preview).model_dump(mode="json"))
        run = runs.start(
            ctx.session,
            runbook,
            body.params,
            now=ctx.now,
            actor=ctx.principal.name,
            incident=body.incident,
            approve_destructive=body.approve_destructive,
        )
    return _run_out(ctx, run)


def _run_out(ctx: Ctx, run: RunRow) -> schemas.RunOut:
    return schemas.run_out(run, progress.steps_of(ctx.session, run.id), paused=_paused(ctx))


@router.get("/runbook-runs")
def list_runs(
    ctx: Viewer,
    runbook: Annotated[str | None, Query(pattern=NAME_PATTERN, max_length=100)] = None,
    state: Annotated[list[schemas.RunState] | None, Query()] = None,
    incident: Annotated[int | None, Query(ge=1, le=schemas.MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: str | None = None,
) -> schemas.RunPage:
    """Runs, newest first: of one runbook, in some states (``state`` may repeat), of one
    incident, or all."""
    before = None
    if cursor:
        before = decode_cursor(cursor).get("before")
        if not isinstance(before, int) or isinstance(before, bool) or before < 1:
            raise Problem(400, "Bad Request", "the cursor is malformed: pass back `next` unchanged")
    rows, more = runs.runs(
        ctx.session,
        runbook=runbook,
        states=list(state) if state else None,
        incident=incident,
        limit=limit,
        before=before,
    )
    paused = _paused(ctx)
    return schemas.RunPage(
        items=[schemas.run_summary(r, paused=paused) for r in rows],
        next=encode_cursor({"before": rows[-1].id}) if more and rows else None,
    )


@router.get("/runbook-runs/{run_id}")
def get_run(run_id: RunId, ctx: Viewer) -> schemas.RunOut:
    """One run: its steps (rendered, secrets masked), states, times, outputs and errors."""
    with problems():
        run = runs.get_run(ctx.session, run_id)
    return _run_out(ctx, run)


@router.post("/runbook-runs/{run_id}/cancel")
def cancel_run(run_id: RunId, ctx: Operator) -> schemas.RunOut:
    """Cancel an active run: no further step starts; a running command is killed."""
    with problems():
        run = runs.cancel(ctx.session, run_id, actor=ctx.principal.name, now=ctx.now)
    return _run_out(ctx, run)


Decision = Annotated[schemas.DecisionIn | None, Body()]


@router.post("/runbook-runs/{run_id}/approve")
def approve_run(run_id: RunId, ctx: Operator, body: Decision = None) -> schemas.RunOut:
    """Approve what the run waits for: an approval step, or a destructive step's gate."""
    decision = body or schemas.DecisionIn()
    with problems():
        run = runs.approve(
            ctx.session,
            run_id,
            step_id=decision.step,
            comment=decision.comment,
            actor=ctx.principal.name,
            now=ctx.now,
        )
    return _run_out(ctx, run)


@router.post("/runbook-runs/{run_id}/reject")
def reject_run(run_id: RunId, ctx: Operator, body: Decision = None) -> schemas.RunOut:
    """Reject what the run waits for: the step fails and its ``on_failure`` applies."""
    decision = body or schemas.DecisionIn()
    with problems():
        run = runs.reject(
            ctx.session,
            run_id,
            step_id=decision.step,
            comment=decision.comment,
            actor=ctx.principal.name,
            now=ctx.now,
        )
    return _run_out(ctx, run)


@router.post("/runbook-runs/{run_id}/steps/{step}/complete")
def complete_step(
    run_id: RunId,
    step: StepId,
    ctx: Operator,
    body: Annotated[schemas.CompleteIn | None, Body()] = None,
) -> schemas.RunOut:
    """Mark the manual step the run waits at as done."""
    with problems():
        run = runs.complete(
            ctx.session,
            run_id,
            step,
            comment=(body or schemas.CompleteIn()).comment,
            actor=ctx.principal.name,
            now=ctx.now,
        )
    return _run_out(ctx, run)


@router.get("/settings/runbooks")
def get_automation(ctx: Admin) -> schemas.AutomationOut:
    """The kill switch: whether alerts start runs and runs start new steps."""
    return schemas.AutomationOut.model_validate(service.automation(ctx.session))


@router.put("/settings/runbooks")
def put_automation(body: schemas.AutomationIn, ctx: Admin) -> schemas.AutomationOut:
    """Switch automatic runs and new steps of running runs off (``false``) or on again."""
    before, after = service.set_automation(
        ctx.session, body.enabled, now=ctx.now, actor=ctx.principal.name
    )
    if before["enabled"] != after["enabled"]:
        ctx.audit("settings.update", "setting", service.AUTOMATION_KEY, before=before, after=after)
    return schemas.AutomationOut.model_validate(after)
