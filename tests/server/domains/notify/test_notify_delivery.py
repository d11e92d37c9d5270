"""The outbox delivering to real loopback receivers imitating each vendor, on a virtual clock."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.testclient import TestClient
from notify_helpers import (
    GENIE_KEY,
    ROUTING_KEY,
    Vendor,
    deliver,
    deliverer,
    events,
    put,
    rows,
    vendor_server,
)
from notify_smtp import PASSWORD, USER, smtp_server
from server_helpers import bearer, token_for

from reliant.server.db import transaction
from reliant.server.domains.notify import SECRET_KEY_ENV, enqueue
from reliant.server.domains.notify.delivery import CLAIM_SECONDS, Deliverer
from reliant.server.domains.notify.sender import Sender
from reliant.testing import VirtualClock

SECRET = "whsec-0123456789abcdef"


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The server's secret key."""
    value = Fernet.generate_key().decode()
    monkeypatch.setenv(SECRET_KEY_ENV, value)
    return value


@pytest.fixture
def vendor() -> Iterator[Vendor]:
    """The imitation vendor APIs on loopback."""
    yield from vendor_server()


@pytest.fixture
def run() -> Deliverer:
    """A delivery run with seeded jitter."""
    return deliverer()


def pagerduty(client: TestClient, vendor: Vendor, name: str = "oncall") -> None:
    """A PagerDuty receiver pointed at the imitation Events API."""
    body = {"type": "pagerduty", "routing_key": ROUTING_KEY, "url": f"{vendor.url}/v2/enqueue"}
    assert client.put(f"/api/v1/receivers/{name}", json=body).status_code in (200, 201)


def opsgenie(client: TestClient, vendor: Vendor, name: str = "genie") -> None:
    """An Opsgenie receiver pointed at the imitation Alert API."""
    body = {"type": "opsgenie", "api_key": GENIE_KEY, "url": vendor.url}
    assert client.put(f"/api/v1/receivers/{name}", json=body).status_code in (200, 201)


def verify(secret: str, header: str, body: bytes, now: float, tolerance: float = 300.0) -> bool:
    """docs/notifications.md's verification snippet, verbatim but for ``now``."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(fields["t"])
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(now - timestamp) <= tolerance
    return fresh and hmac.compare_digest(expected, fields["v1"])


def actions(vendor: Vendor) -> list[tuple[str, str]]:
    """(dedup key, action) of every event PagerDuty accepted, in order."""
    return [(s.json["dedup_key"], s.json["event_action"]) for s in vendor.accepted("/v2/enqueue")]


def until_idle(app: FastAPI, clock: VirtualClock, run: Deliverer, *, within: float) -> None:
    """Run the job every 2 s of virtual time until nothing is pending (at most ``within`` s)."""
    end = clock.now() + within
    while any(r.state == "pending" for r in rows(app)) and clock.now() < end:
        clock.advance(2.0)
        deliver(app, clock.now(), run)


def test_pagerduty_trigger_then_resolve(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor, run: Deliverer
) -> None:
    """Each notification reaches PagerDuty once (202) and is marked delivered, with events."""
    pagerduty(client, vendor)
    put(app, clock.now(), receiver="oncall", key="payments-slo")
    deliver(app, clock.now(), run)
    put(app, clock.now(), receiver="oncall", key="payments-slo", status="resolved")
    deliver(app, clock.now(), run)
    delivered = events(app, "notification.delivered")
    assert (
        [("payments-slo", "trigger"), ("payments-slo", "resolve")],
        ["delivered", "delivered"],
        [("firing", 202), ("resolved", 202)],
    ) == (
        actions(vendor),
        [r.state for r in rows(app)],
        [(e["status"], e["status_code"]) for e in delivered],
    )


def test_resolve_never_overtakes_its_trigger(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor, run: Deliverer
) -> None:
    """While a trigger is being retried, the resolve under its key waits behind it."""
    pagerduty(client, vendor)
    vendor.forced.append((503, "", {}))
    put(app, clock.now(), receiver="oncall", key="k")
    put(app, clock.now(), receiver="oncall", key="k", status="resolved")
    deliver(app, clock.now(), run)
    assert [503] == [s.status for s in vendor.seen]
    until_idle(app, clock, run, within=60.0)
    sent = [(s.json["event_action"], s.status) for s in vendor.seen]
    assert [("trigger", 503), ("trigger", 202), ("resolve", 202)] == sent


def test_400_is_a_dead_letter_without_retry(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor, run: Deliverer
) -> None:
    """PagerDuty's 400 is not retried: the notification is dead, with the reason, listed."""
    pagerduty(client, vendor)
    vendor.forced.append(
        (400, '{"status":"invalid event","message":"Event object is invalid"}', {})
    )
    put(app, clock.now(), receiver="oncall", key="k")
    deliver(app, clock.now(), run)
    clock.advance(3600.0)
    deliver(app, clock.now(), run)
    dead = client.get("/api/v1/notifications", params={"state": "dead"}).json()["items"]
    failed = events(app, "notification.failed")
    assert (1, 1, 'HTTP 400: {"status":"invalid event"', 400) == (
        len(vendor.seen),
        len(dead),
        dead[0]["last_error"][:35],
        failed[0]["status_code"],
    )


def test_429_and_5xx_are_retried_with_backoff(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor, run: Deliverer
) -> None:
    """429 (honouring Retry-After) and 500 are retried; the third attempt is delivered."""
    pagerduty(client, vendor)
    vendor.forced += [(429, "", {"Retry-After": "60"}), (500, "", {})]
    put(app, clock.now(), receiver="oncall", key="k")
    deliver(app, clock.now(), run)
    clock.advance(59.0)
    deliver(app, clock.now(), run)
    assert 1 == len(vendor.seen)
    until_idle(app, clock, run, within=120.0)
    history = client.get(f"/api/v1/notifications/{rows(app)[0].id}").json()["history"]
    assert (["retry", "retry", "delivered"], [429, 500, 202]) == (
        [h["outcome"] for h in history],
        [h["status_code"] for h in history],
    )


def test_five_minute_outage_delivers_everything_once(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor, run: Deliverer
) -> None:
    """Receivers down for 5 minutes: afterwards every notification arrives, none twice per
    dedup key and action, each resolve after its trigger."""
    pagerduty(client, vendor)
    opsgenie(client, vendor)
    vendor.down()
    start = clock.now()
    for i in range(5):
        for receiver in ("oncall", "genie"):
            put(app, clock.now(), receiver=receiver, key=f"slo-{i}")
    while clock.now() < start + 300.0:
        if clock.now() == start + 60.0:
            for receiver in ("oncall", "genie"):
                put(app, clock.now(), receiver=receiver, key="slo-0", status="resolved")
                put(app, clock.now(), receiver=receiver, key="slo-1", status="resolved")
        clock.advance(2.0)
        deliver(app, clock.now(), run)
    paused = client.get("/api/v1/receivers/oncall").json()
    vendor.up()
    until_idle(app, clock, run, within=400.0)
    pd = Counter(actions(vendor))
    genie = Counter(
        (s.json["alias"], "create")
        if s.path == "/v2/alerts"
        else (unquote(s.raw_path.split("/")[3]), "close")
        for s in vendor.accepted("/v2/alerts")
    )
    assert (True, 0, {1}, 7, {1}, 7) == (
        paused["failures"] > 0 and paused["paused_until"] is not None,
        sum(r.state != "delivered" for r in rows(app)),
        set(pd.values()),
        len(pd),
        set(genie.values()),
        len(genie),
    )
    order = actions(vendor)
    assert order.index(("slo-0", "trigger")) < order.index(("slo-0", "resolve"))


def test_opsgenie_create_then_close_by_alias(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor, run: Deliverer
) -> None:
    """Create POST /v2/alerts with the GenieKey header; resolve closes by alias (202 each)."""
    opsgenie(client, vendor)
    put(app, clock.now(), receiver="genie", key="slo/a")
    put(app, clock.now(), receiver="genie", key="slo/a", status="resolved")
    until_idle(app, clock, run, within=10.0)
    create, close = vendor.seen
    assert (
        (202, "slo/a", "P1", f"GenieKey {GENIE_KEY}"),
        (202, "/v2/alerts/slo%2Fa/close", ["alias"]),
    ) == (
        (
            create.status,
            create.json["alias"],
            create.json["priority"],
            create.headers["authorization"],
        ),
        (close.status, close.raw_path, close.query["identifierType"]),
    )


@pytest.mark.parametrize(
    ("answer", "state", "attempts"),
    [
        ((200, "ok", {}), "delivered", 1),
        ((404, "channel_not_found", {}), "dead", 1),
        ((410, "channel_is_archived", {}), "dead", 1),
        ((500, "rollup_error", {}), "pending", 1),
    ],
)
def test_slack_answers(
    client: TestClient,
    app: FastAPI,
    clock: VirtualClock,
    vendor: Vendor,
    run: Deliverer,
    answer: tuple[int, str, dict[str, str]],
    state: str,
    attempts: int,
) -> None:
    """Slack: 200 ok delivered; 404/410 dead; 500 rollup_error retried."""
    client.put(
        "/api/v1/receivers/chat",
        json={"type": "slack", "url": f"{vendor.url}/slack/T000/B000/XXXX"},
    )
    vendor.forced.append(answer)
    put(app, clock.now(), receiver="chat", key="k")
    deliver(app, clock.now(), run)
    row = rows(app)[0]
    assert (state, attempts) == (row.state, row.attempts)


def test_slack_message_is_accepted_by_the_imitation(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor, run: Deliverer
) -> None:
    """The real message passes the imitation's checks: text and at most 50 blocks."""
    client.put(
        "/api/v1/receivers/chat",
        json={"type": "slack", "url": f"{vendor.url}/slack/T000/B000/XXXX"},
    )
    put(app, clock.now(), receiver="chat", key="k")
    deliver(app, clock.now(), run)
    assert ("ok", "delivered") == (vendor.seen[0].status == 200 and "ok", rows(app)[0].state)


def test_webhook_signature_verifies_and_idempotency_key_is_stable(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor, run: Deliverer
) -> None:
    """Each attempt is signed at its own time; the idempotency key is the same on a retry."""
    body = {"type": "webhook", "url": f"{vendor.url}/hook", "secret": SECRET}
    client.put("/api/v1/receivers/hook", json=body)
    vendor.forced.append((500, "", {}))
    put(app, clock.now(), receiver="hook", key="k")
    until_idle(app, clock, run, within=60.0)
    first, second = vendor.seen
    signatures = [s.headers["x-reliant-signature"] for s in (first, second)]
    assert (True, True, False, True, "k", "firing") == (
        verify(SECRET, signatures[0], first.body, now=clock.now()),
        verify(SECRET, signatures[1], second.body, now=clock.now()),
        verify("another-secret-value", signatures[1], second.body, now=clock.now()),
        first.headers["idempotency-key"] == second.headers["idempotency-key"],
        second.json["dedupKey"],
        second.json["status"],
    )
    assert not verify(SECRET, signatures[1], second.body, now=clock.now() + 3600.0)


def test_email_over_plain_smtp(
    client: TestClient, app: FastAPI, clock: VirtualClock, run: Deliverer
) -> None:
    """An aiosmtpd server on loopback receives the email: envelope, subject, both bodies."""
    with smtp_server() as (mailbox, port, _):
        body = {
            "type": "email",
            "host": "127.0.0.1",
            "port": port,
            "tls": "none",
            "from": "reliant@example.test",
            "to": ["oncall@example.test", "boss@example.test"],
        }
        client.put("/api/v1/receivers/mail", json=body)
        put(app, clock.now(), receiver="mail", key="k")
        deliver(app, clock.now(), run)
    sender, recipients, message = mailbox.received[0]
    kinds = [part.get_content_type() for part in message.walk()]
    assert (
        "reliant@example.test",
        ["oncall@example.test", "boss@example.test"],
        "[FIRING:1] HighErrorBudgetBurn (payments page): 2% of the error budget burned in 1h",
        ["multipart/alternative", "text/plain", "text/html"],
        "delivered",
    ) == (sender, recipients, message["Subject"], kinds, rows(app)[0].state)


@pytest.mark.parametrize(("password", "state"), [(PASSWORD, "delivered"), ("wrong", "dead")])
def test_email_with_starttls_and_login(
    client: TestClient,
    app: FastAPI,
    clock: VirtualClock,
    tmp_path: Path,
    password: str,
    state: str,
) -> None:
    """STARTTLS then AUTH with the decrypted password; a wrong one (535) is a dead letter."""
    with smtp_server(tmp_path) as (mailbox, port, context):
        body = {
            "type": "email",
            "host": "127.0.0.1",
            "port": port,
            "username": USER,
            "password": password,
            "from": "reliant@example.test",
            "to": ["oncall@example.test"],
        }
        client.put("/api/v1/receivers/mail", json=body)
        put(app, clock.now(), receiver="mail", key="k")
        with Sender(ssl_context=context) as sender:
            deliver(app, clock.now(), Deliverer(sender=sender))
    row = rows(app)[0]
    assert (state, len(mailbox.received), row.last_status_code) == (
        row.state,
        1 if state == "delivered" else 0,
        250 if state == "delivered" else 535,
    )


def test_gives_up_after_a_day(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor, run: Deliverer
) -> None:
    """A receiver down for good: retried every 150–300 s once the backoff is capped, then
    dead after 24 h."""
    pagerduty(client, vendor)
    vendor.down()
    put(app, clock.now(), receiver="oncall", key="k")
    start = clock.now()
    deliver(app, clock.now(), run)
    while rows(app)[0].state == "pending" and clock.now() < start + 90_000.0:
        clock.advance(max(0.0, rows(app)[0].next_attempt_at - clock.now()))
        deliver(app, clock.now(), run)
    row = rows(app)[0]
    assert ("dead", True, True) == (
        row.state,
        str(row.last_error).startswith("gave up after 24 h; last error: ConnectError"),
        86400 / 300 <= row.attempts <= 86400 / 150 + 10,
    )


def test_retry_resends_a_dead_letter(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor, run: Deliverer
) -> None:
    """POST …/retry puts a dead letter back; it is then delivered; retrying again is 409."""
    pagerduty(client, vendor)
    vendor.forced.append((400, "bad", {}))
    put(app, clock.now(), receiver="oncall", key="k")
    deliver(app, clock.now(), run)
    ident = rows(app)[0].id
    retried = client.post(f"/api/v1/notifications/{ident}/retry")
    deliver(app, clock.now(), run)
    assert (200, "pending", "delivered", 409, 1) == (
        retried.status_code,
        retried.json()["state"],
        rows(app)[0].state,
        client.post(f"/api/v1/notifications/{ident}/retry").status_code,
        len(events(app, "notification.retried")),
    )


def test_retry_of_a_superseded_dead_letter_is_409(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor, run: Deliverer
) -> None:
    """A dead trigger whose resolve was delivered is not re-sent (it would reopen the alert)."""
    pagerduty(client, vendor)
    vendor.forced.append((400, "bad", {}))
    put(app, clock.now(), receiver="oncall", key="k")
    put(app, clock.now(), receiver="oncall", key="k", status="resolved")
    until_idle(app, clock, run, within=10.0)
    response = client.post(f"/api/v1/notifications/{rows(app)[0].id}/retry")
    assert (409, True) == (response.status_code, "superseded" in response.json()["detail"])


def test_notification_roles(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor, run: Deliverer
) -> None:
    """Viewers list notifications but may not retry; operators may."""
    pagerduty(client, vendor)
    vendor.forced.append((400, "bad", {}))
    put(app, clock.now(), receiver="oncall", key="k")
    deliver(app, clock.now(), run)
    viewer = bearer(token_for(client, "viewer"))
    operator = bearer(token_for(client, "operator"))
    path = f"/api/v1/notifications/{rows(app)[0].id}"
    assert (200, 403, 200) == (
        client.get("/api/v1/notifications", headers=viewer).status_code,
        client.post(f"{path}/retry", headers=viewer).status_code,
        client.post(f"{path}/retry", headers=operator).status_code,
    )


def test_list_filters_and_paginates_newest_first(
    client: TestClient, app: FastAPI, clock: VirtualClock
) -> None:
    """Notifications list newest first, by state and receiver, in pages."""
    for i in range(5):
        put(app, clock.now(), receiver="a" if i % 2 else "b", key=f"k{i}")
    first = client.get("/api/v1/notifications", params={"limit": 2}).json()
    rest = client.get("/api/v1/notifications", params={"limit": 5, "cursor": first["next"]}).json()
    only_a = client.get("/api/v1/notifications", params={"receiver": "a"}).json()["items"]
    none_dead = client.get("/api/v1/notifications", params={"state": "dead"}).json()["items"]
    assert (["k4", "k3"], ["k2", "k1", "k0"], None, ["k3", "k1"], []) == (
        [n["dedup_key"] for n in first["items"]],
        [n["dedup_key"] for n in rest["items"]],
        rest["next"],
        [n["dedup_key"] for n in only_a],
        none_dead,
    )


def test_unknown_receiver_is_a_dead_letter(
    app: FastAPI, clock: VirtualClock, run: Deliverer
) -> None:
    """A notification for a receiver that does not exist dies saying so."""
    put(app, clock.now(), receiver="ghost", key="k")
    deliver(app, clock.now(), run)
    row = rows(app)[0]
    assert ("dead", True) == (row.state, "no receiver named 'ghost'" in str(row.last_error))


def test_deleting_a_receiver_kills_its_pending_notifications(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor
) -> None:
    """Pending notifications of a deleted receiver become dead letters at once."""
    pagerduty(client, vendor)
    put(app, clock.now(), receiver="oncall", key="k")
    client.delete("/api/v1/receivers/oncall")
    row = rows(app)[0]
    assert ("dead", "receiver 'oncall' was deleted") == (row.state, row.last_error)


def test_send_resolved_false_drops_resolves(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor
) -> None:
    """With send_resolved false, resolved notifications are not queued."""
    body = {"type": "pagerduty", "routing_key": ROUTING_KEY, "send_resolved": False}
    client.put("/api/v1/receivers/oncall", json=body)
    put(app, clock.now(), receiver="oncall", key="k")
    put(app, clock.now(), receiver="oncall", key="k", status="resolved")
    assert ["firing"] == [r.status for r in rows(app)]


def test_enqueue_joins_the_callers_transaction(app: FastAPI, clock: VirtualClock) -> None:
    """A rolled-back transaction leaves no notification behind."""

    def enqueue_then_fail() -> None:
        with transaction(app.state.sessions) as session:
            enqueue(
                session,
                receiver="oncall",
                dedup_key="k",
                status="firing",
                group_key="g",
                alerts=[],
                group_labels={},
                common_labels={},
                common_annotations={},
                now=clock.now(),
            )
            raise RuntimeError("the caller failed")

    with pytest.raises(RuntimeError):
        enqueue_then_fail()
    assert [] == rows(app)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("status", "exploded", "status must be one of"), ("dedup_key", "", "dedup_key")],
)
def test_enqueue_refuses_bad_arguments(app: FastAPI, field: str, value: str, message: str) -> None:
    """An unknown status or an empty dedup key raises ValueError."""
    arguments = {"status": "firing", "dedup_key": "k", field: value}
    with pytest.raises(ValueError, match=message), transaction(app.state.sessions) as session:
        enqueue(
            session,
            receiver="oncall",
            group_key="g",
            alerts=[],
            group_labels={},
            common_labels={},
            common_annotations={},
            now=0.0,
            **arguments,
        )


def test_alerts_are_stored_in_webhook_form(app: FastAPI, clock: VirtualClock) -> None:
    """Alert times given as epoch seconds are stored as RFC 3339; NULs are replaced."""
    with transaction(app.state.sessions) as session:
        enqueue(
            session,
            receiver="oncall",
            dedup_key="k",
            status="firing",
            group_key="g",
            alerts=[{"labels": {"alertname": "A\x00"}, "starts_at": 1_800_000_000.0}],
            group_labels={},
            common_labels={},
            common_annotations={},
            now=clock.now(),
        )
    stored = rows(app)[0].payload["alerts"][0]
    assert ("2027-01-15T08:00:00Z", "0001-01-01T00:00:00Z", "A\ufffd", "firing") == (
        stored["startsAt"],
        stored["endsAt"],
        stored["labels"]["alertname"],
        stored["status"],
    )


def test_without_the_key_delivery_waits_then_resumes(
    client: TestClient,
    app: FastAPI,
    clock: VirtualClock,
    vendor: Vendor,
    run: Deliverer,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
) -> None:
    """A server restarted without its key retries (saying why); with the key back, it sends."""
    pagerduty(client, vendor)
    put(app, clock.now(), receiver="oncall", key="k")
    monkeypatch.delenv(SECRET_KEY_ENV)
    deliver(app, clock.now(), run)
    waiting = rows(app)[0]
    monkeypatch.setenv(SECRET_KEY_ENV, f"{Fernet.generate_key().decode()},{key}")
    until_idle(app, clock, run, within=60.0)
    assert ("pending", True, "delivered", 1) == (
        waiting.state,
        "RELIANT_SECRET_KEY" in str(waiting.last_error),
        rows(app)[0].state,
        len(vendor.seen),
    )


def test_the_job_runner_delivers(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor
) -> None:
    """The notify.deliver job, run by the leader-elected runner, sends the outbox."""
    pagerduty(client, vendor)
    put(app, clock.now(), receiver="oncall", key="k")
    ran = app.state.jobs.tick()
    assert (True, "delivered") == ("notify.deliver" in ran, rows(app)[0].state)


def test_retention_prunes_old_finished_notifications(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor, run: Deliverer
) -> None:
    """Delivered notifications go after 7 days, dead letters after 30."""
    from reliant.server.domains.notify.jobs import prune

    pagerduty(client, vendor)
    vendor.forced.append((400, "bad", {}))
    put(app, clock.now(), receiver="oncall", key="dead")
    put(app, clock.now(), receiver="oncall", key="fine")
    deliver(app, clock.now(), run)
    clock.advance(8 * 86400.0)
    with transaction(app.state.sessions) as session:
        prune(session, clock.now())
    kept = [r.dedup_key for r in rows(app)]
    clock.advance(23 * 86400.0)
    with transaction(app.state.sessions) as session:
        prune(session, clock.now())
    assert (["dead"], []) == (kept, rows(app))


def test_no_database_lock_is_held_while_sending(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor, run: Deliverer
) -> None:
    """While a request is in flight, other transactions write to the store freely."""
    pagerduty(client, vendor)
    written: list[int] = []

    def write_meanwhile(seen: object) -> None:
        put(app, clock.now(), receiver="oncall", key=f"meanwhile-{len(written)}")
        written.append(1)

    vendor.on_request = write_meanwhile
    put(app, clock.now(), receiver="oncall", key="k")
    deliver(app, clock.now(), run)
    assert ([1], "delivered") == (written, rows(app)[0].state)


def test_claims_of_a_crashed_run_expire_and_are_sent_again(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor, run: Deliverer
) -> None:
    """A run that claimed but never sent (a crash) delays delivery by the claim, no more."""
    pagerduty(client, vendor)
    put(app, clock.now(), receiver="oncall", key="k")
    with transaction(app.state.sessions) as session:
        claimed = run.claim(session, clock.now())  # committed, never sent
    clock.advance(60.0)
    deliver(app, clock.now(), run)
    early = len(vendor.seen)
    clock.advance(CLAIM_SECONDS)
    deliver(app, clock.now(), run)
    assert (1, 0, "delivered", 1) == (
        len(claimed),
        early,
        rows(app)[0].state,
        rows(app)[0].attempts,
    )


def test_a_failing_receiver_gets_one_attempt_per_run(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor, run: Deliverer
) -> None:
    """After a retryable failure, the run releases that receiver's other notifications unsent."""
    pagerduty(client, vendor)
    vendor.down()
    for i in range(3):
        put(app, clock.now(), receiver="oncall", key=f"k{i}")
    deliver(app, clock.now(), run)
    assert ([1, 0, 0], [None, None, None]) == (
        [r.attempts for r in rows(app)],
        [r.claimed_until for r in rows(app)],
    )


def test_the_send_budget_releases_the_rest(
    client: TestClient, app: FastAPI, clock: VirtualClock, vendor: Vendor
) -> None:
    """Past the run's send budget, claimed notifications are released for the next run."""
    pagerduty(client, vendor)
    ticks = iter(range(100))
    slow = deliverer()
    slow.budget, slow.monotonic = 1.5, lambda: float(next(ticks))
    for i in range(3):
        put(app, clock.now(), receiver="oncall", key=f"k{i}")
    deliver(app, clock.now(), slow)
    first = [r.state for r in rows(app)]
    deliver(app, clock.now(), deliverer())
    assert (["delivered", "pending", "pending"], ["delivered"] * 3, 3) == (
        first,
        [r.state for r in rows(app)],
        len(vendor.seen),
    )
