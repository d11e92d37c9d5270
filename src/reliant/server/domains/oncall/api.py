"""Routes of on-call: ``/api/v1/oncall/...`` schedules, overrides, shifts, policies, pages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from reliant.server.domains.oncall import paging, schemas, service
from reliant.server.http import Operator, Problem, Viewer, decode_cursor, encode_cursor
from reliant.spec.models import NAME_HINT, NAME_PATTERN, EscalationPolicySpec, ScheduleSpec

router = APIRouter(prefix="/api/v1", tags=["oncall"])

#: Largest page any list endpoint returns.
MAX_PAGE = 500
#: Page size when ``limit`` is not given.
DEFAULT_PAGE = 100
#: Shifts listed when ``until`` is not given, in seconds after ``since``.
DEFAULT_SHIFTS = 7 * 86400.0

Name = Annotated[
    str, Path(pattern=NAME_PATTERN, max_length=100, description=f"the name: {NAME_HINT}")
]
PageId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the page's id")]
OverrideId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the override's id")]
Time = Annotated[float | None, Query(ge=0, le=schemas.MAX_TIME, allow_inf_nan=False)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]


@contextmanager
def problems() -> Iterator[None]:
    """Answer the domain's errors as problem documents."""
    try:
        yield
    except service.OnCallError as exc:
        raise Problem(exc.status, exc.title, str(exc)) from None


def _bad_cursor() -> Problem:
    return Problem(400, "Bad Request", "the cursor is malformed: pass back `next` unchanged")


def _after_name(cursor: str | None) -> str | None:
    if not cursor:
        return None
    after = decode_cursor(cursor).get("after")
    if not isinstance(after, str) or "\x00" in after:
        raise _bad_cursor()
    return after


def _after_id(cursor: str | None) -> int | None:
    if not cursor:
        return None
    after = decode_cursor(cursor).get("id")
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**63:
        raise _bad_cursor()
    return after


# -- on call now and shifts --------------------------------------------------------------


@router.get("/oncall/now")
def on_call_now(ctx: Viewer) -> schemas.NowOut:
    """Every schedule: who is on call now, until when, and the next shift."""
    found = service.outlooks(ctx.session, ctx.now)
    return schemas.NowOut(
        at=ctx.now,
        schedules=[
            schemas.OnCallOut(
                schedule=record.name,
                timezone=record.spec.timezone,
                on_call=schemas.shift_out(outlook.current),
                until=outlook.until,
                next=schemas.shift_out(outlook.next),
            )
            for record, outlook in found
        ],
    )


@router.get("/oncall/schedules/{name}/shifts")
def list_shifts(
    name: Name, ctx: Viewer, since: Time = None, until: Time = None
) -> schemas.ShiftsOut:
    """Who is on call in ``[since, until)`` (default: the next 7 days; at most 92 days)."""
    start = ctx.now if since is None else since
    end = start + DEFAULT_SHIFTS if until is None else until
    with problems():
        record = service.require_schedule(ctx.session, name)
        found = service.shifts(ctx.session, name, start, end)
    return schemas.ShiftsOut(
        schedule=name,
        timezone=record.spec.timezone,
        since=start,
        until=end,
        shifts=[s for s in map(schemas.shift_out, found) if s is not None],
    )


# -- schedules ---------------------------------------------------------------------------


@router.get("/oncall/schedules")
def list_schedules(
    ctx: Viewer, limit: Limit = DEFAULT_PAGE, cursor: str | None = None
) -> schemas.SchedulePage:
    """Schedules sorted by name."""
    records = service.schedules(ctx.session, limit=limit + 1, after=_after_name(cursor))
    more = len(records) > limit
    records = records[:limit]
    return schemas.SchedulePage(
        items=[
            schemas.schedule_out(r, service.schedule_warnings(ctx.session, r.spec)) for r in records
        ],
        next=encode_cursor({"after": records[-1].name}) if more else None,
    )


@router.get("/oncall/schedules/{name}")
def get_schedule(name: Name, ctx: Viewer) -> schemas.ScheduleOut:
    """One schedule."""
    with problems():
        record = service.require_schedule(ctx.session, name)
    return schemas.schedule_out(record, service.schedule_warnings(ctx.session, record.spec))


@router.put(
    "/oncall/schedules/{name}",
    responses={201: {"model": schemas.ScheduleOut, "description": "Created"}},
)
def put_schedule(
    name: Name, body: ScheduleSpec, ctx: Operator, response: Response
) -> schemas.ScheduleOut:
    """Create (201) or replace (200) a schedule; its overrides stay."""
    with problems():
        record, created = service.put_schedule(ctx, name, body)
    if created:
        response.status_code = 201
    return schemas.schedule_out(record, service.schedule_warnings(ctx.session, record.spec))


@router.delete("/oncall/schedules/{name}", status_code=204)
def delete_schedule(name: Name, ctx: Operator) -> Response:
    """Delete a schedule and its overrides (409 while a policy pages through it)."""
    with problems():
        service.delete_schedule(ctx, name)
    return Response(status_code=204)


# -- overrides ---------------------------------------------------------------------------


@router.get("/oncall/schedules/{name}/overrides")
def list_overrides(
    name: Name,
    ctx: Viewer,
    ending_after: Time = None,
    limit: Limit = DEFAULT_PAGE,
    cursor: str | None = None,
) -> schemas.OverridePage:
    """A schedule's overrides that end after ``ending_after`` (default now), oldest first."""
    with problems():
        service.require_schedule(ctx.session, name)
    rows = service.overrides(
        ctx.session,
        name,
        ending_after=ctx.now if ending_after is None else ending_after,
        limit=limit + 1,
        after_id=_after_id(cursor),
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return schemas.OverridePage(
        items=[schemas.override_out(r) for r in rows],
        next=encode_cursor({"id": rows[-1].id}) if more else None,
    )


@router.post("/oncall/schedules/{name}/overrides", status_code=201)
def create_override(name: Name, body: schemas.OverrideIn, ctx: Operator) -> schemas.OverrideCreated:
    """Put a member on call from ``starts_at`` (default now) until ``ends_at``; overrides
    win over every rotation. The answer warns when the member is not a receiver."""
    start = ctx.now if body.starts_at is None else body.starts_at
    with problems():
        row, warnings = service.add_override(
            ctx, name, member=body.member, starts_at=start, ends_at=body.ends_at
        )
    return schemas.OverrideCreated(**schemas.override_out(row).model_dump(), warnings=warnings)


@router.delete("/oncall/schedules/{name}/overrides/{override_id}", status_code=204)
def delete_override(name: Name, override_id: OverrideId, ctx: Operator) -> Response:
    """Delete an override."""
    with problems():
        service.delete_override(ctx, name, override_id)
    return Response(status_code=204)


# -- escalation policies -----------------------------------------------------------------


@router.get("/oncall/policies")
def list_policies(
    ctx: Viewer, limit: Limit = DEFAULT_PAGE, cursor: str | None = None
) -> schemas.PolicyPage:
    """Escalation policies sorted by name."""
    records = service.policies(ctx.session, limit=limit + 1, after=_after_name(cursor))
    more = len(records) > limit
    records = records[:limit]
    return schemas.PolicyPage(
        items=[
            schemas.policy_out(r, service.policy_warnings(ctx.session, r.spec)) for r in records
        ],
        next=encode_cursor({"after": records[-1].name}) if more else None,
    )


@router.get("/oncall/policies/{name}")
def get_policy(name: Name, ctx: Viewer) -> schemas.PolicyOut:
    """One escalation policy."""
    with problems():
        record = service.require_policy(ctx.session, name)
    return schemas.policy_out(record, service.policy_warnings(ctx.session, record.spec))


@router.put(
    "/oncall/policies/{name}",
    responses={201: {"model": schemas.PolicyOut, "description": "Created"}},
)
def put_policy(
    name: Name, body: EscalationPolicySpec, ctx: Operator, response: Response
) -> schemas.PolicyOut:
    """Create (201) or replace (200) an escalation policy. An alert route whose receiver is
    the policy's name pages through it. Unknown schedules are refused (422); unknown
    receivers are accepted and listed in ``warnings``."""
    with problems():
        record, created, warnings = service.put_policy(ctx, name, body)
    if created:
        response.status_code = 201
    return schemas.policy_out(record, warnings)


@router.delete("/oncall/policies/{name}", status_code=204)
def delete_policy(name: Name, ctx: Operator) -> Response:
    """Delete an escalation policy; its open pages stop escalating."""
    with problems():
        service.delete_policy(ctx, name)
    return Response(status_code=204)


# -- pages -------------------------------------------------------------------------------


@router.get("/oncall/pages")
def list_pages(
    ctx: Viewer,
    state: Annotated[
        list[schemas.PageState], Query(max_length=3, description="repeat for several")
    ] = [],  # noqa: B006
    limit: Limit = DEFAULT_PAGE,
    cursor: str | None = None,
) -> schemas.PagePage:
    """Pages, newest first, of some states or all."""
    before = _after_id(cursor)
    rows, last = paging.pages(ctx.session, states=list(state), limit=limit, before=before)
    return schemas.PagePage(
        items=[schemas.page_out(r) for r in rows],
        next=encode_cursor({"id": last}) if last is not None else None,
    )


@router.get("/oncall/pages/{page_id}")
def get_page(page_id: PageId, ctx: Viewer) -> schemas.PageOut:
    """One page."""
    row = paging.get(ctx.session, page_id)
    if row is None:
        raise Problem(404, "Not Found", f"no page {page_id}")
    return schemas.page_out(row)


@router.post("/oncall/pages/{page_id}/acknowledge")
def acknowledge_page(page_id: PageId, ctx: Operator) -> schemas.PageOut:
    """Acknowledge a page: escalation stops and its notified receivers hear it.
    Acknowledging it again changes nothing; a resolved page answers 409."""
    with problems():
        row, _ = paging.acknowledge(
            ctx.session,
            page_id,
            by=ctx.principal.name,
            now=ctx.now,
            public_url=ctx.settings.public_url,
        )
    return schemas.page_out(row)


@router.post("/oncall/pages/{page_id}/resolve")
def resolve_page(page_id: PageId, ctx: Operator) -> schemas.PageOut:
    """Resolve a page: escalation stops and its notified receivers hear it. Resolving it
    again changes nothing."""
    with problems():
        row, _ = paging.resolve(
            ctx.session,
            page_id,
            by=ctx.principal.name,
            now=ctx.now,
            public_url=ctx.settings.public_url,
        )
    return schemas.page_out(row)
