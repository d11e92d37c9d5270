"""What a game day sees: the control plane's API, the pager and the traffic, judged.

Every expectation of a phase becomes a :class:`Verdict`: whether it holds now, and what
was seen, so a phase that fails says what happened instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from reliant.gameday.scenario import (
    AlertCheck,
    EventCheck,
    Expectation,
    IncidentCheck,
    PageCheck,
    PostmortemCheck,
    RunbookCheck,
    SLOCheck,
    TrafficCheck,
)
from reliant.gameday.traffic import TrafficGenerator

#: Event kinds shown as "what happened" in the live view (exact, or prefix globs).
NOTABLE = (
    "config.changed",
    "circuit_breaker.state_changed",
    "slo.*",
    "alert.*",
    "notification.delivered",
    "notification.failed",
    "incident.*",
    "runbook.*",
    "postmortem.*",
    "oncall.page.*",
)


class GameDayError(Exception):
    """The game day cannot go on (the control plane refused or is unreachable)."""


class Plane:
    """A small JSON client of the control plane's API."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "reliant-gameday"},
            timeout=10.0,
            trust_env=False,
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The decoded answer (``None`` when empty).

        Raises:
            GameDayError: unreachable, or an error answer (its detail quoted).
        """
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise GameDayError(f"the control plane at {self.url} is unreachable: {exc}") from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise GameDayError(f"{method} {path}: {response.status_code} {detail}")
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        """GET ``path`` with query ``params``."""
        return self.call("GET", path, params=params)

    def close(self) -> None:
        """Close the connections."""
        self.http.close()


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether an expectation holds, and what was seen."""

    held: bool
    seen: str


def describe(expectation: Expectation) -> str:
    """An expectation in words: ``alert slo=storefront-charge firing``."""
    check = expectation.check
    values = check.model_dump(exclude_none=True, by_alias=True)
    parts = []
    for key, value in values.items():
        if value in ({}, []) or (key == "since" and value == "gameday"):
            continue
        if isinstance(value, dict) and set(value) == {"op", "value"}:
            value = f"{value['op']} {value['value']:g}"
        elif isinstance(value, dict):
            value = " ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = "|".join(map(str, value))
        parts.append(f"{key} {value}")
    return f"{expectation.kind}: " + (", ".join(parts) or "exists")


def _subset(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> bool:
    return all(actual.get(k) == v for k, v in expected.items())


@dataclass
class Observer:
    """Judges expectations against the control plane, the pager and the traffic.

    Attributes:
        plane: the control plane's API.
        began: wall-clock time the game day began (things older belong to someone else).
        pager: the pager's URL, when the game day has one.
        traffic: the traffic generator, when the game day sends traffic.
        incident: the game day's incident, once one was seen.
    """

    plane: Plane
    began: float
    pager: str | None = None
    traffic: TrafficGenerator | None = None
    incident: dict[str, Any] | None = None
    _pager_http: httpx.Client = field(
        default_factory=lambda: httpx.Client(timeout=5.0, trust_env=False)
    )

    def judge(self, expectation: Expectation, phase_began: float) -> Verdict:
        """Whether ``expectation`` holds now (``phase_began``: wall-clock seconds)."""
        check = expectation.check
        since = phase_began if getattr(check, "since", "") == "phase" else self.began
        if isinstance(check, TrafficCheck):
            return self._traffic(check)
        if isinstance(check, EventCheck):
            return self._event(check, since)
        if isinstance(check, AlertCheck):
            return self._alert(check)
        if isinstance(check, PageCheck):
            return self._page(check, since)
        if isinstance(check, IncidentCheck):
            return self._incident(check)
        if isinstance(check, RunbookCheck):
            return self._runbook(check)
        if isinstance(check, SLOCheck):
            return self._slo(check)
        assert isinstance(check, PostmortemCheck)
        return self._postmortem(check)

    def _traffic(self, check: TrafficCheck) -> Verdict:
        if self.traffic is None:
            return Verdict(False, "this game day sends no traffic")
        rates = self.traffic.rates()
        seen, held = [], True
        for name in ("ok", "degraded", "error", "served"):
            bound = getattr(check, f"{name}_rate")
            if bound is None:
                continue
            measured = rates.rate(name)
            held = held and bound.holds(measured)
            shown = "no answers" if measured is None else f"{measured:.0%}"
            seen.append(f"{name} {shown}")
        return Verdict(held, f"{', '.join(seen)} of {rates.requests} in {rates.window:g} s")

    def _event(self, check: EventCheck, since: float) -> Verdict:
        params: dict[str, Any] = {"kind": check.kind, "since": since, "limit": 200}
        if check.service:
            params["service"] = check.service
        items = self.plane.get("/api/v1/events", **params)["items"]
        matching = [
            e
            for e in items
            if _subset(check.attributes, e["attributes"])
            and (check.source is None or e["source"] == check.source)
        ]
        if matching:
            return Verdict(True, f"event #{matching[-1]['id']}")
        return Verdict(False, f"{len(items)} {check.kind} events, none matching")

    def _alert(self, check: AlertCheck) -> Verdict:
        matchers = [f'{k}="{v}"' for k, v in check.labels.items()]
        items = self.plane.get("/api/v1/alerts", filter=matchers, limit=20)["items"]
        states = sorted({a["state"] for a in items})
        held = check.state in states
        return Verdict(held, f"alerts in states {states}" if items else "no such alert yet")

    def pages(self) -> list[dict[str, Any]]:
        """What the pager received, in arrival order.

        Raises:
            GameDayError: there is no pager, or it did not answer.
        """
        if self.pager is None:
            raise GameDayError("this game day has no pager")
        try:
            items: list[dict[str, Any]] = self._pager_http.get(f"{self.pager}/received").json()[
                "items"
            ]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise GameDayError(f"the pager did not answer: {exc}") from None
        return items

    def _page(self, check: PageCheck, since: float) -> Verdict:
        try:
            items = self.pages()
        except GameDayError as exc:
            return Verdict(False, str(exc))
        found = [
            p
            for p in items
            if p["received_at"] >= since
            and p["status"] == check.status
            and _subset(check.labels, {**p.get("labels", {}), **p})
        ]
        if found:
            return Verdict(True, f"{found[0]['status']} {found[0]['alertname']}")
        return Verdict(False, f"{len(items)} pages received, none {check.status}")

    def _incident(self, check: IncidentCheck) -> Verdict:
        if self.incident is None:
            params: dict[str, Any] = {"limit": 20}
            if check.service:
                params["service"] = check.service
            items = self.plane.get("/api/v1/incidents", **params)["items"]
            ours = [i for i in items if i["created_at"] >= self.began]
            if not ours:
                return Verdict(False, "no incident declared since the game day began")
            self.incident = min(ours, key=lambda i: i["id"])
        incident = self.plane.get(f"/api/v1/incidents/{self.incident['id']}")
        self.incident = incident
        held = incident["state"] in check.state and (
            check.severity is None or incident["severity"] == check.severity
        )
        return Verdict(
            held, f"incident #{incident['id']} {incident['severity']} {incident['state']}"
        )

    def _runbook(self, check: RunbookCheck) -> Verdict:
        items = self.plane.get("/api/v1/runbook-runs", runbook=check.runbook, limit=20)["items"]
        ours = [r for r in items if r["created_at"] >= self.began]
        if not ours:
            return Verdict(False, f"no run of {check.runbook} since the game day began")
        latest = ours[0]
        held = any(r["state"] in check.state for r in ours)
        at = f" at step {latest['current']}" if latest["current"] else ""
        return Verdict(held, f"run #{latest['id']} {latest['state']}{at}")

    def _slo(self, check: SLOCheck) -> Verdict:
        status = self.plane.get(f"/api/v1/slos/{check.name}/status")
        budget = (status.get("budget") or {}).get("remaining")
        burn = (status.get("forecast") or {}).get("burn_rate_1h")
        firing = bool(status.get("firing"))
        held = (
            (check.budget_remaining is None or check.budget_remaining.holds(budget))
            and (check.burn_rate_1h is None or check.burn_rate_1h.holds(burn))
            and (check.firing is None or check.firing == firing)
        )
        shown_budget = "?" if budget is None else f"{budget:.1%}"
        shown_burn = "?" if burn is None else f"{burn:.1f}x"
        return Verdict(held, f"budget left {shown_budget}, burn 1h {shown_burn}, firing {firing}")

    def _postmortem(self, check: PostmortemCheck) -> Verdict:
        if self.incident is None:
            return Verdict(False, "no incident seen yet")
        try:
            found = self.plane.get(f"/api/v1/incidents/{self.incident['id']}/postmortem")
        except GameDayError:
            return Verdict(False, f"incident #{self.incident['id']} has no postmortem yet")
        held = not check.state or found["state"] in check.state
        return Verdict(held, f"postmortem #{found['id']} {found['state']}")

    def close(self) -> None:
        """Close the connections."""
        self._pager_http.close()
