"""Routes of notify: receivers (secrets write-only), test sends, the outbox and its dead letters."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from reliant.server.domains.notify import crypto
from reliant.server.domains.notify import service as use_cases
from reliant.server.domains.notify.models import NotificationRow, ReceiverRow
from reliant.server.domains.notify.schemas import (
    AttemptOut,
    NotificationDetail,
    NotificationOut,
    NotificationPage,
    ReceiverIn,
    ReceiverOut,
    ReceiverPage,
    TestResult,
)
from reliant.server.domains.notify.sender import Sender
from reliant.server.http import Operator, Problem, Viewer, decode_cursor, encode_cursor, not_found
from reliant.spec.models import NAME_PATTERN

router = APIRouter(prefix="/api/v1", tags=["notify"])

#: Largest page any list endpoint returns.
MAX_PAGE = 500
#: Seconds a test send may take: the request's transaction is open meanwhile.
TEST_TIMEOUT = 5.0

ReceiverName = Annotated[str, Path(pattern=NAME_PATTERN, max_length=100)]
NotificationId = Annotated[int, Path(ge=1, le=2**63 - 1)]
State = Literal["pending", "delivered", "dead"]


def _receiver_out(row: ReceiverRow) -> ReceiverOut:
    return ReceiverOut(
        name=row.name,
        type=row.type,
        settings=use_cases.masked(row),
        send_resolved=row.send_resolved,
        created_at=row.created_at,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        failures=row.failures,
        paused_until=row.paused_until,
        last_error=row.last_error,
    )


def _key_problem(exc: Exception) -> Problem:
    return Problem(409, "Conflict", str(exc))


@router.get("/receivers")
def list_receivers(
    ctx: Viewer,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
) -> ReceiverPage:
    """Receivers by name; secrets read back as ``********``."""
    after = None
    if cursor:
        after = decode_cursor(cursor).get("after")
        if not isinstance(after, str):
            raise Problem(400, "Bad Request", "the cursor is malformed: pass back `next` unchanged")
    rows, last = use_cases.list_receivers(ctx.session, limit=limit, after=after)
    next_cursor = encode_cursor({"after": last}) if last else None
    return ReceiverPage(items=[_receiver_out(r) for r in rows], next=next_cursor)


@router.get("/receivers/{name}")
def get_receiver(name: ReceiverName, ctx: Viewer) -> ReceiverOut:
    """One receiver; secrets read back as ``********``."""
    row = use_cases.get_receiver(ctx.session, name)
    if row is None:
        raise not_found("receiver", name)
    return _receiver_out(row)


@router.put("/receivers/{name}", responses={201: {"model": ReceiverOut}})
def put_receiver(
    name: ReceiverName, body: ReceiverIn, ctx: Operator, response: Response
) -> ReceiverOut:
    """Create (201) or replace (200) a receiver. Secret settings left out keep their stored
    values; writing one, or changing where stored ones are sent, needs the admin role."""
    try:
        row, created = use_cases.put_receiver(ctx, name, body)
    except use_cases.InvalidError as exc:
        error = {"loc": ["body", exc.field], "msg": str(exc), "type": "missing"}
        raise Problem(422, "Invalid Request", f"body.{exc.field}: {exc}", errors=[error]) from None
    except use_cases.ForbiddenError as exc:
        raise Problem(403, "Forbidden", str(exc)) from None
    except (crypto.SecretKeyError, crypto.UndecryptableError) as exc:
        raise _key_problem(exc) from None
    if created:
        response.status_code = 201
    return _receiver_out(row)


@router.delete("/receivers/{name}", status_code=204)
def delete_receiver(name: ReceiverName, ctx: Operator) -> Response:
    """Delete a receiver; its pending notifications become dead letters."""
    try:
        use_cases.delete_receiver(ctx, name)
    except use_cases.NotFoundError:
        raise not_found("receiver", name) from None
    return Response(status_code=204)


@router.post("/receivers/{name}/test")
def test_receiver(name: ReceiverName, ctx: Operator) -> TestResult:
    """Send a test notification (severity ``info``) now and say what the receiver answered."""
    try:
        with Sender(timeout=TEST_TIMEOUT) as sender:
            result = use_cases.send_test(ctx, name, sender)
    except use_cases.NotFoundError:
        raise not_found("receiver", name) from None
    except (crypto.SecretKeyError, crypto.UndecryptableError) as exc:
        raise _key_problem(exc) from None
    return TestResult(
        receiver=name,
        delivered=result.outcome == "delivered",
        outcome=result.outcome,
        status_code=result.status_code,
        detail=result.detail,
    )


def _notification_out(row: NotificationRow) -> NotificationOut:
    return NotificationOut(
        id=row.id,
        receiver=row.receiver,
        dedup_key=row.dedup_key,
        status=row.status,
        group_key=row.group_key,
        state=row.state,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at if row.state == "pending" else None,
        attempts=row.attempts,
        last_attempt_at=row.last_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        finished_at=row.finished_at,
    )


@router.get("/notifications")
def list_notifications(
    ctx: Viewer,
    state: State | None = None,
    receiver: Annotated[str | None, Query(pattern=NAME_PATTERN, max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
) -> NotificationPage:
    """Notifications in the outbox, newest first; ``state=dead`` lists the dead letters."""
    before = None
    if cursor:
        before = decode_cursor(cursor).get("before")
        if not isinstance(before, int) or isinstance(before, bool):
            raise Problem(400, "Bad Request", "the cursor is malformed: pass back `next` unchanged")
    rows, last = use_cases.list_notifications(
        ctx.session, state=state, receiver=receiver, limit=limit, before=before
    )
    next_cursor = encode_cursor({"before": last}) if last else None
    return NotificationPage(items=[_notification_out(r) for r in rows], next=next_cursor)


@router.get("/notifications/{notification_id}")
def get_notification(notification_id: NotificationId, ctx: Viewer) -> NotificationDetail:
    """One notification: what it says and every delivery attempt."""
    row = use_cases.get_notification(ctx.session, notification_id)
    if row is None:
        raise Problem(404, "Not Found", f"no notification {notification_id}")
    history = [
        AttemptOut(at=a.at, outcome=a.outcome, status_code=a.status_code, detail=a.detail)
        for a in use_cases.attempts(ctx.session, notification_id)
    ]
    out = _notification_out(row)
    return NotificationDetail(**out.model_dump(), payload=row.payload, history=history)


@router.post("/notifications/{notification_id}/retry")
def retry_notification(notification_id: NotificationId, ctx: Operator) -> NotificationOut:
    """Send a dead letter again, from now, with a fresh retry window."""
    try:
        row = use_cases.retry(ctx, notification_id)
    except use_cases.NotFoundError as exc:
        raise Problem(404, "Not Found", str(exc)) from None
    except use_cases.ConflictError as exc:
        raise Problem(409, "Conflict", str(exc)) from None
    return _notification_out(row)
