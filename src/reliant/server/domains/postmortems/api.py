"""Routes of postmortems (``/api/v1/postmortems``, ``/api/v1/incidents/{id}/postmortem``)
and of error-budget policies (``/api/v1/error-budget-policies``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from reliant.server.domains.postmortems import export, lifecycle, policies, policy, schemas
from reliant.server.domains.postmortems import service as pm
from reliant.server.domains.postmortems.models import PostmortemRow
from reliant.server.domains.postmortems.recording import Acting, PostmortemError, services_of
from reliant.server.http import Ctx, Operator, Problem, Viewer, decode_cursor, encode_cursor
from reliant.spec.models import NAME_HINT, NAME_PATTERN, ErrorBudgetPolicySpec

router = APIRouter(prefix="/api/v1", tags=["postmortems"])

#: Largest page the list endpoints return.
MAX_PAGE = 500
PostmortemId = Annotated[int, Path(ge=1, le=schemas.MAX_ID, description="the postmortem's id")]
IncidentId = Annotated[int, Path(ge=1, le=schemas.MAX_ID, description="the incident's number")]
PolicyName = Annotated[
    str, Path(pattern=NAME_PATTERN, max_length=100, description=f"the policy's name: {NAME_HINT}")
]
#: How the policies in force are applied.
POLICY_RULE = (
    "A resolved incident requires a postmortem when any policy covering one of its services "
    "(a policy without services covers every incident) holds: its severity is "
    "severity_at_most or worse, or a linked SLO consumed more than budget_consumed_over "
    "percent of its error budget during the incident. Without a declared policy the "
    "built-in default applies (SEV2 or worse, or more than 20 % of a budget: the SRE "
    "Workbook's). A required postmortem is due due_business_days business days after the "
    "resolution (the shortest of the requiring policies)."
)


@contextmanager
def problems() -> Iterator[None]:
    """Answer the domain's errors as problem documents."""
    try:
        yield
    except PostmortemError as exc:
        raise Problem(exc.status, exc.title, str(exc), **exc.extra) from None


def acting(ctx: Ctx) -> Acting:
    """The caller as the use cases see it."""
    return Acting(ctx.session, ctx.now, ctx.principal.name)


def out(ctx: Ctx, row: PostmortemRow) -> schemas.PostmortemOut:
    """A postmortem as the API shows it."""
    return schemas.postmortem_out(
        row,
        services_of(ctx.session, row.id),
        lifecycle.allowed(row.state),
        row.state in lifecycle.EDITABLE,
    )


def _policy_out(p: policy.Policy, managed_by: str | None) -> schemas.PolicyOut:
    return schemas.PolicyOut(
        name=p.name,
        builtin=p.builtin,
        managed_by=managed_by,
        services=list(p.services),
        severity_at_most=p.severity_at_most,
        budget_consumed_over=p.budget_consumed_over,
        due_business_days=p.due_business_days,
    )


@router.get("/postmortems/policy")
def get_effective_policies(ctx: Viewer) -> schemas.EffectivePolicies:
    """The error-budget policies in force (the built-in default when none is declared), and
    how they decide which incidents require a postmortem."""
    declared = {r.name: r.managed_by for r in policies.page(ctx.session, limit=None)}
    return schemas.EffectivePolicies(
        items=[_policy_out(p, declared.get(p.name)) for p in policies.in_force(ctx.session)],
        rule=POLICY_RULE,
    )


@router.get("/postmortems")
def list_postmortems(
    ctx: Viewer,
    state: schemas.State | None = None,
    required: bool | None = None,
    service_name: Annotated[
        str | None, Query(alias="service", pattern=NAME_PATTERN, max_length=100)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
) -> schemas.PostmortemPage:
    """Postmortems, newest first, filtered by state, required and service."""
    before = None
    if cursor:
        before = decode_cursor(cursor).get("before")
        if isinstance(before, bool) or not isinstance(before, int) or before < 1:
            raise Problem(400, "Bad Request", "the cursor is malformed: pass back `next` unchanged")
    rows, more = pm.page(
        ctx.session, state=state, required=required, service=service_name, limit=limit,
        before=before,
    )  # fmt: skip
    services = pm.services_by_postmortem(ctx.session, [r.id for r in rows])
    return schemas.PostmortemPage(
        items=[schemas.summary_out(r, services[r.id]) for r in rows],
        next=encode_cursor({"before": rows[-1].id}) if more else None,
    )


@router.get("/postmortems/{postmortem_id}")
def get_postmortem(postmortem_id: PostmortemId, ctx: Viewer) -> schemas.PostmortemOut:
    """One postmortem: its sections, facts with their definitions, the moves it allows."""
    with problems():
        return out(ctx, pm.require(ctx.session, postmortem_id))


@router.put("/postmortems/{postmortem_id}")
def put_postmortem(
    postmortem_id: PostmortemId, body: schemas.PostmortemIn, ctx: Operator
) -> schemas.PostmortemOut:
    """Edit a postmortem: the fields given change, those left out stay. ``version`` is the
    version the edit was made on; a stale one is a 409 naming the current version. A
    published postmortem goes back to draft before it can be edited."""
    with problems():
        return out(ctx, pm.edit(acting(ctx), postmortem_id, body))


@router.post("/postmortems/{postmortem_id}/state")
def post_state(
    postmortem_id: PostmortemId, body: schemas.StateIn, ctx: Operator
) -> schemas.PostmortemOut:
    """Move a postmortem: draft → in_review → published; in_review and published go back
    to draft. Other moves are a 409 naming the allowed ones."""
    with problems():
        return out(ctx, pm.transition(acting(ctx), postmortem_id, body.state, body.version))


@router.post("/postmortems/{postmortem_id}/refresh")
def post_refresh(postmortem_id: PostmortemId, ctx: Operator) -> schemas.PostmortemOut:
    """Recompute the facts (and the burn chart) from the incident and SLO data; add new
    timeline entries and follow-up tasks. Edited text stays as it is."""
    with problems():
        return out(ctx, pm.refresh(acting(ctx), postmortem_id))


@router.get(
    "/postmortems/{postmortem_id}/export",
    response_class=Response,
    responses={
        200: {
            "description": "The postmortem as a file (Content-Disposition: attachment)",
            "content": {"text/markdown": {"schema": {"type": "string"}},
                        "text/html": {"schema": {"type": "string"}}},
        }
    },
)  # fmt: skip
def export_postmortem(
    postmortem_id: PostmortemId,
    ctx: Viewer,
    fmt: Annotated[Literal["markdown", "html"], Query(alias="format")] = "markdown",
) -> Response:
    """The postmortem as a Markdown or self-contained HTML file, with the burn chart (an
    inline SVG; in Markdown a data: image)."""
    with problems():
        row = pm.require(ctx.session, postmortem_id)
    services = services_of(ctx.session, row.id)
    body = export.markdown(row, services) if fmt == "markdown" else export.html(row, services)
    media_type, _ = export.FORMATS[fmt]
    headers = {
        "Content-Disposition": f'attachment; filename="{export.filename(row, fmt)}"',
        "Content-Security-Policy": export.CSP,
        "X-Content-Type-Options": "nosniff",
    }
    return Response(body, media_type=media_type, headers=headers)


@router.get("/incidents/{incident_id}/postmortem")
def get_incident_postmortem(incident_id: IncidentId, ctx: Viewer) -> schemas.PostmortemOut:
    """The postmortem of an incident."""
    row = pm.by_incident(ctx.session, incident_id)
    if row is None:
        raise Problem(
            404,
            "Not Found",
            f"incident #{incident_id} has no postmortem; generate one with "
            f"POST /api/v1/incidents/{incident_id}/postmortem",
        )
    return out(ctx, row)


@router.post("/incidents/{incident_id}/postmortem", status_code=201)
def generate_postmortem(
    incident_id: IncidentId, ctx: Operator, response: Response
) -> schemas.PostmortemOut:
    """Generate the draft postmortem of an incident: text, facts, timeline, suggested
    action items. A second call is a 409 with the existing postmortem's ``url``."""
    with problems():
        row = pm.generate(acting(ctx), incident_id)
    response.headers["Location"] = schemas.url_of(row.id)
    return out(ctx, row)


@router.post("/incidents/{incident_id}/postmortem/refresh")
def refresh_incident_postmortem(incident_id: IncidentId, ctx: Operator) -> schemas.PostmortemOut:
    """Recompute the facts of an incident's postmortem (as ``POST /postmortems/{id}/refresh``)."""
    row = pm.by_incident(ctx.session, incident_id)
    if row is None:
        raise Problem(404, "Not Found", f"incident #{incident_id} has no postmortem")
    with problems():
        return out(ctx, pm.refresh(acting(ctx), row.id))


# -- error-budget policies ---------------------------------------------------------------


def _stored(r: policies.PolicyRecord) -> schemas.StoredPolicyOut:
    return schemas.StoredPolicyOut(
        name=r.name,
        spec=r.spec,
        managed_by=r.managed_by,
        created_at=r.created_at,
        updated_at=r.updated_at,
        updated_by=r.updated_by,
    )


@router.get("/error-budget-policies")
def list_policies(
    ctx: Viewer,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
) -> schemas.StoredPolicyPage:
    """Declared error-budget policies by name (``/postmortems/policy`` shows those in force)."""
    after = None
    if cursor:
        after = decode_cursor(cursor).get("after")
        if not isinstance(after, str) or "\x00" in after:
            raise Problem(400, "Bad Request", "the cursor is malformed: pass back `next` unchanged")
    records = policies.page(ctx.session, limit=limit + 1, after=after)
    more = len(records) > limit
    records = records[:limit]
    return schemas.StoredPolicyPage(
        items=[_stored(r) for r in records],
        next=encode_cursor({"after": records[-1].name}) if more else None,
    )


@router.get("/error-budget-policies/{name}")
def get_policy(name: PolicyName, ctx: Viewer) -> schemas.StoredPolicyOut:
    """One declared error-budget policy."""
    with problems():
        return _stored(policies.get(ctx.session, name))


@router.put(
    "/error-budget-policies/{name}",
    responses={201: {"model": schemas.StoredPolicyOut, "description": "Created"}},
)
def put_policy(
    name: PolicyName, body: ErrorBudgetPolicySpec, ctx: Operator, response: Response
) -> schemas.StoredPolicyOut:
    """Create (201) or replace (200) an error-budget policy."""
    with problems():
        record, created = policies.put(acting(ctx), name, body)
    if created:
        response.status_code = 201
    return _stored(record)


@router.delete("/error-budget-policies/{name}", status_code=204)
def delete_policy(name: PolicyName, ctx: Operator) -> Response:
    """Delete an error-budget policy (postmortems it required stay required)."""
    with problems():
        policies.delete(acting(ctx), name)
    return Response(status_code=204)
