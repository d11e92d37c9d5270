"""The generated text of a draft: blameless, neutral sentences from the incident's facts.

The draft states what happened and when — never who caused it. It names no person: people
appear only where the incident's own timeline records them. Pure, no I/O.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from reliant.server.domains import incidents

#: States whose status updates describe the resolution.
RESOLVING = ("mitigated", "resolved", "closed")


def when(t: float | None) -> str:
    """A time in UTC (``2027-01-15 08:00Z``); ``—`` when unknown."""
    if t is None:
        return "—"
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%MZ")


def duration(seconds: float | None) -> str:
    """A duration for people: ``45 s``, ``3 min 20 s``, ``2 h 05 min``, ``3 d 4 h``; ``—``."""
    if seconds is None:
        return "—"
    s = round(max(seconds, 0.0))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min" + (f" {s % 60:02d} s" if s % 60 else "")
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def percent(value: float | None) -> str:
    """A percent with one decimal (``34.2 %``); ``—`` when unknown."""
    return "—" if value is None else f"{value:.1f} %"


def title(found: incidents.Detail) -> str:
    """The postmortem's title."""
    return f"Postmortem: {found.row.title}"[:500]


def summary(found: incidents.Detail, facts: dict[str, Any]) -> str:
    """What happened, from the incident's summary and status updates."""
    row = found.row
    services = ", ".join(found.services) or "no linked service"
    end = (
        f"resolved {when(facts['resolved_at'])} after {duration(facts['time_to_resolve'])}."
        if facts["resolved_at"] is not None
        else "not resolved yet."
    )
    lines = [f"{row.severity} incident #{row.id} affecting {services}: declared "
             f"{when(row.created_at)}, {end}"]  # fmt: skip
    if row.summary.strip():
        lines += ["", row.summary.strip()]
    if found.updates:
        lines += ["", "Status updates:"]
        lines += [f"- {when(u.at)} ({u.state}): {u.text}" for u in found.updates]
    return "\n".join(lines)


def impact(facts: dict[str, Any]) -> str:
    """The impact in words: the window, requests failed, budgets consumed."""
    start, end = facts["impact_start"], facts["window_end"]
    lines = [f"Impact from {when(start)} to {when(end)} ({duration(end - start)})."]
    counted = [b for b in facts["slos"] if b.get("total") is not None]
    if counted:
        lines.append(
            f"{facts['requests_failed']:,} of {facts['requests_total']:,} requests counted by "
            "the linked SLOs failed."
        )
    for b in counted:
        if b.get("consumed_percent") is not None:
            lines.append(
                f"SLO {b['name']} consumed {percent(b['consumed_percent'])} of its error budget."
            )
    return " ".join(lines)


def detection(found: incidents.Detail, facts: dict[str, Any]) -> str:
    """How the incident was detected, and how long it took."""
    names = facts["incident"]["alerts"]
    if names:
        how = f"Detected by the alert{'s' if len(names) > 1 else ''} {', '.join(names)}"
        how += f"; declared {duration(facts['time_to_detect'])} after the impact started"
    else:
        how = "Declared without a linked alert"
    if found.row.rule:
        how += f", automatically by the incident rule {found.row.rule}"
    return how + "."


def resolution(found: incidents.Detail) -> str:
    """The latest status update written once the incident was mitigated or resolved."""
    late = [u.text for u in found.updates if u.state in RESOLVING]
    return late[-1] if late else ""


def suggested_actions(found: incidents.Detail) -> list[dict[str, Any]]:
    """The incident's follow-up tasks as action items (type ``process``), owned by the
    task's owner or, without one, left for the editor to assign."""
    return [
        {
            "title": t.title[:500],
            "owner": (t.owner or "")[:200],
            "type": "process",
            "priority": "P2",
            "due": t.due,
            "ticket": None,
            "done": bool(t.done),
        }
        for t in found.tasks
    ]
