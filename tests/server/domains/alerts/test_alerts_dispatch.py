"""The dispatcher on the virtual clock: grouping timings, silences, inhibition, time intervals.

Each test reports alerts, runs dispatcher passes as the job would (one per step of virtual
time) and checks the calls made to the notify facade's ``enqueue``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from alerts_helpers import START, Bench
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from reliant.server.domains import alerts
from reliant.server.domains.alerts.jobs import RESOLVED_RETENTION, jobs, retention
from reliant.server.domains.alerts.models import AlertGroupRow, AlertRow
from reliant.server.domains.notify.models import NotificationRow

PAGE = {"alertname": "Burn", "severity": "page", "service": "api", "sloth_id": "api-avail"}
TICKET = {**PAGE, "severity": "ticket"}
DEFAULT_KEY = '{}:{alertname="Burn", service="api", severity="page", sloth_id="api-avail"}'


def document(**route: Any) -> dict[str, Any]:
    """A routing document: receiver ``default`` at the root, ``route`` options on it."""
    receivers = {"default", *route.pop("receivers", ())}
    intervals = route.pop("time_intervals", [])
    return {
        "route": {"receiver": "default", **route},
        "receivers": [{"name": n} for n in sorted(receivers)],
        "time_intervals": intervals,
    }


def test_the_first_notification_waits_for_group_wait(bench: Bench) -> None:
    """A new group notifies group_wait (30 s) after its first alert fired, with the group's
    key, one dedup key per receiver and group, and the alert as Alertmanager lists it."""
    bench.report(PAGE, annotations={"summary": "burning"})
    bench.tick()
    bench.run(29)
    assert [] == bench.sent
    bench.run(1)
    assert [30.0] == bench.times()
    call = bench.sent[0]
    assert {
        "receiver": "default",
        "dedup_key": f"default:{DEFAULT_KEY}",
        "status": "firing",
        "group_key": DEFAULT_KEY,
        "group_labels": PAGE,
        "common_labels": PAGE,
        "common_annotations": {"summary": "burning"},
    } == {k: v for k, v in call.items() if k not in ("alerts", "now")}
    assert [
        {
            "status": "firing",
            "labels": PAGE,
            "annotations": {"summary": "burning"},
            "startsAt": START,
            "endsAt": None,
            "generatorURL": "",
            "fingerprint": alerts.fingerprint(PAGE),
        }
    ] == call["alerts"]


def test_an_alert_that_fires_and_resolves_within_group_wait_notifies_nothing(bench: Bench) -> None:
    """Resolved before the first flush: no notification, and the group ends."""
    bench.report(PAGE)
    bench.tick()
    bench.clock.advance(10)
    bench.report(PAGE, active=False)
    bench.run(600, step=10)
    with bench.session() as s:
        groups = s.scalar(select(func.count()).select_from(AlertGroupRow))
    assert ([], 0) == (bench.sent, groups)


def test_alerts_joining_a_notified_group_wait_for_the_next_group_interval(bench: Bench) -> None:
    """B joins A's group at 60 s; it goes out with A at the 330 s flush, not before."""
    bench.configure(document(group_by=["alertname"]))
    bench.report(PAGE)
    bench.tick()
    bench.run(60, step=5)
    bench.report({**PAGE, "instance": "b"})
    bench.run(300, step=5)
    assert [30.0, 330.0] == bench.times()
    assert [1, 2] == [len(c["alerts"]) for c in bench.sent]


def test_repeat_interval_rounds_up_to_a_multiple_of_group_interval(bench: Bench) -> None:
    """repeat 12m with group_interval 5m repeats every 15m (at flushes only)."""
    bench.configure(document(group_interval="5m", repeat_interval="12m"))
    bench.report(PAGE, ends_at=START + 10_000)
    bench.tick()
    bench.run(2000, step=10)
    assert [30.0, 930.0, 1830.0] == bench.times()


def test_the_default_repeat_interval_is_four_hours(bench: Bench) -> None:
    """4h is a whole number of 5m intervals: the repeat comes exactly 4h later."""
    bench.report(PAGE, ends_at=START + 20_000)
    bench.tick()
    bench.run(30, step=30)
    bench.run(4 * 3600 + 300, step=300)
    assert [30.0, 30.0 + 4 * 3600] == bench.times()


def test_resolution_is_notified_at_the_next_flush_and_the_group_ends(bench: Bench) -> None:
    """send_resolved: the 330 s flush says resolved, with the alert's end; then silence."""
    bench.report(PAGE)
    bench.tick()
    bench.run(100)
    bench.report(PAGE, active=False)
    bench.run(1000, step=10)
    assert [(30.0, "firing"), (330.0, "resolved")] == [
        (c["now"] - START, c["status"]) for c in bench.sent
    ]
    alert = bench.sent[1]["alerts"][0]
    assert ("resolved", START + 100) == (alert["status"], alert["endsAt"])
    with bench.session() as s:
        assert 0 == s.scalar(select(func.count()).select_from(AlertGroupRow))


def test_flapping_yields_one_notification_stream_per_dedup_key(bench: Bench) -> None:
    """An alert flapping every 40 s for 30 minutes: a few notifications, all one dedup key."""
    for step in range(46):
        bench.report(PAGE, active=step % 2 == 0)
        bench.tick()
        bench.run(40, step=10)
    assert {f"default:{DEFAULT_KEY}"} == {c["dedup_key"] for c in bench.sent}
    assert [
        (30.0, "firing"),
        (630.0, "resolved"),
        (670.0, "firing"),
        (1270.0, "resolved"),
        (1310.0, "firing"),
    ] == [(c["now"] - START, c["status"]) for c in bench.sent]
    assert 46 == len(bench.events())


def test_silences_suppress_exactly_what_they_match_until_they_end(
    bench: Bench, client: TestClient
) -> None:
    """A silence of service=api mutes the api alert only; it goes out at the first flush
    after the silence ends."""
    created = client.post(
        "/api/v1/silences",
        json={"matchers": ['service="api"'], "ends_at": START + 600, "comment": "deploy"},
    )
    assert 201 == created.status_code, created.text
    db = {**PAGE, "service": "db", "sloth_id": "db-avail"}
    bench.report(PAGE, ends_at=START + 5000)
    bench.report(db, ends_at=START + 5000)
    bench.tick()
    api_row = bench.alert(PAGE)
    assert ("suppressed", [created.json()["id"]], "firing") == (
        api_row.state,
        api_row.silenced_by,
        bench.alert(db).state,
    )
    bench.run(1000, step=10)
    assert [(30.0, "db"), (630.0, "api")] == [
        (c["now"] - START, c["group_labels"]["service"]) for c in bench.sent
    ]
    assert ("firing", []) == (bench.alert(PAGE).state, bench.alert(PAGE).silenced_by)


def test_the_default_rule_inhibits_the_same_slos_ticket_while_its_page_fires(bench: Bench) -> None:
    """The page mutes its SLO's ticket (not another SLO's); when the page resolves, the
    ticket goes out at its group's next flush."""
    other = {**TICKET, "sloth_id": "api-latency"}
    for labels in (PAGE, TICKET, other):
        bench.report(labels, ends_at=START + 5000)
    bench.tick()
    ticket = bench.alert(TICKET)
    assert ("suppressed", [alerts.fingerprint(PAGE)]) == (ticket.state, ticket.inhibited_by)
    bench.run(100, step=10)
    assert [
        (30.0, "api-avail", "page", "firing"),
        (30.0, "api-latency", "ticket", "firing"),
    ] == sorted(
        (
            c["now"] - START,
            c["group_labels"]["sloth_id"],
            c["group_labels"]["severity"],
            c["status"],
        )
        for c in bench.sent
    )
    bench.report(PAGE, active=False)
    bench.run(300, step=10)
    assert [
        (330.0, "api-avail", "page", "resolved"),
        (330.0, "api-avail", "ticket", "firing"),
    ] == sorted(
        (
            c["now"] - START,
            c["group_labels"]["sloth_id"],
            c["group_labels"]["severity"],
            c["status"],
        )
        for c in bench.sent[2:]
    )


def test_mute_intervals_follow_the_time_zone_across_dst(bench: Bench) -> None:
    """A route muted 00:00-08:00 New York time first notifies at 08:00:30 local, which is
    13:00:30 UTC before the DST change and 12:00:30 UTC after it."""
    doc = document(
        group_by=["alertname"],
        routes=[{"matchers": ['service="api"'], "mute_time_intervals": ["night"]}],
        time_intervals=[
            {
                "name": "night",
                "time_intervals": [
                    {
                        "times": [{"start_time": "00:00", "end_time": "08:00"}],
                        "location": "America/New_York",
                    }
                ],
            }
        ],
    )
    bench.configure(doc)
    sent_at = []
    for day, fire_utc in ((13, 12), (15, 11)):  # 07:00 EST (UTC-5), 07:00 EDT (UTC-4)
        moment = dt.datetime(2027, 3, day, fire_utc, tzinfo=dt.UTC).timestamp()
        bench.clock.advance(moment - bench.clock.now())
        labels = {**PAGE, "alertname": f"Burn{day}"}
        bench.report(labels, ends_at=moment + 7200)
        bench.tick()
        bench.run(5400, step=30)
        sent_at.append(
            dt.datetime.fromtimestamp(bench.sent[-1]["now"], dt.UTC).strftime("%d %H:%M:%S")
        )
    assert ["13 13:00:30", "15 12:00:30"] == sent_at
    assert 2 == len(bench.sent)


def test_continue_routes_notify_every_matching_receiver(bench: Bench) -> None:
    """A page for api goes to the pager and, with continue, to the api team: two streams."""
    bench.configure(
        document(
            receivers=["pager", "api-team"],
            routes=[
                {"matchers": ['severity="page"'], "receiver": "pager", "continue": True},
                {"matchers": ['service="api"'], "receiver": "api-team"},
            ],
        )
    )
    bench.report(PAGE)
    bench.tick()
    bench.run(30)
    # Without group_by (as Alertmanager) each route holds all its alerts in one group.
    assert [
        ("api-team", '{}/{service="api"}:{}'),
        ("pager", '{}/{severity="page"}:{}'),
    ] == sorted((c["receiver"], c["group_key"]) for c in bench.sent)
    assert 2 == len({c["dedup_key"] for c in bench.sent})


def test_pending_alerts_are_not_routed_until_they_fire(bench: Bench) -> None:
    """for 120 s: the group forms when it fires, and notifies group_wait later."""
    bench.report(PAGE, for_seconds=120)
    bench.run(200, step=5)
    assert [150.0] == bench.times()


def test_the_job_puts_notifications_in_the_notify_outbox(bench: Bench) -> None:
    """Registered jobs: the runner's alerts.dispatch pass enqueues into notify's outbox."""
    assert ["alerts.dispatch", "alerts.retention"] == [
        j.name for j in jobs(bench.app.state.settings)
    ]
    runner = bench.app.state.jobs
    bench.report(PAGE)
    runner.tick()
    for _ in range(30):
        bench.clock.advance(1)
        runner.tick()
    with bench.session() as s:
        rows = list(s.scalars(select(NotificationRow)))
        found = [(r.receiver, r.dedup_key, r.status, r.group_key) for r in rows]
        labels = [a["labels"] for r in rows for a in r.payload["alerts"]]
    assert [("default", f"default:{DEFAULT_KEY}", "firing", DEFAULT_KEY)] == found
    assert [PAGE] == labels


def test_retention_deletes_old_resolved_alerts(bench: Bench) -> None:
    """Resolved alerts go a day after resolving (not while a group still holds them)."""
    bench.report(PAGE)
    bench.report(TICKET)
    bench.report(PAGE, active=False)
    bench.clock.advance(RESOLVED_RETENTION + 1)
    with bench.session() as s:
        retention(s, bench.clock.now())
    with bench.session() as s:
        left = sorted(s.scalars(select(AlertRow.alertname + ":" + AlertRow.state)))
    assert ["Burn:firing"] == left
