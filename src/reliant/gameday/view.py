"""The live terminal view of a game day: phases, traffic, breakers, budgets, what happened.

On a terminal the board is redrawn in place once a second; anywhere else (a pipe, a CI
log) each change is printed once, as a line, so the log reads as the story of the run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from reliant.gameday.traffic import Rates

PENDING, RUNNING, PASSED, FAILED, SKIPPED = "pending", "running", "passed", "failed", "skipped"
_MARKS = {PENDING: "·", RUNNING: "▶", PASSED: "✔", FAILED: "✘", SKIPPED: "-"}
#: Lines of "what happened" the board keeps.
HAPPENED_LINES = 9


@dataclass
class PhaseLine:
    """A phase as the board shows it."""

    name: str
    state: str = PENDING
    started: float | None = None
    took: float | None = None
    detail: str = ""


@dataclass
class Board:
    """Everything the view shows; the runner updates it, the view draws it."""

    title: str
    ui: str
    phases: list[PhaseLine]
    rates: Rates | None = None
    breakers: dict[str, str] = field(default_factory=dict)
    budgets: dict[str, str] = field(default_factory=dict)
    pages: list[str] | None = None
    happened: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)


def clock(at: float) -> str:
    """``HH:MM:SS`` local time."""
    return time.strftime("%H:%M:%S", time.localtime(at))


def event_line(event: dict[str, Any]) -> str:
    """One event of the log in a line: time, service, kind, the attributes that matter."""
    attributes = event.get("attributes") or {}

    def a(*names: str) -> str:
        return " ".join(str(attributes[n]) for n in names if attributes.get(n) not in (None, ""))

    kind = event["kind"]
    if kind == "circuit_breaker.state_changed":
        what = f"breaker {a('name')} {a('from_state')} → {a('to_state')}"
    elif kind == "config.changed":
        what = f"override {a('target', 'name', 'change')} {a('after')}"
    elif kind.startswith("alert."):
        what = f"{kind} {a('alertname')} — {a('summary')}"
    elif kind.startswith("notification."):
        what = f"{kind} to {a('receiver')} ({a('status')})"
    else:
        what = f"{kind} {a('slo', 'severity', 'runbook', 'step', 'id', 'title', 'state')}"
    service = event.get("service") or "-"
    return f"{clock(event['time'])} {service:<11} {' '.join(what.split())}"


def budget_line(status: dict[str, Any]) -> str:
    """An SLO's state in a line: the burn rate of each alert window, then the budget left."""
    parts = []
    for condition in status.get("conditions") or []:
        rates = [condition.get("long_burn_rate"), condition.get("short_burn_rate")]
        shown = "/".join("-" if r is None else f"{r:.1f}x" for r in rates)
        firing = " FIRING" if condition.get("firing") else ""
        parts.append(
            f"burn {shown} over {condition['long']}/{condition['short']} "
            f"(pages at {condition['burn_rate']:g}x){firing}"
        )
    budget = status.get("budget")
    if budget is not None:
        parts.append(f"budget left {budget['remaining']:.0%}")
    return ", ".join(parts) or "not evaluated yet"


def _rates(rates: Rates | None) -> str:
    if rates is None or not rates.requests:
        return "no answers yet"
    return (
        f"{rates.per_second:5.1f} req/s   ok {rates.rate('ok'):4.0%}   "
        f"degraded {rates.rate('degraded'):4.0%}   errors {rates.rate('error'):4.0%}"
        f"   (last {rates.window:g} s)"
    )


def render(board: Board, now: float) -> str:
    """The whole board as text."""
    lines = [f"reliant game day · {board.title}", f"web UI   {board.ui}", ""]
    for phase in board.phases:
        took = ""
        if phase.took is not None:
            took = f"{phase.took:5.1f} s"
        elif phase.started is not None:
            took = f"{now - phase.started:5.1f} s"
        lines.append(f" {_MARKS[phase.state]} {phase.name:<22} {took:>8}  {phase.detail}")
    lines += ["", f"traffic  {_rates(board.rates)}"]
    breakers = "   ".join(f"{k} {v}" for k, v in sorted(board.breakers.items())) or "none seen yet"
    lines.append(f"breakers {breakers}")
    budgets = "   ".join(f"{k}: {v}" for k, v in sorted(board.budgets.items())) or "none yet"
    lines.append(f"budget   {budgets}")
    if board.pages is not None:
        lines.append(f"pager    {', '.join(board.pages[-3:]) or 'quiet'}")
    if board.waiting:
        lines += ["", "waiting for"] + [f"  {w}" for w in board.waiting]
    lines += ["", "what happened"] + [f"  {h}" for h in board.happened[-HAPPENED_LINES:]]
    return "\n".join(lines)


class View:
    """Draws the board: redrawn in place on a terminal, as new lines elsewhere.

    Args:
        out: where to write.
        live: redraw in place (a terminal); ``False`` prints each change once.
    """

    def __init__(self, out: TextIO, *, live: bool) -> None:
        self.out = out
        self.live = live
        self._shown = 0

    def say(self, text: str, board: Board) -> None:
        """A line of the story: printed after the board's news when not live (when live, the
        board shows the phases)."""
        if not self.live:
            self.draw(board)
            self.out.write(text + "\n")
            self.out.flush()

    def draw(self, board: Board) -> None:
        """Show the board's news."""
        if self.live:
            self.out.write("\x1b[H\x1b[J" + render(board, time.time()) + "\n")
            self.out.flush()
            return
        for line in board.happened[self._shown :]:
            self.out.write(f"  · {line}\n")
        self._shown = len(board.happened)
        self.out.flush()

    def close(self, board: Board) -> None:
        """Leave the final board on the screen."""
        if self.live:
            self.draw(board)
