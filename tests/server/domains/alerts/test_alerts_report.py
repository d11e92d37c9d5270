"""Alert instances: report() upserts by fingerprint; pending, firing, resolved; events."""

from __future__ import annotations

import pytest
from alerts_helpers import START, Bench

from reliant.server.domains import alerts
from reliant.server.domains.alerts import service

PAGE = {"alertname": "Burn", "severity": "page", "service": "api", "sloth_id": "api-avail"}


def test_a_new_alert_fires_at_once_and_records_one_event(bench: Bench) -> None:
    """for_seconds=0: firing now; reporting again changes nothing and adds no event."""
    bench.report(PAGE, annotations={"summary": "burning"})
    bench.clock.advance(30)
    bench.report(PAGE, annotations={"summary": "still burning"})
    row = bench.alert(PAGE)
    assert ("firing", START, "still burning") == (
        row.state,
        row.fired_at,
        row.annotations["summary"],
    )
    assert [("alert.firing", START, "critical", "Burn")] == bench.events()


def test_for_seconds_keeps_an_alert_pending_until_it_elapses(bench: Bench) -> None:
    """Pending for 60 s, then firing at the dispatcher pass that sees the time has come."""
    bench.report(PAGE, for_seconds=60)
    bench.run(59)
    assert ("pending", []) == (bench.alert(PAGE).state, bench.events())
    bench.run(1)
    assert ("firing", START + 60) == (bench.alert(PAGE).state, bench.alert(PAGE).fired_at)
    assert [("alert.firing", START + 60, "critical", "Burn")] == bench.events()


def test_a_pending_alert_that_goes_away_never_fired(bench: Bench) -> None:
    """Resolved before for_seconds elapsed: no alert.firing and no alert.resolved."""
    bench.report(PAGE, for_seconds=60)
    bench.clock.advance(30)
    bench.report(PAGE, active=False)
    assert ("resolved", None, []) == (
        bench.alert(PAGE).state,
        bench.alert(PAGE).fired_at,
        bench.events(),
    )


def test_resolving_records_one_event(bench: Bench) -> None:
    """active=False resolves a firing alert once; repeating it is harmless."""
    ticket = {**PAGE, "severity": "ticket"}
    bench.report(ticket)
    bench.clock.advance(10)
    bench.report(ticket, active=False)
    bench.report(ticket, active=False)
    assert ("resolved", START + 10) == (bench.alert(ticket).state, bench.alert(ticket).resolved_at)
    assert [
        ("alert.firing", START, "warning", "Burn"),
        ("alert.resolved", START + 10, "warning", "Burn"),
    ] == bench.events()


def test_an_alert_not_reported_again_resolves_after_the_resolve_timeout(bench: Bench) -> None:
    """Without ends_at an alert lives 5 minutes past its last report, then resolves."""
    bench.report(PAGE)
    bench.clock.advance(100)
    bench.report(PAGE)
    bench.run(299)
    assert "firing" == bench.alert(PAGE).state
    bench.run(1)
    assert ("resolved", START + 400) == (bench.alert(PAGE).state, bench.alert(PAGE).resolved_at)


def test_explicit_ends_at(bench: Bench) -> None:
    """ends_at in the future keeps it active until then; in the past, it resolves now."""
    bench.report(PAGE, ends_at=START + 1000)
    bench.run(999, step=111)
    assert "firing" == bench.alert(PAGE).state
    bench.report(PAGE, ends_at=bench.clock.now() - 1)
    assert "resolved" == bench.alert(PAGE).state


def test_an_inactive_report_of_an_unknown_alert_stores_nothing(bench: Bench) -> None:
    """Resolving what never fired creates no alert and no event."""
    bench.report(PAGE, active=False)
    with bench.session() as s:
        assert None is service.get(s, alerts.fingerprint(PAGE))
    assert [] == bench.events()


def test_firing_again_after_resolution_is_a_new_activation(bench: Bench) -> None:
    """Same fingerprint, a new fired_at, and a second alert.firing."""
    bench.report(PAGE)
    bench.clock.advance(60)
    bench.report(PAGE, active=False)
    bench.clock.advance(60)
    bench.report(PAGE)
    row = bench.alert(PAGE)
    assert ("firing", START + 120, None) == (row.state, row.fired_at, row.resolved_at)
    assert ["alert.firing", "alert.resolved", "alert.firing"] == [e[0] for e in bench.events()]


def test_the_facade_reports_with_the_contracted_signature(bench: Bench) -> None:
    """reliant.server.domains.alerts.report(session, *, labels, annotations, active, now,
    source, for_seconds, ends_at) as the SLO evaluator calls it."""
    with bench.session() as s:
        alerts.report(
            s,
            labels=PAGE,
            annotations={"summary": "s"},
            active=True,
            now=bench.clock.now(),
            source="slo",
            for_seconds=0.0,
            ends_at=None,
        )
    row = bench.alert(PAGE)
    assert ("firing", "slo", START + 300, "api") == (
        row.state,
        row.source,
        row.ends_at,
        row.service,
    )


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels": {"severity": "page"}}, "alertname"),
        ({"labels": PAGE, "for_seconds": -1.0}, "for_seconds"),
        ({"labels": PAGE, "ends_at": float("nan")}, "ends_at"),
        ({"labels": PAGE, "annotations": {"summary": "\x00"}}, "NUL"),
    ],
)
def test_bad_reports_are_refused(bench: Bench, kwargs: dict[str, object], message: str) -> None:
    """No alertname, negative for, non-finite times, NUL characters: ValueError."""
    kwargs.setdefault("annotations", {})
    with pytest.raises(ValueError, match=message), bench.session() as s:
        alerts.report(s, active=True, now=bench.clock.now(), source="test", **kwargs)  # type: ignore[arg-type]
