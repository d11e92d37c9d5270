"""Signing in and out of the web UI: cookies, refusals, redirects, CSRF on logout."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from server_helpers import ADMIN, bearer, token_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from web_helpers import login

from reliant.server.app import create_app
from reliant.server.auth.models import AuditRecord
from reliant.server.db import make_engine
from reliant.server.settings import Settings
from reliant.server.web.login import REFUSED

#: Signing in is auth and sessions: one store (see tests/server/conftest.py).
pytestmark = pytest.mark.store_agnostic


def _audit_actions(db_url: str) -> list[str]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(AuditRecord.action).order_by(AuditRecord.id)))
    finally:
        engine.dispose()


def test_login_form_asks_for_a_token(anonymous: TestClient) -> None:
    """GET /login shows a form posting a password-type token field back to /login."""
    response = anonymous.get("/login")
    assert 200 == response.status_code
    assert 'action="/login"' in response.text
    assert 'name="token" type="password"' in response.text


def test_a_page_without_a_session_redirects_to_login_with_next(anonymous: TestClient) -> None:
    """Pages send visitors without a session to /login?next=<the page>."""
    response = anonymous.get("/events?severity=warning", follow_redirects=False)
    assert 303 == response.status_code
    assert "/login?next=/events%3Fseverity%3Dwarning" == response.headers["location"]


def test_htmx_requests_without_a_session_get_hx_redirect(anonymous: TestClient) -> None:
    """An htmx poll after the session ended gets 401 with HX-Redirect to the login form."""
    headers = {"HX-Request": "true", "HX-Current-URL": "https://testserver/services/payments"}
    response = anonymous.get("/", headers=headers, follow_redirects=False)
    assert 401 == response.status_code
    assert "/login?next=/services/payments" == response.headers["hx-redirect"]


def test_logging_in_sets_a_strict_http_only_secure_cookie(anonymous: TestClient) -> None:
    """A good token gets a 303 to next and an HttpOnly, SameSite=Strict, Secure cookie."""
    response = anonymous.post(
        "/login", data={"token": ADMIN, "next": "/jobs"}, follow_redirects=False
    )
    assert 303 == response.status_code
    assert "/jobs" == response.headers["location"]
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("reliant_session=")
    assert {"httponly", "samesite=strict", "secure", "path=/"} <= {
        part.strip() for part in cookie.split(";")
    }
    assert 200 == anonymous.get("/jobs").status_code


def test_cookies_are_not_secure_when_settings_say_so(settings: Settings) -> None:
    """settings.secure_cookies=False (plain-HTTP set-ups) leaves out the Secure flag."""
    app = create_app(replace(settings, secure_cookies=False))
    try:
        with TestClient(app, base_url="http://testserver") as client:
            response = client.post("/login", data={"token": ADMIN}, follow_redirects=False)
            parts = {part.strip() for part in response.headers["set-cookie"].lower().split(";")}
            assert "secure" not in parts
            assert 200 == client.get("/").status_code
    finally:
        app.state.engine.dispose()


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        "rlt_000000000001_wrong-secret-wrong-secret",
        "rlt_ffffffffffff_no-such-token-at-all-here",
        "",
        "x" * 5000,
    ],
)
def test_a_bad_token_gets_the_form_again_with_one_message(
    anonymous: TestClient, token: str
) -> None:
    """Unknown, wrong or malformed tokens: 401, the form, the same message, no cookie."""
    response = anonymous.post("/login", data={"token": token, "next": "/jobs"})
    assert 401 == response.status_code
    assert REFUSED.replace("'", "&#39;") in response.text
    assert 'name="next" value="/jobs"' in response.text
    assert "set-cookie" not in response.headers


def test_revoked_and_ingest_tokens_cannot_log_in(client: TestClient, anonymous: TestClient) -> None:
    """An ingest token and a revoked viewer token are refused like unknown ones."""
    ingest = token_for(client, "ingest", name="sdk")
    viewer = token_for(client, "viewer", name="gone")
    assert 200 == client.delete("/api/v1/tokens/gone").status_code
    for token in (ingest, viewer):
        response = anonymous.post("/login", data={"token": token})
        assert 401 == response.status_code
        assert REFUSED.replace("'", "&#39;") in response.text


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/login",
        "/api/v1/tokens",
        "/jobs\r\nSet-Cookie: x=1",
    ],
)
def test_next_never_leaves_the_site(anonymous: TestClient, target: str) -> None:
    """After logging in, a foreign or odd next goes to / instead (no open redirect)."""
    response = anonymous.post(
        "/login", data={"token": ADMIN, "next": target}, follow_redirects=False
    )
    assert 303 == response.status_code
    assert "/" == response.headers["location"]


def test_login_page_of_a_signed_in_user_goes_on(anonymous: TestClient) -> None:
    """GET /login with a live session redirects to next at once."""
    login(anonymous)
    response = anonymous.get("/login?next=/events", follow_redirects=False)
    assert 303 == response.status_code
    assert "/events" == response.headers["location"]


def test_logout_without_the_csrf_token_is_refused(anonymous: TestClient) -> None:
    """POST /logout without the session's CSRF token: 403, and the session still works."""
    login(anonymous)
    response = anonymous.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False)
    assert 403 == response.status_code
    assert 200 == anonymous.get("/jobs", follow_redirects=False).status_code


def test_logout_ends_the_session(anonymous: TestClient) -> None:
    """POST /logout with the CSRF token ends the session and clears the cookie."""
    csrf = login(anonymous)
    response = anonymous.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert 303 == response.status_code
    assert "/login" == response.headers["location"]
    assert "reliant_session=" in response.headers["set-cookie"]
    assert 303 == anonymous.get("/jobs", follow_redirects=False).status_code


def test_logout_also_takes_the_csrf_header(anonymous: TestClient) -> None:
    """htmx-style logout: the CSRF token in X-CSRF-Token works as well as the form field."""
    csrf = login(anonymous)
    response = anonymous.post("/logout", headers={"X-CSRF-Token": csrf}, follow_redirects=False)
    assert 303 == response.status_code
    assert 303 == anonymous.get("/", follow_redirects=False).status_code


def test_logout_without_a_session_just_shows_the_login_form(anonymous: TestClient) -> None:
    """Logging out twice (or with an expired session) is harmless."""
    response = anonymous.post("/logout", follow_redirects=False)
    assert 303 == response.status_code
    assert "/login" == response.headers["location"]


def test_revoking_the_token_ends_its_sessions(client: TestClient, anonymous: TestClient) -> None:
    """A session lives only as long as its token: revoke it and the pages ask to log in."""
    login(anonymous, token_for(client, "viewer", name="bob"))
    assert 200 == anonymous.get("/").status_code
    assert 200 == client.delete("/api/v1/tokens/bob", headers=bearer(ADMIN)).status_code
    assert 303 == anonymous.get("/", follow_redirects=False).status_code


def test_logins_and_logouts_are_audited(anonymous: TestClient, db_url: str) -> None:
    """session.login and session.logout land in the audit log."""
    csrf = login(anonymous)
    anonymous.post("/logout", data={"csrf_token": csrf})
    actions = _audit_actions(db_url)
    assert ["session.login", "session.logout"] == [a for a in actions if a.startswith("session.")]


def test_a_cross_site_login_post_is_refused(anonymous: TestClient) -> None:
    """A login form posted from another site (Sec-Fetch-Site: cross-site) gets 403."""
    response = anonymous.post(
        "/login", data={"token": ADMIN}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert 403 == response.status_code
    assert "set-cookie" not in response.headers
