"""API tokens: ``rlt_<id>_<secret>``; created, verified, listed and revoked here.

The secret carries 256 bits of randomness, so one SHA-256 is a sound verifier (no password
stretching needed); comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.auth.models import Token
from reliant.server.auth.roles import Role

PREFIX = "rlt_"
_SHAPE = re.compile(r"^rlt_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
#: Seconds between two writes of a token's ``last_used_at`` (reads stay cheap).
LAST_USED_RESOLUTION = 60.0


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's id, name, role and (for ingest tokens) service."""

    token_id: str
    name: str
    role: Role
    service: str | None = None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(raw: str) -> tuple[str, str] | None:
    """Split a presented token into (id, secret), or ``None`` when it is not one."""
    match = _SHAPE.match(raw.strip())
    return (match[1], match[2]) if match else None


def issue(
    session: Session,
    *,
    name: str,
    role: Role,
    now: float,
    service: str | None = None,
    created_by: str | None = None,
    raw: str | None = None,
) -> tuple[Token, str]:
    """Create a token and return it with its plaintext, which is never stored.

    Args:
        raw: a plaintext to adopt instead of a random one (bootstrap from the environment).

    Raises:
        ValueError: ``raw`` is not shaped like a reliant token.
    """
    if raw is None:
        token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        raw = f"{PREFIX}{token_id}_{secret}"
    else:
        parts = parse(raw)
        if parts is None:
            raise ValueError(
                "a reliant token looks like rlt_<12 hex digits>_<20+ url-safe characters>; "
                "make one with: python -c 'import secrets; "
                'print("rlt_" + secrets.token_hex(6) + "_" + secrets.token_urlsafe(32))\''
            )
        token_id, secret = parts
    token = Token(
        id=token_id,
        name=name,
        role=role.value,
        service=service,
        secret_hash=_hash(secret),
        created_at=now,
        created_by=created_by,
    )
    session.add(token)
    session.flush()
    return token, raw


def verify(session: Session, raw: str, *, now: float) -> Principal | None:
    """The principal behind a presented token, or ``None`` when it is unknown or revoked."""
    parts = parse(raw)
    if parts is None:
        return None
    token_id, secret = parts
    token = session.get(Token, token_id)
    if token is None or token.revoked_at is not None:
        return None
    if not hmac.compare_digest(token.secret_hash, _hash(secret)):
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
    return Principal(token.id, token.name, Role(token.role), token.service)


def principal_of(token: Token) -> Principal:
    """The principal a stored token stands for."""
    return Principal(token.id, token.name, Role(token.role), token.service)


def any_exist(session: Session) -> bool:
    """Whether the store holds any token at all (revoked ones included)."""
    return session.scalar(select(Token.id).limit(1)) is not None
