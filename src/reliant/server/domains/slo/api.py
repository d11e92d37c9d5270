"""Routes of SLOs: ``/api/v1/slos``, one SLO, its status and its history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from reliant.server.domains.slo import history, schemas, service
from reliant.server.http import Operator, Problem, Viewer, decode_cursor, encode_cursor
from reliant.spec.models import NAME_HINT, NAME_PATTERN, SLOSpec
from reliant.spec.slo_plan import PROMQL_REASON

router = APIRouter(prefix="/api/v1", tags=["slos"])

#: Largest page the list endpoint returns.
MAX_PAGE = 500
#: Page size when ``limit`` is not given.
DEFAULT_PAGE = 100
#: History range when ``since`` is not given.
DEFAULT_HISTORY = 86400.0
#: Latest time a query may name (year 5138), as the telemetry routes.
MAX_TIME = 1e11

SLOName = Annotated[
    str, Path(pattern=NAME_PATTERN, max_length=100, description=f"the SLO's name: {NAME_HINT}")
]
Time = Annotated[float | None, Query(ge=0, le=MAX_TIME, allow_inf_nan=False)]


@contextmanager
def problems() -> Iterator[None]:
    """Answer the domain's errors as problem documents."""
    try:
        yield
    except service.SLOError as exc:
        raise Problem(exc.status, exc.title, str(exc)) from None


@router.get("/slos")
def list_slos(
    ctx: Viewer,
    service_name: Annotated[
        str | None, Query(alias="service", pattern=NAME_PATTERN, max_length=100)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: str | None = None,
) -> schemas.SLOPage:
    """SLOs sorted by name, of one service or all, with their latest evaluation in brief."""
    after = None
    if cursor:
        after = decode_cursor(cursor).get("after")
        if not isinstance(after, str) or "\x00" in after:
            raise Problem(400, "Bad Request", "the cursor is malformed: pass back `next` unchanged")
    records = service.page(ctx.session, limit=limit + 1, after=after, service=service_name)
    more = len(records) > limit
    records = records[:limit]
    found = service.snapshots_of(ctx.session, [r.name for r in records])
    return schemas.SLOPage(
        items=[schemas.slo_out(r, service.warnings(r), found.get(r.name)) for r in records],
        next=encode_cursor({"after": records[-1].name}) if more else None,
    )


@router.get("/slos/{name}")
def get_slo(name: SLOName, ctx: Viewer) -> schemas.SLOOut:
    """One SLO, its warnings and its latest evaluation in brief."""
    with problems():
        record = service.require(ctx.session, name)
    found = service.snapshots_of(ctx.session, [name]).get(name)
    return schemas.slo_out(record, service.warnings(record), found)


@router.put("/slos/{name}", responses={201: {"model": schemas.SLOOut, "description": "Created"}})
def put_slo(name: SLOName, body: SLOSpec, ctx: Operator, response: Response) -> schemas.SLOOut:
    """Create (201) or replace (200) an SLO; the answer lists warnings about its spec."""
    with problems():
        record, created, _ = service.put(ctx, name, body)
    if created:
        response.status_code = 201
    found = service.snapshots_of(ctx.session, [name]).get(name)
    return schemas.slo_out(record, service.warnings(record), found)


@router.delete("/slos/{name}", status_code=204)
def delete_slo(name: SLOName, ctx: Operator) -> Response:
    """Delete an SLO (its firing alerts are resolved)."""
    with problems():
        service.delete(ctx, name)
    return Response(status_code=204)


@router.get("/slos/{name}/status")
def get_status(name: SLOName, ctx: Viewer) -> schemas.StatusOut:
    """Budget, burn rate per alert window and threshold, forecast, warnings, explanation."""
    with problems():
        found = service.status(ctx.session, name, ctx.now)
    return schemas.status_out(found)


@router.get("/slos/{name}/history")
def get_history(
    name: SLOName,
    ctx: Viewer,
    since: Time = None,
    until: Time = None,
    step: Annotated[
        int | None, Query(ge=10, le=86400 * 31, description="seconds, a multiple of 10")
    ] = None,
) -> schemas.HistoryOut:
    """Budget remaining and burn rates per window over time (default: the last day)."""
    end = ctx.now if until is None else until
    start = end - DEFAULT_HISTORY if since is None else since
    width = step if step is not None else history.default_step(start, end)
    with problems():
        try:
            found = service.series(ctx.session, name, since=start, until=end, step=width)
        except ValueError as exc:
            raise Problem(422, "Invalid Request", f"query: {exc}") from None
    if found is None:
        return schemas.HistoryOut(
            name=name,
            evaluated=False,
            reason=PROMQL_REASON,
            since=start,
            until=end,
            step=width,
            windows=[],
            points=[],
        )
    return schemas.HistoryOut.model_validate({**found, "evaluated": True, "reason": None})
