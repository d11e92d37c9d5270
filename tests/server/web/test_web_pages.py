"""The page plumbing: where to go after logging in, and HTML error pages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from server_helpers import token_for
from web_helpers import login

from reliant.server.web.pages import login_url, safe_next

#: Page plumbing is UI rendering: one store (see tests/server/conftest.py).
pytestmark = pytest.mark.store_agnostic


@pytest.mark.parametrize(
    "value",
    ["/", "/events", "/services/payments?tab=events", "/events?kind=breaker.*&severity=warning"],
)
def test_local_pages_are_kept_as_next(value: str) -> None:
    """Absolute paths of this site come back unchanged."""
    assert value == safe_next(value)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "events",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/x",
        "http:/evil.example",
        "javascript:alert(1)",
        "/jobs\nx",
        "/jobs\x7f",
        "/login",
        "/logout",
        "/api/v1/tokens",
        "/static/app.js",
        "/" + "a" * 2001,
    ],
)
def test_anything_else_becomes_the_overview(value: str | None) -> None:
    """Other sites, odd schemes, control characters and the auth pages give /."""
    assert "/" == safe_next(value)


def test_login_url_quotes_next() -> None:
    """The login URL carries next quoted, and none for the overview."""
    assert "/login" == login_url("/")
    assert "/login?next=/events%3Fservice%3Da%26kind%3Db" == login_url("/events?service=a&kind=b")
    assert "/login" == login_url("//evil.example")


def test_a_viewer_gets_an_html_403_for_admin_pages(
    client: TestClient, anonymous: TestClient
) -> None:
    """Admin pages refuse other roles with the HTML error page, naming the role needed."""
    login(anonymous, token_for(client, "viewer", name="vic"))
    response = anonymous.get("/audit")
    assert 403 == response.status_code
    assert "text/html" in response.headers["content-type"]
    assert "This needs the admin role; you are signed in as vic (viewer)." in response.text


def test_an_unknown_page_is_not_html(anonymous: TestClient) -> None:
    """Paths no route serves keep the API's problem answer."""
    login(anonymous)
    response = anonymous.get("/no-such-page")
    assert 404 == response.status_code
    assert "application/problem+json" == response.headers["content-type"]


def test_the_nav_shows_what_the_role_may_open(client: TestClient, anonymous: TestClient) -> None:
    """Viewers see no Audit or Tokens links; admins do; everyone sees who they are."""
    login(anonymous, token_for(client, "viewer", name="vic"))
    html = anonymous.get("/").text
    assert 'href="/events"' in html
    assert 'href="/audit"' not in html
    assert 'href="/tokens"' not in html
    assert '<span class="role role-viewer">viewer</span>' in html
    login(anonymous)
    html = anonymous.get("/").text
    assert 'href="/audit"' in html
    assert 'href="/tokens"' in html
