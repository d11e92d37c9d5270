"""Receivers through the API: validation, masking, encryption at rest, roles, test sends."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.testclient import TestClient
from notify_helpers import GENIE_KEY, ROUTING_KEY, Vendor, vendor_server
from server_helpers import bearer, token_for
from sqlalchemy import select, text

from reliant.server.auth.models import AuditRecord
from reliant.server.db import transaction
from reliant.server.domains.notify import SECRET_KEY_ENV, crypto
from reliant.server.domains.notify.jobs import jobs, rekey
from reliant.server.events import EventRow
from reliant.server.settings import Settings

KEY = Fernet.generate_key().decode()
PAGERDUTY = {"type": "pagerduty", "routing_key": ROUTING_KEY}


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The server's secret key, set in its environment."""
    monkeypatch.setenv(SECRET_KEY_ENV, KEY)
    return KEY


@pytest.fixture
def vendor() -> Iterator[Vendor]:
    """The imitation vendor APIs on loopback."""
    yield from vendor_server()


def raw_secrets(app: FastAPI, name: str) -> str:
    """The stored secrets column of a receiver, as the database holds it."""
    with transaction(app.state.sessions) as session:
        query = text("SELECT secrets FROM notify_receivers WHERE name = :name")
        return str(session.execute(query, {"name": name}).scalar_one())


def test_put_creates_then_replaces(client: TestClient, key: str) -> None:
    """PUT creates (201) then replaces (200); GET reads it back."""
    created = client.put("/api/v1/receivers/oncall", json=PAGERDUTY)
    replaced = client.put("/api/v1/receivers/oncall", json={**PAGERDUTY, "source": "prod"})
    body = client.get("/api/v1/receivers/oncall").json()
    assert (201, 200, "pagerduty", "prod", True) == (
        created.status_code,
        replaced.status_code,
        body["type"],
        body["settings"]["source"],
        body["send_resolved"],
    )


def test_reads_mask_secrets(client: TestClient, key: str) -> None:
    """Secret settings read back as ******** in GET, lists and PUT answers."""
    put = client.put(
        "/api/v1/receivers/hook",
        json={"type": "webhook", "url": "http://h.test/x", "secret": "s" * 20},
    ).json()
    one = client.get("/api/v1/receivers/hook").json()
    listed = client.get("/api/v1/receivers").json()["items"][0]
    masked = {"url": "********", "secret": "********", "max_alerts": 0}
    assert (masked, masked, masked) == (put["settings"], one["settings"], listed["settings"])


def test_secrets_are_encrypted_at_rest(client: TestClient, app: FastAPI, key: str) -> None:
    """The secrets column holds a Fernet token that decrypts to the secrets, not the secrets."""
    client.put("/api/v1/receivers/oncall", json=PAGERDUTY)
    token = raw_secrets(app, "oncall")
    assert (False, {"routing_key": ROUTING_KEY}) == (
        ROUTING_KEY in token,
        crypto.keyring({SECRET_KEY_ENV: key}).decrypt(token),
    )


def test_secrets_stay_out_of_audit_and_events(client: TestClient, app: FastAPI, key: str) -> None:
    """Audit records and receiver events never hold a secret's value."""
    client.put("/api/v1/receivers/oncall", json=PAGERDUTY)
    client.put("/api/v1/receivers/oncall", json={**PAGERDUTY, "routing_key": "Z" * 32})
    with transaction(app.state.sessions) as session:
        audits = [(r.action, r.before, r.after) for r in session.scalars(select(AuditRecord))]
        found = session.scalars(select(EventRow).where(EventRow.kind.like("receiver.%")))
        evented = [(r.kind, r.attributes) for r in found]
    dumped = json.dumps([audits, evented])
    assert (False, False) == (ROUTING_KEY in dumped, "Z" * 32 in dumped)
    assert [
        ("receiver.created", {"name": "oncall", "type": "pagerduty", "changed": []}),
        (
            "receiver.updated",
            {"name": "oncall", "type": "pagerduty", "changed": ["settings.routing_key"]},
        ),
    ] == evented


def test_omitted_secrets_are_kept(client: TestClient, app: FastAPI, key: str) -> None:
    """A PUT without the secret keeps the stored one (same type)."""
    client.put("/api/v1/receivers/oncall", json=PAGERDUTY)
    response = client.put("/api/v1/receivers/oncall", json={"type": "pagerduty", "source": "x"})
    token = raw_secrets(app, "oncall")
    assert (200, {"routing_key": ROUTING_KEY}) == (
        response.status_code,
        crypto.keyring().decrypt(token),
    )


def test_identical_put_changes_nothing(client: TestClient, app: FastAPI, key: str) -> None:
    """Writing what is stored, secret included, makes no audit record or event."""
    client.put("/api/v1/receivers/oncall", json=PAGERDUTY)
    client.put("/api/v1/receivers/oncall", json=PAGERDUTY)
    with transaction(app.state.sessions) as session:
        kinds = [r.kind for r in session.scalars(select(EventRow)) if r.kind.startswith("receiver")]
    assert ["receiver.created"] == kinds


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "pagerduty", "routing_key": "short"}, "routing_key"),
        ({"type": "pagerduty"}, "routing_key"),
        ({"type": "opsgenie", "api_key": "k", "region": "mars"}, "region"),
        ({"type": "slack", "url": "ftp://hooks.test/x"}, "url"),
        ({"type": "slack"}, "url"),
        ({"type": "webhook", "url": "http://h.test", "secret": "short"}, "secret"),
        ({"type": "webhook", "url": "http://h.test"}, "secret"),
        ({"type": "email", "host": "smtp.test", "from": "nobody", "to": ["a@x.test"]}, "from"),
        ({"type": "email", "host": "smtp.test", "from": "r@x.test", "to": []}, "to"),
        (
            {"type": "email", "host": "smtp.test", "from": "r@x.test", "to": ["a@x"], "tls": "x"},
            "tls",
        ),
        ({"type": "fax", "number": "1"}, "type"),
        ({**PAGERDUTY, "colour": "red"}, "colour"),
        ({**PAGERDUTY, "source": "nul\u0000"}, "body"),
    ],
)
def test_bad_configs_are_422_naming_the_field(
    client: TestClient, key: str, body: dict[str, Any], field: str
) -> None:
    """An invalid receiver is refused with 422 naming the offending field (in an error's
    location, or its message when the type itself is wrong)."""
    response = client.put("/api/v1/receivers/bad", json=body)
    errors = response.json().get("errors", [])
    named = [".".join(map(str, e["loc"])) + " " + e["msg"] for e in errors]
    assert (422, True) == (response.status_code, any(field in text for text in named))


def test_email_port_follows_the_tls_mode(client: TestClient, key: str) -> None:
    """Without a port: 587 for STARTTLS, 465 for SSL, 25 for none."""
    ports = []
    for tls in ("starttls", "ssl", "none"):
        body = {
            "type": "email",
            "host": "smtp.test",
            "tls": tls,
            "from": "r@x.test",
            "to": ["a@x.test"],
        }
        ports.append(
            client.put(f"/api/v1/receivers/mail-{tls}", json=body).json()["settings"]["port"]
        )
    assert [587, 465, 25] == ports


def test_without_a_key_secret_writes_are_409_and_explain(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no RELIANT_SECRET_KEY the server runs, but writing a secret is 409 saying how."""
    monkeypatch.delenv(SECRET_KEY_ENV, raising=False)
    response = client.put("/api/v1/receivers/oncall", json=PAGERDUTY)
    no_secret = {"type": "email", "host": "smtp.test", "from": "r@x.test", "to": ["a@x.test"]}
    assert (409, True, 201) == (
        response.status_code,
        "set RELIANT_SECRET_KEY" in response.json()["detail"],
        client.put("/api/v1/receivers/mail", json=no_secret).status_code,
    )


def test_server_warns_at_start_without_a_key(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Collecting the jobs (at server start) logs a warning naming RELIANT_SECRET_KEY."""
    monkeypatch.delenv(SECRET_KEY_ENV, raising=False)
    with caplog.at_level(logging.WARNING, logger="reliant.server.notify"):
        jobs(settings)
    assert any(SECRET_KEY_ENV in r.getMessage() for r in caplog.records)


def test_rotation_keeps_receivers_readable_and_rekeys(
    client: TestClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    """After NEW,OLD: secrets still decrypt; the rekey job moves them to NEW; OLD can go."""
    client.put("/api/v1/receivers/oncall", json=PAGERDUTY)
    new = Fernet.generate_key().decode()
    monkeypatch.setenv(SECRET_KEY_ENV, f"{new},{key}")
    with transaction(app.state.sessions) as session:
        moved = rekey(session, 0.0)
    with transaction(app.state.sessions) as session:
        again = rekey(session, 0.0)
    token = raw_secrets(app, "oncall")
    assert (1, 0, {"routing_key": ROUTING_KEY}) == (
        moved,
        again,
        crypto.keyring({SECRET_KEY_ENV: new}).decrypt(token),
    )


def test_keeping_secrets_under_a_lost_key_is_409(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    """Replacing one of two secrets when no key decrypts the other is 409; both works."""
    hook = {"type": "webhook", "url": "http://h.test/x", "secret": "s" * 20}
    client.put("/api/v1/receivers/hook", json=hook)
    monkeypatch.setenv(SECRET_KEY_ENV, Fernet.generate_key().decode())
    partial = client.put("/api/v1/receivers/hook", json={"type": "webhook", "secret": "t" * 20})
    full = client.put("/api/v1/receivers/hook", json={**hook, "secret": "t" * 20})
    assert (409, 200) == (partial.status_code, full.status_code)


def test_roles(client: TestClient, key: str) -> None:
    """Viewers read; operators change what sends no secret elsewhere; admins write secrets."""
    viewer = bearer(token_for(client, "viewer"))
    operator = bearer(token_for(client, "operator"))
    client.put("/api/v1/receivers/oncall", json=PAGERDUTY)
    moved = {"type": "pagerduty", "url": "http://evil.test/v2/enqueue"}
    results = [
        client.get("/api/v1/receivers/oncall", headers=viewer).status_code,
        client.put(
            "/api/v1/receivers/oncall", json={"type": "pagerduty"}, headers=viewer
        ).status_code,
        client.put("/api/v1/receivers/oncall", json=PAGERDUTY, headers=operator).status_code,
        client.put("/api/v1/receivers/oncall", json=moved, headers=operator).status_code,
        client.put(
            "/api/v1/receivers/oncall",
            json={"type": "pagerduty", "send_resolved": False},
            headers=operator,
        ).status_code,
        client.put("/api/v1/receivers/oncall", json=moved).status_code,
        client.delete("/api/v1/receivers/oncall", headers=viewer).status_code,
        client.delete("/api/v1/receivers/oncall", headers=operator).status_code,
    ]
    assert [200, 403, 403, 403, 200, 200, 403, 204] == results


def test_operator_403_says_admin_is_needed(client: TestClient, key: str) -> None:
    """The refusal says what needs the admin role."""
    operator = bearer(token_for(client, "operator"))
    response = client.put("/api/v1/receivers/oncall", json=PAGERDUTY, headers=operator)
    assert "writing secrets of a receiver needs the admin role" == response.json()["detail"]


def test_list_paginates_by_name(client: TestClient, key: str) -> None:
    """Receivers list by name in pages joined by the next cursor."""
    for name in ("c", "a", "b"):
        client.put(f"/api/v1/receivers/{name}", json=PAGERDUTY)
    first = client.get("/api/v1/receivers", params={"limit": 2}).json()
    second = client.get("/api/v1/receivers", params={"limit": 2, "cursor": first["next"]}).json()
    assert (["a", "b"], ["c"], None) == (
        [r["name"] for r in first["items"]],
        [r["name"] for r in second["items"]],
        second["next"],
    )


def test_delete_then_404(client: TestClient, key: str) -> None:
    """A deleted receiver is gone; deleting or reading it again is 404."""
    client.put("/api/v1/receivers/oncall", json=PAGERDUTY)
    assert (204, 404, 404) == (
        client.delete("/api/v1/receivers/oncall").status_code,
        client.get("/api/v1/receivers/oncall").status_code,
        client.delete("/api/v1/receivers/oncall").status_code,
    )


def test_test_send_reaches_pagerduty(client: TestClient, vendor: Vendor, key: str) -> None:
    """POST …/test sends an info-severity trigger with the decrypted routing key."""
    client.put("/api/v1/receivers/oncall", json={**PAGERDUTY, "url": f"{vendor.url}/v2/enqueue"})
    result = client.post("/api/v1/receivers/oncall/test").json()
    event = vendor.accepted()[0].json
    assert (True, 202, ROUTING_KEY, "info", "trigger") == (
        result["delivered"],
        result["status_code"],
        event["routing_key"],
        event["payload"]["severity"],
        event["event_action"],
    )


def test_test_send_reports_a_refusal(client: TestClient, vendor: Vendor, key: str) -> None:
    """A receiver refusing the test answers delivered false with its answer."""
    body = {"type": "opsgenie", "api_key": "wrong", "url": vendor.url}
    client.put("/api/v1/receivers/genie", json=body)
    result = client.post("/api/v1/receivers/genie/test").json()
    assert (False, "dead", 401) == (result["delivered"], result["outcome"], result["status_code"])


def test_test_send_to_opsgenie_is_accepted(client: TestClient, vendor: Vendor, key: str) -> None:
    """Opsgenie answers the test's create with 202 and a requestId."""
    client.put(
        "/api/v1/receivers/genie",
        json={"type": "opsgenie", "api_key": GENIE_KEY, "url": vendor.url},
    )
    result = client.post("/api/v1/receivers/genie/test").json()
    assert (True, True) == (result["delivered"], "requestId" in result["detail"])


def test_test_send_of_an_unknown_receiver_is_404(client: TestClient) -> None:
    """Testing a receiver that does not exist is 404."""
    assert 404 == client.post("/api/v1/receivers/nobody/test").status_code
