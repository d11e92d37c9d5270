"""Routes of config: a service's document (ETag, SSE stream), overrides and policies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from reliant.server.db import transaction
from reliant.server.domains.config import service as use_cases
from reliant.server.domains.config.models import OverrideRow, PolicyRow
from reliant.server.domains.config.schemas import (
    OBJECT_NAME_PATTERN,
    BreakerOverrideIn,
    ConfigDocument,
    FaultOverrideIn,
    LimiterOverrideIn,
    OverrideOut,
    OverridesOut,
    PolicyOut,
    PolicyPage,
)
from reliant.server.domains.config.stream import config_events, parse_last_event_id
from reliant.server.http import (
    Ctx,
    Ingest,
    Operator,
    Problem,
    Viewer,
    decode_cursor,
    encode_cursor,
    not_found,
)
from reliant.server.streams import closing_of
from reliant.spec.models import NAME_PATTERN, PolicySpec

router = APIRouter(prefix="/api/v1", tags=["config"])

#: Largest page any list endpoint returns.
MAX_PAGE = 500

ServiceName = Annotated[str, Path(pattern=NAME_PATTERN, max_length=100)]
ObjectName = Annotated[str, Path(pattern=OBJECT_NAME_PATTERN)]
PolicyName = Annotated[str, Path(pattern=NAME_PATTERN, max_length=100)]
OverrideKind = Literal["breakers", "limiters", "faults"]


def _check_bound(ctx: Ctx, service: str) -> None:
    bound = ctx.principal.service
    if bound is not None and bound != service:
        raise Problem(
            403,
            "Forbidden",
            f"this ingest token is bound to service {bound!r}; it cannot read {service!r}",
        )


def _etag(version: int) -> str:
    return f'"{version}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


@router.get(
    "/services/{service}/config",
    response_model=ConfigDocument,
    responses={304: {"description": "the document is still the one whose ETag was sent"}},
)
def get_config(
    service: ServiceName,
    ctx: Ingest,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The config document the service's SDK applies, with ``ETag: "<version>"``."""
    _check_bound(ctx, service)
    doc = use_cases.document(ctx.session, service)
    etag = _etag(doc["version"])
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return JSONResponse(doc, headers=headers)


@router.get(
    "/services/{service}/config/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_config(
    service: ServiceName,
    request: Request,
    ctx: Ingest,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-Sent Events: the document on connect (unless ``Last-Event-ID`` is current) and
    on every change; ``: keepalive`` comments every 15 s."""
    _check_bound(ctx, service)
    sessions: sessionmaker[Session] = request.app.state.sessions

    def version() -> int:
        with transaction(sessions) as session:
            return use_cases.version(session, service)

    def document() -> dict[str, Any]:
        with transaction(sessions) as session:
            return use_cases.document(session, service)

    async def read_version() -> int:
        return await run_in_threadpool(version)

    async def read_document() -> dict[str, Any]:
        return await run_in_threadpool(document)

    events = config_events(
        service,
        read_version=read_version,
        read_document=read_document,
        disconnected=request.is_disconnected,
        closing=closing_of(request.app),
        last_event_id=parse_last_event_id(last_event_id),
    )
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


def _override_out(row: OverrideRow, version: int) -> OverrideOut:
    return OverrideOut(
        service=row.service,
        kind=row.kind,
        name=row.name,
        value=row.value,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        version=version,
    )


@router.get("/services/{service}/overrides")
def list_overrides(service: ServiceName, ctx: Viewer) -> OverridesOut:
    """Every override of a service, with who set it and when."""
    version = use_cases.version(ctx.session, service)
    rows = use_cases.overrides(ctx.session, service)
    return OverridesOut(
        service=service, version=version, items=[_override_out(r, version) for r in rows]
    )


def _put(ctx: Ctx, service: str, kind: str, name: str, value: dict[str, Any]) -> OverrideOut:
    row, _ = use_cases.set_override(ctx, service, kind, name, value)
    return _override_out(row, use_cases.version(ctx.session, service))


@router.put("/services/{service}/overrides/breakers/{name:path}")
def put_breaker(
    service: ServiceName, name: ObjectName, body: BreakerOverrideIn, ctx: Operator
) -> OverrideOut:
    """Force a breaker into ``forced_open``, ``disabled`` or ``metrics_only``."""
    return _put(ctx, service, "breakers", name, body.model_dump(mode="json"))


@router.put("/services/{service}/overrides/limiters/{name:path}")
def put_limiter(
    service: ServiceName, name: ObjectName, body: LimiterOverrideIn, ctx: Operator
) -> OverrideOut:
    """Set a limiter's rate (``per`` and ``burst`` left out keep the code's values)."""
    return _put(ctx, service, "limiters", name, body.model_dump(mode="json", exclude_none=True))


@router.put("/services/{service}/overrides/faults/{name:path}")
def put_fault(
    service: ServiceName, name: ObjectName, body: FaultOverrideIn, ctx: Operator
) -> OverrideOut:
    """Switch a fault on or off."""
    return _put(ctx, service, "faults", name, body.model_dump(mode="json"))


@router.delete("/services/{service}/overrides/{kind}/{name:path}", status_code=204)
def delete_override(
    service: ServiceName, kind: OverrideKind, name: ObjectName, ctx: Operator
) -> Response:
    """Remove an override: the object returns to what its code says (breakers: automatic)."""
    try:
        use_cases.remove_override(ctx, service, kind, name)
    except use_cases.NotFoundError as exc:
        detail = f"{exc}; list them at /api/v1/services/{service}/overrides"
        raise Problem(404, "Not Found", detail) from None
    return Response(status_code=204)


def _policy_out(row: PolicyRow) -> PolicyOut:
    return PolicyOut(
        name=row.name,
        spec=PolicySpec.model_validate(row.spec),
        managed_by=row.managed_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


@router.get("/policies")
def list_policies(
    ctx: Viewer,
    service: Annotated[str | None, Query(pattern=NAME_PATTERN, max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
) -> PolicyPage:
    """Policies by name, of one service or all."""
    after = None
    if cursor:
        after = decode_cursor(cursor).get("after")
        if not isinstance(after, str):
            raise Problem(400, "Bad Request", "the cursor is malformed: pass back `next` unchanged")
    rows, last = use_cases.list_policies(ctx.session, service=service, limit=limit, after=after)
    next_cursor = encode_cursor({"after": last}) if last else None
    return PolicyPage(items=[_policy_out(r) for r in rows], next=next_cursor)


@router.get("/policies/{name}")
def get_policy(name: PolicyName, ctx: Viewer) -> PolicyOut:
    """One policy."""
    row = use_cases.get_policy(ctx.session, name)
    if row is None:
        raise not_found("policy", name)
    return _policy_out(row)


@router.put("/policies/{name}", responses={201: {"model": PolicyOut}})
def put_policy(name: PolicyName, body: PolicySpec, ctx: Operator, response: Response) -> PolicyOut:
    """Create (201) or replace (200) a policy; it reaches ``spec.service``'s SDK."""
    try:
        row, created, _ = use_cases.put_policy(ctx, name, body, managed_by=None)
    except use_cases.InvalidError as exc:
        raise Problem(422, "Invalid Request", str(exc)) from None
    if created:
        response.status_code = 201
    return _policy_out(row)


@router.delete("/policies/{name}", status_code=204)
def delete_policy(name: PolicyName, ctx: Operator) -> Response:
    """Delete a policy."""
    try:
        use_cases.delete_policy(ctx, name)
    except use_cases.NotFoundError:
        raise not_found("policy", name) from None
    return Response(status_code=204)
