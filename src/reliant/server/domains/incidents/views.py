"""Pages of incidents: the list (``/incidents``) and an incident (``/incidents/{id}``) with
its live timeline; the response metrics (``/incidents/metrics``) are in ``metrics_page.py``.

Every form posts with the session's CSRF token and runs the API's route function, so a
change from the page is validated, audited and evented exactly as through
``/api/v1/incidents``; viewers see no buttons and get 403 if they post anyway. The timeline
is rendered oldest first (newest at the bottom); ``static/incident.js`` then follows
``GET /api/v1/incidents/{id}/timeline/stream`` (the session cookie authenticates it) from
the newest entry shown and appends what arrives. Runbook runs come from the runbooks
facade; a run is started by the runbooks pages' ``POST /runs``. The postmortem box asks the
postmortems facade, when that domain is installed, for the incident's postmortem.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from reliant.server.auth.roles import Role
from reliant.server.domains import runbooks
from reliant.server.domains.catalog import list_service_names
from reliant.server.domains.incidents import (
    api,
    lifecycle,
    metrics_page,
    schemas,
    service,
    timeline,
    timeline_api,
)
from reliant.server.domains.incidents.recording import IncidentError, require
from reliant.server.domains.slo import get_slo, list_slos
from reliant.server.events import EventRow
from reliant.server.events.query import as_dict
from reliant.server.http import Problem
from reliant.server.web.pages import CSRF_FIELD, Page, PageDep, PageError, redirect

router = APIRouter(include_in_schema=False)
# Before /incidents/{incident_id}, which would take "metrics" for an incident's number.
router.include_router(metrics_page.router)

CsrfField = Annotated[str, Form(alias=CSRF_FIELD)]
#: Open incidents listed at most, and recent (resolved or closed) ones under them.
MOST_OPEN = 500
RECENT = 50
#: Timeline entries rendered with the page (the stream adds the later ones).
TIMELINE_ENTRIES = 1000
#: The button of each move through the lifecycle.
MOVES = {
    lifecycle.ACKNOWLEDGED: "Acknowledge",
    lifecycle.MITIGATED: "Mitigate",
    lifecycle.RESOLVED: "Resolve",
    lifecycle.CLOSED: "Close",
    lifecycle.TRIGGERED: "Reopen",
}
#: The pill level of each state.
STATE_LEVELS = {
    lifecycle.TRIGGERED: "critical",
    lifecycle.ACKNOWLEDGED: "warning",
    lifecycle.MITIGATED: "info",
    lifecycle.RESOLVED: "ok",
    lifecycle.CLOSED: "unknown",
}
#: What the page says after a change (``?done=``).
DONE = {
    "declared": "Incident declared.",
    "moved": "State changed.",
    "edited": "Severity changed.",
    "role": "Role assigned.",
    "update": "Status update posted.",
    "task": "Task added.",
    "task-done": "Task updated.",
    "note": "Timeline entry added.",
    "pin": "Pin changed.",
    "merged": "Incident merged into this one.",
}


def _number(text: str, what: str) -> int:
    """A path's number, or a 404 page."""
    if not text.isdigit() or not 1 <= int(text) <= schemas.MAX_ID:
        raise PageError(404, f"No such {what}", f"{text[:40]!r} is not the number of a {what}.")
    return int(text)


def _incident_id(incident_id: str) -> int:
    return _number(incident_id, "incident")


def _task_id(task_id: str) -> int:
    return _number(task_id, "task")


IncidentId = Annotated[int, Depends(_incident_id)]
TaskId = Annotated[int, Depends(_task_id)]


def level(state: str) -> str:
    """The pill level of an incident's state."""
    return STATE_LEVELS.get(state, "unknown")


def sev_class(severity: str) -> str:
    """The event severity a SEV badge is coloured as."""
    return str(lifecycle.EVENT_SEVERITY.get(severity, "info"))


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "form"
    return f"{where}: {str(first['msg']).removeprefix('Value error, ')}"


def _names(text: str) -> list[str]:
    """Names typed separated by commas, spaces or lines."""
    return [n for n in text.replace(",", " ").split() if n]


# -- the list ----------------------------------------------------------------------------


def _list_page(
    page: Page,
    *,
    state: str = "",
    severity: str = "",
    service_name: str = "",
    status: int = 200,
    error: str = "",
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    session = page.ctx.session
    problems = []
    if state and state not in lifecycle.STATES and state != "all":
        problems.append(f"unknown state {state!r}")
        state = ""
    if severity and severity not in lifecycle.SEVERITIES:
        problems.append(f"unknown severity {severity!r}")
        severity = ""
    severities = (severity,) if severity else ()
    where = service_name or None
    sections: list[tuple[str, list[Any], bool]] = []
    if state in ("", "all"):
        states: tuple[str, ...] = lifecycle.OPEN if not state else ()
        rows, more = service.page(
            session, states=states, severities=severities, service=where, limit=MOST_OPEN
        )
        sections.append(("Open" if not state else "All", rows, more))
        if not state:
            done = (lifecycle.RESOLVED, lifecycle.CLOSED)
            rows, more = service.page(
                session, states=done, severities=severities, service=where, limit=RECENT
            )
            sections.append(("Recent", rows, more))
    else:
        rows, more = service.page(
            session, states=(state,), severities=severities, service=where, limit=MOST_OPEN
        )
        sections.append((state.capitalize(), rows, more))
    ids = [r.id for _, rows, _ in sections for r in rows]
    return page.render(
        "incidents/incidents.html",
        status=status,
        nav_key="incidents",
        sections=sections,
        services=service.services_by_incident(session, ids),
        service_names=list_service_names(session),
        filters={"state": state, "severity": severity, "service": service_name},
        states=lifecycle.STATES,
        severities=lifecycle.SEVERITIES,
        problems=problems,
        error=error,
        form=form or {"severity": "SEV3"},
        level=level,
        sev_class=sev_class,
    )


@router.get("/incidents", response_class=HTMLResponse)
def incidents(
    page: PageDep,
    state: Annotated[str, Query(max_length=20)] = "",
    severity: Annotated[str, Query(max_length=10)] = "",
    service_name: Annotated[str, Query(alias="service", max_length=100)] = "",
) -> HTMLResponse:
    """Open incidents, then recent ones; or those of one state, severity or service."""
    return _list_page(page, state=state, severity=severity, service_name=service_name)


@router.post("/incidents", response_class=HTMLResponse)
def declare(
    page: PageDep,
    csrf_token: CsrfField = "",
    title: Annotated[str, Form(max_length=1000)] = "",
    severity: Annotated[str, Form(max_length=10)] = "",
    services: Annotated[str, Form(max_length=6000)] = "",
    summary: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """Declare an incident from the form, then open its page."""
    page.require(Role.OPERATOR)
    page.check_csrf(csrf_token)
    form = {"title": title, "severity": severity, "services": services, "summary": summary}
    try:
        body = schemas.IncidentIn.model_validate(
            {
                "title": title.strip(),
                "severity": severity,
                "services": _names(services),
                "summary": summary.strip(),
            }
        )
        made = api.declare_incident(body, page.ctx)
    except ValidationError as exc:
        return _list_page(page, status=422, error=_first_error(exc), form=form)
    except Problem as exc:
        return _list_page(page, status=exc.status, error=exc.detail or exc.title, form=form)
    return redirect(f"/incidents/{made.id}?done=declared")


# -- an incident -------------------------------------------------------------------------


def _postmortem(page: Page, incident_id: int) -> str | None:
    """The URL of the incident's postmortem, when the postmortems domain has one."""
    try:
        facade = importlib.import_module("reliant.server.domains.postmortems")
    except ImportError:
        return None
    find: Callable[..., Any] | None = getattr(facade, "postmortem_of_incident", None)
    if find is None:
        return None
    found = find(page.ctx.session, incident_id)
    if found is None:
        return None
    ident = found if isinstance(found, int) else getattr(found, "id", None)
    return None if ident is None else f"/postmortems/{ident}"


def _slo_links(page: Page, inc: schemas.IncidentDetail) -> list[tuple[str, str | None, bool]]:
    """The incident's SLOs, then its services' other SLOs: name, page, whether linked."""
    session = page.ctx.session
    found: list[tuple[str, str | None, bool]] = []
    for name in inc.slos:
        record = get_slo(session, name)
        url = None if record is None else _slo_url(record.spec.service, name)
        found.append((name, url, True))
    for service_name in inc.services:
        for record in list_slos(session, limit=50, service=service_name):
            if record.name not in inc.slos:
                found.append((record.name, _slo_url(service_name, record.name), False))
    return found


def _slo_url(service_name: str, name: str) -> str:
    return f"/slos/{quote(service_name, safe='')}/{quote(name, safe='')}"


def alert_link(labels: dict[str, Any], state: str) -> str:
    """``/alerts`` filtered to exactly this alert's labels."""
    matchers = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    query = {"filter": matchers, **({"state": "resolved"} if state == "resolved" else {})}
    return "/alerts?" + urlencode(query)


def _durations(inc: schemas.IncidentDetail, now: float) -> list[tuple[str, float | None]]:
    end = inc.resolved_at if inc.resolved_at is not None else now
    marks = (
        ("to acknowledge", inc.acknowledged_at),
        ("to mitigate", inc.mitigated_at),
        ("to resolve", inc.resolved_at),
    )
    found: list[tuple[str, float | None]] = [
        ("lasted" if inc.resolved_at is not None else "open for", end - inc.created_at)
    ]
    found += [(label, None if t is None else t - inc.created_at) for label, t in marks]
    return found


def _incident_page(
    page: Page,
    incident_id: int,
    *,
    status: int = 200,
    error: str = "",
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    session = page.ctx.session
    try:
        inc = api.detail(page.ctx, incident_id)
        row = require(session, incident_id)
    except (Problem, IncidentError):
        raise PageError(404, "No such incident", f"There is no incident #{incident_id}.") from None
    entries, _ = timeline.page(session, row, now=page.now, limit=TIMELINE_ENTRIES)
    runbook_list = runbooks.runbook_choices(session) if page.can_operate else []
    preferred = next((r.name for r in runbook_list if r.service in inc.services), "")
    done = page.request.query_params.get("done", "")
    return page.render(
        "incidents/incident.html",
        status=status,
        nav_key="incidents",
        inc=inc,
        moves=[(to, MOVES[to]) for to in inc.allowed],
        severities=lifecycle.SEVERITIES,
        durations=_durations(inc, page.now),
        slos=_slo_links(page, inc),
        entries=entries,
        after=max((e["event_id"] for e in entries), default=0),
        more_entries=len(entries) >= TIMELINE_ENTRIES,
        runs=runbooks.runs_of_incident(session, incident_id),
        runbook_list=runbook_list,
        preferred=preferred,
        inc_id=incident_id,
        postmortem=_postmortem(page, incident_id),
        done=DONE.get(done, ""),
        error=error,
        form=form or {},
        level=level,
        sev_class=sev_class,
        alert_link=alert_link,
        roles=service.ROLES,
    )


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident(incident_id: IncidentId, page: PageDep) -> HTMLResponse:
    """An incident: state, roles, links, updates, tasks, its live timeline and runs."""
    return _incident_page(page, incident_id)


@router.get("/incidents/{incident_id}/runs", response_class=HTMLResponse)
def incident_runs(incident_id: IncidentId, page: PageDep) -> HTMLResponse:
    """The incident's runbook runs (the fragment the page reloads when a run moves)."""
    return page.render(
        "incidents/_runs.html",
        inc_id=incident_id,
        runs=runbooks.runs_of_incident(page.ctx.session, incident_id),
    )


def _act(
    page: Page,
    incident_id: int,
    csrf_token: str,
    action: Callable[[], object],
    *,
    done: str,
    form: dict[str, str] | None = None,
    to: int | None = None,
) -> Response:
    """Run an operator's change; back to the page, or the page with the refusal."""
    page.require(Role.OPERATOR)
    page.check_csrf(csrf_token)
    try:
        action()
    except ValidationError as exc:
        return _incident_page(page, incident_id, status=422, error=_first_error(exc), form=form)
    except Problem as exc:
        error = exc.detail or exc.title
        return _incident_page(page, incident_id, status=exc.status, error=error, form=form)
    return redirect(f"/incidents/{to or incident_id}?done={done}")


@router.post("/incidents/{incident_id}/transition", response_class=HTMLResponse)
def transition(
    incident_id: IncidentId,
    page: PageDep,
    csrf_token: CsrfField = "",
    to: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Move the incident (the page offers only the moves its state allows)."""

    def move() -> None:
        api.transition(incident_id, schemas.TransitionIn.model_validate({"to": to}), page.ctx)

    return _act(page, incident_id, csrf_token, move, done="moved")


@router.post("/incidents/{incident_id}/severity", response_class=HTMLResponse)
def change_severity(
    incident_id: IncidentId,
    page: PageDep,
    csrf_token: CsrfField = "",
    severity: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Change the incident's severity."""

    def edit() -> None:
        body = schemas.IncidentPatch.model_validate({"severity": severity})
        api.patch_incident(incident_id, body, page.ctx)

    return _act(page, incident_id, csrf_token, edit, done="edited")


@router.post("/incidents/{incident_id}/roles", response_class=HTMLResponse)
def assign_role(
    incident_id: IncidentId,
    page: PageDep,
    csrf_token: CsrfField = "",
    role: Annotated[str, Form(max_length=20)] = "",
    person: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """Give a role to a person (empty: nobody)."""

    def assign() -> None:
        if role not in service.ROLES:
            raise Problem(422, "Invalid Request", f"role: one of {', '.join(service.ROLES)}")
        body = schemas.RoleIn.model_validate({"person": person.strip() or None})
        api.put_role(incident_id, role, body, page.ctx)  # type: ignore[arg-type]

    return _act(page, incident_id, csrf_token, assign, done="role")


@router.post("/incidents/{incident_id}/updates", response_class=HTMLResponse)
def post_update(
    incident_id: IncidentId,
    page: PageDep,
    csrf_token: CsrfField = "",
    text: Annotated[str, Form(max_length=8000)] = "",
    notify: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Post a status update; ``notify`` sends it to the incident's receivers."""

    def post() -> None:
        body = schemas.UpdateIn.model_validate({"text": text.strip(), "notify": bool(notify)})
        api.post_update(incident_id, body, page.ctx)

    form = {"update": text, "notify": notify}
    return _act(page, incident_id, csrf_token, post, done="update", form=form)


@router.post("/incidents/{incident_id}/tasks", response_class=HTMLResponse)
def add_task(
    incident_id: IncidentId,
    page: PageDep,
    csrf_token: CsrfField = "",
    title: Annotated[str, Form(max_length=1000)] = "",
    owner: Annotated[str, Form(max_length=400)] = "",
    due: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Add a follow-up task (owner and due date optional)."""

    def add() -> None:
        body = schemas.TaskIn.model_validate(
            {"title": title.strip(), "owner": owner.strip() or None, "due": due.strip() or None}
        )
        api.post_task(incident_id, body, page.ctx)

    form = {"task_title": title, "task_owner": owner, "task_due": due}
    return _act(page, incident_id, csrf_token, add, done="task", form=form)


@router.post("/incidents/{incident_id}/tasks/{task_id}", response_class=HTMLResponse)
def change_task(
    incident_id: IncidentId,
    task_id: TaskId,
    page: PageDep,
    csrf_token: CsrfField = "",
    done: Annotated[str, Form(max_length=10)] = "true",
) -> Response:
    """Mark a task done (or not done again)."""

    def change() -> None:
        body = schemas.TaskPatch.model_validate({"done": done == "true"})
        api.patch_task(incident_id, task_id, body, page.ctx)

    return _act(page, incident_id, csrf_token, change, done="task-done")


@router.post("/incidents/{incident_id}/merge", response_class=HTMLResponse)
def merge(
    incident_id: IncidentId,
    page: PageDep,
    csrf_token: CsrfField = "",
    into: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    """Merge this incident (a duplicate) into another; then open the primary."""
    target = into.strip().lstrip("#")
    primary = int(target) if target.isdigit() else None

    def merge_it() -> None:
        body = schemas.MergeIn.model_validate({"into": primary if primary else target})
        api.merge_incident(incident_id, body, page.ctx)

    form = {"into": into}
    return _act(page, incident_id, csrf_token, merge_it, done="merged", form=form, to=primary)


@router.post("/incidents/{incident_id}/timeline", response_class=HTMLResponse)
def add_note(
    incident_id: IncidentId,
    page: PageDep,
    csrf_token: CsrfField = "",
    text: Annotated[str, Form(max_length=8000)] = "",
) -> Response:
    """Add a manual entry to the timeline (now, by the signed-in user)."""

    def add() -> None:
        timeline_api.post_note(
            incident_id, schemas.NoteIn.model_validate({"text": text.strip()}), page.ctx
        )

    return _act(page, incident_id, csrf_token, add, done="note", form={"note": text})


@router.post("/incidents/{incident_id}/timeline/{key}/pin", response_class=HTMLResponse)
def pin(
    incident_id: IncidentId,
    key: str,
    page: PageDep,
    csrf_token: CsrfField = "",
    pinned: Annotated[str, Form(max_length=10)] = "true",
) -> Response:
    """Pin or unpin a timeline entry; htmx gets the entry back, a plain post the page."""
    page.require(Role.OPERATOR)
    page.check_csrf(csrf_token)
    kind, _, number = key.partition(":")
    if kind not in ("event", "note") or not number.isdigit() or len(number) > 18:
        raise PageError(404, "No such entry", "A timeline entry is event:<id> or note:<id>.")
    want = pinned == "true"
    try:
        if want:
            timeline_api.pin_entry(incident_id, key, page.ctx)
        else:
            timeline_api.unpin_entry(incident_id, key, page.ctx)
    except Problem as exc:
        if page.htmx:
            raise
        raise PageError(exc.status, "Cannot pin", exc.detail) from None
    if not page.htmx:
        return redirect(f"/incidents/{incident_id}?done=pin#timeline")
    session = page.ctx.session
    row = require(session, incident_id)
    event_id = timeline.find_entry(session, row, key)
    event = None if event_id is None else session.get(EventRow, event_id)
    if event is None:  # pin just found it in this transaction
        raise PageError(404, "No such entry", f"No entry {key} on incident #{incident_id}.")
    found = timeline.entry(as_dict(event), timeline.pinned_keys(session, incident_id))
    return page.render("incidents/_entry.html", e=found, inc_id=incident_id)
