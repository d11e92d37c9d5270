"""Routes for tokens, the caller's identity and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from reliant.server.auth import tokens
from reliant.server.auth.models import AuditRecord, Token
from reliant.server.auth.roles import Role
from reliant.server.http import Admin, Problem, Viewer, conflict, decode_cursor, encode_cursor

router = APIRouter(prefix="/api/v1", tags=["auth"])

#: Largest page any list endpoint returns.
MAX_PAGE = 500


class TokenIn(BaseModel):
    """A token to create."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
    role: Role
    service: str | None = Field(default=None, max_length=200)


class TokenOut(BaseModel):
    """A token as listed: never its secret."""

    id: str
    name: str
    role: Role
    service: str | None
    created_at: float
    created_by: str | None
    last_used_at: float | None
    revoked_at: float | None


class TokenCreated(TokenOut):
    """A token just created: the only time its plaintext is shown."""

    token: str


class WhoAmI(BaseModel):
    """The caller's identity."""

    name: str
    role: Role
    service: str | None


class AuditOut(BaseModel):
    """One audit record."""

    id: int
    time: float
    actor: str
    action: str
    target_kind: str
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    """A page of audit records, newest first; ``next`` is the cursor of the following page."""

    items: list[AuditOut]
    next: str | None


def token_out(token: Token) -> dict[str, Any]:
    """A stored token's public fields."""
    return {
        "id": token.id,
        "name": token.name,
        "role": token.role,
        "service": token.service,
        "created_at": token.created_at,
        "created_by": token.created_by,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }


@router.get("/whoami")
def whoami(ctx: Viewer) -> WhoAmI:
    """Who the presented token belongs to."""
    p = ctx.principal
    return WhoAmI(name=p.name, role=p.role, service=p.service)


@router.post("/tokens", status_code=201)
def create_token(body: TokenIn, ctx: Admin) -> TokenCreated:
    """Create a token; its plaintext is in this response only."""
    if body.service is not None and body.role is not Role.INGEST:
        raise Problem(422, "Invalid Request", "only ingest tokens are bound to a service")
    try:
        with ctx.session.begin_nested():
            token, raw = tokens.issue(
                ctx.session,
                name=body.name,
                role=body.role,
                service=body.service,
                now=ctx.now,
                created_by=ctx.principal.name,
            )
    except IntegrityError:
        raise conflict(f"a token named {body.name!r} exists; pick another name") from None
    out = token_out(token)
    ctx.audit("token.create", "token", token.name, after=out)
    return TokenCreated(**out, token=raw)


@router.get("/tokens")
def list_tokens(ctx: Admin) -> list[TokenOut]:
    """Every token, revoked ones included, oldest first."""
    rows = ctx.session.scalars(select(Token).order_by(Token.created_at, Token.name))
    return [TokenOut(**token_out(t)) for t in rows]


@router.delete("/tokens/{name}")
def revoke_token(name: str, ctx: Admin) -> TokenOut:
    """Revoke a token: it stops working at once. Revoking twice changes nothing."""
    token = ctx.session.scalar(select(Token).where(Token.name == name))
    if token is None:
        raise Problem(404, "Not Found", f"no token named {name!r}")
    if token.revoked_at is None:
        before = token_out(token)
        token.revoked_at = ctx.now
        ctx.audit("token.revoke", "token", name, before=before, after=token_out(token))
    return TokenOut(**token_out(token))


@router.get("/audit")
def list_audit(
    ctx: Admin,
    target_kind: str | None = None,
    target_id: str | None = None,
    actor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
) -> AuditPage:
    """Audit records, newest first, filtered by target or actor."""
    query = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit + 1)
    if target_kind:
        query = query.where(AuditRecord.target_kind == target_kind)
    if target_id:
        query = query.where(AuditRecord.target_id == target_id)
    if actor:
        query = query.where(AuditRecord.actor == actor)
    if cursor:
        before = decode_cursor(cursor).get("before")
        if not isinstance(before, int):
            raise Problem(400, "Bad Request", "the cursor is malformed: pass back `next` unchanged")
        query = query.where(AuditRecord.id < before)
    rows = list(ctx.session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        AuditOut(
            id=r.id,
            time=r.time,
            actor=r.actor,
            action=r.action,
            target_kind=r.target_kind,
            target_id=r.target_id,
            before=r.before,
            after=r.after,
        )
        for r in rows
    ]
    return AuditPage(items=items, next=encode_cursor({"before": rows[-1].id}) if more else None)
