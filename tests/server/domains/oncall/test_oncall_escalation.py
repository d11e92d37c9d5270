"""Acceptance on the virtual clock: an alert routed to an escalation policy pages the member on
call, escalates to level 2 only when level 1 does not acknowledge, repeats a bounded number
of times, and re-triggers when an acknowledgement expires.

Everything runs through the app's own job runner (``alerts.dispatch`` every second,
``oncall.escalate`` every 10 s) with the clock advanced; the outbox's rows say who was
notified of what, and when.
"""

from __future__ import annotations

from oncall_helpers import POLICY, Desk, document, policy
from server_helpers import bearer, token_for

PAGE = "page-1"


def alice_paged(desk: Desk) -> bool:
    return ("alice", PAGE, "firing") in desk.outbox()


def test_an_alert_routed_to_a_policy_pages_the_member_on_call(desk: Desk) -> None:
    """The page opens at once (group_wait 0) and notifies alice, on call on the schedule,
    under the page's dedup key; nobody else is notified and the page waits at level 1."""
    desk.setup()
    desk.report()
    desk.run_until(lambda: alice_paged(desk), within=10, step=1)
    page = desk.page()
    assert (
        [("alice", PAGE, "firing")],
        "triggered",
        1,
        POLICY,
        "PaymentsDown: payments are failing",
        "pay",
        ["alice"],
    ) == (
        desk.outbox(),
        page["state"],
        page["level"],
        page["policy"],
        page["title"],
        page["service"],
        page["notified"],
    )


def test_without_an_acknowledgement_level_2_is_notified_after_the_timeout(desk: Desk) -> None:
    """Level 1's timeout is 5 minutes: the manager is notified within one escalation
    interval (10 s) after it, not before."""
    desk.setup()
    desk.report()
    desk.run_until(lambda: alice_paged(desk), within=10, step=1)
    paged_at = desk.clock.now()
    desk.run(290)
    assert [("alice", PAGE, "firing")] == desk.outbox()
    desk.run_until(lambda: ("manager", PAGE, "firing") in desk.outbox(), within=30, step=2)
    waited = desk.clock.now() - paged_at
    page = desk.page()
    assert (True, 2, ["alice", "manager"], 1) == (
        300 <= waited <= 312,
        page["level"],
        page["notified"],
        len(desk.events("oncall.page.escalated")),
    )


def test_an_acknowledgement_before_the_timeout_means_level_2_is_never_notified(
    desk: Desk,
) -> None:
    """alice acknowledges after 2 minutes: escalation stops, alice hears the acknowledgement,
    and in the next hour the manager is never notified."""
    desk.setup()
    operator = token_for(desk.client, "operator", name="alice-person")
    desk.report()
    desk.run_until(lambda: alice_paged(desk), within=10, step=1)
    desk.run(120, step=10)
    answer = desk.client.post("/api/v1/oncall/pages/1/acknowledge", headers=bearer(operator))
    assert 200 == answer.status_code, answer.text
    desk.run(3600, step=30)
    page = desk.page()
    assert (
        [("alice", PAGE, "firing"), ("alice", PAGE, "acknowledged")],
        "acknowledged",
        "alice-person",
        None,
    ) == (desk.outbox(), page["state"], page["acknowledged_by"], page["next_escalation_at"])


def test_repeat_runs_the_levels_again_a_bounded_number_of_times(desk: Desk) -> None:
    """repeat: 1 runs levels 1 and 2 twice (5 minutes apart), then escalation stops at the
    last level with one oncall.page.exhausted event; nothing more is sent within the hour."""
    desk.setup(policy_body=policy(repeat=1))
    desk.report()
    desk.run_until(lambda: alice_paged(desk), within=10, step=1)
    desk.run(3600, step=30)
    page = desk.page()
    assert (
        [
            ("alice", PAGE, "firing"),
            ("manager", PAGE, "firing"),
            ("alice", PAGE, "firing"),
            ("manager", PAGE, "firing"),
        ],
        (True, 2, 1, None),
        1,
        3,
    ) == (
        desk.outbox(),
        (page["exhausted"], page["level"], page["cycle"], page["next_escalation_at"]),
        len(desk.events("oncall.page.exhausted")),
        len(desk.events("oncall.page.escalated")),
    )


def test_an_expired_acknowledgement_triggers_the_page_again_at_level_1(desk: Desk) -> None:
    """ack_timeout 30m: the acknowledgement expires, the page is triggered again, level 1
    (alice) is paged again and, still unacknowledged, level 2 follows 5 minutes later."""
    desk.setup(policy_body=policy(ack_timeout="30m"))
    desk.report()
    desk.run_until(lambda: alice_paged(desk), within=10, step=1)
    acked = desk.client.post("/api/v1/oncall/pages/1/acknowledge")
    assert 200 == acked.status_code, acked.text
    acked_at = desk.clock.now()
    assert acked_at + 1800 == acked.json()["ack_expires_at"]
    desk.run(1790, step=30)
    assert "acknowledged" == desk.page()["state"]
    desk.run_until(lambda: desk.page()["state"] == "triggered", within=30, step=2)
    retriggered = desk.clock.now() - acked_at
    desk.run(320, step=10)
    assert (
        True,
        [
            ("alice", PAGE, "firing"),
            ("alice", PAGE, "acknowledged"),
            ("alice", PAGE, "firing"),
            ("manager", PAGE, "firing"),
        ],
        ["bootstrap-admin"],
    ) == (
        1800 <= retriggered <= 1812,
        desk.outbox(),
        [e["acknowledged_by"] for e in desk.events("oncall.page.ack_expired")],
    )


def test_nobody_on_call_is_said_and_the_page_still_escalates(desk: Desk) -> None:
    """A schedule with nobody on call yet notifies nobody at level 1 (the event says which
    schedule was empty, with severity error); level 2 is notified after the timeout."""
    later = {
        "timezone": "UTC",
        "rotations": [
            {"name": "primary", "members": ["alice"], "start": "2027-02-01T00:00", "shift": "1d"}
        ],
    }
    desk.setup(schedule_body=later)
    desk.report()
    desk.run_until(lambda: bool(desk.events("oncall.page.triggered")), within=10, step=1)
    desk.run(320, step=10)
    assert (
        [("manager", PAGE, "firing")],
        [["payments-primary"]],
    ) == (desk.outbox(), [e["nobody_on_call"] for e in desk.events("oncall.page.triggered")])


def test_resolved_alerts_resolve_the_page_and_tell_everyone_notified(desk: Desk) -> None:
    """After level 2 was notified, the alert resolves: the page is resolved by ``alerts``
    and both alice and the manager receive the resolution; escalation stops."""
    desk.setup()
    desk.report()
    desk.run_until(lambda: alice_paged(desk), within=10, step=1)
    desk.run(320, step=10)
    desk.report(active=False)
    desk.run_until(lambda: desk.page()["state"] == "resolved", within=30, step=1)
    desk.run(1800, step=30)
    assert (
        [
            ("alice", PAGE, "firing"),
            ("manager", PAGE, "firing"),
            ("alice", PAGE, "resolved"),
            ("manager", PAGE, "resolved"),
        ],
        "alerts",
    ) == (desk.outbox(), desk.page()["resolved_by"])


def test_a_route_to_a_plain_receiver_is_not_paged(desk: Desk) -> None:
    """Receivers that are not policies keep going to the outbox unchanged: no page."""
    desk.setup()
    answer = desk.client.put("/api/v1/alerting/config", json=document("tickets"))
    assert 200 == answer.status_code, answer.text
    desk.report()
    desk.run(10, step=1)
    assert ([], ["tickets"]) == (desk.pages(), [r for r, _, _ in desk.outbox()])
