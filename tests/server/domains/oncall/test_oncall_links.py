"""Signed acknowledge and resolve links in page notifications, and how each receiver type
shows them.

Opening a link (GET) shows a confirmation form and changes nothing — mail scanners fetch
links; posting the form with the same signature acts, without any login, as
``link:<receiver>``. A changed or expired signature is refused with 403.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient
from oncall_helpers import Desk
from sqlalchemy import select

from reliant.server.domains.notify import payloads
from reliant.server.domains.notify.models import NotificationRow
from reliant.server.domains.notify.service import enqueue, notification_of
from reliant.server.domains.oncall.links import LINK_TTL

BASE = "http://127.0.0.1:7474"


def paged(desk: Desk) -> dict[str, str]:
    """Page alice; the links of her notification, by text."""
    desk.setup()
    desk.report()
    desk.run_until(lambda: bool(desk.outbox()), within=10, step=1)
    return {link["text"]: link["href"] for link in desk.payloads()[0]["links"]}


def local(href: str) -> str:
    """The path and query of a link (the test client serves every host)."""
    parts = urlsplit(href)
    return f"{parts.path}?{parts.query}"


def test_a_page_notification_carries_signed_links_and_a_link_back(desk: Desk) -> None:
    """Acknowledge and resolve links for the receiver, on the server's public URL, expiring
    in 24 hours; external_url points at the page in the UI."""
    found = paged(desk)
    ack = urlsplit(found["Acknowledge"])
    query = parse_qs(ack.query)
    assert (
        ["Acknowledge", "Resolve"],
        f"{BASE}/oncall/pages/1/acknowledge",
        ["alice"],
        [str(int(desk.clock.now() + LINK_TTL))],
        64,
        f"{BASE}/pages#page-1",
    ) == (
        list(found),
        f"{ack.scheme}://{ack.netloc}{ack.path}",
        query["receiver"],
        query["expires"],
        len(query["sig"][0]),
        desk.payloads()[0]["external_url"],
    )


def test_opening_a_link_shows_a_form_and_changes_nothing(desk: Desk, anonymous: TestClient) -> None:
    """GET without a session: 200, a POST form to the same link, the page still triggered."""
    link = local(paged(desk)["Acknowledge"])
    answer = anonymous.get(link)
    assert (200, True, True, "triggered") == (
        answer.status_code,
        '<form method="post"' in answer.text,
        link.replace("&", "&amp;") in answer.text,
        desk.page()["state"],
    )


def test_posting_a_link_acts_without_a_session(desk: Desk, anonymous: TestClient) -> None:
    """POST acknowledges as link:alice (audited and evented); posting again changes nothing."""
    link = local(paged(desk)["Acknowledge"])
    first = anonymous.post(link)
    again = anonymous.post(link)
    page = desk.page()
    audit = desk.client.get("/api/v1/audit", params={"target_kind": "page"}).json()["items"]
    assert (
        (200, 200),
        ("acknowledged", "link:alice"),
        ["link:alice"],
        ["link:alice"],
        True,
    ) == (
        (first.status_code, again.status_code),
        (page["state"], page["acknowledged_by"]),
        [e["by"] for e in desk.events("oncall.page.acknowledged")],
        [r["actor"] for r in audit],
        "already acknowledged" in again.text,
    )


def test_the_resolve_link_resolves(desk: Desk, anonymous: TestClient) -> None:
    """The resolve link resolves the page as link:alice; alice hears the resolution."""
    link = local(paged(desk)["Resolve"])
    answer = anonymous.post(link)
    assert (200, "resolved", "link:alice", ("alice", "page-1", "resolved")) == (
        answer.status_code,
        desk.page()["state"],
        desk.page()["resolved_by"],
        desk.outbox()[-1],
    )


@pytest.mark.parametrize(
    "change",
    [
        {"sig": "0" * 64},
        {"receiver": "mallory"},
        {"expires": "99999999999"},
    ],
)
def test_a_changed_link_is_refused(
    desk: Desk, anonymous: TestClient, change: dict[str, str]
) -> None:
    """A link with another signature, receiver or expiry: 403 on GET and POST, no change."""
    link = urlsplit(paged(desk)["Acknowledge"])
    query = {k: v[0] for k, v in parse_qs(link.query).items()} | change
    tampered = f"{link.path}?{urlencode(query)}"
    seen, posted = anonymous.get(tampered), anonymous.post(tampered)
    assert (403, 403, True, "triggered") == (
        seen.status_code,
        posted.status_code,
        "not valid" in posted.text,
        desk.page()["state"],
    )


def test_a_link_for_another_action_or_page_is_refused(desk: Desk, anonymous: TestClient) -> None:
    """The signature covers the action and the page: reusing it elsewhere is refused."""
    link = local(paged(desk)["Acknowledge"])
    other_action = link.replace("/acknowledge?", "/resolve?")
    other_page = link.replace("/pages/1/", "/pages/2/")
    assert (403, 403, "triggered") == (
        anonymous.post(other_action).status_code,
        anonymous.post(other_page).status_code,
        desk.page()["state"],
    )


def test_an_expired_link_is_refused(desk: Desk, anonymous: TestClient) -> None:
    """24 hours after it was sent, the link answers 403 saying it expired."""
    link = local(paged(desk)["Acknowledge"])
    desk.clock.advance(LINK_TTL + 1)
    answer = anonymous.post(link)
    assert (403, True, "triggered") == (
        answer.status_code,
        "expired" in answer.text,
        desk.page()["state"],
    )


def test_acknowledging_a_resolved_page_by_link_says_so(desk: Desk, anonymous: TestClient) -> None:
    """The page was resolved meanwhile: the acknowledge link answers 409 and changes nothing."""
    found = paged(desk)
    anonymous.post(local(found["Resolve"]))
    answer = anonymous.post(local(found["Acknowledge"]))
    assert (409, "resolved") == (answer.status_code, desk.page()["state"])


LINKS = [
    ("Acknowledge", "https://reliant.test/oncall/pages/7/acknowledge?sig=a&x=1"),
    ("Resolve", "https://reliant.test/oncall/pages/7/resolve?sig=b"),
]


def note(**changes: Any) -> payloads.Notification:
    """A firing page notification with links."""
    fields: dict[str, Any] = {
        "id": 1,
        "receiver": "alice",
        "dedup_key": "page-7",
        "status": "firing",
        "group_key": '{}:{alertname="Down"}',
        "alerts": [{"status": "firing", "labels": {"alertname": "Down"}, "annotations": {}}],
        "group_labels": {"alertname": "Down"},
        "common_labels": {"alertname": "Down", "severity": "page"},
        "common_annotations": {"summary": "payments are failing"},
        "links": LINKS,
    }
    fields.update(changes)
    return payloads.Notification(**fields)


def built(kind: str, settings: dict[str, Any], **changes: Any) -> Any:
    request = payloads.build(kind, settings, note(**changes), now=0.0)
    assert isinstance(request, payloads.HttpRequest)
    return json.loads(request.body)


def test_pagerduty_lists_the_links_first() -> None:
    """PagerDuty's trigger carries the links first in ``links``."""
    event = built("pagerduty", {"routing_key": "k" * 32})
    assert [{"href": h, "text": t} for t, h in LINKS] == event["links"][:2]


def test_opsgenie_puts_the_links_in_details_and_description() -> None:
    """Opsgenie: each link in ``details`` (by its text) and at the top of the description."""
    alert = built("opsgenie", {"api_key": "g"})
    assert (LINKS[0][1], LINKS[1][1], True) == (
        alert["details"]["Acknowledge"],
        alert["details"]["Resolve"],
        alert["description"].startswith(f"Acknowledge: {LINKS[0][1]}\nResolve: {LINKS[1][1]}"),
    )


def test_slack_shows_the_links_in_a_section() -> None:
    """Slack: one section of <href|text> links, & escaped as Slack wants."""
    message = built("slack", {"url": "https://hooks.slack.test/x"})
    texts = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    expected = (
        "<https://reliant.test/oncall/pages/7/acknowledge?sig=a&amp;x=1|Acknowledge> · "
        "<https://reliant.test/oncall/pages/7/resolve?sig=b|Resolve>"
    )
    assert expected in texts


def test_the_webhook_body_has_links_only_when_there_are_some() -> None:
    """The webhook body gains ``links`` ({text, href}); without links it is unchanged."""
    settings = {"url": "https://hook.test", "secret": "s" * 32}
    assert ([{"text": t, "href": h} for t, h in LINKS], False) == (
        payloads.webhook_body(settings, note())["links"],
        "links" in payloads.webhook_body(settings, note(links=[])),
    )


def test_email_shows_the_links_in_text_and_html() -> None:
    """Email: ``Acknowledge: <href>`` lines in the text, anchors in the HTML."""
    text, markup = payloads.email_bodies(note())
    assert (True, True) == (
        f"Acknowledge: {LINKS[0][1]}\nResolve: {LINKS[1][1]}" in text,
        '<a href="https://reliant.test/oncall/pages/7/acknowledge?sig=a&amp;x=1">Acknowledge</a>'
        in markup,
    )


def test_enqueue_keeps_the_links_for_delivery(desk: Desk) -> None:
    """What enqueue stores, the delivery job reads back: the links as (text, href)."""
    with desk.session() as s:
        enqueue(
            s,
            receiver="alice",
            dedup_key="page-7",
            status="firing",
            group_key="g",
            alerts=[],
            group_labels={},
            common_labels={},
            common_annotations={},
            now=desk.clock.now(),
            links=LINKS,
        )
    with desk.session() as s:
        row = s.scalars(select(NotificationRow)).one()
        assert LINKS == notification_of(row).links


def test_the_public_url_comes_from_the_environment() -> None:
    """RELIANT_EXTERNAL_URL sets the links' base (a trailing slash dropped); without it the
    server's own address is used; a URL that is not http(s) is refused."""
    from reliant.server.settings import Settings

    with pytest.raises(ValueError, match="external_url must start with http:// or https://"):
        Settings(external_url="reliant.example")
    assert ("https://reliant.example", "http://0.0.0.0:9000") == (
        Settings.from_env({"RELIANT_EXTERNAL_URL": "https://reliant.example/"}).public_url,
        Settings.from_env({}, host="0.0.0.0", port=9000).public_url,
    )


def test_links_point_at_the_public_url_given_to_route(desk: Desk) -> None:
    """The dispatcher passes the server's public URL: links and the link back use it."""
    from reliant.server.domains import oncall

    desk.setup()
    with desk.session() as s:
        oncall.route(
            s,
            receiver="payments-escalation",
            dedup_key="payments-escalation:{}",
            status="firing",
            group_key="{}",
            alerts=[],
            group_labels={"alertname": "Down"},
            common_labels={"alertname": "Down"},
            common_annotations={},
            now=desk.clock.now(),
            public_url="https://reliant.example",
        )
    payload = desk.payloads()[0]
    assert (
        "https://reliant.example/pages#page-1",
        ["https://reliant.example/oncall/pages/1/acknowledge"],
    ) == (
        payload["external_url"],
        [link["href"].split("?")[0] for link in payload["links"][:1]],
    )
