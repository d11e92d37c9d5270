"""Pages of postmortems: the list (``/postmortems``), one postmortem, its editor, and the
form posts that generate, edit, move and refresh them.

The view shows the facts with their definitions and the burn chart as the same inline SVG
as the exports (no script; it follows the page's colours, dark mode included). The editor
is a plain form (CSRF token, no JavaScript): list sections one item per line, action items
and timeline entries as rows, with buttons adding and removing rows. A save made on a
stale version shows the conflict and keeps the user's text.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from reliant.server.auth.roles import Role
from reliant.server.domains.postmortems import chart, draft, editing, export, lifecycle, schemas
from reliant.server.domains.postmortems import service as pm
from reliant.server.domains.postmortems.facts import DEFINITIONS
from reliant.server.domains.postmortems.models import PostmortemRow
from reliant.server.domains.postmortems.recording import (
    Acting,
    PostmortemConflict,
    PostmortemError,
    services_of,
)
from reliant.server.web.pages import CSRF_FIELD, Page, PageDep, PageError, redirect
from reliant.spec.models import NAME_PATTERN

router = APIRouter(include_in_schema=False)

CsrfField = Annotated[str, Form(alias=CSRF_FIELD)]
PostmortemId = Annotated[int, Path(ge=1, le=schemas.MAX_ID)]
IncidentId = Annotated[int, Path(ge=1, le=schemas.MAX_ID)]
Rows = Annotated[list[str], Form()]
#: Postmortems a list page shows.
PAGE_SIZE = 200
#: State → pill level.
LEVELS = {"draft": "unknown", "in_review": "warning", "published": "ok"}
#: Labels of the states and of the moves to them.
LABELS = {"draft": "Draft", "in_review": "In review", "published": "Published"}
MOVE_LABELS = {"draft": "Back to draft", "in_review": "Send for review", "published": "Publish"}
_NAME = re.compile(NAME_PATTERN)


def acting(page: Page) -> Acting:
    """The signed-in user as the use cases see them."""
    return Acting(page.ctx.session, page.now, page.principal.name)


def _load(page: Page, postmortem_id: int) -> PostmortemRow:
    try:
        return pm.require(page.ctx.session, postmortem_id)
    except PostmortemError as exc:
        raise PageError(404, "No such postmortem", str(exc)) from None


def _overdue(row: PostmortemRow, now: float) -> bool:
    today = dt.datetime.fromtimestamp(now, dt.UTC).date().isoformat()
    return row.due is not None and row.state != lifecycle.PUBLISHED and row.due < today


@router.get("/postmortems", response_class=HTMLResponse)
def postmortems(
    page: PageDep,
    state: Annotated[str, Query(max_length=20)] = "",
    required: Annotated[str, Query(max_length=5)] = "",
    service: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    """Postmortems, newest first: state, required, due, incident."""
    chosen = state if state in lifecycle.STATES else None
    only_required = True if required == "yes" else None
    named = service if service and _valid_name(service) else None
    rows, more = pm.page(
        page.ctx.session, state=chosen, required=only_required, service=named, limit=PAGE_SIZE
    )
    services = pm.services_by_postmortem(page.ctx.session, [r.id for r in rows])
    return page.render(
        "postmortems/list.html",
        nav_key="postmortems",
        rows=[(r, services[r.id], _overdue(r, page.now)) for r in rows],
        more=more,
        filters={"state": chosen or "", "required": required == "yes", "service": named or ""},
        states=lifecycle.STATES,
        labels=LABELS,
        levels=LEVELS,
    )


def _valid_name(name: str) -> bool:
    return _NAME.match(name) is not None


@router.get("/postmortems/{postmortem_id}", response_class=HTMLResponse)
def postmortem(postmortem_id: PostmortemId, page: PageDep) -> HTMLResponse:
    """One postmortem: sections, facts with definitions, burn chart, action items."""
    row = _load(page, postmortem_id)
    facts = dict(row.facts)
    query = page.request.query_params
    return page.render(
        "postmortems/view.html",
        nav_key="postmortems",
        pm=row,
        services=services_of(page.ctx.session, row.id),
        incident=facts.get("incident", {}),
        figures=export.figures(facts),
        budgets=export.budget_rows(facts),
        budget_definition=DEFINITIONS["budget_consumed"],
        chart=Markup(chart.svg(facts.get("chart", {}))),  # built escaping every string
        runs=facts.get("runbook_runs", []),
        lessons=[(heading, getattr(row, name)) for name, heading in export.LESSONS],
        moves=[(s, MOVE_LABELS[s]) for s in lifecycle.allowed(row.state)],
        editable=row.state in lifecycle.EDITABLE,
        overdue=_overdue(row, page.now),
        labels=LABELS,
        levels=LEVELS,
        saved=query.get("saved", ""),
        when=draft.when,
    )


def _editor(
    page: Page,
    row: PostmortemRow,
    form: editing.EditForm,
    *,
    status: int = 200,
    conflict: PostmortemRow | None = None,
) -> HTMLResponse:
    return page.render(
        "postmortems/edit.html",
        status=status,
        nav_key="postmortems",
        pm=row,
        form=form,
        conflict=conflict,
        texts=editing.TEXTS,
        lists=editing.LISTS,
        types=("mitigate", "prevent", "process"),
        priorities=("P0", "P1", "P2", "P3"),
        when=draft.when,
    )


@router.get("/postmortems/{postmortem_id}/edit", response_class=HTMLResponse)
def edit(postmortem_id: PostmortemId, page: PageDep) -> HTMLResponse:
    """The editor (operators; a published postmortem goes back to draft first)."""
    page.require(Role.OPERATOR)
    row = _load(page, postmortem_id)
    if row.state not in lifecycle.EDITABLE:
        raise PageError(
            409, "Published", "A published postmortem goes back to draft before it is edited."
        )
    form = editing.from_row(row)
    if not form.items:
        form.items.append(form.blank_item())
    return _editor(page, row, form)


@router.post("/postmortems/{postmortem_id}/edit", response_class=HTMLResponse)
def save(
    postmortem_id: PostmortemId,
    page: PageDep,
    csrf_token: CsrfField = "",
    version: Annotated[int, Form(ge=1, le=2**31 - 1)] = 1,
    action: Annotated[str, Form(max_length=40)] = "save",
    timeline_editable: Annotated[str, Form(max_length=5)] = "",
    title: Annotated[str, Form(max_length=1000)] = "",
    due: Annotated[str, Form(max_length=20)] = "",
    summary: Annotated[str, Form(max_length=100_000)] = "",
    impact: Annotated[str, Form(max_length=100_000)] = "",
    trigger: Annotated[str, Form(max_length=100_000)] = "",
    resolution: Annotated[str, Form(max_length=100_000)] = "",
    detection: Annotated[str, Form(max_length=100_000)] = "",
    supporting_information: Annotated[str, Form(max_length=100_000)] = "",
    root_causes: Annotated[str, Form(max_length=300_000)] = "",
    went_well: Annotated[str, Form(max_length=300_000)] = "",
    went_wrong: Annotated[str, Form(max_length=300_000)] = "",
    got_lucky: Annotated[str, Form(max_length=300_000)] = "",
    ai_title: Rows = [],  # noqa: B006 - FastAPI copies defaults
    ai_owner: Rows = [],  # noqa: B006
    ai_type: Rows = [],  # noqa: B006
    ai_priority: Rows = [],  # noqa: B006
    ai_due: Rows = [],  # noqa: B006
    ai_ticket: Rows = [],  # noqa: B006
    ai_done: Rows = [],  # noqa: B006
    tl_at: Rows = [],  # noqa: B006
    tl_text: Rows = [],  # noqa: B006
    tl_meta: Rows = [],  # noqa: B006
) -> Response:
    """Save the editor's form, or add or remove a row (``action``) and show it again."""
    page.require(Role.OPERATOR)
    page.check_csrf(csrf_token)
    row = _load(page, postmortem_id)
    texts = {"summary": summary, "impact": impact, "trigger": trigger, "resolution": resolution,
             "detection": detection, "supporting_information": supporting_information}  # fmt: skip
    lists = {"root_causes": root_causes, "went_well": went_well, "went_wrong": went_wrong,
             "got_lucky": got_lucky}  # fmt: skip
    items = {"title": ai_title, "owner": ai_owner, "type": ai_type, "priority": ai_priority,
             "due": ai_due, "ticket": ai_ticket, "done": ai_done}  # fmt: skip
    form = editing.from_post(
        version=version, title=title, due=due, texts=texts, lists=lists, items=items,
        entries={"at": tl_at, "text": tl_text, "meta": tl_meta},
        timeline_editable=timeline_editable == "yes",
    )  # fmt: skip
    if action != "save":
        _change_rows(form, action)
        return _editor(page, row, form)
    body = editing.to_edit(form)
    if body is None:
        return _editor(page, row, form, status=422)
    try:
        pm.edit(acting(page), postmortem_id, body)
    except PostmortemConflict as exc:
        current = pm.require(page.ctx.session, postmortem_id)
        if "version" in exc.extra:
            form.version = current.version  # saving again replaces theirs, knowingly
            return _editor(page, current, form, status=409, conflict=current)
        form.errors.append(str(exc))
        return _editor(page, current, form, status=409)
    return redirect(f"/postmortems/{postmortem_id}?saved={version + 1}")


def _change_rows(form: editing.EditForm, action: str) -> None:
    """Add or remove an action item or timeline row (no save)."""
    verb, _, index = action.partition(":")
    if verb == "add_item":
        form.items.append(form.blank_item())
    elif verb == "add_entry" and form.timeline_editable:
        form.entries.append({"at": "", "text": "", "meta": ""})
    elif verb in ("remove_item", "remove_entry") and index.isdigit():
        rows = form.items if verb == "remove_item" else form.entries
        if int(index) < len(rows):
            del rows[int(index)]


@router.post("/postmortems/{postmortem_id}/state")
def move(
    postmortem_id: PostmortemId,
    page: PageDep,
    csrf_token: CsrfField = "",
    state: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Move a postmortem (draft → in_review → published, or back to draft)."""
    page.require(Role.OPERATOR)
    page.check_csrf(csrf_token)
    if state not in lifecycle.STATES:
        raise PageError(422, "Cannot move", f"A postmortem is {', '.join(lifecycle.STATES)}.")
    try:
        pm.transition(acting(page), postmortem_id, state)
    except PostmortemError as exc:
        raise PageError(exc.status, "Cannot move", str(exc)) from None
    return redirect(f"/postmortems/{postmortem_id}")


@router.post("/postmortems/{postmortem_id}/refresh")
def refresh(postmortem_id: PostmortemId, page: PageDep, csrf_token: CsrfField = "") -> Response:
    """Recompute the facts from the incident and SLO data; edited text stays."""
    page.require(Role.OPERATOR)
    page.check_csrf(csrf_token)
    try:
        pm.refresh(acting(page), postmortem_id)
    except PostmortemError as exc:
        raise PageError(exc.status, "Cannot refresh", str(exc)) from None
    return redirect(f"/postmortems/{postmortem_id}")


@router.post("/incidents/{incident_id}/postmortem")
def generate(incident_id: IncidentId, page: PageDep, csrf_token: CsrfField = "") -> Response:
    """Generate the incident's postmortem and show it (the existing one if it has one)."""
    page.require(Role.OPERATOR)
    page.check_csrf(csrf_token)
    try:
        row = pm.generate(acting(page), incident_id)
    except PostmortemConflict as exc:
        return redirect(f"/postmortems/{exc.extra['postmortem']}")
    except PostmortemError as exc:
        raise PageError(exc.status, "Cannot generate", str(exc)) from None
    return redirect(f"/postmortems/{row.id}")
