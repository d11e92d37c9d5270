"""Acceptance: burn-rate alerts on the virtual clock, from telemetry sent through ingest.

Traffic is pushed in advance; an evaluation at ``now`` counts only the buckets that
started before it, so evaluating at successive times replays the traffic as it came.
Evaluation times are on the 10 s bucket grid, so no bucket is counted while still filling.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from slo_helpers import T0, Reports, evaluate, events, push, put, slo, status, steady

from reliant.server.domains.slo.jobs import EVALUATION_INTERVAL
from reliant.spec import slo_budget as budget

HOUR = 3600


def _first(times: list[int], app: FastAPI, reports: Reports, severity: str) -> int | None:
    for t in times:
        evaluate(app, t, reports)
        if reports.active(severity) and reports.active(severity)[-1]:
            return t
    return None


def test_total_outage_pages_within_the_workbook_detection_time(
    client: TestClient, app: FastAPI
) -> None:
    """99.9%/30d at 100% errors: 14.4x on 1h predicts 51.84 s; it pages by then + 1 interval."""
    put(client, "checkout-availability", slo())
    push(client, steady(T0 - 6 * HOUR, T0, good=10))  # 6 h of good traffic, 1 call/s
    push(client, steady(T0, T0 + 600, good=0, bad=10))  # then every call fails
    predicted = budget.detection_seconds(0.001, 1.0, HOUR, 14.4)
    assert 51.84 == round(predicted, 6)
    reports = Reports()
    times = [T0 + 10 + int(EVALUATION_INTERVAL) * k for k in range(10)]
    fired = _first(times, app, reports, "page")
    assert fired is not None
    assert predicted < fired - T0 <= predicted + EVALUATION_INTERVAL + 10  # + one bucket
    page = next(c for c in reports.calls if c["labels"]["severity"] == "page")
    assert {
        "alertname": "SLOErrorBudgetBurn",
        "severity": "page",
        "sloth_id": "checkout-checkout-availability",
        "sloth_service": "checkout",
        "sloth_slo": "checkout-availability",
        "service": "checkout",
    } == page["labels"]
    assert (True, "slo", fired) == (page["active"], page["source"], page["now"])
    assert "burns its error budget" in page["annotations"]["summary"]
    high = [
        e for e in events(client, "slo.burn_rate_high") if e["attributes"]["severity"] == "page"
    ]
    assert 1 == len(high)
    assert ("checkout", "error") == (high[0]["service"], high[0]["severity"])
    assert "1h" == high[0]["attributes"]["conditions"][0]["long"]


def test_short_spike_pages_then_resolves_when_the_short_window_clears(
    client: TestClient, app: FastAPI
) -> None:
    """A 2 min total outage pages; 5 min after it ends the 5m window clears and so does the
    page, though the 1h window still burns above 14.4x (the workbook's reset time)."""
    put(client, "checkout-availability", slo())
    push(client, steady(T0 - 6 * HOUR, T0, good=10))
    push(client, steady(T0, T0 + 120, good=0, bad=10))  # the spike: 12 buckets
    push(client, steady(T0 + 120, T0 + HOUR, good=10))
    reports = Reports()
    times = list(range(T0 + 10, T0 + 1200, 30))
    for t in times:
        evaluate(app, t, reports)
    flags = reports.active("page")
    assert [True, False] == [flags[0], flags[-1]]
    assert 1 == flags.count(False)  # resolved once, then no more reports
    resolved_at = next(
        c["now"] for c in reports.calls if not c["active"] and c["labels"]["severity"] == "page"
    )
    # The last spike bucket starts at T0+110: it leaves the 5m window at T0+410.
    assert T0 + 410 < resolved_at <= T0 + 410 + EVALUATION_INTERVAL
    body = status(client, "checkout-availability")
    one_hour = next(w for w in body["windows"] if w["window"] == "1h")
    assert one_hour["burn_rate"] > 14.4  # still burning in the long window alone
    assert ["slo.burn_rate_high", "slo.burn_rate_resolved"] == [
        e["kind"]
        for e in events(client, "slo.*")
        if e["kind"].startswith("slo.burn_rate") and e["attributes"]["severity"] == "page"
    ]


def test_slow_burn_opens_a_ticket_never_a_page(client: TestClient, app: FastAPI) -> None:
    """At 2x the budget rate only the 3d/6h 1x ticket fires, once the 3d window is above
    0.1% errors: after 36 h following 3 good days."""
    put(client, "checkout-availability", slo())
    push(client, steady(T0 - 72 * HOUR, T0, good=500, every=60))
    push(client, steady(T0, T0 + 40 * HOUR, good=499, bad=1, every=60))  # 0.2% errors
    reports = Reports()
    times = [T0 + 1800 * k for k in range(1, 80)]
    fired = _first(times, app, reports, "ticket")
    assert T0 + 36 * HOUR + 1800 == fired  # at 36 h exactly the ratio equals 0.1%, not above
    assert [] == reports.active("page")
    body = status(client, "checkout-availability")
    assert ["ticket"] == body["firing"]
    firing = [(c["long"], c["short"]) for c in body["conditions"] if c["firing"]]
    assert [("3d", "6h")] == firing


def test_min_events_guard_keeps_a_quiet_service_from_paging(
    client: TestClient, app: FastAPI
) -> None:
    """Five failed calls in an hour burn at 1000x, but 5 < min_events (10): no page."""
    put(client, "quiet", slo(alerting={"min_events": 10}))
    put(client, "eager", slo(alerting={"min_events": 5}))
    push(client, steady(T0, T0 + 50, good=0, bad=1))
    reports = Reports()
    evaluate(app, T0 + 60, reports)
    assert {"eager"} == {c["labels"]["sloth_slo"] for c in reports.calls}
    quiet = status(client, "quiet")
    page = quiet["conditions"][0]
    assert (False, 5) == (page["firing"], page["long_events"])
    assert "fewer than min_events (10)" in page["explanation"]


def test_disabled_alerting_reports_nothing(client: TestClient, app: FastAPI) -> None:
    """alerting.enabled=false keeps the budget but never fires."""
    put(client, "checkout-availability", slo(alerting={"enabled": False}))
    push(client, steady(T0, T0 + 600, good=0, bad=10))
    reports = Reports()
    evaluate(app, T0 + 600, reports)
    assert [] == reports.calls
    body = status(client, "checkout-availability")
    assert (True, []) == (body["budget"]["exhausted"], body["firing"])


def test_budget_exhausted_and_recovered_events_on_transitions_only(
    client: TestClient, app: FastAPI
) -> None:
    """Exhaustion is one event however many cycles it lasts; recovery is another."""
    put(client, "short-window", slo(window={"rolling": "1h"}))
    push(client, steady(T0, T0 + 60, good=0, bad=10))
    push(client, steady(T0 + 60, T0 + 2 * HOUR, good=10))
    for t in range(T0 + 60, T0 + 2 * HOUR, 600):
        evaluate(app, t)
    kinds = [e["kind"] for e in events(client, "slo.*") if e["kind"].startswith("slo.budget")]
    assert ["slo.budget_exhausted", "slo.budget_recovered"] == kinds
