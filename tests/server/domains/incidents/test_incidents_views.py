"""The incident pages: the list, an incident with its actions and timeline, the metrics."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from incidents_helpers import PAGE_RULE, declare, fire, get, move, put_rule, run_declare
from server_helpers import START, token_for

from reliant.testing import VirtualClock

HTMX = {"HX-Request": "true"}
INLINE = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son\w+=")


def _login(anonymous: TestClient, token: str) -> str:
    """Sign in through the form; return the session's CSRF token."""
    response = anonymous.post("/login", data={"token": token}, follow_redirects=False)
    assert 303 == response.status_code, response.text
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', anonymous.get("/jobs").text)
    assert found is not None
    return found[1]


def _operator(client: TestClient, anonymous: TestClient) -> str:
    return _login(anonymous, token_for(client, "operator", name="olga"))


def _viewer(client: TestClient, anonymous: TestClient) -> str:
    return _login(anonymous, token_for(client, "viewer", name="vic"))


def _rows(html: str) -> list[int]:
    return [
        int(n) for n in re.findall(r'<tr class="incident-row [^"]+" data-incident="(\d+)">', html)
    ]


def _audit(client: TestClient, action: str) -> list[tuple[str, str]]:
    items = client.get("/api/v1/audit", params={"limit": 500}).json()["items"]
    return [(r["actor"], r["target_id"]) for r in items if r["action"] == action]


def _moves(html: str) -> list[str]:
    return re.findall(r'data-move="(\w+)"', html)


def _post(anonymous: TestClient, path: str, csrf: str, **data: Any) -> tuple[int, str, str]:
    """A form post as the browser sends it: status, redirect target, body."""
    response = anonymous.post(path, data={"csrf_token": csrf, **data}, follow_redirects=False)
    return response.status_code, response.headers.get("location", ""), response.text


@pytest.mark.store_agnostic
def test_the_list_shows_open_incidents_then_recent_ones(
    client: TestClient, anonymous: TestClient, clock: VirtualClock
) -> None:
    """Open incidents first (newest first), then resolved and closed ones; columns show
    severity, state, services, commander and age; filters narrow by state, severity and
    service; viewers get no declare form."""
    a = declare(client, title="Checkout errors", severity="SEV2", services=["checkout"])
    clock.advance(600)
    b = declare(client, title="Slow search", severity="SEV4", services=["search"], commander="ann")
    c = declare(client, title="Old one", severity="SEV3")
    move(client, c["id"], "resolved")
    _viewer(client, anonymous)
    html = anonymous.get("/incidents").text
    assert [b["id"], a["id"], c["id"]] == _rows(html)
    assert html.index("<h2>Open</h2>") < html.index("<h2>Recent</h2>")
    row = html[html.index(f'data-incident="{a["id"]}"') :]
    row = row[: row.index("</tr>")]
    assert '<span class="sev sev-error">SEV2</span>' in row
    assert "</span>triggered</span>" in row
    assert '<a class="chip" href="/services/checkout">checkout</a>' in row
    assert "open 10 min" in row
    assert "ann" in html
    assert "lasted 0 s" in html
    assert [a["id"]] == _rows(anonymous.get("/incidents?severity=SEV2").text)
    assert [b["id"]] == _rows(anonymous.get("/incidents?service=search").text)
    assert [c["id"]] == _rows(anonymous.get("/incidents?state=resolved").text)
    assert 3 == len(_rows(anonymous.get("/incidents?state=all").text))
    bad = anonymous.get("/incidents?state=nope").text
    assert "Filter ignored: unknown state &#39;nope&#39;" in bad
    assert "Declare incident" not in html
    assert '<a href="/incidents" aria-current="page">Incidents</a>' in html


@pytest.mark.store_agnostic
def test_an_operator_declares_an_incident_from_the_form(
    client: TestClient, anonymous: TestClient
) -> None:
    """The form declares through the API's use case (audited, evented) and opens the
    incident's page; a bad form is answered with the list, the error and what was typed."""
    csrf = _operator(client, anonymous)
    assert "Declare incident" in anonymous.get("/incidents").text
    status, location, _ = _post(
        anonymous,
        "/incidents",
        csrf,
        title="Payments down",
        severity="SEV1",
        services="payments, ledger",
        summary="Card payments fail.",
    )
    assert 303 == status
    number = int(location.removeprefix("/incidents/").split("?")[0])
    found = get(client, number)
    assert ("Payments down", "SEV1", ["ledger", "payments"], "olga") == (
        found["title"],
        found["severity"],
        found["services"],
        found["created_by"],
    )
    assert [("olga", str(number))] == _audit(client, "incident.declare")
    page = anonymous.get(location).text
    assert "Incident declared." in page
    assert "Card payments fail." in page
    status, _, html = _post(anonymous, "/incidents", csrf, title="x", severity="SEV9")
    assert 422 == status
    assert "severity: Input should be" in html
    assert 'value="x"' in html
    status, _, html = _post(
        anonymous, "/incidents", csrf, title="y", severity="SEV2", services="Bad Name!"
    )
    assert 422 == status
    assert "services.0" in html


@pytest.mark.store_agnostic
def test_a_viewer_sees_the_incident_without_buttons(
    client: TestClient, anonymous: TestClient, clock: VirtualClock
) -> None:
    """The page shows the header, durations, roles, links (SLO page, alerts filter),
    updates, tasks and the timeline oldest first — and no form but logging out."""
    body = {"service": "checkout", "objective": 99.9, "sli": {"ratio": {"operation": "charge"}}}
    assert client.put("/api/v1/slos/checkout-availability", json=body).status_code in (200, 201)
    assert client.put("/api/v1/slos/checkout-more", json=body).status_code in (200, 201)
    fp = fire(client, clock, alertname="Down", service="checkout", severity="page")
    inc = declare(
        client,
        services=["checkout"],
        slos=["checkout-availability", "gone"],
        alerts=[fp],
        commander="ann",
    )
    number = inc["id"]
    clock.advance(120)
    move(client, number, "acknowledged")
    client.post(
        f"/api/v1/incidents/{number}/updates", json={"text": "Rolling back", "notify": False}
    )
    client.post(f"/api/v1/incidents/{number}/tasks", json={"title": "Add a canary", "owner": "bo"})
    _viewer(client, anonymous)
    html = anonymous.get(f"/incidents/{number}").text
    assert f'<span class="muted">#{number}</span>' in html
    assert '<span class="sev sev-error">SEV2</span>' in html
    assert "</span>acknowledged</span>" in html
    assert (
        '<span class="stat-value">2 min</span><span class="stat-label">to acknowledge</span>'
        in html
    )
    assert '<dd data-role="commander">ann</dd>' in html
    assert (
        '<a class="chip" href="/slos/checkout/checkout-availability">checkout-availability</a>'
        in html
    )
    assert '<span class="chip" title="no SLO of this name now">gone</span>' in html
    assert (
        '<a class="chip chip-undeclared" href="/slos/checkout/checkout-more" '
        'title="an SLO of an affected service">checkout-more</a>'
    ) in html
    assert "/alerts?filter=alertname%3D%22Down%22%2C+service%3D%22checkout%22" in html
    assert "Rolling back" in html
    assert "Add a canary" in html
    kinds = re.findall(r'<code class="tl-kind">([\w.]+)</code>', html)
    assert [
        "slo.created",
        "slo.created",
        "alert.firing",
        "incident.declared",
        "incident.acknowledged",
        "incident.updated",
        "incident.task_added",
    ] == kinds
    assert f'data-timeline-stream="/api/v1/incidents/{number}/timeline/stream"' in html
    assert 'data-can-pin="false"' in html
    assert [] == _moves(html)
    assert html.count("<form") == 1  # log out only
    assert "Generate postmortem" not in html
    assert "No runbook has run for this incident." in html


@pytest.mark.store_agnostic
def test_only_allowed_transitions_are_offered(client: TestClient, anonymous: TestClient) -> None:
    """Triggered: every later state; resolved: close or reopen; closed: none."""
    number = declare(client)["id"]
    _operator(client, anonymous)
    page = f"/incidents/{number}"
    assert ["acknowledged", "mitigated", "resolved", "closed"] == _moves(anonymous.get(page).text)
    move(client, number, "resolved")
    assert ["closed", "triggered"] == _moves(anonymous.get(page).text)
    assert ">Reopen</button>" in anonymous.get(page).text
    move(client, number, "closed")
    html = anonymous.get(page).text
    assert [] == _moves(html)
    assert "A closed incident is final." in html


@pytest.mark.store_agnostic
def test_operator_actions_work_and_are_audited(
    client: TestClient, anonymous: TestClient, app: FastAPI
) -> None:
    """Each form runs the API's use case as the signed-in operator: state, severity, roles,
    status updates, tasks, timeline notes and pins; then the page shows the change."""
    number = declare(client, services=["checkout"])["id"]
    csrf = _operator(client, anonymous)
    base = f"/incidents/{number}"
    assert (303, f"{base}?done=moved") == _post(
        anonymous, f"{base}/transition", csrf, to="acknowledged"
    )[:2]
    assert _post(anonymous, f"{base}/severity", csrf, severity="SEV1")[0] == 303
    assert _post(anonymous, f"{base}/roles", csrf, role="scribe", person="sam")[0] == 303
    assert _post(anonymous, f"{base}/updates", csrf, text="Fix deployed", notify="true")[0] == 303
    assert (
        _post(
            anonymous, f"{base}/tasks", csrf, title="Write tests", owner="olga", due="2027-02-01"
        )[0]
        == 303
    )
    assert _post(anonymous, f"{base}/timeline", csrf, text="Saw a spike at 08:00")[0] == 303
    found = get(client, number)
    assert ("acknowledged", "SEV1", "sam") == (found["state"], found["severity"], found["scribe"])
    assert [("Fix deployed", True, "olga")] == [
        (u["text"], u["notify"], u["by"]) for u in found["updates"]
    ]
    [task] = found["tasks"]
    assert ("Write tests", "olga", "2027-02-01", False) == (
        task["title"],
        task["owner"],
        task["due"],
        task["done"],
    )
    assert _post(anonymous, f"{base}/tasks/{task['id']}", csrf, done="true")[0] == 303
    assert get(client, number)["tasks"][0]["done"] is True
    for action in (
        "incident.acknowledge",
        "incident.edit",
        "incident.assign",
        "incident.update",
        "incident.task_add",
        "incident.task_change",
        "incident.note",
    ):
        assert [("olga", str(number))] == _audit(client, action), action
    html = anonymous.get(base).text
    assert "Saw a spike at 08:00" in html
    assert ">Not done</button>" in html
    key = re.findall(r'data-key="(note:\d+)"', html)[0]
    pinned = anonymous.post(
        f"{base}/timeline/{key}/pin",
        data={"pinned": "true"},
        headers={**HTMX, "X-CSRF-Token": csrf},
    )
    assert 200 == pinned.status_code, pinned.text
    assert pinned.text.lstrip().startswith('<li class="tl-entry tl-note tl-sev-info tl-pinned"')
    assert ">Unpin</button>" in pinned.text
    assert [key] == [
        e["key"]
        for e in client.get(f"/api/v1/incidents/{number}/timeline", params={"pinned": True}).json()[
            "items"
        ]
    ]
    assert [("olga", str(number))] == _audit(client, "incident.pin")
    assert _post(anonymous, f"{base}/timeline/{key}/pin", csrf, pinned="false")[:2] == (
        303,
        f"{base}?done=pin#timeline",
    )
    assert (
        []
        == client.get(f"/api/v1/incidents/{number}/timeline", params={"pinned": True}).json()[
            "items"
        ]
    )


@pytest.mark.store_agnostic
def test_merging_opens_the_primary(client: TestClient, anonymous: TestClient) -> None:
    """ "Merge this incident into #" closes it as a duplicate and opens the primary; merging
    into itself is refused on the page."""
    primary = declare(client, title="Primary")["id"]
    duplicate = declare(client, title="Duplicate")["id"]
    csrf = _operator(client, anonymous)
    status, _, html = _post(anonymous, f"/incidents/{duplicate}/merge", csrf, into=str(duplicate))
    assert 422 == status
    assert "cannot be merged into itself" in html
    assert (303, f"/incidents/{primary}?done=merged") == _post(
        anonymous, f"/incidents/{duplicate}/merge", csrf, into=f"#{primary}"
    )[:2]
    assert ("closed", primary) == (
        get(client, duplicate)["state"],
        get(client, duplicate)["merged_into"],
    )
    assert [("olga", str(duplicate))] == _audit(client, "incident.merge")
    assert (
        f'merged into <a href="/incidents/{primary}">#{primary}</a>'
        in anonymous.get(f"/incidents/{duplicate}").text
    )


@pytest.mark.store_agnostic
def test_refusals_show_on_the_page(client: TestClient, anonymous: TestClient) -> None:
    """A move the lifecycle refuses answers the page with the API's explanation (409)."""
    number = declare(client)["id"]
    csrf = _operator(client, anonymous)
    status, _, html = _post(anonymous, f"/incidents/{number}/transition", csrf, to="triggered")
    assert 409 == status
    assert "cannot become triggered; allowed: acknowledged, mitigated, resolved, closed" in html
    status, _, html = _post(anonymous, f"/incidents/{number}/roles", csrf, role="king", person="x")
    assert 422 == status
    assert "role: one of commander, communications, scribe" in html
    status, _, html = _post(
        anonymous, f"/incidents/{number}/updates", csrf, text="  ", notify="true"
    )
    assert (422, True) == (status, "text:" in html)
    assert "built-in method" not in html
    assert 404 == anonymous.get("/incidents/999").status_code
    assert 404 == anonymous.get("/incidents/abc").status_code
    assert 404 == anonymous.get(f"/incidents/{2**64}").status_code
    assert 404 == _post(anonymous, "/incidents/999/transition", csrf, to="closed")[0]


@pytest.mark.store_agnostic
def test_viewers_are_refused_and_csrf_is_enforced(
    client: TestClient, anonymous: TestClient
) -> None:
    """Every form post is 403 for a viewer and without the session's CSRF token; nothing
    changes."""
    number = declare(client)["id"]
    posts = [
        ("/incidents", {"title": "t", "severity": "SEV3"}),
        (f"/incidents/{number}/transition", {"to": "acknowledged"}),
        (f"/incidents/{number}/severity", {"severity": "SEV1"}),
        (f"/incidents/{number}/roles", {"role": "scribe", "person": "x"}),
        (f"/incidents/{number}/updates", {"text": "x"}),
        (f"/incidents/{number}/tasks", {"title": "x"}),
        (f"/incidents/{number}/tasks/1", {"done": "true"}),
        (f"/incidents/{number}/merge", {"into": "1"}),
        (f"/incidents/{number}/timeline", {"text": "x"}),
        (f"/incidents/{number}/timeline/event:1/pin", {"pinned": "true"}),
    ]
    csrf = _viewer(client, anonymous)
    for path, data in posts:
        response = anonymous.post(path, data={**data, "csrf_token": csrf})
        assert (403, True) == (
            response.status_code,
            "This needs the operator role" in response.text,
        ), path
    csrf = _operator(client, anonymous)
    for path, data in posts:
        assert 403 == anonymous.post(path, data=data).status_code, path
        forged = anonymous.post(path, data={**data, "csrf_token": "forged"})
        assert (403, True) == (forged.status_code, "Form expired" in forged.text), path
    found = get(client, number)
    assert ("triggered", "SEV2", [], []) == (
        found["state"],
        found["severity"],
        found["updates"],
        found["tasks"],
    )
    assert 1 == len(client.get("/api/v1/incidents").json()["items"])


@pytest.mark.store_agnostic
def test_markup_renders_as_text(client: TestClient, anonymous: TestClient) -> None:
    """A script in a title, summary, update or timeline note is shown, never run."""
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    number = declare(client, title=attack, summary=attack, commander=attack)["id"]
    client.post(f"/api/v1/incidents/{number}/updates", json={"text": attack})
    client.post(f"/api/v1/incidents/{number}/timeline", json={"text": attack})
    _operator(client, anonymous)
    for path in (f"/incidents/{number}", "/incidents"):
        html = anonymous.get(path).text
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html, path


def test_an_alert_declared_incident_shows_its_alert_on_the_timeline(
    client: TestClient, anonymous: TestClient, app: FastAPI, clock: VirtualClock
) -> None:
    """An incident a rule declared from an alert lists the alert and its firing entry."""
    put_rule(client, "paging", PAGE_RULE)
    run_declare(app, clock)
    fire(client, clock, alertname="Down", service="payments", severity="page", summary="5xx")
    assert 1 == run_declare(app, clock)
    _viewer(client, anonymous)
    [number] = _rows(anonymous.get("/incidents").text)
    html = anonymous.get(f"/incidents/{number}").text
    assert "rule paging" in html
    assert '<span class="tl-text">alert Down firing: 5xx</span>' in html


@pytest.mark.store_agnostic
def test_the_metrics_page_states_each_definition(
    client: TestClient, anonymous: TestClient, clock: VirtualClock
) -> None:
    """MTTA, MTTR and MTBF per group, as the API computes them, with the definitions and
    the weekly trend's chart data; a bad period is named and the default used."""
    a = declare(client, severity="SEV1", services=["checkout"])["id"]
    clock.advance(300)
    move(client, a, "acknowledged")
    clock.advance(900)
    move(client, a, "resolved")  # TTA 5 min, TTR 20 min
    b = declare(client, severity="SEV3", services=["search"])["id"]
    clock.advance(3600)
    move(client, b, "resolved")  # never acknowledged, TTR 60 min
    _viewer(client, anonymous)
    html = anonymous.get("/incidents/metrics", params={"group_by": "severity"}).text
    sev1 = html[html.index('<tr data-group="SEV1">') :]
    sev1 = sev1[: sev1.index("</tr>")]
    assert '<td class="num" data-metric="mtta">5.0 min' in sev1
    assert '<td class="num" data-metric="mttr">20.0 min' in sev1
    sev3 = html[html.index('<tr data-group="SEV3">') :]
    assert "0 acknowledged, 1 excluded" in sev3[: sev3.index("</tr>")]
    assert "Mean time to acknowledge (PagerDuty)" in html
    assert "Mean time to resolve (PagerDuty)" in html
    assert "Mean time between failures (Atlassian)" in html
    assert (
        'id="chart-response" data-chart="{&#34;points&#34;:true,&#34;unit&#34;:&#34;&#34;' in html
    )
    overall = anonymous.get(
        "/incidents/metrics", params={"group_by": "none", "since": "2027-01-01"}
    ).text
    assert '<tr data-group="">' in overall
    assert "from 2027-01-01 00:00:00Z" in overall
    assert '<td class="num" data-metric="mttr">40.0 min' in overall
    bad = anonymous.get("/incidents/metrics", params={"since": "yesterday"}).text
    assert "since: &#39;yesterday&#39; is not a time" in bad
    assert START  # the clock's origin: 2027-01-15 08:00 UTC


@pytest.mark.store_agnostic
def test_the_pages_hold_no_inline_code(client: TestClient, anonymous: TestClient) -> None:
    """Every incident page, with operator buttons, carries the UI's policy and no inline
    script, style or event handler."""
    number = declare(client, services=["checkout"])["id"]
    client.post(f"/api/v1/incidents/{number}/timeline", json={"text": "note"})
    _operator(client, anonymous)
    for path in ("/incidents", f"/incidents/{number}", "/incidents/metrics"):
        response = anonymous.get(path)
        assert 200 == response.status_code, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert INLINE.search(response.text) is None, path
    assert "incident.js" in anonymous.get(f"/incidents/{number}").text


@pytest.mark.store_agnostic
def test_the_postmortem_box_links_to_the_postmortem(
    client: TestClient, anonymous: TestClient
) -> None:
    """Without a postmortem operators get the Generate button (posting to the postmortem
    pages' route); once there is one, everyone gets its link instead."""
    number = declare(client)["id"]
    move(client, number, "resolved")
    _operator(client, anonymous)
    html = anonymous.get(f"/incidents/{number}").text
    assert f'<form method="post" action="/incidents/{number}/postmortem">' in html
    assert "Generate postmortem" in html
    response = client.post(f"/api/v1/incidents/{number}/postmortem")
    assert 201 == response.status_code, response.text
    made = response.json()["id"]
    html = anonymous.get(f"/incidents/{number}").text
    assert f'<a class="btn" href="/postmortems/{made}">Open the postmortem →</a>' in html
    assert "Generate postmortem" not in html
