"""The page of incident response metrics: ``/incidents/metrics``.

MTTA, MTTR and MTBF over a period per service, team or severity, computed by the API's
route function (``GET /api/v1/incidents/metrics``) with the definitions it states, and the
weekly trend of all incidents drawn by ``static/charts.js``. ``views.py`` includes this
router before its ``/incidents/{id}`` routes.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from reliant.server.domains.incidents import api, schemas
from reliant.server.domains.incidents.metrics import DEFINITIONS
from reliant.server.events.query import parse_time
from reliant.server.http import Problem
from reliant.server.web.pages import PageDep

router = APIRouter(include_in_schema=False)

#: The page's period when none is given, and its trend's bucket.
METRICS_PERIOD = "90d"
METRICS_BUCKET: Literal["week"] = "week"


def _when(text: str, now: float) -> float:
    """Epoch seconds of a date (``2027-01-15``, UTC midnight) or what the API accepts.

    Raises:
        ValueError: neither.
    """
    value = text.strip()
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        day = dt.date.fromisoformat(value)
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
    return parse_time(value, now)


def _trend(found: schemas.MetricsOut) -> tuple[dict[str, Any], dict[str, Any]]:
    """The weekly trend charts: MTTA and MTTR in minutes; MTBF in hours."""
    times: list[float] = []
    mtta: list[float | None] = []
    mttr: list[float | None] = []
    mtbf: list[float | None] = []
    for bucket in found.trend or []:
        total = bucket.items[0] if bucket.items else None
        times.append(bucket.start)
        mtta.append(_per(total.mtta.seconds if total else None, 60))
        mttr.append(_per(total.mttr.seconds if total else None, 60))
        mtbf.append(_per(total.mtbf.seconds if total else None, 3600))
    response = {
        "points": True,
        "unit": "",
        "times": times,
        "series": [
            {"label": "MTTA (minutes)", "values": mtta},
            {"label": "MTTR (minutes)", "values": mttr},
        ],
    }
    between = {
        "points": True,
        "unit": "",
        "times": times,
        "series": [{"label": "MTBF (hours)", "values": mtbf}],
    }
    return response, between


def _per(seconds: float | None, unit: float) -> float | None:
    return None if seconds is None else round(seconds / unit, 2)


@router.get("/incidents/metrics", response_class=HTMLResponse)
def metrics(
    page: PageDep,
    since: Annotated[str, Query(max_length=60)] = METRICS_PERIOD,
    until: Annotated[str, Query(max_length=60)] = "",
    group_by: Annotated[str, Query(max_length=20)] = "service",
) -> HTMLResponse:
    """MTTA, MTTR and MTBF over a period per service, team or severity, with each
    definition and the weekly trend."""
    problems: list[str] = []
    now = page.now
    times: dict[str, float | None] = {}
    for name, value in (("since", since), ("until", until)):
        try:
            times[name] = _when(value, now) if value.strip() else None
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
            times[name] = None
    grouping = group_by if group_by in ("service", "team", "severity") else None
    if group_by and grouping is None and group_by != "none":
        problems.append(f"unknown grouping {group_by!r}")
    start, end = times["since"], times["until"]
    found, trend = None, None
    try:
        found = api.get_metrics(
            page.ctx,
            since=None if start is None else str(start),
            until=None if end is None else str(end),
            group_by=grouping,  # type: ignore[arg-type]
            bucket=None,
        )
        weekly = api.get_metrics(
            page.ctx,
            since=str(found.since),
            until=str(found.until),
            group_by=None,
            bucket=METRICS_BUCKET,
        )
        trend = _trend(weekly)
    except Problem as exc:
        problems.append(exc.detail or exc.title)
    charts = None if trend is None else {"response": _json(trend[0]), "mtbf": _json(trend[1])}
    return page.render(
        "incidents/metrics.html",
        nav_key="incidents",
        found=found,
        charts=charts,
        definitions=DEFINITIONS,
        problems=problems,
        filters={"since": since, "until": until, "group_by": grouping or "none"},
    )


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)
