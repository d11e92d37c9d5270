"""The game day's board: what each line says."""

from __future__ import annotations

import io
import time

from reliant.gameday.traffic import Rates
from reliant.gameday.view import (
    FAILED,
    PASSED,
    RUNNING,
    Board,
    PhaseLine,
    View,
    budget_line,
    event_line,
    render,
)

STATUS = {
    "conditions": [
        {
            "long": "2m",
            "short": "20s",
            "burn_rate": 10.0,
            "long_burn_rate": 14.25,
            "short_burn_rate": None,
            "firing": True,
        }
    ],
    "budget": {"remaining": 0.625},
}


def board() -> Board:
    return Board(
        title="drill",
        ui="http://127.0.0.1:1/",
        phases=[
            PhaseLine("steady", state=PASSED, took=30.0),
            PhaseLine("fault", state=RUNNING, started=time.time() - 2.0),
            PhaseLine("later"),
        ],
        rates=Rates(requests=200, ok=150, degraded=40, error=10, window=10.0),
        breakers={"storefront/payments": "OPEN"},
        budgets={"charges": budget_line(STATUS)},
        pages=["12:00:01 firing ChargesBurn"],
        waiting=["alert: labels alertname=ChargesBurn  (now: no such alert yet)"],
        happened=["12:00:00 payments    override fault provider-outage set"],
    )


def test_budget_line_shows_each_window_then_the_budget() -> None:
    """Burn rates per window (a dash when unknown), the threshold, FIRING, then the budget."""
    expected = "burn 14.2x/- over 2m/20s (pages at 10x) FIRING, budget left 62%"
    assert expected == budget_line(STATUS)
    assert "not evaluated yet" == budget_line({"conditions": []})


def test_event_lines_say_what_changed() -> None:
    """A breaker event reads as its transition; an unknown kind shows its useful attributes."""
    at = time.mktime((2026, 1, 1, 12, 0, 5, 0, 0, -1))
    breaker = {
        "time": at,
        "kind": "circuit_breaker.state_changed",
        "service": "storefront",
        "attributes": {"name": "payments", "from_state": "closed", "to_state": "open"},
    }
    runbook = {
        "time": at,
        "kind": "runbook.step_finished",
        "service": None,
        "attributes": {"runbook": "failover", "step": "fail-over", "state": "succeeded"},
    }
    assert "12:00:05 storefront  breaker payments closed → open" == event_line(breaker)
    expected = "12:00:05 -           runbook.step_finished failover fail-over succeeded"
    assert expected == event_line(runbook)


def test_the_board_shows_every_section() -> None:
    """Phases with marks and times, traffic, breakers, burn, pager, what it waits for."""
    text = render(board(), time.time())
    for expected in (
        " ✔ steady                   30.0 s",
        " ▶ fault ",
        " · later",
        "traffic   20.0 req/s   ok  75%   degraded  20%   errors   5%   (last 10 s)",
        "breakers storefront/payments OPEN",
        "budget   charges: burn 14.2x/- over 2m/20s (pages at 10x) FIRING, budget left 62%",
        "pager    12:00:01 firing ChargesBurn",
        "waiting for\n  alert: labels alertname=ChargesBurn  (now: no such alert yet)",
        "what happened\n  12:00:00 payments    override fault provider-outage set",
    ):
        assert expected in text, text


def test_plain_view_prints_news_once_then_the_line() -> None:
    """Off a terminal, each new happening is printed once, before the story's next line."""
    out = io.StringIO()
    view, shown = View(out, live=False), board()
    view.say("▶ fault", shown)
    shown.happened.append("12:00:02 storefront  breaker payments closed → open")
    shown.phases[1].state = FAILED
    view.say("✘ fault failed", shown)
    expected = (
        "  · 12:00:00 payments    override fault provider-outage set\n"
        "▶ fault\n"
        "  · 12:00:02 storefront  breaker payments closed → open\n"
        "✘ fault failed\n"
    )
    assert expected == out.getvalue()


def test_live_view_redraws_in_place() -> None:
    """On a terminal each draw clears the screen and draws the whole board."""
    out = io.StringIO()
    View(out, live=True).draw(board())
    assert out.getvalue().startswith("\x1b[H\x1b[Jreliant game day · drill\n")
