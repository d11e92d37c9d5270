"""Routes of an incident's timeline: entries (paginated, pinned filter), manual entries,
pins, and the live stream (included by ``api.py`` under ``/api/v1``)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from reliant.server.domains.incidents import notes, schemas, stream, timeline
from reliant.server.domains.incidents.recording import Acting, IncidentError, require
from reliant.server.http import Ctx, Operator, Problem, Viewer, decode_cursor, encode_cursor
from reliant.server.streams import closing_of

router = APIRouter(tags=["incidents"])

#: Largest page of entries.
MAX_PAGE = 500
IncidentId = Annotated[int, Path(ge=1, le=schemas.MAX_ID, description="the incident's number")]
EntryKey = Annotated[
    str,
    Path(pattern=r"^(event|note):[1-9][0-9]{0,17}$", description="event:<id> or note:<id>"),
]


def _problem(exc: IncidentError) -> Problem:
    return Problem(exc.status, exc.title, str(exc), **exc.extra)


def _cursor(cursor: str) -> tuple[float, int]:
    position = decode_cursor(cursor)
    time, event_id = position.get("t"), position.get("i")
    if (
        isinstance(time, int | float)
        and not isinstance(time, bool)
        and math.isfinite(time)
        and isinstance(event_id, int)
        and not isinstance(event_id, bool)
        and 0 <= event_id <= schemas.MAX_ID
    ):
        return float(time), event_id
    raise Problem(400, "Bad Request", "the cursor is malformed: pass back `next` unchanged")


@router.get("/incidents/{incident_id}/timeline")
def get_timeline(
    incident_id: IncidentId,
    ctx: Viewer,
    pinned: Annotated[bool | None, Query(description="only pinned (true) or unpinned")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
) -> schemas.TimelinePage:
    """The incident's timeline, oldest first: its own events, its alerts' events, manual
    entries, and its services' alert, breaker, config, SLO, deploy and runbook events from
    30 minutes before it was declared until it was closed."""
    after = _cursor(cursor) if cursor else None
    try:
        row = require(ctx.session, incident_id)
    except IncidentError as exc:
        raise _problem(exc) from None
    entries, position = timeline.page(
        ctx.session, row, now=ctx.now, limit=limit, after=after, pinned=pinned
    )
    return schemas.TimelinePage(
        items=[schemas.EntryOut.model_validate(e) for e in entries],
        next=None if position is None else encode_cursor({"t": position[0], "i": position[1]}),
    )


@router.post("/incidents/{incident_id}/timeline", status_code=201)
def post_note(incident_id: IncidentId, body: schemas.NoteIn, ctx: Operator) -> schemas.EntryOut:
    """Add a manual entry (``by`` defaults to the caller, ``at`` to now)."""
    try:
        found = notes.add_note(
            Acting(ctx.session, ctx.now, ctx.principal.name),
            incident_id,
            body.text,
            by=body.by,
            at=body.at,
        )
    except IncidentError as exc:
        raise _problem(exc) from None
    return schemas.EntryOut.model_validate(found)


def _pin(ctx: Ctx, incident_id: int, key: str, pinned: bool) -> schemas.PinOut:
    try:
        found = notes.pin(
            Acting(ctx.session, ctx.now, ctx.principal.name), incident_id, key, pinned
        )
    except IncidentError as exc:
        raise _problem(exc) from None
    return schemas.PinOut.model_validate(found)


@router.put("/incidents/{incident_id}/timeline/{key}/pin")
def pin_entry(incident_id: IncidentId, key: EntryKey, ctx: Operator) -> schemas.PinOut:
    """Pin a timeline entry (``event:<id>`` or ``note:<id>``)."""
    return _pin(ctx, incident_id, key, True)


@router.delete("/incidents/{incident_id}/timeline/{key}/pin")
def unpin_entry(incident_id: IncidentId, key: EntryKey, ctx: Operator) -> schemas.PinOut:
    """Unpin a timeline entry."""
    return _pin(ctx, incident_id, key, False)


def _start(ctx: Ctx, incident_id: int, after: int | None) -> tuple[float, int]:
    try:
        row = require(ctx.session, incident_id)
    except IncidentError as exc:
        raise _problem(exc) from None
    position = timeline.first_position(ctx.session, row) if after is None else after
    return timeline.start_of(row), position


@router.get(
    "/incidents/{incident_id}/timeline/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "the live timeline"}},
)
async def stream_timeline(
    request: Request,
    incident_id: IncidentId,
    ctx: Viewer,
    after: Annotated[
        int | None,
        Query(ge=0, le=schemas.MAX_ID, description="send the entries after this event id first"),
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Server-Sent Events (event name ``entry``, id the event id): the timeline's entries
    from its start (or after ``after`` / ``Last-Event-ID``) in log order, then live ones."""
    if last_event_id is not None:
        text = last_event_id.strip()
        if not text.isdigit() or int(text) > schemas.MAX_ID:
            raise Problem(
                422, "Invalid Request", "header.Last-Event-ID: send back the id of the last entry"
            )
        after = int(text)
    start, position = await run_in_threadpool(_start, ctx, incident_id, after)
    body = stream.entries(
        request,
        incident_id,
        start=start,
        after=position,
        sessions=request.app.state.sessions,
        server_now=ctx.settings.now,
        closing=closing_of(request.app),
    )
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)
