"""Pages of on-call: who is on call (``/oncall``), pages (``/pages``), and signed links.

``/oncall`` shows every schedule's member on call, the next shifts and the overrides, with
a form to add or delete an override (operators). ``/pages`` lists open pages first, with
acknowledge and resolve buttons (operators); both post forms carrying the session's CSRF
token and reuse the API's route functions, so changes are audited as through the API.

``/oncall/pages/{id}/acknowledge|resolve?receiver=..&expires=..&sig=..`` are the signed
links of page notifications: they work without a login. ``GET`` only shows a form (mail
scanners fetch links); ``POST`` with the same signature acts, as ``link:<receiver>``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from reliant.server.auth.roles import Role
from reliant.server.domains.oncall import api, links, paging, rotation, schemas, service
from reliant.server.http import Problem, SessionDep
from reliant.server.settings import Settings
from reliant.server.web.pages import CSRF_FIELD, Page, PageDep, PageError, redirect
from reliant.server.web.templating import render_template

router = APIRouter(include_in_schema=False)

CsrfField = Annotated[str, Form(alias=CSRF_FIELD)]
#: Shifts listed per schedule on ``/oncall``, and how far ahead they are looked for.
SHOWN_SHIFTS = 8
AHEAD = 14 * 86400.0
#: Resolved pages listed under the open ones.
RECENT_PAGES = 50


def local(t: float | None, zone: str) -> str:
    """An epoch time as local time in ``zone``: ``Sun 28 Mar 09:00 CEST``."""
    if t is None:
        return "—"
    return dt.datetime.fromtimestamp(t, ZoneInfo(zone)).strftime("%a %d %b %H:%M %Z")


def _schedules(page: Page) -> list[dict[str, Any]]:
    session, now = page.ctx.session, page.now
    found = []
    for record, outlook in service.outlooks(session, now):
        upcoming = rotation.shifts(
            record.spec,
            service.overlapping(session, record.name, now, now + AHEAD),
            now,
            now + AHEAD,
        )
        found.append(
            {
                "record": record,
                "outlook": outlook,
                "shifts": upcoming[1 if outlook.current else 0 :][:SHOWN_SHIFTS],
                "overrides": service.overrides(session, record.name, ending_after=now),
                "warnings": service.schedule_warnings(session, record.spec),
            }
        )
    return found


def _oncall_page(
    page: Page, *, status: int = 200, error: str = "", form: dict[str, str] | None = None
) -> HTMLResponse:
    return page.render(
        "oncall/oncall.html",
        status=status,
        nav_key="oncall",
        schedules=_schedules(page),
        policies=service.policies(page.ctx.session),
        local=local,
        error=error,
        form=form or {},
        created=page.request.query_params.get("created", ""),
        deleted=page.request.query_params.get("deleted", ""),
    )


@router.get("/oncall", response_class=HTMLResponse)
def oncall(page: PageDep) -> HTMLResponse:
    """Who is on call on every schedule, the next shifts, overrides and policies."""
    return _oncall_page(page)


def _epoch(text: str, zone: str) -> float:
    """Epoch seconds of a ``datetime-local`` value read in ``zone``.

    Raises:
        ValueError: not a date and time.
    """
    return dt.datetime.fromisoformat(text.strip()).replace(tzinfo=ZoneInfo(zone)).timestamp()


@router.post("/oncall/overrides", response_class=HTMLResponse)
def create_override(
    page: PageDep,
    csrf_token: CsrfField = "",
    schedule: Annotated[str, Form(max_length=100)] = "",
    member: Annotated[str, Form(max_length=100)] = "",
    starts_at: Annotated[str, Form(max_length=40)] = "",
    ends_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Add an override from the form (times in the schedule's time zone)."""
    page.require(Role.OPERATOR)
    page.check_csrf(csrf_token)
    form = {"schedule": schedule, "member": member, "starts_at": starts_at, "ends_at": ends_at}
    record = service.get_schedule(page.ctx.session, schedule)
    if record is None:
        return _oncall_page(page, status=404, error=f"No schedule named {schedule!r}.", form=form)
    zone = record.spec.timezone
    try:
        start = _epoch(starts_at, zone) if starts_at.strip() else None
        end = _epoch(ends_at, zone)
    except ValueError:
        return _oncall_page(page, status=422, error="Start and end: date and time.", form=form)
    try:
        body = schemas.OverrideIn.model_validate(
            {"member": member.strip(), "starts_at": start, "ends_at": end}
        )
        made = api.create_override(schedule, body, page.ctx)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "form"
        message = str(first["msg"]).removeprefix("Value error, ")
        return _oncall_page(page, status=422, error=f"{where}: {message}", form=form)
    except Problem as exc:
        return _oncall_page(page, status=exc.status, error=exc.detail or exc.title, form=form)
    return redirect(f"/oncall?created={made.id}")


@router.post("/oncall/schedules/{name}/overrides/{override_id}/delete")
def delete_override(
    name: str, override_id: int, page: PageDep, csrf_token: CsrfField = ""
) -> Response:
    """Delete an override (the page asks to confirm first) and go back to ``/oncall``."""
    page.require(Role.OPERATOR)
    page.check_csrf(csrf_token)
    try:
        service.delete_override(page.ctx, name, override_id)
    except service.OnCallError as exc:
        raise PageError(exc.status, "Cannot delete", str(exc)) from None
    return redirect(f"/oncall?deleted={override_id}")


@router.get("/pages", response_class=HTMLResponse)
def pages(page: PageDep) -> HTMLResponse:
    """Open pages first (triggered, then acknowledged), then the latest resolved ones."""
    session = page.ctx.session
    open_rows, _ = paging.pages(session, states=list(paging.OPEN), limit=500)
    open_rows.sort(key=lambda r: (r.state != paging.TRIGGERED, -r.id))
    resolved, _ = paging.pages(session, states=[paging.RESOLVED], limit=RECENT_PAGES)
    return page.render(
        "oncall/pages.html",
        nav_key="pages",
        open_pages=open_rows,
        resolved=resolved,
        done=page.request.query_params.get("done", ""),
    )


def _act(page: Page, page_id: int, action: str, csrf_token: str) -> Response:
    page.require(Role.OPERATOR)
    page.check_csrf(csrf_token)
    act = paging.acknowledge if action == "acknowledge" else paging.resolve
    try:
        act(
            page.ctx.session,
            page_id,
            by=page.principal.name,
            now=page.now,
            public_url=page.ctx.settings.public_url,
        )
    except service.OnCallError as exc:
        raise PageError(exc.status, f"Cannot {action}", str(exc)) from None
    return redirect(f"/pages?done={action}d#page-{page_id}")


@router.post("/pages/{page_id}/acknowledge")
def acknowledge(page_id: int, page: PageDep, csrf_token: CsrfField = "") -> Response:
    """Acknowledge a page and go back to ``/pages``."""
    return _act(page, page_id, "acknowledge", csrf_token)


@router.post("/pages/{page_id}/resolve")
def resolve(page_id: int, page: PageDep, csrf_token: CsrfField = "") -> Response:
    """Resolve a page and go back to ``/pages``."""
    return _act(page, page_id, "resolve", csrf_token)


# -- signed links ------------------------------------------------------------------------


def _link_page(status: int, **context: Any) -> HTMLResponse:
    html = render_template("oncall/link.html", context)
    return HTMLResponse(html, status_code=status, headers={"Referrer-Policy": "no-referrer"})


def _checked(
    request: Request,
    session: SessionDep,
    page_id: int,
    action: str,
    receiver: str,
    expires: int,
    sig: str,
) -> tuple[float, HTMLResponse | None]:
    settings: Settings = request.app.state.settings
    now = settings.now()
    refused = links.check(
        session,
        action=action,
        page_id=page_id,
        receiver=receiver,
        expires=expires,
        sig=sig,
        now=now,
    )
    if refused is not None:
        return now, _link_page(403, title="Link refused", message=refused, row=None)
    return now, None


LinkReceiver = Annotated[str, Query(max_length=100)]
LinkExpires = Annotated[int, Query(ge=0, le=2**53)]
LinkSig = Annotated[str, Query(max_length=128)]


@router.get("/oncall/pages/{page_id}/{action}", response_class=HTMLResponse)
def link_form(
    request: Request,
    session: SessionDep,
    page_id: int,
    action: str,
    receiver: LinkReceiver = "",
    expires: LinkExpires = 0,
    sig: LinkSig = "",
) -> HTMLResponse:
    """A signed link, opened: the page and a button to confirm; nothing changes yet."""
    _, refused = _checked(request, session, page_id, action, receiver, expires, sig)
    if refused is not None:
        return refused
    row = paging.get(session, page_id)
    if row is None:
        return _link_page(404, title="No such page", message=f"Page {page_id} is gone.", row=None)
    return _link_page(
        200,
        title=f"{action.capitalize()} page {page_id}?",
        message="",
        row=row,
        action=action,
        receiver=receiver,
        target=str(request.url.path) + "?" + str(request.url.query),
    )


@router.post("/oncall/pages/{page_id}/{action}", response_class=HTMLResponse)
def link_act(
    request: Request,
    session: SessionDep,
    page_id: int,
    action: str,
    receiver: LinkReceiver = "",
    expires: LinkExpires = 0,
    sig: LinkSig = "",
) -> HTMLResponse:
    """A signed link, confirmed: acknowledge or resolve as ``link:<receiver>``."""
    now, refused = _checked(request, session, page_id, action, receiver, expires, sig)
    if refused is not None:
        return refused
    settings: Settings = request.app.state.settings
    act = paging.acknowledge if action == "acknowledge" else paging.resolve
    try:
        row, changed = act(
            session, page_id, by=f"link:{receiver}", now=now, public_url=settings.public_url
        )
    except service.OnCallError as exc:
        return _link_page(exc.status, title=f"Cannot {action}", message=str(exc), row=None)
    verb = "acknowledged" if action == "acknowledge" else "resolved"
    message = f"Page {page_id} is {verb}." if changed else f"Page {page_id} was already {verb}."
    return _link_page(200, title=message, message="", row=row, done=True)
