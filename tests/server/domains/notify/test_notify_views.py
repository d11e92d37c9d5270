"""The notifications page: dead letters first, a state filter, and Retry for operators."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import ADMIN, START, token_for
from sqlalchemy import select

from reliant.server.db import transaction
from reliant.server.domains.notify import enqueue
from reliant.server.domains.notify.models import NotificationRow

HTMX = {"HX-Request": "true"}


def _login(client: TestClient, token: str = ADMIN) -> str:
    """Sign in through the form; return the session's CSRF token."""
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert 303 == response.status_code, response.text
    page = client.get("/notifications").text
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert found is not None
    return found[1]


def _notification(
    app: FastAPI, key: str, *, receiver: str = "pager", state: str = "dead", error: str = ""
) -> int:
    """One notification in the outbox, left in ``state``; return its id."""
    with transaction(app.state.sessions) as session:
        enqueue(
            session,
            receiver=receiver,
            dedup_key=key,
            status="firing",
            group_key="{}:{}",
            alerts=[{"labels": {"alertname": "Down"}, "annotations": {}}],
            group_labels={},
            common_labels={"alertname": "Down"},
            common_annotations={},
            now=START,
        )
        session.flush()
        row = session.scalars(select(NotificationRow).order_by(NotificationRow.id.desc())).first()
        assert row is not None
        row.state = state
        if state != "pending":
            row.attempts, row.last_attempt_at, row.finished_at = 3, START + 60, START + 60
            row.last_status_code, row.last_error = 400, error or "Bad Request: invalid routing key"
        return row.id


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-notification="(\d+)"', html)]


def test_dead_letters_are_listed_by_default(
    app: FastAPI, client: TestClient, anonymous: TestClient
) -> None:
    """Receiver, dedup key, status, last error and attempts of each dead letter, newest
    first; viewers get no Retry button."""
    first = _notification(app, "payments/Down")
    second = _notification(app, "search/Slow", receiver="chat", error="HTTP 404: no such hook")
    _notification(app, "delivered/one", state="delivered")
    _login(anonymous, token_for(client, "viewer", name="vic"))
    html = anonymous.get("/notifications").text
    assert [second, first] == _ids(html)
    row = html[html.index(f'data-notification="{first}"') :]
    row = row[: row.index("</tr>")]
    assert '<a href="/notifications?state=all&amp;receiver=pager">pager</a>' in row
    assert '<code class="dedup">payments/Down</code>' in row
    assert "<td>firing</td>" in row
    assert "</span>dead</span>" in row
    assert '<td class="num">3</td>' in row
    assert "HTTP 400: Bad Request: invalid routing key" in row
    assert "Retry</button>" not in html
    assert '<option value="dead" selected>dead letters</option>' in html
    assert '<a href="/notifications" aria-current="page">Notifications</a>' in html


def test_the_state_and_receiver_filters(
    app: FastAPI, client: TestClient, anonymous: TestClient
) -> None:
    """Any state, or all; one receiver; a bad receiver name is reported and ignored."""
    dead = _notification(app, "a")
    delivered = _notification(app, "b", state="delivered")
    pending = _notification(app, "c", state="pending", receiver="chat")
    _login(anonymous)
    assert [delivered] == _ids(anonymous.get("/notifications?state=delivered").text)
    assert [pending, delivered, dead] == _ids(anonymous.get("/notifications?state=all").text)
    assert [pending] == _ids(anonymous.get("/notifications?state=all&receiver=chat").text)
    bad = anonymous.get("/notifications?state=all&receiver=no%20such").text
    assert "Filter ignored: &#39;no such&#39; is not a receiver name" in bad
    assert 422 == anonymous.get("/notifications?state=lost").status_code
    assert "No dead letters" in anonymous.get("/notifications?receiver=chat").text


def test_the_list_pages_back_through_older_notifications(
    app: FastAPI, anonymous: TestClient
) -> None:
    """Fifty a page; Older continues before the last one shown, Newest goes back."""
    ids = [_notification(app, f"k{i}") for i in range(52)]
    _login(anonymous)
    html = anonymous.get("/notifications").text
    assert ids[:-51:-1] == _ids(html)
    older = re.search(r'href="(/notifications\?state=dead&amp;before=\d+)">Older', html)
    assert older is not None
    rest = anonymous.get(older[1].replace("&amp;", "&")).text
    assert [ids[1], ids[0]] == _ids(rest)
    assert 'href="/notifications?state=dead">Newest</a>' in rest


def test_an_operator_retries_a_dead_letter(
    app: FastAPI, client: TestClient, anonymous: TestClient
) -> None:
    """Retry runs the API's use case (audited, an event) and htmx gets the row back pending."""
    dead = _notification(app, "payments/Down")
    csrf = _login(anonymous, token_for(client, "operator", name="olga"))
    html = anonymous.get("/notifications").text
    assert f'hx-post="/notifications/{dead}/retry" hx-target="closest tr"' in html
    response = anonymous.post(
        f"/notifications/{dead}/retry", headers={**HTMX, "X-CSRF-Token": csrf}
    )
    assert 200 == response.status_code, response.text
    assert response.text.lstrip().startswith('<tr class="notification notification-pending"')
    assert "</span>pending</span>" in response.text
    assert "Retry</button>" not in response.text
    state = client.get(f"/api/v1/notifications/{dead}").json()
    assert ("pending", START) == (state["state"], state["next_attempt_at"])
    audit = client.get("/api/v1/audit", params={"action": "notification.retry"}).json()["items"]
    assert [("olga", str(dead))] == [
        (r["actor"], r["target_id"]) for r in audit if r["action"] == "notification.retry"
    ]
    events = client.get("/api/v1/events", params={"kind": "notification.retried"}).json()
    assert [dead] == [e["attributes"]["id"] for e in events["items"]]


def test_a_plain_form_post_retries_and_returns_to_the_list(
    app: FastAPI, client: TestClient, anonymous: TestClient
) -> None:
    """Without htmx the form's CSRF field is checked and the browser goes back."""
    dead = _notification(app, "payments/Down")
    csrf = _login(anonymous, token_for(client, "operator", name="olga"))
    response = anonymous.post(
        f"/notifications/{dead}/retry", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert (303, f"/notifications?retried={dead}") == (
        response.status_code,
        response.headers["location"],
    )
    assert f"Notification {dead} queued again." in anonymous.get(response.headers["location"]).text


def test_retry_is_refused_to_viewers_without_csrf_and_when_not_dead(
    app: FastAPI, client: TestClient, anonymous: TestClient
) -> None:
    """Viewers 403; no CSRF token 403; a notification that is not dead 409 (a problem
    document for htmx); an unknown one 404."""
    dead = _notification(app, "a")
    delivered = _notification(app, "b", state="delivered")
    csrf = _login(anonymous, token_for(client, "viewer", name="vic"))
    viewer = anonymous.post(f"/notifications/{dead}/retry", data={"csrf_token": csrf})
    assert (403, True) == (viewer.status_code, "This needs the operator role" in viewer.text)
    csrf = _login(anonymous, token_for(client, "operator", name="olga"))
    assert 403 == anonymous.post(f"/notifications/{dead}/retry", headers=HTMX).status_code
    busy = anonymous.post(
        f"/notifications/{delivered}/retry", headers={**HTMX, "X-CSRF-Token": csrf}
    )
    assert (409, "application/problem+json") == (
        busy.status_code,
        busy.headers["content-type"],
    )
    assert "only dead ones are retried" in busy.json()["detail"]
    plain = anonymous.post(f"/notifications/{delivered}/retry", data={"csrf_token": csrf})
    assert (409, True) == (plain.status_code, "Cannot retry" in plain.text)
    assert 404 == anonymous.post("/notifications/999/retry", data={"csrf_token": csrf}).status_code
    assert "dead" == client.get(f"/api/v1/notifications/{dead}").json()["state"]


def test_error_text_renders_as_text(app: FastAPI, anonymous: TestClient) -> None:
    """Markup in a receiver's answer or a dedup key is escaped."""
    _notification(app, "<b>key</b>", error='<script>alert("x")</script>')
    _login(anonymous)
    html = anonymous.get("/notifications").text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&lt;b&gt;key&lt;/b&gt;" in html


def test_the_page_holds_no_inline_code(
    app: FastAPI, client: TestClient, anonymous: TestClient
) -> None:
    """With a dead letter and the Retry button: the UI's policy and no inline code."""
    _notification(app, "payments/Down")
    _login(anonymous, token_for(client, "operator", name="olga"))
    response = anonymous.get("/notifications")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son\w+=", response.text) is None
