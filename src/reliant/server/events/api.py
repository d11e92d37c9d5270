"""Routes of the event log: ingest, query, the live stream, and the retention setting."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from reliant.server.events import query, retention
from reliant.server.events.models import EventRow
from reliant.server.events.query import MAX_ID, EventFilter
from reliant.server.events.schemas import (
    MAX_BATCH,
    Accepted,
    EventBatch,
    EventIn,
    EventOut,
    EventPage,
    RetentionIn,
    RetentionOut,
)
from reliant.server.events.service import Severity, append_many
from reliant.server.events.stream import events
from reliant.server.http import (
    Admin,
    Ctx,
    Ingest,
    Problem,
    Viewer,
    decode_cursor,
    encode_cursor,
    inline_schema,
    not_found,
)
from reliant.server.settings import Settings
from reliant.server.streams import closing_of

router = APIRouter(prefix="/api/v1", tags=["events"])

#: Largest page the list endpoint returns.
MAX_PAGE = 500
_INGEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"anyOf": [inline_schema(EventIn), inline_schema(EventBatch)]}
            }
        },
    }
}


def event_filter(
    request: Request,
    service: Annotated[list[str], Query(description="any of these services")] = [],  # noqa: B006
    kind: Annotated[
        list[str], Query(description="any of these kinds, exact or a prefix glob: breaker.*")
    ] = [],  # noqa: B006
    severity: Annotated[Severity | None, Query(description="this severity or higher")] = None,
    since: Annotated[
        str | None, Query(description="epoch seconds, RFC 3339 or a duration ago (1h)")
    ] = None,
    until: Annotated[str | None, Query(description="as since; exclusive")] = None,
) -> EventFilter:
    """The filters shared by the list and the stream.

    Raises:
        Problem: 422 naming the parameter that is wrong.
    """
    settings: Settings = request.app.state.settings
    now = settings.now()
    times: dict[str, float | None] = {}
    for name, value in (("since", since), ("until", until)):
        try:
            times[name] = None if value is None else query.parse_time(value, now)
        except ValueError as exc:
            raise Problem(422, "Invalid Request", f"query.{name}: {exc}") from None
    try:
        return EventFilter(
            services=tuple(service),
            kinds=tuple(kind),
            severity=severity,
            since=times["since"],
            until=times["until"],
        )
    except ValueError as exc:
        raise Problem(422, "Invalid Request", f"query.{exc}") from None


Filter = Annotated[EventFilter, Depends(event_filter)]


def _json_media(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` (absent counts) is JSON: ``application/json`` or ``+json``."""
    if not content_type:
        return True
    main, _, sub = content_type.split(";")[0].strip().lower().partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def read_events(raw: bytes) -> list[EventIn]:
    """The events of a raw ingest body: one event, or ``{"events": [...]}``.

    A valid batch is parsed and validated in one pass; anything else is parsed again by
    :func:`parse_events`, which says precisely what is wrong.

    Raises:
        Problem: 422 when the body is not JSON, not an object, or holds a bad event.
    """
    try:
        return EventBatch.model_validate_json(raw).events
    except ValidationError:
        pass
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise Problem(422, "Invalid Request", f"body: the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise Problem(
            422, "Invalid Request", 'body: send one event (a JSON object) or {"events": [...]}'
        )
    return parse_events(body)


def parse_events(body: dict[str, Any]) -> list[EventIn]:
    """The events of an ingest body: one event, or ``{"events": [...]}``.

    Raises:
        Problem: 422 naming the index and field of the first bad event.
    """
    if "events" not in body:
        items, where = [body], "body"
    else:
        unknown = sorted(set(body) - {"events"})
        if unknown:
            raise Problem(422, "Invalid Event", f"body.{unknown[0]}: a batch holds only 'events'")
        items = body["events"]
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
            raise Problem(
                422,
                "Invalid Event",
                f"body.events: give a list of 1 to {MAX_BATCH} events (split larger batches)",
            )
        where = "events"
    parsed = []
    for index, item in enumerate(items):
        prefix = where if where == "body" else f"events[{index}]"
        if not isinstance(item, dict):
            raise Problem(422, "Invalid Event", f"{prefix}: an event is a JSON object", index=index)
        try:
            parsed.append(EventIn.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            message = first["msg"].removeprefix("Value error, ")
            raise Problem(
                422,
                "Invalid Event",
                f"{prefix}.{field}: {message}",
                index=index,
                field=field,
                errors=[
                    {
                        "loc": ["body", *([] if where == "body" else ["events", index]), *e["loc"]],
                        "msg": e["msg"],
                        "type": e["type"],
                    }
                    for e in exc.errors()
                ],
            ) from None
    return parsed


@router.post("/events", status_code=202, openapi_extra=_INGEST_BODY, response_model=Accepted)
async def ingest(request: Request, ctx: Ingest) -> Accepted:
    """Append one event or a batch, all or nothing. An ingest token bound to a service
    writes only that service's events (events without a service get it)."""
    if not _json_media(request.headers.get("content-type")):
        raise Problem(422, "Invalid Request", "body: send the events as application/json")
    raw = await request.body()
    return await run_in_threadpool(_append, raw, ctx)


def _append(raw: bytes, ctx: Ctx) -> Accepted:
    events = read_events(raw)
    bound = ctx.principal.service
    if bound is not None:
        for index, event in enumerate(events):
            if event.service is not None and event.service != bound:
                raise Problem(
                    403,
                    "Forbidden",
                    f"events[{index}].service is {event.service!r}, but this token writes "
                    f"only {bound!r}'s events",
                    index=index,
                )
    ids = append_many(ctx.session, events, now=ctx.now, source=ctx.principal.name, service=bound)
    return Accepted(ids=ids)


@router.get("/events")
def list_events(
    ctx: Viewer,
    flt: Filter,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
) -> EventPage:
    """Events matching the filters, newest first."""
    before = _cursor_id(cursor) if cursor else None
    rows, more = query.page(ctx.session, flt, limit=limit, before=before)
    items = [EventOut(**query.as_dict(r)) for r in rows]
    return EventPage(items=items, next=encode_cursor({"before": rows[-1].id}) if more else None)


def _cursor_id(cursor: str) -> int:
    before = decode_cursor(cursor).get("before")
    if isinstance(before, bool) or not isinstance(before, int) or not 0 <= before <= MAX_ID:
        raise Problem(400, "Bad Request", "the cursor is malformed: pass back `next` unchanged")
    return before


@router.get(
    "/events/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "the live stream"}},
)
async def stream_events(
    request: Request,
    ctx: Viewer,
    flt: Filter,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="send the events after this id first")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Server-Sent Events: the events after ``Last-Event-ID`` (or ``after``), then live ones;
    from now on when neither is given."""
    if last_event_id is not None:
        after = _last_event_id(last_event_id)
    body = events(
        request,
        flt,
        after=after,
        sessions=request.app.state.sessions,
        server_now=ctx.settings.now,
        closing=closing_of(request.app),
    )
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)


def _last_event_id(value: str) -> int:
    text = value.strip()
    if not text.isdigit() or int(text) > MAX_ID:
        raise Problem(
            422, "Invalid Request", "header.Last-Event-ID: send back the id of the last event seen"
        )
    return int(text)


@router.get("/events/{event_id}")
def get_event(ctx: Viewer, event_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> EventOut:
    """One event by id."""
    row = ctx.session.get(EventRow, event_id)
    if row is None:
        raise not_found("event", str(event_id))
    return EventOut(**query.as_dict(row))


@router.get("/settings/event-retention")
def get_retention(ctx: Admin) -> RetentionOut:
    """How long events are kept."""
    return RetentionOut(**_retention(ctx).as_dict())


@router.put("/settings/event-retention")
def put_retention(body: RetentionIn, ctx: Admin) -> RetentionOut:
    """Change how long events are kept; every replica's next prune run uses it."""
    before, after = retention.set_retention(
        ctx.session,
        body.seconds,
        default=ctx.settings.event_retention,
        now=ctx.now,
        actor=ctx.principal.name,
    )
    ctx.audit(
        "settings.update",
        "setting",
        retention.RETENTION_KEY,
        before=before.as_dict(),
        after=after.as_dict(),
    )
    ctx.event(
        "settings.changed",
        attributes={
            "setting": retention.RETENTION_KEY,
            "old": before.seconds,
            "new": after.seconds,
        },
    )
    return RetentionOut(**after.as_dict())


def _retention(ctx: Ctx) -> retention.Retention:
    return retention.retention(ctx.session, ctx.settings.event_retention)
