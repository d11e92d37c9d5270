"""What every page shares: the signed-in session, role checks, CSRF, rendering, HTML errors.

A view declares ``page: PageDep`` (any human role) and receives a :class:`Page`: the request,
a :class:`~reliant.server.http.Ctx` inside the request's transaction, and the session's CSRF
token. Without a live session the browser is sent to ``/login?next=<this page>``; htmx
requests get ``401`` with ``HX-Redirect`` instead, so the whole page moves to the login form.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reliant.server.auth import cookies
from reliant.server.auth.roles import Role, allows
from reliant.server.auth.tokens import Principal
from reliant.server.http import Ctx, SessionDep
from reliant.server.settings import Settings
from reliant.server.web.templating import render_template

#: Navigation of the top bar: (key, label, path, role needed to see it).
NAV: tuple[tuple[str, str, str, Role], ...] = (
    ("overview", "Overview", "/", Role.VIEWER),
    ("services", "Services", "/services", Role.VIEWER),
    ("slos", "SLOs", "/slos", Role.VIEWER),
    ("alerts", "Alerts", "/alerts", Role.VIEWER),
    ("silences", "Silences", "/silences", Role.VIEWER),
    ("incidents", "Incidents", "/incidents", Role.VIEWER),
    ("runbooks", "Runbooks", "/runbooks", Role.VIEWER),
    ("postmortems", "Postmortems", "/postmortems", Role.VIEWER),
    ("oncall", "On call", "/oncall", Role.VIEWER),
    ("pages", "Pages", "/pages", Role.VIEWER),
    ("events", "Events", "/events", Role.VIEWER),
    ("notifications", "Notifications", "/notifications", Role.VIEWER),
    ("audit", "Audit", "/audit", Role.ADMIN),
    ("tokens", "Tokens", "/tokens", Role.ADMIN),
    ("jobs", "Jobs", "/jobs", Role.VIEWER),
)
CSRF_FIELD = "csrf_token"


class LoginRequired(Exception):
    """The request has no live web session; ``next`` is where to return after logging in."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageError(Exception):
    """An error answered with the HTML error page (403, 404, ...)."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


@dataclass(slots=True)
class Page:
    """A signed-in request to a page: who, the transaction, the CSRF token."""

    request: Request
    ctx: Ctx
    csrf: str

    @property
    def principal(self) -> Principal:
        """Who is signed in."""
        return self.ctx.principal

    @property
    def now(self) -> float:
        """The server's wall clock for this request."""
        return self.ctx.now

    @property
    def can_operate(self) -> bool:
        """Whether the user may change things operators change (breakers, faults)."""
        return allows(self.principal.role, Role.OPERATOR)

    @property
    def is_admin(self) -> bool:
        """Whether the user may manage tokens and read the audit log."""
        return allows(self.principal.role, Role.ADMIN)

    @property
    def htmx(self) -> bool:
        """Whether htmx sent the request (it wants a fragment)."""
        return self.request.headers.get("hx-request") == "true"

    def require(self, role: Role) -> None:
        """Refuse the page unless the user's role allows ``role``.

        Raises:
            PageError: 403 naming the role needed.
        """
        if not allows(self.principal.role, role):
            raise PageError(
                403,
                "Not allowed",
                f"This needs the {role} role; you are signed in as "
                f"{self.principal.name} ({self.principal.role}).",
            )

    def check_csrf(self, form_value: str | None) -> None:
        """Refuse a form post without the session's CSRF token (form field or header).

        Raises:
            PageError: 403 when the token is missing or wrong.
        """
        sent = form_value or self.request.headers.get(cookies.CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), self.csrf.encode()):
            raise PageError(
                403,
                "Form expired",
                "The form was missing its security token. Reload the page and try again.",
            )

    def nav(self) -> list[tuple[str, str, str]]:
        """The top bar's links this user may follow."""
        return [(key, label, path) for key, label, path, role in NAV if self.allows(role)]

    def allows(self, role: Role) -> bool:
        """Whether the user's role allows ``role``."""
        return allows(self.principal.role, role)

    def render(
        self,
        template: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """Render a page (or fragment) with the shared context: ``page``, ``now``, ``nav``."""
        html = render_template(template, {"page": self, "now": self.now, **context})
        return HTMLResponse(html, status_code=status, headers=headers)


def page_context(request: Request, session: SessionDep) -> Page:
    """The dependency behind :data:`PageDep`.

    Raises:
        LoginRequired: the request carries no live web session.
    """
    settings: Settings = request.app.state.settings
    now = settings.now()
    web = cookies.session_from_request(session, request, now=now)
    if web is None:
        raise LoginRequired(_here(request))
    principal, csrf = web
    if principal.role is Role.INGEST:  # cookies.login refuses these; belt and braces
        raise LoginRequired(_here(request))
    page = Page(
        request, Ctx(session=session, principal=principal, settings=settings, now=now), csrf
    )
    request.state.page = page
    return page


PageDep = Annotated[Page, Depends(page_context)]


def _here(request: Request) -> str:
    """The page to come back to: for htmx requests the page that made them."""
    if request.headers.get("hx-request") == "true":
        current = request.headers.get("hx-current-url", "")
        parts = urlsplit(current)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return safe_next(path)
    query = request.url.query
    return safe_next(request.url.path + (f"?{query}" if query else ""))


def safe_next(value: str | None) -> str:
    """``value`` if it is a local page to return to after logging in, else ``/``.

    Only absolute paths on this site pass: no scheme, no host, no ``//`` or backslash
    (browsers read ``/\\evil.example`` as another host), no control characters, and not the
    login/logout pages themselves.
    """
    if not value or len(value) > 2000 or not value.startswith("/"):
        return "/"
    if (
        value.startswith("//")
        or "\\" in value
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    ):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    if parts.path in ("/login", "/logout") or parts.path.startswith(("/api/", "/static/")):
        return "/"
    return value


def login_url(next_path: str) -> str:
    """The login page, returning to ``next_path`` afterwards."""
    next_path = safe_next(next_path)
    return "/login" if next_path == "/" else f"/login?next={quote(next_path, safe='/')}"


def redirect(path: str) -> RedirectResponse:
    """A ``303 See Other`` to a local path (the answer to a form post)."""
    return RedirectResponse(path, status_code=303)


def on_login_required(request: Request, exc: Exception) -> Response:
    """Send the browser to the login form (htmx: ``HX-Redirect``)."""
    assert isinstance(exc, LoginRequired)
    target = login_url(exc.next_path)
    if request.headers.get("hx-request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": target})
    return redirect(target)


def on_page_error(request: Request, exc: Exception) -> HTMLResponse:
    """The HTML error page, inside the layout when the user is signed in."""
    assert isinstance(exc, PageError)
    page: Page | None = getattr(request.state, "page", None)
    context: dict[str, Any] = {"title": exc.title, "message": exc.message, "code": exc.status}
    if page is not None:
        return page.render("error.html", status=exc.status, **context)
    html = render_template("error_plain.html", context)
    return HTMLResponse(html, status_code=exc.status)
