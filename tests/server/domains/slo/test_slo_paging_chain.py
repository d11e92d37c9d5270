"""Acceptance, end to end on the virtual clock: synthetic SDK telemetry → SLO evaluation →
burn-rate alert → routing tree → durable outbox → a local imitation of PagerDuty's Events API.

Everything runs through the app's own leader-elected job runner, ticked every 2 s of virtual
time: the ``slo.evaluate`` (30 s), ``alerts.dispatch`` (1 s) and ``notify.deliver`` (2 s)
jobs exactly as a server runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.testclient import TestClient
from notify_helpers import ROUTING_KEY, Seen, Vendor, vendor_server
from slo_helpers import T0, push, put, slo, steady

from reliant.server.domains.alerts.jobs import DISPATCH_INTERVAL
from reliant.server.domains.notify import SECRET_KEY_ENV
from reliant.server.domains.notify.jobs import DELIVERY_INTERVAL
from reliant.server.domains.slo.jobs import EVALUATION_INTERVAL
from reliant.spec import slo_budget as budget
from reliant.testing import VirtualClock

HOUR = 3600
#: Seconds of virtual time between two ticks of the job runner.
STEP = 2
GROUP_WAIT = 30
BUCKET = 10


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's secret key (receivers' routing keys are secrets)."""
    monkeypatch.setenv(SECRET_KEY_ENV, Fernet.generate_key().decode())


@pytest.fixture
def vendor() -> Iterator[Vendor]:
    """PagerDuty's Events API and a generic webhook, imitated on loopback."""
    yield from vendor_server()


@pytest.fixture
def routed(client: TestClient, vendor: Vendor) -> None:
    """Pages go to PagerDuty, tickets to a webhook; the checkout SLO is declared."""
    receivers = {
        "pager": {
            "type": "pagerduty",
            "routing_key": ROUTING_KEY,
            "url": f"{vendor.url}/v2/enqueue",
        },
        "tickets": {
            "type": "webhook",
            "url": f"{vendor.url}/hook",
            "secret": "whsec-0123456789abcdef",
        },
    }
    for name, body in receivers.items():
        answer = client.put(f"/api/v1/receivers/{name}", json=body)
        assert 201 == answer.status_code, answer.text
    document = {
        "route": {
            "receiver": "tickets",
            "group_by": ["sloth_id", "severity"],
            "group_wait": f"{GROUP_WAIT}s",
            "group_interval": "1m",
            "repeat_interval": "4h",
            "routes": [{"matchers": ['severity="page"'], "receiver": "pager"}],
        },
        "receivers": [{"name": "pager"}, {"name": "tickets"}],
    }
    answer = client.put("/api/v1/alerting/config", json=document)
    assert 200 == answer.status_code, answer.text
    put(client, "availability", slo())


def run_until(
    app: FastAPI, clock: VirtualClock, done: Callable[[], bool], *, within: float, step: int = STEP
) -> float:
    """Tick the job runner every ``step`` s until ``done()``; the virtual time it became true."""
    end = clock.now() + within
    while clock.now() < end:
        clock.advance(step)
        app.state.jobs.tick()
        if done():
            return clock.now()
    raise AssertionError(f"not done within {within} s of virtual time")


def pages(vendor: Vendor, action: str) -> list[Seen]:
    """Events PagerDuty accepted with ``event_action`` ``action``."""
    return [s for s in vendor.accepted("/v2/enqueue") if s.json["event_action"] == action]


def test_total_outage_pages_pagerduty_within_the_predicted_time_then_resolves(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor, routed: None
) -> None:
    """99.9%/30d, 6 h of good traffic, then 5 min of total outage, then good again.

    The workbook's 14.4x-over-1h rule predicts detection 51.84 s into the outage; PagerDuty
    receives the trigger within that plus one evaluation interval, one 10 s bucket,
    group_wait, one dispatcher pass and one delivery run — and the resolve, under the same
    dedup key, once the 6h/30m condition's 30 m window has cleared. Tickets go to the
    webhook, never to PagerDuty."""
    push(client, steady(T0 - 6 * HOUR, T0, good=10))
    push(client, steady(T0, T0 + 300, good=0, bad=10))
    push(client, steady(T0 + 300, T0 + 3 * HOUR, good=10))
    clock.advance(T0 - clock.now())
    predicted = budget.detection_seconds(0.001, 1.0, HOUR, 14.4)
    bound = (
        predicted
        + EVALUATION_INTERVAL
        + BUCKET
        + GROUP_WAIT
        + DISPATCH_INTERVAL
        + DELIVERY_INTERVAL
    )

    triggered = run_until(app, clock, lambda: bool(pages(vendor, "trigger")), within=bound + STEP)
    assert predicted < triggered - T0 <= bound + STEP
    [trigger] = pages(vendor, "trigger")
    event = trigger.json
    assert (ROUTING_KEY, "critical") == (event["routing_key"], event["payload"]["severity"])
    assert "availability" in event["payload"]["summary"]

    # Coarser ticks while waiting for the resolve (the bound below allows for them).
    resolved = run_until(app, clock, lambda: bool(pages(vendor, "resolve")), within=HOUR, step=10)
    [resolve] = pages(vendor, "resolve")
    assert event["dedup_key"] == resolve.json["dedup_key"]
    # Both page conditions fired; the slower one (6h/30m) holds the page until its 30 m
    # short window no longer holds the outage. The next evaluation resolves the alert and
    # the group's next flush (group_interval 1 m) sends it.
    cleared = T0 + 300 + 1800
    assert cleared < resolved <= cleared + EVALUATION_INTERVAL + BUCKET + 60 + 2 * 10
    assert 1 == len(pages(vendor, "trigger"))
    tickets = [s.json for s in vendor.accepted("/hook")]
    assert tickets
    assert {"ticket"} == {t["commonLabels"]["severity"] for t in tickets}
