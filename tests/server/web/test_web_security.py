"""Security of the web UI: headers, CSRF on htmx and form posts, no inline code."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from server_helpers import ADMIN, bearer
from web_helpers import add_service, breaker_changed, inline_code, login

from reliant.server.web.security import CSP

#: Headers and CSRF are HTTP shape: one store (see tests/server/conftest.py).
pytestmark = pytest.mark.store_agnostic

PAGES = ["/", "/services", "/services/payments", "/events", "/audit", "/tokens", "/jobs"]
OVERRIDE = "/api/v1/services/payments/overrides/breakers/db"


def test_pages_carry_a_strict_content_security_policy(anonymous: TestClient) -> None:
    """HTML answers forbid inline scripts, foreign origins and framing; nothing sniffs."""
    login(anonymous)
    response = anonymous.get("/")
    assert CSP == response.headers["content-security-policy"]
    assert "script-src 'self'" in CSP
    assert "frame-ancestors 'none'" in CSP
    assert "unsafe" not in CSP
    assert "nosniff" == response.headers["x-content-type-options"]
    assert "same-origin" == response.headers["referrer-policy"]
    assert "DENY" == response.headers["x-frame-options"]
    assert "no-store" == response.headers["cache-control"]


def test_the_login_form_and_error_pages_carry_the_headers(anonymous: TestClient) -> None:
    """Even pages shown before signing in, and refusals, get the policy."""
    for response in (anonymous.get("/login"), anonymous.post("/login", data={"token": "x"})):
        assert CSP == response.headers["content-security-policy"]


def test_static_files_are_not_sniffed_and_api_answers_keep_their_headers(
    anonymous: TestClient,
) -> None:
    """Static files get nosniff; API answers are left alone (the OpenAPI page uses a CDN)."""
    js = anonymous.get("/static/htmx.min.js")
    assert 200 == js.status_code
    assert "nosniff" == js.headers["x-content-type-options"]
    assert "javascript" in js.headers["content-type"]
    api = anonymous.get("/api/v1/whoami")
    assert "content-security-policy" not in api.headers


def test_pages_hold_no_inline_code(anonymous: TestClient) -> None:
    """No inline script, handler, style or javascript: URL: the policy would block them."""
    add_service(anonymous, "payments")
    breaker_changed(anonymous, "payments", "db", "open")
    login(anonymous)
    for path in PAGES:
        response = anonymous.get(path)
        assert 200 == response.status_code, path
        assert [] == inline_code(response.text), path


def test_every_page_sends_the_csrf_token_with_htmx(anonymous: TestClient) -> None:
    """The session's CSRF token is in a meta tag and in hx-headers on <body>."""
    csrf = login(anonymous)
    html = anonymous.get("/").text
    assert f'<meta name="csrf-token" content="{csrf}">' in html
    assert f'hx-headers=\'{{"X-CSRF-Token": "{csrf}"}}\'' in html


def test_an_htmx_api_call_without_the_csrf_header_is_refused(anonymous: TestClient) -> None:
    """A cookie-authenticated PUT to the API without X-CSRF-Token gets 403."""
    login(anonymous)
    response = anonymous.put(OVERRIDE, json={"state": "forced_open"})
    assert 403 == response.status_code
    assert "CSRF" in response.json()["detail"]


def test_an_htmx_api_call_with_the_csrf_header_works(anonymous: TestClient) -> None:
    """The same PUT with the session's X-CSRF-Token (what hx-headers sends) succeeds."""
    csrf = login(anonymous)
    response = anonymous.put(
        OVERRIDE, json={"state": "forced_open"}, headers={"X-CSRF-Token": csrf}
    )
    assert 200 == response.status_code, response.text
    assert {"state": "forced_open"} == response.json()["value"]


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/tokens", {"name": "mallory", "role": "admin"}),
        ("/tokens/bootstrap-admin/revoke", {}),
        ("/logout", {}),
    ],
)
def test_form_posts_without_the_csrf_token_are_refused(
    anonymous: TestClient, path: str, data: dict[str, str]
) -> None:
    """View form posts need csrf_token (or the header): without it, 403 and no change."""
    login(anonymous)
    response = anonymous.post(path, data=data, follow_redirects=False)
    assert 403 == response.status_code
    tokens = anonymous.get("/api/v1/tokens", headers=bearer(ADMIN)).json()
    assert ["bootstrap-admin"] == [t["name"] for t in tokens]
    assert all(t["revoked_at"] is None for t in tokens)


def test_the_csrf_token_of_another_session_does_not_work(
    anonymous: TestClient, app: object
) -> None:
    """Each session has its own CSRF token."""
    other = TestClient(app, base_url="https://testserver")  # type: ignore[arg-type]
    with other:
        theirs = login(other)
    login(anonymous)
    response = anonymous.put(
        OVERRIDE, json={"state": "forced_open"}, headers={"X-CSRF-Token": theirs}
    )
    assert 403 == response.status_code
