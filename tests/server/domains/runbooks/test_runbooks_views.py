"""The runbook pages: the runbooks and the kill switch, starting a run from an incident's
page (and dry runs), a run's page with its steps and the operator's decisions."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from runbooks_helpers import SECRET, Driver, get_run, put, runbook, start, target
from server_helpers import token_for

from reliant.testing import VirtualClock

HTMX = {"HX-Request": "true"}
INLINE = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son\w+=")
#: An http step against the loopback target, then a checklist item.
CHECKLIST = {"kind": "manual", "id": "check", "instructions": "Look at the <b>dashboard</b>"}


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


def _audit(client: TestClient, action: str) -> list[tuple[str, str]]:
    items = client.get("/api/v1/audit", params={"limit": 500}).json()["items"]
    return [(r["actor"], r["target_id"]) for r in items if r["action"] == action]


def _post(anonymous: TestClient, path: str, csrf: str, **data: Any) -> tuple[int, str, str]:
    response = anonymous.post(path, data={"csrf_token": csrf, **data}, follow_redirects=False)
    return response.status_code, response.headers.get("location", ""), response.text


def _incident(client: TestClient) -> int:
    response = client.post(
        "/api/v1/incidents",
        json={"title": "Checkout errors", "severity": "SEV2", "services": ["payments"]},
    )
    assert 201 == response.status_code, response.text
    return int(response.json()["id"])


def _secretive() -> dict[str, Any]:
    return runbook(
        {"kind": "http", "url": "http://127.0.0.1:9/{{ params.token }}"},
        parameters=[
            {"name": "token", "secret": True, "required": True},
            {"name": "replicas", "default": "2"},
        ],
    )


def test_the_runbooks_page_lists_runbooks_and_the_kill_switch(
    client: TestClient, anonymous: TestClient
) -> None:
    """Each runbook with its service, steps, destructive steps, triggers and last run;
    the automation state for everyone, its switch for admins only."""
    put(
        client,
        "drain",
        runbook(
            {"kind": "manual"},
            {"kind": "approval", "destructive": True, "id": "go"},
            description="Drain a node",
        ),
    )
    put(client, "restart", runbook({"kind": "manual"}, service="search"))
    made = start(client, "drain")
    _viewer(client, anonymous)
    html = anonymous.get("/runbooks").text
    assert ["drain", "restart"] == re.findall(r'<tr data-runbook="([\w-]+)">', html)
    drain = html[html.index('data-runbook="drain"') :]
    drain = drain[: drain.index("</tr>")]
    assert "Drain a node" in drain
    assert '<td class="num">2</td>' in drain
    assert "<code>go</code>" in drain
    assert f'<a href="/runs/{made["id"]}">run {made["id"]}</a>' in drain
    assert "never" in html[html.index('data-runbook="restart"') :]
    assert "</span>on</span>" in html
    assert "Switch automation off" not in html
    assert '<a href="/runbooks" aria-current="page">Runbooks</a>' in html


def test_an_admin_switches_automation_off_and_on(client: TestClient, anonymous: TestClient) -> None:
    """The switch runs the settings use case (audited ``settings.update``); operators and
    viewers are refused."""
    csrf = _operator(client, anonymous)
    assert 403 == _post(anonymous, "/runbooks/automation", csrf, enabled="false")[0]
    csrf = _login(anonymous, client.headers["authorization"].removeprefix("Bearer "))
    assert (303, "/runbooks?switched=off") == _post(
        anonymous, "/runbooks/automation", csrf, enabled="false"
    )[:2]
    assert client.get("/api/v1/settings/runbooks").json()["enabled"] is False
    html = anonymous.get("/runbooks?switched=off").text
    assert "Automation switched off." in html
    assert "The kill switch is off" in html
    assert "Switch automation on" in html
    assert 1 == len(_audit(client, "settings.update"))
    assert 303 == _post(anonymous, "/runbooks/automation", csrf, enabled="true")[0]
    assert client.get("/api/v1/settings/runbooks").json()["enabled"] is True
    assert 422 == _post(anonymous, "/runbooks/automation", csrf, enabled="maybe")[0]
    assert 403 == anonymous.post("/runbooks/automation", data={"enabled": "false"}).status_code


def test_a_run_is_started_from_an_incident_and_succeeds(
    client: TestClient, anonymous: TestClient, app: FastAPI, clock: VirtualClock
) -> None:
    """The incident's form starts a run (audited ``runbook.run``) and opens its page; the
    http step calls the target, the page shows its output, the manual step waits for a
    click, and the run succeeds; the incident's page lists the run."""
    number = _incident(client)
    with target() as server:
        put(
            client,
            "check-payments",
            runbook({"kind": "http", "id": "probe", "url": server.url + "/ok"}, CHECKLIST),
        )
        csrf = _operator(client, anonymous)
        page = anonymous.get(f"/incidents/{number}").text
        assert '<option value="check-payments" selected>check-payments (payments)</option>' in page
        status, location, _ = _post(
            anonymous, "/runs", csrf, runbook="check-payments", incident=str(number), params=""
        )
        assert 303 == status
        run_id = int(location.removeprefix("/runs/").split("?")[0])
        assert [("olga", str(run_id))] == _audit(client, "runbook.run")
        html = anonymous.get(location).text
        assert "Run started" in html
        assert 'hx-trigger="every 2s"' in html
        assert f'<a href="/incidents/{number}">← Incident #{number}</a>' in html
        Driver(app, clock).settle(client, run_id)
        assert ["GET /ok"] == [f"{s['method']} {s['path']}" for s in server.seen]
    html = anonymous.get(f"/runs/{run_id}").text
    assert 'data-run-state="waiting"' in html
    assert 'hx-trigger="every 2s"' not in html
    probe = html[html.index('data-step="probe"') :]
    assert "</span>succeeded</span>" in probe[: probe.index("</li>")]
    assert '<pre class="output">' in probe
    assert "healthy" in probe[: probe.index("</li>")]
    assert "Look at the &lt;b&gt;dashboard&lt;/b&gt;" in html
    assert f'action="/runs/{run_id}/steps/check/complete"' in html
    done = _post(anonymous, f"/runs/{run_id}/steps/check/complete", csrf, comment="all green")
    assert (303, f"/runs/{run_id}?done=completed") == done[:2]
    assert "succeeded" == get_run(client, run_id)["state"]
    assert [("olga", str(run_id))] == _audit(client, "runbook.complete")
    html = anonymous.get(f"/runs/{run_id}").text
    assert 'data-run-state="succeeded"' in html
    assert "completed by olga: all green" in html
    assert "Cancel run" not in html
    runs = anonymous.get(f"/incidents/{number}/runs", headers=HTMX).text
    assert runs.lstrip().startswith('<div id="incident-runs"')
    assert f'<a href="/runs/{run_id}">run {run_id}</a>' in runs
    assert "</span>succeeded</span>" in runs


def test_an_approval_gate_is_approved_or_rejected_and_a_run_cancelled(
    client: TestClient, anonymous: TestClient, app: FastAPI, clock: VirtualClock
) -> None:
    """Approve and Reject act on the gate the run waits at (audited); Cancel ends an
    active run; a decision the run does not wait for is refused on the page (409)."""
    put(
        client,
        "gated",
        runbook({"kind": "approval", "id": "gate"}, {"kind": "manual", "id": "after"}),
    )
    driver = Driver(app, clock)
    csrf = _operator(client, anonymous)
    first, second, third = (start(client, "gated")["id"] for _ in range(3))
    for run_id in (first, second, third):
        driver.settle(client, run_id)
    html = anonymous.get(f"/runs/{first}").text
    assert "This gate waits for an approval." in html
    assert f'formaction="/runs/{first}/reject"' in html
    assert 303 == _post(anonymous, f"/runs/{first}/approve", csrf, step="gate", comment="go")[0]
    assert ["succeeded", "pending"] == [s["state"] for s in get_run(client, first)["steps"]]
    assert 303 == _post(anonymous, f"/runs/{second}/reject", csrf, step="gate")[0]
    assert "failed" == get_run(client, second)["state"]
    status, _, html = _post(anonymous, f"/runs/{second}/approve", csrf, step="gate")
    assert 409 == status
    assert "has ended (failed)" in html
    assert (303, f"/runs/{third}?done=cancelled") == _post(
        anonymous, f"/runs/{third}/cancel", csrf
    )[:2]
    assert "cancelled" == get_run(client, third)["state"]
    for action, run_id in (
        ("runbook.approve", first),
        ("runbook.reject", second),
        ("runbook.cancel", third),
    ):
        assert [("olga", str(run_id))] == _audit(client, action)
    assert 404 == anonymous.get("/runs/999").status_code
    assert 404 == anonymous.get("/runs/x").status_code
    assert 404 == _post(anonymous, "/runs/999/cancel", csrf)[0]


def test_a_dry_run_shows_the_steps_and_starts_nothing(
    client: TestClient, anonymous: TestClient
) -> None:
    """A dry run renders every step with the secret masked, stores nothing, and offers to
    start for real; bad parameters and unknown runbooks are explained on the page."""
    put(client, "secretive", _secretive())
    csrf = _operator(client, anonymous)
    status, _, html = _post(
        anonymous,
        "/runs",
        csrf,
        runbook="secretive",
        params=f"token={SECRET}\nreplicas=3",
        dry_run="true",
    )
    assert 200 == status
    assert "Dry run of secretive" in html
    assert "http://127.0.0.1:9/********" in html
    assert '<span class="kv-key">token</span>=<span class="kv-value">********</span>' in html
    assert [] == client.get("/api/v1/runbook-runs").json()["items"]
    status, _, html = _post(anonymous, "/runs", csrf, runbook="secretive", params="replicas=3")
    assert 422 == status
    assert "params.token: required parameter" in html
    status, _, html = _post(anonymous, "/runs", csrf, runbook="secretive", params="oops")
    assert (422, True) == (status, "params line 1: write name=value" in html)
    status, _, html = _post(anonymous, "/runs", csrf, runbook="nope", params="")
    assert (404, True) == (status, "no runbook named &#39;nope&#39;" in html)
    assert [] == client.get("/api/v1/runbook-runs").json()["items"]


def test_secrets_are_masked_on_the_run_page(
    client: TestClient, anonymous: TestClient, app: FastAPI, clock: VirtualClock
) -> None:
    """The run's parameters, rendered steps and errors show the secret masked, as the API."""
    put(client, "secretive", _secretive())
    csrf = _operator(client, anonymous)
    status, location, _ = _post(
        anonymous, "/runs", csrf, runbook="secretive", params=f"token={SECRET}"
    )
    assert 303 == status
    run_id = int(location.removeprefix("/runs/").split("?")[0])
    Driver(app, clock).settle(client, run_id)
    html = anonymous.get(f"/runs/{run_id}").text
    assert SECRET not in html
    assert '<span class="kv-key">token</span>=<span class="kv-value">********</span>' in html
    assert "</span>failed</span>" in html


def test_viewers_see_no_buttons_and_are_refused(
    client: TestClient, anonymous: TestClient, app: FastAPI, clock: VirtualClock
) -> None:
    """A viewer reads a waiting run without buttons; every post is 403 for viewers and
    without the CSRF token; an htmx GET answers only the live part."""
    put(client, "gated", runbook({"kind": "approval", "id": "gate"}))
    run_id = start(client, "gated")["id"]
    Driver(app, clock).settle(client, run_id)
    csrf = _viewer(client, anonymous)
    html = anonymous.get(f"/runs/{run_id}").text
    assert "Waits for an operator (approval)." in html
    assert html.count("<form") == 1  # log out only
    live = anonymous.get(f"/runs/{run_id}", headers=HTMX).text
    assert live.lstrip().startswith('<div id="run-live"')
    assert "<html" not in live
    posts = [
        ("/runs", {"runbook": "gated"}),
        (f"/runs/{run_id}/approve", {}),
        (f"/runs/{run_id}/reject", {}),
        (f"/runs/{run_id}/cancel", {}),
        (f"/runs/{run_id}/steps/gate/complete", {}),
        ("/runbooks/automation", {"enabled": "false"}),
    ]
    for path, data in posts:
        assert 403 == anonymous.post(path, data={**data, "csrf_token": csrf}).status_code, path
    _operator(client, anonymous)
    for path, data in posts[:5]:
        forged = anonymous.post(path, data={**data, "csrf_token": "forged"})
        assert (403, True) == (forged.status_code, "Form expired" in forged.text), path
    assert "waiting" == get_run(client, run_id)["state"]
    assert 1 == len(client.get("/api/v1/runbook-runs").json()["items"])


def test_the_pages_hold_no_inline_code(
    client: TestClient, anonymous: TestClient, app: FastAPI, clock: VirtualClock
) -> None:
    """The runbooks page, a run's page and a dry run, with operator buttons, carry the
    UI's policy and no inline script, style or event handler."""
    put(client, "gated", runbook({"kind": "approval", "id": "gate"}))
    run_id = start(client, "gated")["id"]
    Driver(app, clock).settle(client, run_id)
    csrf = _operator(client, anonymous)
    dry = anonymous.post("/runs", data={"csrf_token": csrf, "runbook": "gated", "dry_run": "true"})
    for response in (anonymous.get("/runbooks"), anonymous.get(f"/runs/{run_id}"), dry):
        assert 200 == response.status_code
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert INLINE.search(response.text) is None
