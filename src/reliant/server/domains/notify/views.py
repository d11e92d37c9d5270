"""Pages of notify: the outbox's notifications, dead letters first (``/notifications``).

The list defaults to the dead letters (``state=dead``): notifications a receiver refused or
that ran out of retries. Operators send one again with **Retry**, which runs the API's use
case (``POST /api/v1/notifications/{id}/retry``: audited, ``notification.retried``); htmx
swaps the answered row in place.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, Response

from reliant.server.auth.roles import Role
from reliant.server.domains.notify import api
from reliant.server.domains.notify import service as use_cases
from reliant.server.http import Problem
from reliant.server.web.pages import CSRF_FIELD, PageDep, PageError, redirect
from reliant.spec.models import NAME_PATTERN

router = APIRouter(include_in_schema=False)

#: Notifications a page shows.
PAGE_SIZE = 50
#: The state filter's choices: the outbox's states and everything.
CHOICES = ("dead", "pending", "delivered", "all")
_RECEIVER = re.compile(NAME_PATTERN)
CsrfField = Annotated[str, Form(alias=CSRF_FIELD)]


@router.get("/notifications", response_class=HTMLResponse)
def notifications(
    page: PageDep,
    state: Annotated[Literal["dead", "pending", "delivered", "all"], Query()] = "dead",
    receiver: Annotated[str, Query(max_length=100)] = "",
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> HTMLResponse:
    """Notifications, newest first: the dead letters unless another state is chosen."""
    problems = []
    if receiver and not _RECEIVER.match(receiver):
        problems.append(f"{receiver[:100]!r} is not a receiver name")
        receiver = ""
    rows, last = use_cases.list_notifications(
        page.ctx.session,
        state=None if state == "all" else state,
        receiver=receiver or None,
        limit=PAGE_SIZE,
        before=before,
    )
    kept: list[tuple[str, Any]] = [("state", state)]
    kept += [("receiver", receiver)] if receiver else []
    receivers, _ = use_cases.list_receivers(page.ctx.session, limit=500, after=None)
    return page.render(
        "notify/notifications.html",
        nav_key="notifications",
        rows=rows,
        filters={"state": state, "receiver": receiver},
        choices=CHOICES,
        receivers=[r.name for r in receivers],
        problems=problems,
        retried=page.request.query_params.get("retried", ""),
        newest_link=f"/notifications?{urlencode(kept)}" if before else "",
        older_link=f"/notifications?{urlencode([*kept, ('before', last)])}" if last else "",
    )


@router.post("/notifications/{notification_id}/retry", response_class=HTMLResponse)
def retry(notification_id: int, page: PageDep, csrf_token: CsrfField = "") -> Response:
    """Send a dead letter again; answer its row (htmx) or go back to the dead letters."""
    page.require(Role.OPERATOR)
    page.check_csrf(csrf_token)
    if not 1 <= notification_id < 2**63:
        raise PageError(404, "No such notification", "Notification ids are positive numbers.")
    try:
        row = api.retry_notification(notification_id, page.ctx)
    except Problem as exc:
        if page.htmx:
            raise  # answered as a problem document: the page shows its detail
        raise PageError(exc.status, "Cannot retry", exc.detail) from None
    if not page.htmx:
        return redirect(f"/notifications?retried={notification_id}")
    found = use_cases.get_notification(page.ctx.session, row.id)
    return page.render("notify/_notification_row.html", n=found)
