"""Pages of SLOs: the list (``/slos``) and one SLO (``/slos/{service}/{name}``).

The list shows each SLO's budget remaining, the burn rates of its alert conditions against
their thresholds, and which severities fire, from the latest evaluation (``service.status``).
An SLO's page explains its state in words (``explain``) and charts its budget over the
compliance period and its burn rates over the last day (``history``); the charts' data
travels in ``data-chart`` attributes and ``static/charts.js`` draws them with uPlot. The
SLO's alert instances come from the alerts pages (an htmx ``GET`` of ``/alerts`` filtered
by the ``sloth_slo`` label), so this domain reads nothing of the alerts domain.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from reliant.server.domains.slo import explain, history, service
from reliant.server.domains.slo.assess import Assessment
from reliant.server.web.pages import PageDep, PageError
from reliant.spec.models import NAME_PATTERN, SLOSpec
from reliant.spec.slo_plan import Plan

router = APIRouter(include_in_schema=False)

#: Seconds of burn-rate history charted on an SLO's page.
BURN_HISTORY = 86400.0
#: Budget left (fraction) under which an SLO shows as a warning.
LOW_BUDGET = 0.25
#: Orders the list may be sorted in.
SORTS = ("name", "service", "budget")
_NAME = re.compile(NAME_PATTERN)


@dataclass(frozen=True, slots=True)
class Burn:
    """One alert condition as a row shows it: both windows' burn rates against a threshold."""

    severity: str
    label: str
    threshold: float
    long_burn: float | None
    short_burn: float | None
    firing: bool

    @property
    def long_over(self) -> bool:
        """Whether the long window burns faster than the threshold."""
        return self.long_burn is not None and self.long_burn > self.threshold

    @property
    def short_over(self) -> bool:
        """Whether the short window burns faster than the threshold."""
        return self.short_burn is not None and self.short_burn > self.threshold


@dataclass(frozen=True, slots=True)
class Row:
    """An SLO as the pages show it."""

    name: str
    spec: SLOSpec
    plan: Plan
    assessment: Assessment | None
    reason: str
    evaluated_at: float
    warnings: list[str]
    burns: list[Burn]

    @property
    def remaining(self) -> float | None:
        """Fraction of the budget left (``None`` when not evaluated here)."""
        return None if self.assessment is None else self.assessment.budget.remaining

    @property
    def firing(self) -> tuple[str, ...]:
        """Severities whose condition holds."""
        return () if self.assessment is None else tuple(self.assessment.firing)

    def budget_level(self) -> str:
        """``critical`` when exhausted, ``warning`` when low, else ``ok`` (``unknown``: not
        evaluated)."""
        remaining = self.remaining
        if remaining is None:
            return "unknown"
        if remaining <= 0:
            return "critical"
        return "warning" if remaining < LOW_BUDGET else "ok"

    def alert_state(self) -> tuple[str, str]:
        """The pill of the SLO's alerting: level and words."""
        if self.assessment is None:
            return "unknown", "not evaluated here"
        if not self.plan.alerting:
            return "unknown", "alerting off"
        if "page" in self.firing:
            return "critical", "paging"
        if "ticket" in self.firing:
            return "warning", "ticket"
        return "ok", "not firing"


def window_text(spec: SLOSpec) -> str:
    """The compliance period in a few words: ``rolling 30d``, ``calendar month (UTC)``."""
    if spec.window.rolling is not None:
        return f"rolling {spec.window.rolling}"
    return f"calendar {spec.window.calendar} ({spec.window.timezone})"


def sli_text(spec: SLOSpec) -> str:
    """What the SLI counts, in one line."""
    sli = spec.sli
    if sli.ratio is not None:
        return f"calls of {sli.ratio.operation} that end in {' or '.join(sli.ratio.good)}"
    if sli.latency is not None:
        outcomes = " or ".join(sli.latency.outcomes)
        return (
            f"calls of {sli.latency.operation} ending in {outcomes} within {sli.latency.threshold}"
        )
    return "a PromQL error/total pair, evaluated by Prometheus"


def sli_kind(spec: SLOSpec) -> str:
    """``ratio``, ``latency`` or ``prometheus``."""
    sli = spec.sli
    return "ratio" if sli.ratio is not None else "latency" if sli.latency else "prometheus"


def _burns(a: Assessment | None) -> list[Burn]:
    """Each alert condition's burn rates."""
    if a is None:
        return []
    return [
        Burn(
            c.window.severity,
            f"{explain.window(c.window.long)}/{explain.window(c.window.short)}",
            c.window.burn_rate,
            c.long_burn,
            c.short_burn,
            c.firing,
        )
        for c in a.conditions()
    ]


def _row(found: service.Status) -> Row:
    return Row(
        name=found.record.name,
        spec=found.record.spec,
        plan=found.plan,
        assessment=found.assessment,
        reason=found.reason,
        evaluated_at=found.evaluated_at,
        warnings=[w.message for w in found.warnings],
        burns=_burns(found.assessment),
    )


def _sorted(rows: Sequence[Row], sort: str, descending: bool) -> list[Row]:
    if sort == "budget":
        # Not evaluated ones last whichever the direction: they have no budget to compare.
        known = [r for r in rows if r.remaining is not None]
        unknown = [r for r in rows if r.remaining is None]
        known.sort(key=lambda r: (r.remaining, r.name), reverse=descending)
        return known + sorted(unknown, key=lambda r: r.name)
    if sort == "service":
        return sorted(rows, key=lambda r: (r.spec.service, r.name), reverse=descending)
    return sorted(rows, key=lambda r: r.name, reverse=descending)


@router.get("/slos", response_class=HTMLResponse)
def slos(
    page: PageDep,
    sort: Annotated[Literal["name", "service", "budget"], Query()] = "name",
    order: Annotated[Literal["asc", "desc"], Query()] = "asc",
    service_name: Annotated[str, Query(alias="service", max_length=100)] = "",
) -> HTMLResponse:
    """Every SLO with its budget, burn rates and alert state; sortable, by service."""
    session = page.ctx.session
    everything = service.page(session, limit=None)
    records = [r for r in everything if not service_name or r.spec.service == service_name]
    rows = [_row(service.status(session, r.name, page.now)) for r in records]
    links = {
        key: "/slos?"
        + urlencode(
            [
                *([("service", service_name)] if service_name else []),
                ("sort", key),
                ("order", "desc" if key == sort and order == "asc" else "asc"),
            ]
        )
        for key in SORTS
    }
    return page.render(
        "slo/slos.html",
        nav_key="slos",
        rows=_sorted(rows, sort, order == "desc"),
        total=len(everything),
        services=sorted({r.spec.service for r in everything}),
        filters={"service": service_name, "sort": sort, "order": order},
        sort_links=links,
        sli_kind=sli_kind,
        window_text=window_text,
    )


@router.get("/slos/{service_name}/{name}", response_class=HTMLResponse)
def slo_page(service_name: str, name: str, page: PageDep) -> HTMLResponse:
    """One SLO: its state explained, budget and burn-rate charts, and its alerts."""
    session = page.ctx.session
    record = service.get(session, name) if _NAME.match(name) else None
    if record is None or record.spec.service != service_name:
        raise PageError(
            404,
            "No such SLO",
            f"No SLO named {name[:100]!r} belongs to the service {service_name[:100]!r}. "
            "Every SLO is listed on the SLOs page.",
        )
    row = _row(service.status(session, name, page.now))
    charts: dict[str, str] = {}
    if row.assessment is not None:
        charts = {
            "budget": _json(_budget_chart(session, row, page.now)),
            "burn": _json(_burn_chart(session, row, page.now)),
        }
    alerts = "/alerts?" + urlencode(
        [("filter", f'sloth_slo="{name}"'), ("filter", f'sloth_service="{service_name}"')]
    )
    a = row.assessment
    return page.render(
        "slo/slo.html",
        nav_key="slos",
        row=row,
        record=record,
        kind=sli_kind(record.spec),
        window=window_text(record.spec),
        sli=sli_text(record.spec),
        explanation=None
        if a is None
        else {
            "budget": explain.budget_text(a),
            "burn_rate": explain.burn_text(a),
            "forecast": explain.forecast_text(a),
        },
        conditions=[]
        if a is None
        else [
            (c, b, explain.condition_text(a, c))
            for c, b in zip(a.conditions(), row.burns, strict=True)
        ],
        exhaustion=None if a is None else _exhaustion(a),
        charts=charts,
        alerts_url=alerts,
    )


def _exhaustion(a: Assessment) -> list[tuple[str, float | None, float | None]]:
    """When the budget runs out at each rate: (which rate, the rate, the time or ``None``)."""
    out = []
    for label, rate, seconds in (
        ("the last hour's rate", a.burn_1h, a.exhaustion_1h),
        ("the rate over the period so far", a.burn_period, a.exhaustion_period),
    ):
        out.append((label, rate, None if seconds is None else a.now + seconds))
    return out


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _finite(value: float | None, scale: float = 1.0) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value * scale, 6)


def _budget_chart(session: Session, row: Row, now: float) -> dict[str, Any]:
    """Budget remaining (percent) over the compliance period so far."""
    start = row.plan.period(now).start
    if now - start < 3600:  # a calendar period just began: show its first hour's frame
        start = now - 3600
    step = history.default_step(start, now)
    found = history.series(session, row.plan, since=start, until=now, step=step)
    points = found["points"]
    return {
        "kind": "budget",
        "unit": "%",
        "times": [p["time"] for p in points],
        "series": [
            {
                "label": "budget remaining",
                "values": [_finite(p["budget_remaining"], 100.0) for p in points],
            }
        ],
        "thresholds": [{"label": "exhausted", "value": 0, "series": -1}],
    }


def _burn_chart(session: Session, row: Row, now: float) -> dict[str, Any]:
    """Burn rate over each condition's long window, the last day, with its threshold."""
    start = now - BURN_HISTORY
    step = history.default_step(start, now)
    found = history.series(session, row.plan, since=start, until=now, step=step)
    points = found["points"]
    longs: list[str] = []
    thresholds = []
    for w in row.plan.alerts:
        label = explain.window(w.long)
        if label not in longs:
            longs.append(label)
        thresholds.append(
            {
                "label": f"{w.severity} {label}/{explain.window(w.short)} {w.burn_rate:.3g}×",
                "value": round(w.burn_rate, 6),
                "series": longs.index(label),
            }
        )
    return {
        "kind": "burn",
        "unit": "×",
        "times": [p["time"] for p in points],
        "series": [
            {
                "label": f"{label} burn rate",
                "values": [_finite(p["burn_rates"].get(label)) for p in points],
            }
            for label in longs
        ],
        "thresholds": thresholds,
    }
