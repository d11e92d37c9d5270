"""Editing, moving, listing and exporting postmortems through the API."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from fastapi.testclient import TestClient
from postmortems_helpers import declare, events, generate, get, the_incident
from server_helpers import bearer, token_for

from reliant.testing import VirtualClock

ITEM = {"title": "Cap retries", "owner": "payments team", "type": "prevent", "priority": "P1"}


def put(client: TestClient, postmortem: int, body: dict[str, Any]) -> Any:
    """PUT an edit; the response."""
    return client.put(f"/api/v1/postmortems/{postmortem}", json=body)


def test_put_validates_with_field_paths(client: TestClient) -> None:
    """A bad action item type, a missing owner and an oversized section are 422s naming
    the field."""
    made = generate(client, declare(client))
    cases = [
        ({"action_items": [{**ITEM, "type": "blame"}]}, ["body", "action_items", 0, "type"]),
        ({"action_items": [{k: v for k, v in ITEM.items() if k != "owner"}]},
         ["body", "action_items", 0, "owner"]),
        ({"action_items": [{**ITEM, "owner": ""}]}, ["body", "action_items", 0, "owner"]),
        ({"summary": "x" * 20_001}, ["body", "summary"]),
        ({"went_well": ["ok", "y" * 2001]}, ["body", "went_well", 1]),
        ({"timeline": [{"at": 1.0, "text": ""}]}, ["body", "timeline", 0, "text"]),
    ]  # fmt: skip
    for change, loc in cases:
        response = put(client, made["id"], {"version": 1, **change})
        assert 422 == response.status_code, change
        assert loc == response.json()["errors"][0]["loc"], change
        assert ".".join(map(str, loc)) in response.json()["detail"]
    assert 1 == get(client, made["id"])["version"]


def test_edits_change_the_given_fields_only(client: TestClient) -> None:
    """Fields left out stay; the version grows by one per real change; an edit changing
    nothing keeps the version; each change is audited and evented."""
    made = generate(client, declare(client))
    body = {"version": 1, "trigger": "A config push.", "action_items": [ITEM]}
    changed = put(client, made["id"], body).json()
    assert (2, "A config push.", made["summary"]) == (
        changed["version"],
        changed["trigger"],
        changed["summary"],
    )
    assert [{**ITEM, "due": None, "ticket": None, "done": False}] == changed["action_items"]
    assert (
        2 == put(client, made["id"], {"version": 2, "trigger": "A config push."}).json()["version"]
    )
    audit = client.get("/api/v1/audit", params={"target_kind": "postmortem"}).json()["items"]
    assert {"postmortem.create", "postmortem.update"} == {a["action"] for a in audit}
    updated = [e for e in events(client) if e["kind"] == "postmortem.updated"]
    assert [["trigger", "action_items"]] == [e["attributes"]["changed"] for e in updated]


def test_a_stale_version_is_refused(client: TestClient) -> None:
    """Two editors start from version 1: the second save is a 409 naming the current
    version, and the first editor's text stays."""
    made = generate(client, declare(client))
    assert 200 == put(client, made["id"], {"version": 1, "trigger": "first"}).status_code
    stale = put(client, made["id"], {"version": 1, "trigger": "second"})
    assert (409, 2) == (stale.status_code, stale.json()["version"])
    assert "version 2" in stale.json()["detail"]
    assert "first" == get(client, made["id"])["trigger"]


def test_the_state_machine(client: TestClient) -> None:
    """draft → in_review → published → draft; other moves are 409s naming the allowed
    ones; a published postmortem cannot be edited until it is a draft again."""
    made = generate(client, declare(client))
    pid = made["id"]

    def move(state: str) -> Any:
        return client.post(f"/api/v1/postmortems/{pid}/state", json={"state": state})

    refused = move("published")
    assert (409, ["in_review"]) == (refused.status_code, refused.json()["allowed"])
    assert "allowed: in_review" in refused.json()["detail"]
    assert ["published", "draft"] == move("in_review").json()["allowed"]
    published = move("published").json()
    assert ("published", False, ["draft"]) == (
        published["state"],
        published["editable"],
        published["allowed"],
    )
    frozen = put(client, pid, {"version": published["version"], "trigger": "late"})
    assert 409 == frozen.status_code
    assert "move it back to draft" in frozen.json()["detail"]
    assert 409 == client.post(f"/api/v1/postmortems/{pid}/refresh").status_code
    assert "draft" == move("draft").json()["state"]
    changes = [
        (e["attributes"]["from"], e["attributes"]["to"])
        for e in events(client)
        if e["kind"] == "postmortem.state_changed"
    ]
    assert [("draft", "in_review"), ("in_review", "published"), ("published", "draft")] == changes
    stale = client.post(
        f"/api/v1/postmortems/{pid}/state", json={"state": "in_review", "version": 1}
    )
    assert 409 == stale.status_code


def test_list_filters_and_pages(client: TestClient) -> None:
    """Newest first, filtered by state, required and service, paginated by cursor."""
    first = generate(client, declare(client, services=["checkout"]))
    second = generate(client, declare(client, services=["ledger"], severity="SEV4"))
    third = generate(client, declare(client, services=["checkout"], severity="SEV4"))
    client.post(f"/api/v1/postmortems/{third['id']}/state", json={"state": "in_review"})

    def ids(**params: Any) -> list[int]:
        response = client.get("/api/v1/postmortems", params=params)
        assert 200 == response.status_code, response.text
        return [p["id"] for p in response.json()["items"]]

    assert [third["id"], second["id"], first["id"]] == ids()
    assert [third["id"], first["id"]] == ids(service="checkout")
    assert [third["id"]] == ids(state="in_review")
    assert [] == ids(required="true")  # nothing resolved: no policy applies yet
    page = client.get("/api/v1/postmortems", params={"limit": 2}).json()
    rest = client.get("/api/v1/postmortems", params={"limit": 2, "cursor": page["next"]}).json()
    assert ([third["id"], second["id"]], [first["id"]], None) == (
        [p["id"] for p in page["items"]],
        [p["id"] for p in rest["items"]],
        rest["next"],
    )
    assert 400 == client.get("/api/v1/postmortems", params={"cursor": "nope"}).status_code


def test_viewers_read_and_operators_write(client: TestClient, anonymous: TestClient) -> None:
    """A viewer reads and exports but cannot generate, edit or move."""
    made = generate(client, declare(client))
    viewer = bearer(token_for(client, "viewer"))
    pid = made["id"]
    assert 200 == anonymous.get(f"/api/v1/postmortems/{pid}", headers=viewer).status_code
    assert 200 == anonymous.get(f"/api/v1/postmortems/{pid}/export", headers=viewer).status_code
    assert (
        403
        == anonymous.put(
            f"/api/v1/postmortems/{pid}", headers=viewer, json={"version": 1}
        ).status_code
    )
    assert (
        403
        == anonymous.post(
            f"/api/v1/incidents/{made['incident']}/postmortem", headers=viewer
        ).status_code
    )


def _sections(client: TestClient, pid: int) -> None:
    body = {
        "version": 1,
        "summary": "Summary text <script>alert(1)</script>",
        "impact": "Impact text",
        "trigger": "Trigger text",
        "resolution": "Resolution text",
        "detection": "Detection text",
        "root_causes": ["Root cause one"],
        "went_well": ["Went well one"],
        "went_wrong": ["Went wrong one"],
        "got_lucky": ["Got lucky one"],
        "action_items": [ITEM],
        "supporting_information": "Supporting text",
    }
    assert 200 == put(client, pid, body).status_code


SECTIONS = ("Summary", "Impact", "Root causes", "Trigger", "Resolution", "Detection",
            "Action items", "What went well", "What went wrong", "Where we got lucky",
            "Timeline", "Supporting information")  # fmt: skip
TEXTS = ("Impact text", "Trigger text", "Resolution text", "Detection text",
         "Root cause one", "Went well one", "Went wrong one", "Got lucky one", "Cap retries",
         "Supporting text")  # fmt: skip


def test_markdown_export_has_every_section_and_the_chart(
    client: TestClient, clock: VirtualClock
) -> None:
    """A Markdown download: every section, the facts, the SVG chart as a data: image, and
    a typed <script> escaped."""
    made = generate(client, the_incident(client, clock))
    _sections(client, made["id"])
    response = client.get(f"/api/v1/postmortems/{made['id']}/export", params={"format": "markdown"})
    assert 200 == response.status_code
    assert response.headers["content-type"].startswith("text/markdown")
    assert (
        f'attachment; filename="postmortem-{made["id"]}-incident-{made["incident"]}.md"'
        == response.headers["content-disposition"]
    )
    text = response.text
    for heading in SECTIONS:
        assert re.search(rf"^##+ {heading}", text, re.M), heading
    for section in TEXTS:
        assert section in text, section
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "| Time to detect | 2 min | Impact start → declared. |" in text
    found = re.search(r"!\[burn chart\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", text)
    assert found is not None
    svg = base64.b64decode(found[1]).decode()
    assert svg.startswith("<svg")
    assert "checkout-availability" in svg
    assert "<path" in svg


def test_html_export_is_self_contained_and_escaped(client: TestClient, clock: VirtualClock) -> None:
    """An HTML download: every section, the inline SVG chart with the incident shaded, one
    inline stylesheet allowed by the CSP's hash, no script at all."""
    made = generate(client, the_incident(client, clock))
    _sections(client, made["id"])
    response = client.get(f"/api/v1/postmortems/{made['id']}/export", params={"format": "html"})
    assert 200 == response.status_code
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-disposition"].endswith('.html"')
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "style-src 'sha256-" in csp
    assert "script" not in csp
    html = response.text
    for heading in SECTIONS:
        assert re.search(rf"<h[23]>{heading}", html), heading
    for section in TEXTS:
        assert section in html, section
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert re.search(r'<svg [^>]*role="img"', html)
    assert 'fill-opacity="0.12"' in html  # the shaded incident
    assert 1 == html.count("<style>")
    style = html.split("<style>")[1].split("</style>")[0]
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp
    assert "style=" not in html
    assert (
        422
        == client.get(
            f"/api/v1/postmortems/{made['id']}/export", params={"format": "pdf"}
        ).status_code
    )
