"""Routes of incidents: ``/api/v1/incidents``, their lifecycle, roles, links, updates, tasks,
merges, and the response metrics. The timeline's routes are in ``timeline_api.py``, the
rules' and the notify setting's in ``rules_api.py``; both are included here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from reliant.server.domains import alerts
from reliant.server.domains.incidents import (
    followups,
    lifecycle,
    merge,
    reporting,
    rules_api,
    schemas,
    service,
    timeline_api,
)
from reliant.server.domains.incidents.metrics import DEFINITIONS
from reliant.server.domains.incidents.recording import Acting, IncidentError
from reliant.server.events.query import parse_time
from reliant.server.http import Ctx, Operator, Problem, Viewer, decode_cursor, encode_cursor
from reliant.spec.models import NAME_PATTERN

router = APIRouter(prefix="/api/v1", tags=["incidents"])

#: Largest page the list endpoint returns.
MAX_PAGE = 500
#: The metrics' period when ``since`` is not given: 30 days before ``until``.
DEFAULT_PERIOD = 30 * 86400.0

IncidentId = Annotated[int, Path(ge=1, le=schemas.MAX_ID, description="the incident's number")]
_FINGERPRINT = r"^[0-9a-f]{16}$"


@contextmanager
def problems() -> Iterator[None]:
    """Answer the domain's errors as problem documents."""
    try:
        yield
    except IncidentError as exc:
        raise Problem(exc.status, exc.title, str(exc), **exc.extra) from None


def acting(ctx: Ctx) -> Acting:
    """The caller as the use cases see it."""
    return Acting(ctx.session, ctx.now, ctx.principal.name)


def detail(ctx: Ctx, incident_id: int) -> schemas.IncidentDetail:
    """An incident with everything linked to it."""
    with problems():
        found = service.detail(ctx.session, incident_id)
    return schemas.detail_out(found, lifecycle.allowed(found.row.state))


@router.get("/incidents/metrics")
def get_metrics(
    ctx: Viewer,
    since: Annotated[
        str | None, Query(description="epoch seconds, RFC 3339 or a duration ago (30d)")
    ] = None,
    until: Annotated[str | None, Query(description="as since; exclusive; default now")] = None,
    group_by: Literal["service", "team", "severity"] | None = None,
    bucket: Annotated[
        Literal["day", "week"] | None, Query(description="also answer the trend per bucket")
    ] = None,
) -> schemas.MetricsOut:
    """MTTA, MTTR and MTBF over a period (default: the last 30 days), per service, team
    (the services' owners) or severity, each with the definition it computes."""
    times: dict[str, float | None] = {}
    for name, value in (("since", since), ("until", until)):
        try:
            times[name] = None if value is None else parse_time(value, ctx.now)
        except ValueError as exc:
            raise Problem(422, "Invalid Request", f"query.{name}: {exc}") from None
    end = ctx.now if times["until"] is None else times["until"]
    start = end - DEFAULT_PERIOD if times["since"] is None else times["since"]
    try:
        found = reporting.report(
            ctx.session, since=start, until=end, group_by=group_by, bucket=bucket
        )
    except ValueError as exc:
        raise Problem(422, "Invalid Request", f"query: {exc}") from None
    return schemas.MetricsOut(
        since=found.since,
        until=found.until,
        group_by=group_by,
        bucket=bucket,
        definitions=dict(DEFINITIONS),
        items=[schemas.group_out(g) for g in found.items],
        trend=None
        if found.trend is None
        else [
            schemas.BucketOut(
                start=b.start, end=b.end, items=[schemas.group_out(g) for g in b.items]
            )
            for b in found.trend
        ],
    )


@router.get("/incidents")
def list_incidents(
    ctx: Viewer,
    state: Annotated[list[schemas.State], Query(description="any of these states")] = [],  # noqa: B006
    severity: Annotated[list[schemas.Sev], Query(description="any of these severities")] = [],  # noqa: B006
    service_name: Annotated[
        str | None, Query(alias="service", pattern=NAME_PATTERN, max_length=100)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
) -> schemas.IncidentPage:
    """Incidents, newest first, filtered by state, severity and service."""
    before = None
    if cursor:
        before = decode_cursor(cursor).get("before")
        if isinstance(before, bool) or not isinstance(before, int) or before < 1:
            raise Problem(400, "Bad Request", "the cursor is malformed: pass back `next` unchanged")
    rows, more = service.page(
        ctx.session,
        states=state,
        severities=severity,
        service=service_name,
        limit=limit,
        before=before,
    )
    services = service.services_by_incident(ctx.session, [r.id for r in rows])
    return schemas.IncidentPage(
        items=[schemas.incident_out(r, services[r.id]) for r in rows],
        next=encode_cursor({"before": rows[-1].id}) if more else None,
    )


@router.post("/incidents", status_code=201)
def declare_incident(body: schemas.IncidentIn, ctx: Operator) -> schemas.IncidentDetail:
    """Declare an incident by hand (it starts ``triggered``)."""
    with problems():
        linked = []
        for fp in dict.fromkeys(body.alerts):
            found = alerts.get_alert(ctx.session, fp)
            if found is None:
                raise Problem(
                    422,
                    "Invalid Request",
                    f"body.alerts: no alert with fingerprint {fp!r}; see GET /api/v1/alerts",
                )
            linked.append(
                service.NewAlert(
                    fingerprint=fp,
                    alertname=found.alertname,
                    labels={str(k): str(v) for k, v in found.labels.items()},
                    firing=found.state != "resolved",
                )
            )
        row = service.declare(
            acting(ctx),
            title=body.title,
            severity=body.severity,
            summary=body.summary,
            services=body.services,
            slos=body.slos,
            alerts=linked,
            roles={r: getattr(body, r) for r in service.ROLES},
            subscribers=body.subscribers,
        )
    return detail(ctx, row.id)


@router.get("/incidents/{incident_id}")
def get_incident(incident_id: IncidentId, ctx: Viewer) -> schemas.IncidentDetail:
    """One incident with its links, status updates, tasks and transitions."""
    return detail(ctx, incident_id)


@router.patch("/incidents/{incident_id}")
def patch_incident(
    incident_id: IncidentId, body: schemas.IncidentPatch, ctx: Operator
) -> schemas.IncidentDetail:
    """Change an incident's title, summary or severity."""
    with problems():
        service.edit(
            acting(ctx), incident_id, title=body.title, summary=body.summary, severity=body.severity
        )
    return detail(ctx, incident_id)


@router.post("/incidents/{incident_id}/transition")
def transition(
    incident_id: IncidentId, body: schemas.TransitionIn, ctx: Operator
) -> schemas.IncidentDetail:
    """Move an incident forward (skipping states is allowed), or reopen a resolved one
    (``to: triggered``); 409 names the moves allowed from its state."""
    with problems():
        service.transition(acting(ctx), incident_id, body.to)
    return detail(ctx, incident_id)


@router.post("/incidents/{incident_id}/updates", status_code=201)
def post_update(
    incident_id: IncidentId, body: schemas.UpdateIn, ctx: Operator
) -> schemas.UpdateOut:
    """Post a status update; with ``notify`` (default) it goes to the incident's receivers."""
    with problems():
        update = followups.add_update(acting(ctx), incident_id, body.text, notify=body.notify)
    return schemas.update_out(update)


@router.put("/incidents/{incident_id}/roles/{role}")
def put_role(
    incident_id: IncidentId,
    role: Literal["commander", "communications", "scribe"],
    body: schemas.RoleIn,
    ctx: Operator,
) -> schemas.IncidentDetail:
    """Give a role to a person (``null`` leaves it unassigned)."""
    with problems():
        service.assign(acting(ctx), incident_id, role, body.person)
    return detail(ctx, incident_id)


@router.put("/incidents/{incident_id}/subscribers")
def put_subscribers(
    incident_id: IncidentId, body: schemas.ReceiversIn, ctx: Operator
) -> schemas.IncidentDetail:
    """Replace the receivers told of this incident (besides the server's and the rule's)."""
    with problems():
        service.set_subscribers(acting(ctx), incident_id, body.receivers)
    return detail(ctx, incident_id)


LinkKind = Literal["services", "alerts", "slos"]
LinkName = Annotated[str, Path(max_length=100, description="a service, fingerprint or SLO")]


def _link_name(kind: str, name: str) -> None:
    pattern = _FINGERPRINT if kind == "alerts" else NAME_PATTERN
    if not re.match(pattern, name):
        what = "an alert fingerprint (16 hex digits)" if kind == "alerts" else "a name"
        raise Problem(422, "Invalid Request", f"path.name: {name[:120]!r} is not {what}")


@router.put("/incidents/{incident_id}/links/{kind}/{name}")
def put_link(
    incident_id: IncidentId, kind: LinkKind, name: LinkName, ctx: Operator
) -> schemas.IncidentDetail:
    """Link a service, an alert (by fingerprint) or an SLO to the incident."""
    _link_name(kind, name)
    with problems():
        service.link(acting(ctx), incident_id, kind, name)
    return detail(ctx, incident_id)


@router.delete("/incidents/{incident_id}/links/{kind}/{name}", status_code=204)
def delete_link(incident_id: IncidentId, kind: LinkKind, name: LinkName, ctx: Operator) -> Response:
    """Remove a link."""
    _link_name(kind, name)
    with problems():
        service.unlink(acting(ctx), incident_id, kind, name)
    return Response(status_code=204)


@router.post("/incidents/{incident_id}/tasks", status_code=201)
def post_task(incident_id: IncidentId, body: schemas.TaskIn, ctx: Operator) -> schemas.TaskOut:
    """Add a follow-up task (owner and due date optional)."""
    with problems():
        task = followups.add_task(
            acting(ctx),
            incident_id,
            title=body.title,
            owner=body.owner,
            due=None if body.due is None else body.due.isoformat(),
        )
    return schemas.task_out(task)


@router.patch("/incidents/{incident_id}/tasks/{task_id}")
def patch_task(
    incident_id: IncidentId,
    task_id: Annotated[int, Path(ge=1, le=schemas.MAX_ID)],
    body: schemas.TaskPatch,
    ctx: Operator,
) -> schemas.TaskOut:
    """Change a task: ``done: true`` marks it done; ``null`` empties owner or due."""
    given = body.model_fields_set
    change = followups.TaskChange(
        title=body.title,
        owner=body.owner,
        due=None if body.due is None else body.due.isoformat(),
        done=body.done,
        clear_owner="owner" in given and body.owner is None,
        clear_due="due" in given and body.due is None,
    )
    with problems():
        task = followups.change_task(acting(ctx), incident_id, task_id, change)
    return schemas.task_out(task)


@router.post("/incidents/{incident_id}/merge")
def merge_incident(
    incident_id: IncidentId, body: schemas.MergeIn, ctx: Operator
) -> schemas.IncidentDetail:
    """Merge this incident (a duplicate) into ``into``: it is closed, and its alerts, links,
    updates, tasks and notes move to the primary, which is answered."""
    with problems():
        primary = merge.merge(acting(ctx), incident_id, body.into)
    return detail(ctx, primary.id)


router.include_router(timeline_api.router)
router.include_router(rules_api.router)
