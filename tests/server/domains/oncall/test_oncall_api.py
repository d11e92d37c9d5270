"""The on-call API: schedules, overrides, shifts, on call now, policies and pages.

Viewers read, operators write; every error is a problem document saying what to fix.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from oncall_helpers import POLICY, SCHEDULE, Desk, policy, put, schedule
from server_helpers import START, bearer, token_for

DAY = 86400.0


def problem(answer: Any) -> tuple[int, str, str]:
    """Status, content type and detail of an error answer."""
    return answer.status_code, answer.headers["content-type"], answer.json().get("detail", "")


def test_a_schedule_is_created_then_replaced_and_read(client: TestClient) -> None:
    """PUT answers 201 then 200; GET shows the spec with defaults, who wrote it, and a
    warning for each member that is not a notify receiver."""
    created = put(client, f"schedules/{SCHEDULE}", schedule())
    replaced = put(client, f"schedules/{SCHEDULE}", schedule(description="payments"), 200)
    got = client.get(f"/api/v1/oncall/schedules/{SCHEDULE}").json()
    assert (
        "api",
        "payments",
        [],
        2,
        "payments",
    ) == (
        created["managed_by"],
        replaced["spec"]["description"],
        got["spec"]["rotations"][0]["restrict"],
        len(got["warnings"]),
        client.get("/api/v1/oncall/schedules").json()["items"][0]["spec"]["description"],
    )


def test_viewers_read_and_operators_write(client: TestClient, anonymous: TestClient) -> None:
    """A viewer reads schedules, policies, now, pages; its writes are refused with 403
    problems naming the role needed; an operator's writes succeed."""
    viewer = bearer(token_for(client, "viewer"))
    operator = bearer(token_for(client, "operator"))
    refused = anonymous.put(f"/api/v1/oncall/schedules/{SCHEDULE}", json=schedule(), headers=viewer)
    made = anonymous.put(f"/api/v1/oncall/schedules/{SCHEDULE}", json=schedule(), headers=operator)
    reads = [
        anonymous.get(f"/api/v1/oncall/{path}", headers=viewer).status_code
        for path in ("now", "schedules", "policies", "pages", f"schedules/{SCHEDULE}/shifts")
    ]
    assert (
        (403, "application/problem+json", "this needs the operator role; the token has viewer"),
        201,
        [200] * 5,
    ) == (problem(refused), made.status_code, reads)


def test_a_policy_naming_an_unknown_schedule_is_refused(client: TestClient) -> None:
    """422, naming the unknown schedule and listing the known ones."""
    put(client, "schedules/other", schedule())
    answer = client.put(f"/api/v1/oncall/policies/{POLICY}", json=policy())
    assert (
        422,
        "application/problem+json",
        "unknown schedule 'payments-primary' (known: other): create it first",
    ) == problem(answer)


def test_unknown_receivers_are_accepted_with_a_warning(client: TestClient) -> None:
    """A policy naming a receiver that does not exist is stored; the answer warns."""
    put(client, f"schedules/{SCHEDULE}", schedule())
    made = put(client, f"policies/{POLICY}", policy())
    assert [
        "receiver 'manager' does not exist yet: create it with PUT /api/v1/receivers/manager"
    ] == made["warnings"]


INVALID = {
    "schedules/a": (schedule(timezone="Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
    "schedules/b": (
        schedule(
            rotations=[{"name": "r", "members": ["x"], "start": "2027-01-01T09:00Z", "shift": "1d"}]
        ),
        "has a UTC offset",
    ),
    "schedules/c": (
        schedule(
            rotations=[{"name": "r", "members": ["x"], "start": "2027-01-01", "shift": "30m"}]
        ),
        "shift must be at least 3600s",
    ),
    "policies/d": (
        policy(levels=[{"targets": [{"receiver": "x"}], "timeout": "30s"}]),
        "timeout must be at least 60s",
    ),
    "policies/e": (policy(repeat=6), "less than or equal to 5"),
    "policies/f": (
        policy(levels=[{"targets": [{"receiver": "x", "schedule": "y"}]}]),
        "give exactly one of schedule and receiver",
    ),
}


def test_invalid_specs_are_refused_with_the_field_named(client: TestClient) -> None:
    """Bad time zone, a start with an offset, a short shift or timeout, too many repeats,
    a target naming both: 422 problems whose detail says what is wrong."""
    found = {}
    for path, (body, hint) in INVALID.items():
        answer = client.put(f"/api/v1/oncall/{path}", json=body)
        detail = answer.json()["detail"]
        found[path] = (answer.status_code, hint if hint in detail else detail)
    assert {path: (422, hint) for path, (_, hint) in INVALID.items()} == found


def test_a_schedule_a_policy_uses_cannot_be_deleted(client: TestClient) -> None:
    """409 naming the policy; once the policy is gone the schedule goes (204)."""
    put(client, f"schedules/{SCHEDULE}", schedule())
    put(client, f"policies/{POLICY}", policy())
    refused = client.delete(f"/api/v1/oncall/schedules/{SCHEDULE}")
    client.delete(f"/api/v1/oncall/policies/{POLICY}")
    gone = client.delete(f"/api/v1/oncall/schedules/{SCHEDULE}")
    assert (
        409,
        "escalation policies payments-escalation page through schedule 'payments-primary': "
        "change them first",
        204,
        404,
    ) == (
        refused.status_code,
        refused.json()["detail"],
        gone.status_code,
        client.get(f"/api/v1/oncall/schedules/{SCHEDULE}").status_code,
    )


def test_overrides_change_who_is_on_call_and_can_be_deleted(client: TestClient) -> None:
    """An override of two hours puts carol on call now; the shifts show it as source
    ``override``; deleting it puts alice back."""
    put(client, f"schedules/{SCHEDULE}", schedule())
    made = client.post(
        f"/api/v1/oncall/schedules/{SCHEDULE}/overrides",
        json={"member": "carol", "ends_at": START + 7200},
    )
    assert 201 == made.status_code, made.text
    now = client.get("/api/v1/oncall/now").json()["schedules"][0]
    shifts = client.get(
        f"/api/v1/oncall/schedules/{SCHEDULE}/shifts",
        params={"since": START, "until": START + 4 * 3600},
    ).json()["shifts"]
    listed = client.get(f"/api/v1/oncall/schedules/{SCHEDULE}/overrides").json()["items"]
    deleted = client.delete(f"/api/v1/oncall/schedules/{SCHEDULE}/overrides/{made.json()['id']}")
    after = client.get("/api/v1/oncall/now").json()["schedules"][0]
    assert (
        ("carol", "override", START + 7200),
        ("alice", START + 7200),
        [
            {"member": "carol", "start": START, "end": START + 7200, "source": "override"},
            {
                "member": "alice",
                "start": START + 7200,
                "end": START + 4 * 3600,
                "source": "primary",
            },
        ],
        [("carol", START, START + 7200)],
        204,
        "alice",
        ["member 'carol' is not a notify receiver yet: create it with PUT /api/v1/receivers/carol"],
    ) == (
        (now["on_call"]["member"], now["on_call"]["source"], now["until"]),
        (now["next"]["member"], now["next"]["start"]),
        shifts,
        [(o["member"], o["starts_at"], o["ends_at"]) for o in listed],
        deleted.status_code,
        after["on_call"]["member"],
        made.json()["warnings"],
    )


def test_override_and_shift_errors_are_problems(client: TestClient) -> None:
    """An override ending in the past, or before its start; a shift range over 92 days; an
    unknown schedule or override: each a problem saying what is wrong."""
    put(client, f"schedules/{SCHEDULE}", schedule())
    path = f"/api/v1/oncall/schedules/{SCHEDULE}"
    answers = [
        client.post(
            f"{path}/overrides",
            json={"member": "x", "starts_at": START - 120, "ends_at": START - 60},
        ),
        client.post(
            f"{path}/overrides", json={"member": "x", "starts_at": START, "ends_at": START - 1}
        ),
        client.get(f"{path}/shifts", params={"since": START, "until": START + 93 * DAY}),
        client.get("/api/v1/oncall/schedules/nope/shifts"),
        client.delete(f"{path}/overrides/999"),
    ]
    assert [
        (422, "ends_at is in the past: an override must end after now"),
        (422, "body: Value error, ends_at must be after starts_at"),
        (422, "ask for at most 92 days of shifts at a time"),
        (404, "no schedule named 'nope'; list them with GET /api/v1/oncall/schedules"),
        (404, "schedule 'payments-primary' has no override 999"),
    ] == [(a.status_code, a.json()["detail"]) for a in answers]


def test_every_change_is_audited_and_evented(client: TestClient) -> None:
    """Schedule, override and policy writes leave audit records and oncall.* events."""
    put(client, f"schedules/{SCHEDULE}", schedule())
    put(client, f"policies/{POLICY}", policy())
    client.post(
        f"/api/v1/oncall/schedules/{SCHEDULE}/overrides",
        json={"member": "carol", "ends_at": START + 60},
    )
    client.delete(f"/api/v1/oncall/policies/{POLICY}")
    actions = [r["action"] for r in client.get("/api/v1/audit").json()["items"]]
    kinds = [e["kind"] for e in client.get("/api/v1/events").json()["items"]]
    assert (
        [
            "escalation_policy.delete",
            "override.create",
            "escalation_policy.create",
            "schedule.create",
        ],
        [
            "oncall.policy.deleted",
            "oncall.override.created",
            "oncall.policy.created",
            "oncall.schedule.created",
        ],
    ) == (
        [a for a in actions if a.split(".")[0] in ("schedule", "override", "escalation_policy")],
        [k for k in kinds if k.startswith("oncall.")],
    )


def test_acknowledging_is_idempotent_and_a_resolved_page_refuses_it(desk: Desk) -> None:
    """Ack twice: 200 both times, one acknowledgement sent; resolve twice: 200, one
    resolution sent; ack after resolve: 409; an unknown page: 404."""
    desk.setup()
    desk.report()
    desk.run_until(lambda: bool(desk.outbox()), within=10, step=1)
    client = desk.client
    first = client.post("/api/v1/oncall/pages/1/acknowledge")
    desk.clock.advance(30)
    second = client.post("/api/v1/oncall/pages/1/acknowledge")
    resolved = [client.post("/api/v1/oncall/pages/1/resolve") for _ in range(2)]
    late = client.post("/api/v1/oncall/pages/1/acknowledge")
    missing = client.post("/api/v1/oncall/pages/9/acknowledge")
    assert (
        (200, 200, first.json()["acknowledged_at"]),
        [200, 200],
        (409, "page 1 was resolved by bootstrap-admin; there is nothing to acknowledge"),
        (404, "application/problem+json"),
        ["firing", "acknowledged", "resolved"],
    ) == (
        (first.status_code, second.status_code, second.json()["acknowledged_at"]),
        [r.status_code for r in resolved],
        (late.status_code, late.json()["detail"]),
        (missing.status_code, missing.headers["content-type"]),
        [status for _, _, status in desk.outbox()],
    )


def test_pages_are_listed_newest_first_filtered_by_state(desk: Desk) -> None:
    """Two pages (two alerts in separate groups): the list is newest first, ``state``
    filters it and ``limit`` pages it with a cursor."""
    desk.setup()
    desk.report()
    desk.report(labels={"alertname": "Other", "team": "payments"})
    desk.run_until(lambda: len(desk.outbox()) == 2, within=10, step=1)
    desk.client.post("/api/v1/oncall/pages/1/acknowledge")
    everything = desk.client.get("/api/v1/oncall/pages").json()
    triggered = desk.client.get("/api/v1/oncall/pages", params={"state": "triggered"}).json()
    first = desk.client.get("/api/v1/oncall/pages", params={"limit": 1}).json()
    second = desk.client.get(
        "/api/v1/oncall/pages", params={"limit": 1, "cursor": first["next"]}
    ).json()
    assert ([2, 1], [2], [2], [1], None) == (
        [p["id"] for p in everything["items"]],
        [p["id"] for p in triggered["items"]],
        [p["id"] for p in first["items"]],
        [p["id"] for p in second["items"]],
        second["next"],
    )
