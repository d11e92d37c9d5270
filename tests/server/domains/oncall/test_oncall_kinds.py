"""The Schedule and EscalationPolicy kinds through reliant.yaml's plan and apply.

Overrides are not part of the spec: ``apply --prune`` never removes them while their
schedule stays.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from oncall_helpers import POLICY, SCHEDULE, policy, schedule
from server_helpers import START

KINDS = ["Schedule", "EscalationPolicy"]


def doc(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "reliant.dev/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


DOCUMENTS = [doc("EscalationPolicy", POLICY, policy()), doc("Schedule", SCHEDULE, schedule())]


def run(client: TestClient, step: str, documents: list[dict[str, Any]], **extra: Any) -> Any:
    return client.post(
        f"/api/v1/spec/{step}", json={"documents": documents, "kinds": KINDS, **extra}
    )


def actions(answer: Any) -> list[tuple[str, str, str]]:
    return [(c["action"], c["kind"], c["name"]) for c in answer.json()["changes"]]


def test_apply_creates_schedules_before_the_policies_naming_them(client: TestClient) -> None:
    """A policy listed first still applies: schedules come first; applying again changes
    nothing; both are marked as written by the spec."""
    first = run(client, "apply", DOCUMENTS)
    again = run(client, "plan", DOCUMENTS)
    assert (
        [("create", "Schedule", SCHEDULE), ("create", "EscalationPolicy", POLICY)],
        [("unchanged", "Schedule", SCHEDULE), ("unchanged", "EscalationPolicy", POLICY)],
        ("spec", "spec"),
    ) == (
        actions(first),
        actions(again),
        (
            client.get(f"/api/v1/oncall/schedules/{SCHEDULE}").json()["managed_by"],
            client.get(f"/api/v1/oncall/policies/{POLICY}").json()["managed_by"],
        ),
    )


def test_prune_keeps_overrides_of_a_schedule_that_stays(client: TestClient) -> None:
    """An override made by API survives ``apply --prune`` of the same documents and an
    update of the schedule; pruning everything deletes the policy, then the schedule."""
    run(client, "apply", DOCUMENTS)
    made = client.post(
        f"/api/v1/oncall/schedules/{SCHEDULE}/overrides",
        json={"member": "carol", "ends_at": START + 3600},
    )
    assert 201 == made.status_code, made.text
    changed = [
        doc("EscalationPolicy", POLICY, policy()),
        doc("Schedule", SCHEDULE, schedule(description="x")),
    ]
    updated = run(client, "apply", changed, prune=True)
    overrides = client.get(f"/api/v1/oncall/schedules/{SCHEDULE}/overrides").json()["items"]
    pruned = run(client, "apply", [], prune=True)
    assert (
        [("update", "Schedule", SCHEDULE), ("unchanged", "EscalationPolicy", POLICY)],
        ["carol"],
        [("delete", "EscalationPolicy", POLICY), ("delete", "Schedule", SCHEDULE)],
        404,
    ) == (
        actions(updated),
        [o["member"] for o in overrides],
        actions(pruned),
        client.get(f"/api/v1/oncall/schedules/{SCHEDULE}").status_code,
    )


def test_apply_refuses_a_policy_naming_an_unknown_schedule(client: TestClient) -> None:
    """The whole apply fails with 422 naming the schedule; nothing is stored."""
    answer = run(client, "apply", [doc("EscalationPolicy", POLICY, policy())])
    assert (
        422,
        "create EscalationPolicy payments-escalation failed: EscalationPolicy "
        "'payments-escalation': unknown schedule 'payments-primary' (known: none): create it "
        "first; nothing was applied",
        [],
    ) == (
        answer.status_code,
        answer.json()["detail"],
        client.get("/api/v1/oncall/policies").json()["items"],
    )


def test_export_round_trips(client: TestClient) -> None:
    """Exported documents applied back change nothing."""
    run(client, "apply", DOCUMENTS)
    exported = client.get("/api/v1/spec/export", params={"kind": KINDS}).json()["documents"]
    assert (
        ["Schedule", "EscalationPolicy"],
        [("unchanged", "Schedule", SCHEDULE), ("unchanged", "EscalationPolicy", POLICY)],
    ) == ([d["kind"] for d in exported], actions(run(client, "plan", exported, prune=True)))
