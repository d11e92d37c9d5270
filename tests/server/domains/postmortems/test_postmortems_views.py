"""The postmortem pages: list, view, editor (operators), form posts with CSRF."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from postmortems_helpers import declare, generate, get, the_incident
from server_helpers import token_for

from reliant.testing import VirtualClock

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def login(client: TestClient, anonymous: TestClient, role: str) -> str:
    """Sign ``anonymous`` in with a new ``role`` token; the session's CSRF token."""
    token = token_for(client, role, name=f"{role}-user")
    response = anonymous.post("/login", data={"token": token}, follow_redirects=False)
    assert 303 == response.status_code, response.text
    found = CSRF_META.search(anonymous.get("/postmortems").text)
    assert found is not None
    return found[1]


def form_of(postmortem: dict[str, Any], csrf: str, **changes: Any) -> dict[str, Any]:
    """The editor's form of a postmortem as a browser posts it, with ``changes``."""
    data: dict[str, Any] = {
        "csrf_token": csrf,
        "version": postmortem["version"],
        "timeline_editable": "yes",
        "title": postmortem["title"],
        "due": postmortem["due"] or "",
        "action": "save",
    }
    for name in ("summary", "impact", "trigger", "resolution", "detection",
                 "supporting_information"):  # fmt: skip
        data[name] = postmortem[name]
    for name in ("root_causes", "went_well", "went_wrong", "got_lucky"):
        data[name] = "\n".join(postmortem[name])
    data["tl_at"] = [
        dt.datetime.fromtimestamp(e["at"], dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        for e in postmortem["timeline"]
    ]
    data["tl_text"] = [e["text"] for e in postmortem["timeline"]]
    data["tl_meta"] = ["{}" for _ in postmortem["timeline"]]
    data.update(changes)
    return data


@pytest.mark.store_agnostic
def test_pages_render_for_viewers(
    client: TestClient, anonymous: TestClient, clock: VirtualClock
) -> None:
    """A viewer sees the list (state, required, due, incident link) and the view (facts
    with definitions, the inline SVG chart, export links) but no edit controls; the
    editor is a 403 for them."""
    made = generate(client, the_incident(client, clock))
    login(client, anonymous, "viewer")
    listing = anonymous.get("/postmortems").text
    assert f'href="/postmortems/{made["id"]}"' in listing
    assert f'href="/incidents/{made["incident"]}"' in listing
    assert "required" in listing
    assert "2027-01-22" in listing
    assert 'aria-current="page"' in listing
    view = anonymous.get(f"/postmortems/{made['id']}")
    assert 200 == view.status_code
    page = view.text
    assert "Time to detect" in page
    assert "Impact start → declared." in page
    assert "50.0 %" in page
    assert re.search(r'<svg [^>]*role="img"', page)
    assert f"/api/v1/postmortems/{made['id']}/export?format=html" in page
    assert "/edit" not in page
    assert 403 == anonymous.get(f"/postmortems/{made['id']}/edit").status_code
    assert "script-src 'self'" in view.headers["content-security-policy"]
    export = anonymous.get(f"/api/v1/postmortems/{made['id']}/export?format=markdown")
    assert 200 == export.status_code


@pytest.mark.store_agnostic
def test_operators_edit_and_the_edit_is_audited(
    client: TestClient, anonymous: TestClient, clock: VirtualClock
) -> None:
    """An operator's form post saves sections, list sections one per line and action
    items, then redirects to the view showing them; the audit log has the edit."""
    made = generate(client, the_incident(client, clock))
    csrf = login(client, anonymous, "operator")
    editor = anonymous.get(f"/postmortems/{made['id']}/edit")
    assert 200 == editor.status_code
    assert 'name="ai_title"' in editor.text
    data = form_of(
        made, csrf, trigger="A config push <b>doubled</b> retries.",
        went_well="Paging worked\nRollback was fast",
        ai_title=["Cap retries"], ai_owner=["payments team"], ai_type=["prevent"],
        ai_priority=["P1"], ai_due=["2027-02-01"], ai_ticket=[""], ai_done=["no"],
    )  # fmt: skip
    saved = anonymous.post(f"/postmortems/{made['id']}/edit", data=data, follow_redirects=False)
    assert 303 == saved.status_code, saved.text
    assert f"/postmortems/{made['id']}?saved=2" == saved.headers["location"]
    after = get(client, made["id"])
    assert ("A config push <b>doubled</b> retries.", ["Paging worked", "Rollback was fast"]) == (
        after["trigger"],
        after["went_well"],
    )
    assert [("Cap retries", "payments team", "prevent", "P1", "2027-02-01")] == [
        (a["title"], a["owner"], a["type"], a["priority"], a["due"]) for a in after["action_items"]
    ]
    assert len(made["timeline"]) == len(after["timeline"])
    view = anonymous.get(saved.headers["location"]).text
    assert "A config push &lt;b&gt;doubled&lt;/b&gt; retries." in view
    assert "Saved as version 2." in view
    audit = client.get("/api/v1/audit", params={"target_kind": "postmortem"}).json()["items"]
    assert ("postmortem.update", "operator-user") in [(a["action"], a["actor"]) for a in audit]


@pytest.mark.store_agnostic
def test_the_editor_adds_and_removes_rows_and_reports_errors(
    client: TestClient, anonymous: TestClient
) -> None:
    """Add/remove buttons change the rows without saving; an action item without an owner
    is refused with its field path and the typed text stays in the form."""
    made = generate(client, declare(client))
    csrf = login(client, anonymous, "operator")
    base = form_of(made, csrf, ai_title=["One", "Two"], ai_owner=["a", "b"],
                   ai_type=["process", "process"], ai_priority=["P2", "P2"], ai_due=["", ""],
                   ai_ticket=["", ""], ai_done=["no", "no"])  # fmt: skip
    added = anonymous.post(f"/postmortems/{made['id']}/edit", data={**base, "action": "add_item"})
    assert 3 == added.text.count('name="ai_title"')
    removed = anonymous.post(
        f"/postmortems/{made['id']}/edit", data={**base, "action": "remove_item:0"}
    )
    assert 1 == removed.text.count('name="ai_title"')
    assert 'value="Two"' in removed.text
    assert 'value="One"' not in removed.text
    assert 1 == get(client, made["id"])["version"]
    bad = {**base, "ai_owner": ["", "b"], "trigger": "kept text"}
    refused = anonymous.post(f"/postmortems/{made['id']}/edit", data=bad)
    assert 422 == refused.status_code
    assert "action_items.0.owner" in refused.text
    assert "kept text" in refused.text


def test_a_stale_save_shows_the_conflict_and_keeps_the_text(
    client: TestClient, anonymous: TestClient
) -> None:
    """Someone saves while the form is open: the save is a 409 page naming their version,
    keeping the typed text; saving again replaces theirs."""
    made = generate(client, declare(client))
    csrf = login(client, anonymous, "operator")
    theirs = client.put(f"/api/v1/postmortems/{made['id']}", json={"version": 1, "trigger": "T"})
    assert 200 == theirs.status_code
    mine = form_of(made, csrf, trigger="my careful words")
    conflict = anonymous.post(f"/postmortems/{made['id']}/edit", data=mine)
    assert 409 == conflict.status_code
    assert "saved version 2" in conflict.text
    assert "my careful words" in conflict.text
    assert 'name="version" value="2"' in conflict.text
    again = anonymous.post(
        f"/postmortems/{made['id']}/edit", data={**mine, "version": 2}, follow_redirects=False
    )
    assert 303 == again.status_code
    assert "my careful words" == get(client, made["id"])["trigger"]


@pytest.mark.store_agnostic
def test_csrf_and_roles_are_enforced_on_posts(client: TestClient, anonymous: TestClient) -> None:
    """Form posts without the CSRF token are refused; viewers cannot generate or move."""
    incident = declare(client)
    csrf = login(client, anonymous, "viewer")
    denied = anonymous.post(f"/incidents/{incident}/postmortem", data={"csrf_token": csrf})
    assert 403 == denied.status_code
    anonymous.cookies.clear()
    csrf = login(client, anonymous, "operator")
    forged = anonymous.post(f"/incidents/{incident}/postmortem", data={"csrf_token": "forged"})
    assert 403 == forged.status_code
    made = anonymous.post(
        f"/incidents/{incident}/postmortem", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert 303 == made.status_code
    location = made.headers["location"]
    again = anonymous.post(
        f"/incidents/{incident}/postmortem", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert (303, location) == (again.status_code, again.headers["location"])
    pid = int(location.rsplit("/", 1)[1])
    assert (
        403 == anonymous.post(f"/postmortems/{pid}/state", data={"state": "in_review"}).status_code
    )
    moved = anonymous.post(
        f"/postmortems/{pid}/state", data={"state": "in_review", "csrf_token": csrf},
        follow_redirects=False,
    )  # fmt: skip
    assert (303, "in_review") == (moved.status_code, get(client, pid)["state"])
    refused = anonymous.post(
        f"/postmortems/{pid}/state", data={"state": "in_review", "csrf_token": csrf}
    )
    assert 409 == refused.status_code
