"""Admin pages: the audit log and API tokens.

Both reuse the auth API's route functions with the page's ``Ctx``, so a token created or
revoked here is audited exactly as through ``/api/v1/tokens``. Form posts carry the
session's CSRF token (``csrf_token`` field or ``X-CSRF-Token`` header).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from reliant.server.auth.api import TokenIn, create_token, list_audit, list_tokens, revoke_token
from reliant.server.auth.roles import Role
from reliant.server.http import Problem
from reliant.server.web.diff import changes
from reliant.server.web.pages import CSRF_FIELD, Page, PageDep, PageError, redirect

router = APIRouter(include_in_schema=False)

#: Audit records per page.
AUDIT_PAGE = 50
#: Roles offered by the token form, most limited first.
ROLES = (Role.VIEWER, Role.OPERATOR, Role.ADMIN, Role.INGEST)
CsrfField = Annotated[str, Form(alias=CSRF_FIELD)]


@router.get("/audit", response_class=HTMLResponse)
def audit(
    page: PageDep,
    actor: Annotated[str, Query(max_length=100)] = "",
    target_kind: Annotated[str, Query(max_length=50)] = "",
    target_id: Annotated[str, Query(max_length=200)] = "",
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """Who changed what, newest first, with what changed."""
    page.require(Role.ADMIN)
    try:
        found = list_audit(
            page.ctx,
            target_kind=target_kind or None,
            target_id=target_id or None,
            actor=actor or None,
            limit=AUDIT_PAGE,
            cursor=cursor or None,
        )
    except Problem as exc:
        raise PageError(400, "Bad page link", exc.detail) from None
    records = [(r, changes(r.before, r.after)) for r in found.items]
    filters = {"actor": actor, "target_kind": target_kind, "target_id": target_id}
    kept = [(k, v) for k, v in filters.items() if v]
    return page.render(
        "audit.html",
        nav_key="audit",
        records=records,
        newest_link=f"/audit?{urlencode(kept)}" if cursor else "",
        older_link=f"/audit?{urlencode([*kept, ('cursor', found.next)])}" if found.next else "",
        filters=filters,
    )


def _tokens_page(
    page: Page, *, status: int = 200, created: str = "", error: str = "", form: dict[str, str]
) -> HTMLResponse:
    return page.render(
        "tokens.html",
        status=status,
        nav_key="tokens",
        tokens=list_tokens(page.ctx),
        roles=[str(r) for r in ROLES],
        created=created,
        error=error,
        form=form,
        revoked=page.request.query_params.get("revoked", ""),
    )


@router.get("/tokens", response_class=HTMLResponse)
def tokens(page: PageDep) -> HTMLResponse:
    """Every token, with a form to create one."""
    page.require(Role.ADMIN)
    return _tokens_page(page, form={})


@router.post("/tokens", response_class=HTMLResponse)
def create(
    page: PageDep,
    csrf_token: CsrfField = "",
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    service: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Create a token and show its secret, once."""
    page.require(Role.ADMIN)
    page.check_csrf(csrf_token)
    form = {"name": name, "role": role, "service": service}
    try:
        body = TokenIn.model_validate(
            {"name": name.strip(), "role": role, "service": service.strip() or None}
        )
        made = create_token(body, page.ctx)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return _tokens_page(page, status=422, error=f"{where}: {first['msg']}", form=form)
    except Problem as exc:
        return _tokens_page(page, status=exc.status, error=exc.detail or exc.title, form=form)
    return _tokens_page(page, status=201, created=made.token, form={})


@router.post("/tokens/{name}/revoke")
def revoke(name: str, page: PageDep, csrf_token: CsrfField = "") -> Response:
    """Revoke a token (the page asks to confirm first) and go back to the list."""
    page.require(Role.ADMIN)
    page.check_csrf(csrf_token)
    try:
        revoke_token(name, page.ctx)
    except Problem as exc:
        raise PageError(exc.status, "Cannot revoke", exc.detail) from None
    return redirect(f"/tokens?revoked={quote(name, safe='')}")
