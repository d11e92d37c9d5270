"""Admin pages: the audit log (paginated, with compact diffs) and tokens."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from server_helpers import ADMIN, bearer, token_for
from web_helpers import add_service, login

from reliant.server.web.admin import AUDIT_PAGE

#: Admin pages are UI rendering: one store (see tests/server/conftest.py).
pytestmark = pytest.mark.store_agnostic


def _audit_rows(html: str) -> list[str]:
    return re.findall(r"<td><code>([a-z.]+)</code></td>", html)


def test_audit_shows_who_changed_what(anonymous: TestClient) -> None:
    """Each record: actor, action, target and the changed keys, old → new."""
    add_service(anonymous, "payments", tier=2)
    add_service(anonymous, "payments", tier=1)
    login(anonymous)
    html = anonymous.get("/audit").text
    assert ["session.login", "service.update", "service.create"] == _audit_rows(html)
    assert (
        '<span class="kv-key">tier</span> <span class="old">2</span> → <span class="new">1</span>'
        in (html)
    )
    assert "created:" in html
    assert '<a href="/audit?actor=bootstrap-admin">bootstrap-admin</a>' in html


def test_audit_filters_by_actor_and_target(client: TestClient, anonymous: TestClient) -> None:
    """Actor, target kind and target id narrow the log."""
    add_service(anonymous, "a")
    add_service(anonymous, "b")
    token_for(client, "viewer", name="vic")
    login(anonymous)
    html = anonymous.get("/audit?target_kind=service&target_id=b").text
    assert ["service.create"] == _audit_rows(html)
    assert ["token.create"] == _audit_rows(anonymous.get("/audit?target_kind=token").text)
    assert [] == _audit_rows(anonymous.get("/audit?actor=nobody").text)


def test_audit_pages_older_records(anonymous: TestClient) -> None:
    """A full page links to the older records; the last page links back to the newest."""
    for tier in range(1, 5):
        for n in range(AUDIT_PAGE // 4 + 1):
            add_service(anonymous, f"s{n}", tier=tier)
    login(anonymous)
    first = anonymous.get("/audit").text
    assert AUDIT_PAGE == len(_audit_rows(first))
    older = re.search(r'href="(/audit\?cursor=[^"]+)">Older', first)
    assert older is not None
    second = anonymous.get(older[1].replace("&amp;", "&")).text
    assert 1 <= len(_audit_rows(second)) < AUDIT_PAGE
    assert 'href="/audit?">← Newest' in second


def test_a_bad_audit_cursor_is_an_html_error(anonymous: TestClient) -> None:
    """A cursor not made by the page gets a 400 page, not a crash."""
    login(anonymous)
    response = anonymous.get("/audit?cursor=bm9wZQ")
    assert 400 == response.status_code
    assert "the cursor is malformed" in response.text


def test_creating_a_token_shows_its_secret_once(anonymous: TestClient) -> None:
    """The new token's plaintext is on the answer to the form, and never again."""
    csrf = login(anonymous)
    response = anonymous.post(
        "/tokens", data={"csrf_token": csrf, "name": "alice", "role": "operator"}
    )
    assert 201 == response.status_code
    secret = re.search(
        r'id="new-token" class="mono" type="text" readonly value="([^"]+)"', response.text
    )
    assert secret is not None
    assert secret[1].startswith("rlt_")
    assert secret[1] not in anonymous.get("/tokens").text
    whoami = anonymous.get("/api/v1/whoami", headers=bearer(secret[1])).json()
    assert ("alice", "operator") == (whoami["name"], whoami["role"])


def test_token_form_errors_are_shown(anonymous: TestClient) -> None:
    """A taken name, a bad name or a service on a human token: the form says why."""
    csrf = login(anonymous)
    taken = anonymous.post(
        "/tokens", data={"csrf_token": csrf, "name": "bootstrap-admin", "role": "viewer"}
    )
    assert 409 == taken.status_code
    assert "a token named &#39;bootstrap-admin&#39; exists" in taken.text
    bad = anonymous.post(
        "/tokens", data={"csrf_token": csrf, "name": "no spaces", "role": "viewer"}
    )
    assert 422 == bad.status_code
    assert "Not created: name:" in bad.text
    bound = anonymous.post(
        "/tokens",
        data={"csrf_token": csrf, "name": "x", "role": "viewer", "service": "payments"},
    )
    assert 422 == bound.status_code
    assert "only ingest tokens are bound to a service" in bound.text


def test_an_ingest_token_may_be_bound_to_a_service(anonymous: TestClient) -> None:
    """role=ingest with a service makes a bound SDK token."""
    csrf = login(anonymous)
    response = anonymous.post(
        "/tokens",
        data={"csrf_token": csrf, "name": "pay-sdk", "role": "ingest", "service": "payments"},
    )
    assert 201 == response.status_code
    tokens = anonymous.get("/api/v1/tokens", headers=bearer(ADMIN)).json()
    assert {"pay-sdk": "payments"} == {t["name"]: t["service"] for t in tokens if t["service"]}


def test_revoking_a_token_from_the_page(client: TestClient, anonymous: TestClient) -> None:
    """The revoke form (confirmed in the browser) revokes at once and says so."""
    secret = token_for(client, "viewer", name="old")
    csrf = login(anonymous)
    html = anonymous.get("/tokens").text
    assert 'data-confirm="Revoke token old? Anything using it stops working at once."' in html
    response = anonymous.post(
        "/tokens/old/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert 303 == response.status_code
    assert "/tokens?revoked=old" == response.headers["location"]
    assert "Token old revoked" in anonymous.get(response.headers["location"]).text
    assert 401 == anonymous.get("/api/v1/whoami", headers=bearer(secret)).status_code


def test_revoking_an_unknown_token_is_a_404_page(anonymous: TestClient) -> None:
    """Revoking a name that does not exist answers the HTML 404 page."""
    csrf = login(anonymous)
    response = anonymous.post("/tokens/ghost/revoke", data={"csrf_token": csrf})
    assert 404 == response.status_code
    assert "no token named &#39;ghost&#39;" in response.text


def test_only_admins_manage_tokens(client: TestClient, anonymous: TestClient) -> None:
    """Operators get 403 for the tokens page and its forms, even with a valid CSRF token."""
    csrf = login(anonymous, token_for(client, "operator", name="op"))
    assert 403 == anonymous.get("/tokens").status_code
    response = anonymous.post(
        "/tokens", data={"csrf_token": csrf, "name": "sneaky", "role": "admin"}
    )
    assert 403 == response.status_code
    response = anonymous.post("/tokens/bootstrap-admin/revoke", data={"csrf_token": csrf})
    assert 403 == response.status_code
    names = [t["name"] for t in anonymous.get("/api/v1/tokens", headers=bearer(ADMIN)).json()]
    assert "sneaky" not in names
