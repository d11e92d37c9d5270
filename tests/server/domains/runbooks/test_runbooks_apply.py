"""The Runbook kind through reliant.yaml's plan, apply, drift and export."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from runbooks_helpers import EXECUTABLES, put, runbook


@pytest.fixture(autouse=True)
def allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server allows the tests' executables."""
    monkeypatch.setenv("RELIANT_RUNBOOK_EXECUTABLES", EXECUTABLES)


def document(spec: dict[str, Any], name: str = "restart") -> dict[str, Any]:
    return {
        "apiVersion": "reliant.dev/v1",
        "kind": "Runbook",
        "metadata": {"name": name},
        "spec": spec,
    }


def apply(client: TestClient, documents: list[dict[str, Any]], step: str = "apply") -> Any:
    return client.post(f"/api/v1/spec/{step}", json={"documents": documents, "kinds": ["Runbook"]})


def actions(answer: Any) -> list[tuple[str, str, str]]:
    return [(c["action"], c["kind"], c["name"]) for c in answer.json()["changes"]]


def test_apply_creates_updates_and_reports_drift(client: TestClient) -> None:
    """apply creates a spec-managed runbook once; a hand edit is drift; export round-trips."""
    spec = runbook({"kind": "shell", "command": ["echo", "hi"]})
    first = apply(client, [document(spec)])
    assert [("create", "Runbook", "restart")] == actions(first), first.text
    assert [("unchanged", "Runbook", "restart")] == actions(apply(client, [document(spec)], "plan"))
    assert "spec" == client.get("/api/v1/runbooks/restart").json()["managed_by"]
    put(client, "restart", {**spec, "description": "by hand"}, status=200)
    drifted = apply(client, [document(spec)], "plan").json()["changes"][0]
    assert ("update", True) == (drifted["action"], drifted["drift"])
    exported = client.get("/api/v1/spec/export", params={"kind": "Runbook"}).json()["documents"]
    assert [("Runbook", "restart", "by hand")] == [
        (d["kind"], d["metadata"]["name"], d["spec"]["description"]) for d in exported
    ]


def test_apply_refuses_an_executable_off_the_allow_list(client: TestClient) -> None:
    """A runbook the server cannot run is refused and nothing is applied."""
    spec = runbook({"kind": "shell", "command": ["rm", "-rf", "/"]})
    refused = apply(client, [document(spec)])
    assert 422 == refused.status_code
    assert "'rm' is not on the server's allow-list" in refused.text
    assert [] == client.get("/api/v1/runbooks").json()["items"]
