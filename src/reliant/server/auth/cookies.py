"""Web sessions: log in with a token, then a secure, HTTP-only, same-site cookie.

The cookie carries a random secret whose SHA-256 names the stored session. Each session has
a CSRF token that pages send back in the ``X-CSRF-Token`` header on every unsafe request
(htmx adds it from ``hx-headers``); ``SameSite=Strict`` is the second line of defence.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import delete
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from reliant.server.auth.models import Token, WebSession
from reliant.server.auth.tokens import Principal, principal_of, verify

COOKIE = "reliant_session"
CSRF_HEADER = "x-csrf-token"
#: Seconds a web session lasts.
SESSION_TTL = 12 * 3600.0


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def login(session: Session, raw_token: str, *, now: float) -> tuple[str, WebSession] | None:
    """Open a web session for a valid human token; ``None`` for bad or ingest-only tokens.

    Returns:
        the cookie value and the stored session (with its CSRF token).
    """
    principal = verify(session, raw_token, now=now)
    if principal is None or principal.role == "ingest":
        return None
    secret = secrets.token_urlsafe(32)
    web = WebSession(
        id_hash=_hash(secret),
        token_id=principal.token_id,
        csrf=secrets.token_urlsafe(24),
        created_at=now,
        expires_at=now + SESSION_TTL,
    )
    session.add(web)
    return secret, web


def logout(session: Session, request: Request) -> None:
    """End the session the request's cookie names, if any."""
    if secret := request.cookies.get(COOKIE):
        session.execute(delete(WebSession).where(WebSession.id_hash == _hash(secret)))


def set_cookie(response: Response, secret: str, *, secure: bool) -> None:
    """Attach the session cookie: HTTP-only, ``SameSite=Strict``, ``Secure`` when asked."""
    response.set_cookie(
        COOKIE,
        secret,
        max_age=int(SESSION_TTL),
        httponly=True,
        secure=secure,
        samesite="strict",
        path="/",
    )


def clear_cookie(response: Response) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(COOKIE, path="/")


def session_from_request(
    session: Session, request: Request, *, now: float
) -> tuple[Principal, str] | None:
    """The principal and CSRF token of the request's live web session, if it has one."""
    secret = request.cookies.get(COOKIE)
    if not secret:
        return None
    web = session.get(WebSession, _hash(secret))
    if web is None or web.expires_at <= now:
        return None
    token = session.get(Token, web.token_id)
    if token is None or token.revoked_at is not None:
        return None
    return principal_of(token), web.csrf


def csrf_matches(request: Request, expected: str) -> bool:
    """Whether the request carries the session's CSRF token in ``X-CSRF-Token``."""
    return hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), expected)
