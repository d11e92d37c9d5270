"""The web UI: server-rendered pages, htmx for the interactive parts, SSE for live ones.

Layer modules: ``templating`` (Jinja2 and filters), ``pages`` (the signed-in ``Page``,
errors, redirects), ``security`` (headers), ``login`` (sign in/out), ``views`` (events and
jobs), ``admin`` (audit log and tokens), ``health`` (a service's status at a glance). Pages
of a domain live in that domain's ``views.py``; all templates are under ``web/templates``.

``create_app`` calls :func:`mount` once; routers are listed in ``app.ROUTER_MODULES``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from reliant.server.web.pages import LoginRequired, PageError, on_login_required, on_page_error
from reliant.server.web.security import SecurityHeaders
from reliant.server.web.templating import STATIC


def mount(app: FastAPI) -> None:
    """Add the UI's static files, security headers and error pages to ``app``."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(PageError, on_page_error)


__all__ = ["mount"]
