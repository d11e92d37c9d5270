"""The facts of a postmortem, computed from the incident and SLO data (never edited).

Each figure has its definition in :data:`DEFINITIONS`, shown next to it in the API, the
pages and the exports. The incident window is ``[impact start, resolution]`` (``now``
while unresolved); the SLOs counted are the incident's linked SLOs plus those of its
linked services. Reads only other domains' facades.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy.orm import Session

from reliant.server.domains import alerts, incidents, runbooks, slo
from reliant.spec import slo_budget

#: Figure → the definition it computes.
DEFINITIONS = {
    "duration": "Declared → resolved (→ now while the incident is unresolved).",
    "impact_start": (
        "The earliest startsAt (when it started firing) of the incident's linked alerts, "
        "never later than the declaration; the declaration when no alert is linked."
    ),
    "time_to_detect": "Impact start → declared.",
    "time_to_acknowledge": (
        "Declared → first acknowledgement (PagerDuty's TTA); null if never acknowledged."
    ),
    "time_to_mitigate": (
        "Declared → marked mitigated, or → resolved when it was resolved without being "
        "marked mitigated; null while neither."
    ),
    "time_to_resolve": (
        "Declared → resolved (PagerDuty's TTR: from creation to resolution); null while unresolved."
    ),
    "budget_consumed": (
        "Bad events of the SLO in the incident window ÷ the bad events its compliance "
        "period allows (the error budget of the period holding the window's end), in "
        "percent; for time-slice SLOs, bad slices overlapping the window ÷ allowed bad "
        "slices. Counted from the 10 s telemetry buckets overlapping the window."
    ),
    "requests_failed": (
        "Bad events of each counted SLO in the incident window, of its total events there "
        "(the figures of SLOs of the same operation overlap)."
    ),
}
#: Seconds charted before the impact start and after the resolution.
CHART_MARGIN = 3600.0
#: Points of the burn chart per SLO, about.
CHART_POINTS = 240
#: Timeline entries read from the incident at most.
MAX_TIMELINE = 500
#: Event kinds of the incident's timeline copied into the postmortem's (besides pinned
#: entries, which are always copied).
TIMELINE_KINDS = frozenset(
    {
        "incident.declared",
        "incident.acknowledged",
        "incident.mitigated",
        "incident.resolved",
        "incident.closed",
        "incident.reopened",
        "incident.updated",
        "incident.edited",
        "incident.merged",
        "incident.role_assigned",
        "incident.note_added",
        "alert.firing",
        "alert.resolved",
        "runbook.run_started",
        "runbook.run_finished",
        "runbook.step_finished",
        "runbook.approved",
        "runbook.rejected",
        "runbook.run_skipped",
    }
)
#: Rollup bucket width of the telemetry.
BUCKET = 10


def _since(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def impact_start(session: Session, found: incidents.Detail, entries: list[dict[str, Any]]) -> float:
    """The impact start (see :data:`DEFINITIONS`)."""
    declared = found.row.created_at
    linked = {a.fingerprint for a in found.alerts}
    starts = []
    for entry in entries:
        if entry["kind"] != "alert.firing":
            continue
        attributes = entry.get("attributes") or {}
        at = attributes.get("starts_at")
        if attributes.get("fingerprint") in linked and isinstance(at, int | float):
            starts.append(float(at))
    for fingerprint in sorted(linked):
        alert = alerts.get_alert(session, fingerprint)
        if alert is not None and alert.fired_at is not None:
            starts.append(alert.fired_at)
    finite = [s for s in starts if math.isfinite(s)]
    return min([declared, *finite])


def timeline_entries(session: Session, found: incidents.Detail, now: float) -> list[dict[str, Any]]:
    """Every entry of the incident's timeline (the API's shape), oldest first, up to
    :data:`MAX_TIMELINE`."""
    entries: list[dict[str, Any]] = []
    after = None
    while len(entries) < MAX_TIMELINE:
        page, after = incidents.timeline_page(
            session, found.row, now=now, limit=MAX_TIMELINE - len(entries), after=after
        )
        entries += page
        if after is None:
            break
    return entries


def _source(kind: str) -> str:
    if kind == "incident.note_added":
        return "note"
    return (
        kind.partition(".")[0] if kind.startswith(("incident.", "alert.", "runbook.")) else "event"
    )


def _runbook_text(kind: str, a: dict[str, Any]) -> str:
    name = a.get("runbook", "runbook")
    if kind == "runbook.run_started":
        return f"runbook {name} run #{a.get('run')} started" + (
            " automatically" if a.get("automatic") else ""
        )
    if kind == "runbook.run_finished":
        return f"runbook {name} run #{a.get('run')} {a.get('state')}"
    if kind == "runbook.step_finished":
        return f"runbook {name} step {a.get('step')} {a.get('state')}"
    if kind in ("runbook.approved", "runbook.rejected"):
        return f"runbook {name} step {a.get('step')} {kind.partition('.')[2]}"
    return f"runbook {name} not started: {a.get('reason')}"


def postmortem_timeline(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The postmortem's timeline from the incident's: pinned entries and lifecycle, alert
    and runbook entries, as ``{at, text, source, kind, pinned, key}``."""
    out = []
    for e in entries:
        if not e.get("pinned") and e["kind"] not in TIMELINE_KINDS:
            continue
        text = e["text"]
        if e["kind"].startswith("runbook."):
            text = _runbook_text(e["kind"], dict(e.get("attributes") or {}))
        out.append(
            {
                "at": float(e["time"]),
                "text": str(text)[:2000] or e["kind"],
                "source": _source(e["kind"]),
                "kind": e["kind"],
                "pinned": bool(e.get("pinned")),
                "key": e["key"],
            }
        )
    return out


def slo_names(session: Session, found: incidents.Detail) -> list[str]:
    """The incident's linked SLOs plus those of its linked services, sorted."""
    names = set(found.slos)
    for service in found.services:
        names.update(r.name for r in slo.list_slos(session, limit=None, service=service))
    return sorted(names)


def _counts(session: Session, plan: slo.Plan, since: int, until: int) -> tuple[int, int]:
    if until <= since:
        return 0, 0
    found = slo.slice_counts(
        session, plan, origin=since, step=until - since, since=since, until=until
    )
    return found.get(0, (0, 0))


def budget_consumed(session: Session, name: str, start: float, end: float) -> dict[str, Any]:
    """One SLO's budget consumed and events failed in ``[start, end]`` (see
    :data:`DEFINITIONS`)."""
    record = slo.get_slo(session, name)
    out: dict[str, Any] = {
        "name": name,
        "service": None,
        "objective": None,
        "unit": "events",
        "bad": None,
        "total": None,
        "spent": None,
        "allowed": None,
        "consumed_percent": None,
        "reason": "",
    }
    if record is None:
        return {**out, "reason": "no such SLO (deleted since?)"}
    plan = slo.compile_plan(name, record.spec)
    out.update(service=plan.service, objective=plan.objective)
    if not plan.evaluable:
        return {**out, "reason": "a PromQL SLI: the server does not count it"}
    a = math.floor(start / BUCKET) * BUCKET
    b = max(math.ceil(end / BUCKET) * BUCKET, a + BUCKET)
    good, total = _counts(session, plan, a, b)
    period = plan.period(end)
    if plan.timeslices:
        step = plan.slice_seconds
        origin = 0 if plan.rolling is not None else int(period.start)
        first, last = (a - origin) // step, -(-(b - origin) // step)
        slices = slo.slice_counts(
            session, plan, origin=origin, step=step, since=origin + first * step,
            until=origin + last * step,
        )  # fmt: skip
        spent = sum(
            1
            for i in range(first, last)
            if not slo_budget.slice_is_good(*slices.get(i, (0, 0)), plan.target)
        )
        budget = slo_budget.timeslice_budget(spent, step, plan.budget, period.length)
    else:
        good_p, total_p = _counts(session, plan, math.ceil(period.start), b)
        budget = slo_budget.occurrence_budget(
            good_p, total_p, plan.budget, period.covered(end), period.length
        )
        spent = total - good
    consumed = 100.0 * spent / budget.allowed if budget.allowed > 0 else None
    return {
        **out,
        "unit": budget.unit,
        "bad": total - good,
        "total": total,
        "spent": spent,
        "allowed": budget.allowed,
        "consumed_percent": consumed,
        "period_start": period.start,
        "period_end": period.end,
    }


def chart(
    session: Session, names: list[str], *, start: float, end: float, now: float
) -> dict[str, Any]:
    """The burn chart's data: budget remaining of each SLO over ``[start - 1 h, end + 1 h]``
    (cut at ``now``), the incident window ``[start, end]``."""
    since = start - CHART_MARGIN
    until = max(min(end + CHART_MARGIN, now), since + BUCKET)
    step = max(BUCKET, math.ceil((until - since) / CHART_POINTS / BUCKET) * BUCKET)
    series = []
    for name in names:
        try:
            found = slo.slo_series(session, name, since=since, until=until, step=step)
        except (slo.SLONotFound, ValueError):
            continue
        if found is None:
            continue
        points = [[p["time"], p["budget_remaining"]] for p in found["points"]]
        series.append({"name": name, "points": points})
    return {"since": since, "until": until, "start": start, "end": end, "series": series}


def runbook_runs(session: Session, incident_id: int) -> list[dict[str, Any]]:
    """The incident's runbook runs in brief, oldest first."""
    runs = runbooks.runs_of_incident(session, incident_id)
    return [
        {
            "id": r.id,
            "runbook": r.runbook,
            "state": r.state,
            "automatic": r.automatic,
            "started_at": r.started_at,
            "finished_at": r.finished_at,
            "error": r.error,
        }
        for r in reversed(runs)
    ]


def compute(
    session: Session, found: incidents.Detail, entries: list[dict[str, Any]], now: float
) -> dict[str, Any]:
    """Every fact of the incident's postmortem, as stored in ``facts``.

    Args:
        found: the incident with its links.
        entries: its timeline (:func:`timeline_entries`).
        now: the time of the computation (the window's end while unresolved).
    """
    row = found.row
    declared, resolved = row.created_at, row.resolved_at
    end = now if resolved is None else resolved
    start = impact_start(session, found, entries)
    mitigated = row.mitigated_at if row.mitigated_at is not None else resolved
    names = slo_names(session, found)
    budgets = [budget_consumed(session, n, start, end) for n in names]
    return {
        "computed_at": now,
        "incident": {
            "id": row.id,
            "title": row.title,
            "severity": row.severity,
            "state": row.state,
            "services": list(found.services),
            "alerts": sorted({a.alertname for a in found.alerts}),
            "rule": row.rule,
        },
        "declared_at": declared,
        "impact_start": start,
        "acknowledged_at": row.acknowledged_at,
        "mitigated_at": mitigated,
        "resolved_at": resolved,
        "window_end": end,
        "duration": end - declared,
        "time_to_detect": declared - start,
        "time_to_acknowledge": _since(declared, row.acknowledged_at),
        "time_to_mitigate": _since(declared, mitigated),
        "time_to_resolve": _since(declared, resolved),
        "slos": budgets,
        "requests_failed": sum(b["bad"] or 0 for b in budgets),
        "requests_total": sum(b["total"] or 0 for b in budgets),
        "runbook_runs": runbook_runs(session, row.id),
        "chart": chart(session, names, start=start, end=end, now=now),
    }


def consumed_by_slo(facts: dict[str, Any]) -> dict[str, float | None]:
    """SLO name → budget consumed in percent, from stored facts."""
    return {b["name"]: b.get("consumed_percent") for b in facts.get("slos", [])}
