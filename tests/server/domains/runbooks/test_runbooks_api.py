"""The runbooks API: runbooks, validation with located errors, runs, dry runs, kill switch."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from runbooks_helpers import EXECUTABLES, SECRET, an_incident, get_run, put, runbook, start
from server_helpers import bearer, token_for

from reliant.server.db import transaction
from reliant.server.domains.runbooks import run_view, runs_of_incident


@pytest.fixture(autouse=True)
def allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server allows the tests' executables."""
    monkeypatch.setenv("RELIANT_RUNBOOK_EXECUTABLES", EXECUTABLES)


def test_put_get_list_delete(client: TestClient) -> None:
    """A runbook is created (201), replaced (200), read, listed by name and deleted."""
    body = runbook({"kind": "shell", "command": ["echo", "hi"]}, description="first")
    created = put(client, "restart-db", body)
    assert ("restart-db", "payments", "api") == (
        created["name"],
        created["service"],
        created["managed_by"],
    )
    assert {"timeout": "60s", "on_failure": "abort", "on_success": "next"}.items() <= (
        created["spec"]["steps"][0].items()
    )
    put(client, "restart-db", {**body, "description": "second"}, status=200)
    put(client, "another", runbook({"kind": "manual"}, service="search"))
    assert "second" == client.get("/api/v1/runbooks/restart-db").json()["spec"]["description"]
    page = client.get("/api/v1/runbooks", params={"limit": 1}).json()
    rest = client.get("/api/v1/runbooks", params={"cursor": page["next"]}).json()
    assert ["another", "restart-db"] == [r["name"] for r in page["items"] + rest["items"]]
    assert ["another"] == [
        r["name"]
        for r in client.get("/api/v1/runbooks", params={"service": "search"}).json()["items"]
    ]
    assert 204 == client.delete("/api/v1/runbooks/restart-db").status_code
    assert 404 == client.get("/api/v1/runbooks/restart-db").status_code
    kinds = [
        e["kind"]
        for e in client.get("/api/v1/events", params={"kind": "runbook.*"}).json()["items"]
    ]
    assert ["runbook.deleted", "runbook.created", "runbook.updated", "runbook.created"] == kinds


def test_unknown_executable_is_refused_with_the_allow_list(client: TestClient) -> None:
    """A shell step whose executable is not allowed is a 422 naming the allow-list."""
    response = client.put(
        "/api/v1/runbooks/bad", json=runbook({"kind": "shell", "command": ["rm", "-rf", "/tmp/x"]})
    )
    assert 422 == response.status_code
    problem = response.json()
    assert [["body", "steps", 0, "command", 0]] == [e["loc"] for e in problem["errors"]]
    assert "'rm' is not on the server's allow-list of executables" in problem["detail"]
    assert "/echo" in problem["detail"]
    assert "RELIANT_RUNBOOK_EXECUTABLES" in problem["detail"]


def test_no_allow_list_allows_no_executable(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without RELIANT_RUNBOOK_EXECUTABLES every shell step is refused, saying how to allow."""
    monkeypatch.delenv("RELIANT_RUNBOOK_EXECUTABLES")
    response = client.put(
        "/api/v1/runbooks/x", json=runbook({"kind": "shell", "command": ["echo"]})
    )
    assert 422 == response.status_code
    assert "no executable is allowed: set RELIANT_RUNBOOK_EXECUTABLES" in response.json()["detail"]


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    ("steps", "extra", "expected"),
    [
        (
            [{"id": "a", "kind": "manual"}, {"id": "a", "kind": "manual"}],
            {},
            "steps[1]: 'a' is used by an earlier one too",
        ),
        (
            [{"id": "a", "kind": "manual", "on_failure": {"goto": "zz"}}],
            {},
            "steps[0].on_failure.goto: no step has id 'zz' (ids: a)",
        ),
        (
            [
                {"id": "a", "kind": "manual"},
                {"id": "b", "kind": "manual", "on_failure": {"goto": "a"}},
            ],
            {},
            "steps[1].on_failure.goto: jumping back to 'a' makes a cycle (a → b → a)",
        ),
        (
            [{"id": "a", "kind": "shell", "command": ["echo", "{{ params.who }}"]}],
            {},
            "steps[0].command[1]: unknown parameter 'who' in {{ params.who }} (none declared)",
        ),
        (
            [{"id": "a", "kind": "http", "url": "http://x/{{ param.who }}"}],
            {},
            "steps[0].url: unknown name param.who",
        ),
        (
            [{"id": "a", "kind": "manual"}],
            {"triggers": [{"matchers": ['alertname=~"(?=x)"']}]},
            "triggers[0].matchers[0]: '(?=x)': look-arounds",
        ),
    ],
)
def test_invalid_runbooks_are_located(
    client: TestClient, steps: list[dict[str, object]], extra: dict[str, object], expected: str
) -> None:
    """Duplicate ids, unknown and backward gotos, unknown parameters, bad matchers: 422."""
    response = client.put("/api/v1/runbooks/bad", json={"steps": steps, **extra})
    assert 422 == response.status_code
    assert expected in response.text


def test_start_a_run_and_list_runs(client: TestClient) -> None:
    """A run starts pending with every step pending; runs list newest first, filtered."""
    put(client, "rb", runbook({"kind": "manual"}, {"kind": "shell", "command": ["echo"]}))
    incident = an_incident(client)
    first = start(client, "rb", incident=incident)
    second = start(client, "rb")
    assert ("pending", ["pending", "pending"], incident, False) == (
        first["state"],
        [s["state"] for s in first["steps"]],
        first["incident"],
        first["automatic"],
    )
    assert "s1" == first["current"]
    listed = client.get("/api/v1/runbook-runs", params={"runbook": "rb", "limit": 1}).json()
    more = client.get("/api/v1/runbook-runs", params={"cursor": listed["next"]}).json()
    assert [second["id"], first["id"]] == [r["id"] for r in listed["items"] + more["items"]]
    by_incident = client.get("/api/v1/runbook-runs", params={"incident": incident})
    by_incident = by_incident.json()["items"]
    assert [first["id"]] == [r["id"] for r in by_incident]
    assert [] == client.get("/api/v1/runbook-runs", params={"state": "failed"}).json()["items"]
    assert 404 == client.get("/api/v1/runbook-runs/999").status_code


def test_a_run_names_an_existing_incident(client: TestClient) -> None:
    """A run for an incident that does not exist is refused (422), nothing started."""
    put(client, "rb", runbook({"kind": "manual"}))
    response = client.post("/api/v1/runbooks/rb/runs", json={"incident": 404})
    assert 422 == response.status_code
    assert "there is no incident #404" in response.text
    assert [] == client.get("/api/v1/runbook-runs").json()["items"]


def test_params_are_checked(client: TestClient) -> None:
    """Unknown parameters and missing required ones are refused with their names."""
    put(client, "rb", runbook({"kind": "manual"}, parameters=[{"name": "host", "required": True}]))
    response = client.post("/api/v1/runbooks/rb/runs", json={"params": {"hots": "a"}})
    assert 422 == response.status_code
    assert [["body", "params", "hots"], ["body", "params", "host"]] == [
        e["loc"] for e in response.json()["errors"]
    ]
    assert "unknown parameter 'hots' (parameters: host)" in response.json()["detail"]
    assert 404 == client.post("/api/v1/runbooks/nope/runs", json={}).status_code


def test_dry_run_renders_every_step_and_runs_nothing(client: TestClient) -> None:
    """A dry run renders templates with the parameters, masks secrets, stores no run."""
    body = runbook(
        {
            "kind": "http",
            "method": "POST",
            "url": "http://127.0.0.1:9/{{ params.region }}/restart",
            "headers": {"Authorization": "Bearer {{ params.token }}"},
            "destructive": True,
        },
        {"kind": "shell", "command": ["echo", "{{ run.runbook }}", "{{ params.token }}"]},
        parameters=[{"name": "region", "default": "eu"}, {"name": "token", "secret": True}],
    )
    put(client, "rb", body)
    preview = start(client, "rb", status=200, dry_run=True, params={"token": SECRET})
    assert SECRET not in str(preview)
    assert {"region": "eu", "token": "********"} == preview["params"]
    first, second = preview["steps"]
    assert ("http://127.0.0.1:9/eu/restart", "Bearer ********", True) == (
        first["rendered"]["url"],
        first["rendered"]["headers"]["Authorization"],
        first["needs_approval"],
    )
    assert ["echo", "rb", "********"] == second["rendered"]["command"]
    approved = start(client, "rb", status=200, dry_run=True, approve_destructive=True)
    assert [False, False] == [s["needs_approval"] for s in approved["steps"]]
    assert [] == client.get("/api/v1/runbook-runs").json()["items"]


def test_dry_run_checks_the_allow_list_now(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An executable removed from the allow-list since is refused by a dry run and a run."""
    put(client, "rb", runbook({"kind": "shell", "command": ["sleep", "1"]}))
    monkeypatch.setenv("RELIANT_RUNBOOK_EXECUTABLES", "echo")
    for dry in (True, False):
        response = client.post("/api/v1/runbooks/rb/runs", json={"dry_run": dry})
        assert 422 == response.status_code
        assert "'sleep' is not on the server's allow-list" in response.json()["detail"]


def test_kill_switch_is_an_admin_setting(client: TestClient) -> None:
    """Admins flip the kill switch; operators may not; runs show they are paused."""
    operator = token_for(client, "operator")
    put(client, "rb", runbook({"kind": "manual"}))
    run = start(client, "rb")
    assert {"enabled": True, "updated_at": None, "updated_by": None} == client.get(
        "/api/v1/settings/runbooks"
    ).json()
    refused = client.put(
        "/api/v1/settings/runbooks", json={"enabled": False}, headers=bearer(operator)
    )
    assert 403 == refused.status_code
    switched = client.put("/api/v1/settings/runbooks", json={"enabled": False}).json()
    assert (False, "bootstrap-admin") == (switched["enabled"], switched["updated_by"])
    assert get_run(client, run["id"])["paused"]
    changed = client.get("/api/v1/events", params={"kind": "settings.changed"}).json()["items"]
    assert [{"setting": "runbook_automation", "old": True, "new": False}] == [
        e["attributes"] for e in changed
    ]
    client.put("/api/v1/settings/runbooks", json={"enabled": True})
    assert not get_run(client, run["id"])["paused"]


def test_viewers_read_operators_act(client: TestClient) -> None:
    """A viewer reads runbooks and runs but cannot write a runbook or start a run."""
    viewer = bearer(token_for(client, "viewer"))
    put(client, "rb", runbook({"kind": "manual"}))
    run = start(client, "rb")
    assert 200 == client.get("/api/v1/runbooks/rb", headers=viewer).status_code
    assert 200 == client.get(f"/api/v1/runbook-runs/{run['id']}", headers=viewer).status_code
    assert 403 == client.post("/api/v1/runbooks/rb/runs", json={}, headers=viewer).status_code
    assert (
        403 == client.post(f"/api/v1/runbook-runs/{run['id']}/cancel", headers=viewer).status_code
    )


def test_cancel_ends_a_run(client: TestClient) -> None:
    """Cancelling ends the run and its steps; cancelling again is a conflict."""
    put(client, "rb", runbook({"kind": "manual"}, {"kind": "manual"}))
    run = start(client, "rb")
    cancelled = client.post(f"/api/v1/runbook-runs/{run['id']}/cancel").json()
    assert ("cancelled", ["cancelled", "cancelled"], "cancelled by bootstrap-admin") == (
        cancelled["state"],
        [s["state"] for s in cancelled["steps"]],
        cancelled["error"],
    )
    again = client.post(f"/api/v1/runbook-runs/{run['id']}/cancel")
    assert (409, f"run {run['id']} has ended (cancelled); nothing to cancel") == (
        again.status_code,
        again.json()["detail"],
    )


def test_the_facade_reads_runs_for_other_domains(app: FastAPI, client: TestClient) -> None:
    """Incidents and pages read an incident's runs, and one run, through the facade."""
    put(client, "rb", runbook({"kind": "manual"}))
    incident = an_incident(client)
    first = start(client, "rb", incident=incident)
    start(client, "rb")
    with transaction(app.state.sessions) as session:
        listed = runs_of_incident(session, incident)
        view = run_view(session, first["id"])
        missing = run_view(session, 999)
    assert ([first["id"]], "s1", None) == (
        [r.id for r in listed],
        view.current if view else None,
        missing,
    )
