"""Acceptance: a flapping alert yields one page per dedup key.

The alert fires and resolves again and again, each time within the policy's
``reopen_within`` (10 minutes) of the last resolution: the same page reopens each time, and
every notification carries that one page's dedup key. Only once the alert stays quiet for
longer than ``reopen_within`` does firing open a new page.
"""

from __future__ import annotations

from oncall_helpers import Desk


def flap(desk: Desk, times: int) -> None:
    """Fire then resolve the alert ``times`` times, waiting for each notification."""
    for _ in range(times):
        desk.report()
        desk.run_until(lambda: desk.pages()[-1]["state"] == "triggered", within=30, step=1)
        desk.run(60, step=10)
        desk.report(active=False)
        desk.run_until(lambda: desk.pages()[-1]["state"] == "resolved", within=30, step=1)
        desk.run(60, step=10)


def test_flapping_within_reopen_within_makes_one_page(desk: Desk) -> None:
    """Four fire/resolve cycles a couple of minutes apart: one page, reopened three times;
    every notification is alice's, under dedup key page-1, firing and resolved in turn."""
    desk.setup()
    flap(desk, 4)
    pages = desk.pages()
    assert (
        [1],
        3,
        [("alice", "page-1", status) for status in ["firing", "resolved"] * 4],
        3,
    ) == (
        [p["id"] for p in pages],
        pages[0]["reopened"],
        desk.outbox(),
        len(desk.events("oncall.page.reopened")),
    )


def test_firing_after_reopen_within_opens_a_new_page(desk: Desk) -> None:
    """Resolved for 11 minutes (reopen_within is 10m): firing again opens page 2."""
    desk.setup()
    flap(desk, 1)
    desk.run(600, step=30)
    desk.report()
    desk.run_until(lambda: len(desk.pages()) == 2, within=30, step=1)
    assert (["resolved", "triggered"], ["page-1", "page-1", "page-2"]) == (
        [p["state"] for p in desk.pages()],
        [key for _, key, _ in desk.outbox()],
    )


def test_an_open_page_takes_new_alerts_without_notifying_again(desk: Desk) -> None:
    """A second alert joins the group while the page is open: the page's alerts are updated,
    nobody is notified again."""
    desk.setup()
    desk.report()
    desk.run_until(lambda: bool(desk.pages()), within=30, step=1)
    second = {"alertname": "PaymentsDown", "team": "payments", "region": "eu"}
    desk.report(labels=second)
    desk.run(60, step=5)
    page = desk.pages()[0]
    assert ([("alice", "page-1", "firing")], 2) == (desk.outbox(), len(page["alerts"]))
