"""Pages of the service catalog: the overview (``/``), the service list and a service's page.

The live parts refresh by htmx polling: an htmx ``GET`` of a page answers only its live
section (``page.htmx``). A service's recent events arrive over the event stream (SSE,
``static/app.js``). Operators' buttons call the config API (``/api/v1/services/{service}/
overrides/...``) directly; the API enforces the role, the page only hides what cannot work.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from reliant.server.domains import config
from reliant.server.domains.catalog import service
from reliant.server.domains.catalog.service import ServiceRecord
from reliant.server.events import EventFilter, Severity
from reliant.server.events import query as event_query
from reliant.server.web.health import LEVELS
from reliant.server.web.pages import PageDep, PageError
from reliant.server.web.status import ServiceStatus, status, statuses
from reliant.spec.models import NAME_PATTERN

router = APIRouter(include_in_schema=False)

#: Events shown on a service's page before live ones arrive.
SERVICE_EVENTS = 30
#: Warning-or-worse events listed on the overview.
OVERVIEW_EVENTS = 8
_NAME = re.compile(NAME_PATTERN)
_LIVE = {"Vary": "HX-Request"}


def _order(item: tuple[ServiceRecord, ServiceStatus]) -> tuple[int, int, str]:
    record, state = item
    return (-LEVELS.index(state.health.level), record.spec.tier, record.name)


@router.get("/", response_class=HTMLResponse)
def overview(page: PageDep) -> HTMLResponse:
    """Every service's health, worst first, with the latest warnings and errors."""
    session = page.ctx.session
    records = service.page(session, limit=None)
    states = statuses(session, [r.name for r in records], now=page.now)
    rows = sorted(zip(records, states, strict=True), key=_order)
    tally = dict.fromkeys(LEVELS, 0)
    for _, state in rows:
        tally[state.health.level] += 1
    flt = EventFilter(severity=Severity.WARNING, since=page.now - 3600)
    recent, _ = event_query.page(session, flt, limit=OVERVIEW_EVENTS)
    context: dict[str, Any] = {
        "nav_key": "overview",
        "rows": rows,
        "tally": tally,
        "warnings": sum(s.warnings for _, s in rows),
        "errors": sum(s.errors for _, s in rows),
        "recent": [event_query.as_dict(e) for e in recent],
    }
    template = "catalog/_overview_live.html" if page.htmx else "catalog/overview.html"
    return page.render(template, headers=_LIVE, **context)


@router.get("/services", response_class=HTMLResponse)
def services(
    page: PageDep,
    owner: Annotated[str, Query(max_length=200)] = "",
    tier: Annotated[str, Query(max_length=1)] = "",
    environment: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    """The catalog: every service with owner, tier, environment, links and dependencies."""
    session = page.ctx.session
    everything = service.page(session, limit=None)
    records = [
        r
        for r in everything
        if (not owner or r.spec.owner == owner)
        and (not tier or str(r.spec.tier) == tier)
        and (not environment or r.spec.environment == environment)
    ]
    used_by: dict[str, int] = {}
    for r in everything:
        for dep in r.spec.dependencies:
            used_by[dep.service] = used_by.get(dep.service, 0) + 1
    return page.render(
        "catalog/services.html",
        nav_key="services",
        records=records,
        total=len(everything),
        used_by=used_by,
        declared={r.name for r in everything},
        owners=sorted({r.spec.owner for r in everything}),
        environments=sorted({r.spec.environment for r in everything}),
        filters={"owner": owner, "tier": tier, "environment": environment},
    )


@router.get("/services/{name}", response_class=HTMLResponse)
def service_page(name: str, page: PageDep) -> HTMLResponse:
    """A service: its spec, health, policies, telemetry and recent events (live)."""
    session = page.ctx.session
    if not _NAME.match(name):
        raise PageError(404, "No such service", f"{name[:100]!r} is not a service name.")
    record = service.get(session, name)
    state = status(session, name, now=page.now)
    if page.htmx:
        return page.render("catalog/_service_live.html", headers=_LIVE, name=name, state=state)
    flt = EventFilter(services=(name,))
    rows, _ = event_query.page(session, flt, limit=SERVICE_EVENTS)
    if record is None and not rows and not state.policies:
        raise PageError(
            404,
            "No such service",
            f"No service named {name!r} is in the catalog, and none has reported events. "
            "Declare it in reliant.yaml (reliant apply) or with PUT /api/v1/services/" + name,
        )
    document = config.config_document(session, name)
    return page.render(
        "catalog/service.html",
        nav_key="services",
        name=name,
        record=record,
        state=state,
        dependents=service.dependents(session, name),
        declared=set(service.names(session)),
        delivered=document["policies"],
        config_version=document["version"],
        events=[event_query.as_dict(e) for e in rows],
        newest=max((e.id for e in rows), default=event_query.newest_id(session)),
    )
