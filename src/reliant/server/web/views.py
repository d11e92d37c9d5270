"""App-level pages: the live event stream and the background jobs.

The event stream page renders the newest matching events, then ``static/app.js`` follows
``GET /api/v1/events/stream`` (Server-Sent Events, the session cookie authenticates it)
from the newest id shown, so nothing falls between the page and the stream.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from reliant.server.domains.catalog import list_service_names
from reliant.server.events import EventFilter, Severity
from reliant.server.events import query as event_query
from reliant.server.jobs_api import list_jobs
from reliant.server.web.pages import PageDep

router = APIRouter(include_in_schema=False)

#: Events rendered with the page before the stream takes over.
FIRST_PAGE = 100
#: Rows the page keeps as live events arrive (older ones drop off the bottom).
KEEP_ROWS = 500


@router.get("/events", response_class=HTMLResponse)
def events(
    page: PageDep,
    service: Annotated[str, Query(max_length=100)] = "",
    kind: Annotated[str, Query(max_length=100)] = "",
    severity: Annotated[str, Query(max_length=10)] = "",
) -> HTMLResponse:
    """The event log, newest on top, following new events live; filtered by the form."""
    session = page.ctx.session
    problems: list[str] = []
    level = Severity(severity) if severity in set(Severity) else None
    if severity and level is None:
        problems.append(f"unknown severity {severity!r}")
    try:
        flt = EventFilter(
            services=(service,) if service else (),
            kinds=(kind.strip(),) if kind.strip() else (),
            severity=level,
        )
    except ValueError as exc:
        problems.append(str(exc))
        flt = EventFilter(services=(service,) if service else (), severity=level)
        kind = ""
    rows, more = event_query.page(session, flt, limit=FIRST_PAGE)
    stream = [("service", service)] if service else []
    stream += [("kind", kind.strip())] if kind.strip() else []
    stream += [("severity", str(level))] if level else []
    return page.render(
        "events.html",
        nav_key="events",
        events=[event_query.as_dict(e) for e in rows],
        more=more,
        newest=event_query.newest_id(session),
        stream_query=stream,
        filters={"service": service, "kind": kind, "severity": str(level or "")},
        severities=[str(s) for s in Severity],
        services=list_service_names(session),
        problems=problems,
        keep=KEEP_ROWS,
    )


@router.get("/jobs", response_class=HTMLResponse)
def jobs(page: PageDep) -> HTMLResponse:
    """Background jobs: who leads each, its last runs and their errors."""
    listed = list_jobs(page.ctx, page.request)
    return page.render("jobs.html", nav_key="jobs", jobs=listed)
