"""Pages of alerts: the active alerts (``/alerts``) and the silences (``/silences``).

Operators silence an alert in one click: the row's form posts to
``/alerts/{fingerprint}/silence`` with a duration, which runs the API's use case (one
``name="value"`` matcher per label, audited, ``silence.created``) with the comment
"silenced from the UI by <name>", and answers the row again, now marked silenced (htmx
swaps it in place). An htmx ``GET`` of ``/alerts`` answers only the table, which is how an
SLO's page shows its alerts. Silences are created and expired through the same use cases
as ``/api/v1/silences``; forms carry the session's CSRF token.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from reliant.server.auth.roles import Role
from reliant.server.domains.alerts import api, service, silencing
from reliant.server.domains.alerts.matchers import Matcher, matches_all, parse_matchers
from reliant.server.domains.alerts.models import AlertRow, SilenceRow
from reliant.server.domains.alerts.schemas import SilenceFromAlert, SilenceIn
from reliant.server.domains.alerts.silences import ACTIVE, EXPIRED, PENDING, Silence
from reliant.server.events import Severity
from reliant.server.http import Problem
from reliant.server.web.pages import CSRF_FIELD, Page, PageDep, PageError, redirect

router = APIRouter(include_in_schema=False)

#: Durations offered by an alert's Silence button, and the one selected.
DURATIONS = ("1h", "2h", "8h", "24h")
DEFAULT_DURATION = "2h"
#: States listed unless the filter asks otherwise: alerts still active.
LISTED = (service.PENDING, service.FIRING, service.SUPPRESSED)
STATE_CHOICES = ("active", *service.STATES)
#: Most alerts and most silences of one state a page shows.
MOST = 500
#: Expired silences shown (newest first).
EXPIRED_SHOWN = 50
_FINGERPRINT = re.compile(r"^[0-9a-f]{16}$")
_SILENCE_ID = re.compile(r"^[0-9a-f-]{36}$")
CsrfField = Annotated[str, Form(alias=CSRF_FIELD)]


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert as a row shows it: the alert and the active silences muting it now."""

    row: AlertRow
    silences: list[Silence]

    @property
    def slo_link(self) -> str:
        """The page of the SLO that raised it (``""`` when it is not an SLO alert)."""
        labels = self.row.labels
        slo, owner = labels.get("sloth_slo"), labels.get("sloth_service")
        if not slo or not owner:
            return ""
        return f"/slos/{quote(owner, safe='')}/{quote(slo, safe='')}"

    @property
    def label_items(self) -> list[tuple[str, str]]:
        """Labels in reading order: ``alertname`` first, then by name."""
        labels = self.row.labels
        rest = sorted((k, str(v)) for k, v in labels.items() if k != "alertname")
        return [("alertname", str(labels.get("alertname", ""))), *rest]

    def level(self) -> str:
        """The pill level: firing page/critical alerts are critical, others warnings."""
        if self.row.state == service.RESOLVED:
            return "ok"
        if self.silences or self.row.state == service.SUPPRESSED:
            return "unknown"
        if self.row.state == service.PENDING:
            return "warning"
        severity = service.event_severity(self.row.labels)
        return "critical" if severity in (Severity.CRITICAL, Severity.ERROR) else "warning"

    def state_label(self) -> str:
        """The state in words; an alert a silence mutes says so before the dispatcher does."""
        if self.row.state in LISTED and self.silences:
            return "silenced"
        if self.row.state == service.SUPPRESSED and self.row.inhibited_by:
            return "inhibited"
        return str(self.row.state)


def _matchers(texts: Sequence[str]) -> tuple[list[Matcher], list[str]]:
    found: list[Matcher] = []
    problems = []
    for text in texts:
        if not text.strip():
            continue
        try:
            found.extend(parse_matchers(text))
        except ValueError as exc:
            problems.append(f"{text!r}: {exc}")
    return found, problems


def _views(page: Page, rows: Sequence[AlertRow]) -> list[AlertView]:
    silences = silencing.active(page.ctx.session, page.now)
    return [AlertView(row, [s for s in silences if s.mutes(row.labels, page.now)]) for row in rows]


@router.get("/alerts", response_class=HTMLResponse)
def alerts(
    page: PageDep,
    filter_: Annotated[list[str], Query(alias="filter", max_length=1000)] = [],  # noqa: B006
    state: Annotated[str, Query(max_length=20)] = "active",
) -> HTMLResponse:
    """Pending and firing alerts (or one state), filtered by Alertmanager matchers."""
    matchers, problems = _matchers(filter_)
    if state not in STATE_CHOICES:
        problems.append(f"unknown state {state!r}")
        state = "active"
    states = LISTED if state == "active" else (state,)
    rows, more = service.page(
        page.ctx.session, states=states, matchers=matchers, limit=MOST, after=None
    )
    context: dict[str, Any] = {
        "alerts": _views(page, rows),
        "more": more is not None,
        "durations": DURATIONS,
        "default_duration": DEFAULT_DURATION,
        "filters": {"filter": ", ".join(f.strip() for f in filter_ if f.strip()), "state": state},
    }
    if page.htmx:
        return page.render("alerts/_alerts.html", headers={"Vary": "HX-Request"}, **context)
    return page.render(
        "alerts/alerts.html",
        headers={"Vary": "HX-Request"},
        nav_key="alerts",
        problems=problems,
        states=STATE_CHOICES,
        **context,
    )


@router.post("/alerts/{fingerprint}/silence", response_class=HTMLResponse)
def silence(
    fingerprint: str,
    page: PageDep,
    csrf_token: CsrfField = "",
    duration: Annotated[str, Form(max_length=10)] = DEFAULT_DURATION,
) -> Response:
    """Silence exactly this alert's labels for ``duration``; answer its row (htmx) or go
    back to the list."""
    page.require(Role.OPERATOR)
    page.check_csrf(csrf_token)
    if not _FINGERPRINT.match(fingerprint):
        raise PageError(404, "No such alert", "An alert's fingerprint is 16 hex digits.")
    if duration not in DURATIONS:
        raise PageError(422, "Cannot silence", f"Choose a duration of {', '.join(DURATIONS)}.")
    body = SilenceFromAlert(
        duration=duration, comment=f"silenced from the UI by {page.principal.name}"
    )
    try:
        api.silence_alert(fingerprint, body, page.ctx)
    except Problem as exc:
        if page.htmx:
            raise  # answered as a problem document: the page shows its detail
        raise PageError(exc.status, "Cannot silence", exc.detail) from None
    if not page.htmx:
        return redirect("/alerts")
    row = service.get(page.ctx.session, fingerprint)
    assert row is not None  # silence_alert found it in this transaction
    return page.render(
        "alerts/_alert_row.html",
        alert=_views(page, [row])[0],
        durations=DURATIONS,
        default_duration=DEFAULT_DURATION,
    )


# -- silences ----------------------------------------------------------------------------


def _silences_page(
    page: Page, *, status: int = 200, error: str = "", form: dict[str, str] | None = None
) -> HTMLResponse:
    session, now = page.ctx.session, page.now
    active_alerts, _ = service.page(session, states=LISTED, limit=MOST, after=None)
    sections = []
    for state, limit in ((ACTIVE, MOST), (PENDING, MOST), (EXPIRED, EXPIRED_SHOWN)):
        rows, more = silencing.page(session, now=now, states=[state], limit=limit)
        sections.append((state, [(r, _muted(r, active_alerts)) for r in rows], more is not None))
    query = page.request.query_params
    return page.render(
        "alerts/silences.html",
        status=status,
        nav_key="silences",
        sections=sections,
        error=error,
        form=form
        or {"matchers": "\n".join(query.getlist("matchers")), "duration": DEFAULT_DURATION},
        created=query.get("created", ""),
        expired=query.get("expired", ""),
    )


def _muted(row: SilenceRow, alerts: Sequence[AlertRow]) -> int:
    """How many of ``alerts`` the silence's matchers select."""
    found = silencing.as_silence(row)
    if found is None:
        return 0
    return sum(1 for a in alerts if matches_all(found.matchers, a.labels))


@router.get("/silences", response_class=HTMLResponse)
def silences(page: PageDep) -> HTMLResponse:
    """Active, pending and recently expired silences, and a form to add one."""
    return _silences_page(page)


def _epoch(local: str) -> float | None:
    """Epoch seconds of a ``datetime-local`` value read as UTC (``None`` when empty).

    Raises:
        ValueError: not a date and time.
    """
    if not local.strip():
        return None
    return dt.datetime.fromisoformat(local.strip()).replace(tzinfo=dt.UTC).timestamp()


@router.post("/silences", response_class=HTMLResponse)
def create_silence(
    page: PageDep,
    csrf_token: CsrfField = "",
    matchers: Annotated[str, Form(max_length=20_000)] = "",
    duration: Annotated[str, Form(max_length=50)] = "",
    ends_at: Annotated[str, Form(max_length=40)] = "",
    comment: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """Create a silence from the form (matchers one per line; an end time or a duration)."""
    page.require(Role.OPERATOR)
    page.check_csrf(csrf_token)
    form = {"matchers": matchers, "duration": duration, "ends_at": ends_at, "comment": comment}
    lines = [line.strip() for line in matchers.splitlines() if line.strip()]
    try:
        end = _epoch(ends_at)
    except ValueError:
        return _silences_page(page, status=422, error="End: not a date and time.", form=form)
    window: dict[str, Any] = {"ends_at": end} if end is not None else {"duration": duration}
    try:
        body = SilenceIn.model_validate({"matchers": lines, "comment": comment, **window})
        made = api.create_silence(body, page.ctx)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "form"
        message = str(first["msg"]).removeprefix("Value error, ")
        return _silences_page(page, status=422, error=f"{where}: {message}", form=form)
    except Problem as exc:
        return _silences_page(page, status=exc.status, error=exc.detail or exc.title, form=form)
    return redirect(f"/silences?created={made.id}")


@router.post("/silences/{silence_id}/expire")
def expire_silence(silence_id: str, page: PageDep, csrf_token: CsrfField = "") -> Response:
    """Expire a silence now (the page asks to confirm first) and go back to the list."""
    page.require(Role.OPERATOR)
    page.check_csrf(csrf_token)
    if not _SILENCE_ID.match(silence_id):
        raise PageError(404, "No such silence", "A silence's id is a UUID.")
    try:
        api.expire_silence(silence_id, page.ctx)
    except Problem as exc:
        raise PageError(exc.status, "Cannot expire", exc.detail) from None
    return redirect(f"/silences?expired={silence_id}")
