"""Signing in to the web UI with a token, and signing out.

``POST /login`` trades a human token (viewer, operator, admin — never ingest) for a session
cookie that is ``HttpOnly``, ``SameSite=Strict`` and ``Secure`` (``settings.secure_cookies``).
A refused token gets the form again with one message whatever the reason, so the answer
tells an attacker nothing about which tokens exist. ``POST /logout`` needs the CSRF token.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from reliant.server.auth import audit, cookies
from reliant.server.auth.models import Token
from reliant.server.http import SessionDep
from reliant.server.settings import Settings
from reliant.server.web.pages import CSRF_FIELD, PageError, redirect, safe_next
from reliant.server.web.templating import render_template

router = APIRouter(include_in_schema=False)

REFUSED = (
    "That token cannot sign in. Check that you pasted all of it, that it has not been "
    "revoked, and that it is a viewer, operator or admin token (service tokens cannot sign in)."
)
#: Longest token accepted in the form (real ones are about 60 characters).
TOKEN_MAX = 200


def _form(next_path: str, *, error: str = "", status: int = 200) -> HTMLResponse:
    html = render_template("login.html", {"next": next_path, "error": error})
    return HTMLResponse(html, status_code=status)


@router.get("/login")
def login_form(request: Request, session: SessionDep, next: str = "/") -> Response:
    """The sign-in form; already signed-in users go straight on."""
    settings: Settings = request.app.state.settings
    target = safe_next(next)
    if cookies.session_from_request(session, request, now=settings.now()) is not None:
        return redirect(target)
    return _form(target)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Open a session for a valid human token and go to ``next`` (a local page)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise PageError(403, "Not allowed", "Sign in from reliant's own login page.")
    settings: Settings = request.app.state.settings
    now = settings.now()
    target = safe_next(next)
    token = token.strip()
    opened = cookies.login(session, token, now=now) if len(token) <= TOKEN_MAX else None
    if opened is None:
        return _form(target, error=REFUSED, status=401)
    secret, web = opened
    holder = session.get(Token, web.token_id)
    name = holder.name if holder is not None else web.token_id
    audit.record(
        session,
        actor=name,
        action="session.login",
        target_kind="session",
        target_id=name,
        now=now,
        after={"expires_at": web.expires_at},
    )
    response = redirect(target)
    cookies.set_cookie(response, secret, secure=settings.secure_cookies)
    return response


@router.post("/logout")
def logout(
    request: Request,
    session: SessionDep,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """End the session (the form must carry its CSRF token) and show the login form."""
    settings: Settings = request.app.state.settings
    now = settings.now()
    web = cookies.session_from_request(session, request, now=now)
    if web is not None:
        principal, csrf = web
        sent = csrf_token or request.headers.get(cookies.CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), csrf.encode()):
            raise PageError(
                403,
                "Form expired",
                "The sign-out form was missing its security token. Reload the page and try again.",
            )
        cookies.logout(session, request)
        audit.record(
            session,
            actor=principal,
            action="session.logout",
            target_kind="session",
            target_id=principal.name,
            now=now,
        )
    response = redirect("/login")
    cookies.clear_cookie(response)
    return response
