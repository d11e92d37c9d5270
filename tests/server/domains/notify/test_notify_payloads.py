"""Payload builders: each vendor's documented fields, limits and truncation rules."""

from __future__ import annotations

import hashlib
import hmac
import json
from email import message_from_bytes
from email.message import EmailMessage
from typing import Any

import pytest

from reliant.server.domains.notify import payloads
from reliant.server.domains.notify.payloads import EmailOut, HttpRequest, Notification

KEY = "R0123456789abcdef0123456789ABCDE"


def note(
    *,
    status: str = "firing",
    dedup_key: str = "payments-availability",
    alerts: list[dict[str, Any]] | None = None,
    common_labels: dict[str, str] | None = None,
    common_annotations: dict[str, str] | None = None,
    group_labels: dict[str, str] | None = None,
) -> Notification:
    """A notification of one SLO page, as the alert router queues it."""
    labels = {"alertname": "SLOBurn", "severity": "page", "service": "payments"}
    return Notification(
        id=7,
        receiver="oncall",
        dedup_key=dedup_key,
        status=status,
        group_key='{}:{alertname="SLOBurn"}',
        alerts=alerts
        if alerts is not None
        else [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": "budget burning"},
                "startsAt": "2027-01-15T08:00:00Z",
                "endsAt": payloads.ZERO_TIME,
                "generatorURL": "http://reliant.test/slo/payments",
                "fingerprint": "f1",
            }
        ],
        group_labels=group_labels if group_labels is not None else {"alertname": "SLOBurn"},
        common_labels=common_labels if common_labels is not None else labels,
        common_annotations=common_annotations
        if common_annotations is not None
        else {"summary": "budget burning", "runbook_url": "http://runbooks.test/slo"},
        external_url="http://reliant.test",
        idempotency_key="idem-1",
    )


def body(request: HttpRequest | EmailOut) -> Any:
    """The JSON body of a built HTTP request."""
    assert isinstance(request, HttpRequest)
    return json.loads(request.body)


def test_truncate_marks_the_cut_and_keeps_the_limit() -> None:
    """Text over the limit is cut to exactly the limit, its last character an ellipsis."""
    assert ("short", "abcd…", 5) == (
        payloads.truncate("short", 5),
        payloads.truncate("abcdefgh", 5),
        len(payloads.truncate("x" * 100, 5)),
    )


def test_long_keys_are_replaced_by_their_digest() -> None:
    """A key over the limit becomes sha256:<hex>, distinct for distinct keys."""
    long_a, long_b = "a" * 300, "a" * 299 + "b"
    assert (
        "k",
        "sha256:" + hashlib.sha256(long_a.encode()).hexdigest(),
        True,
    ) == (
        payloads.fit_key("k", 255),
        payloads.fit_key(long_a, 255),
        payloads.fit_key(long_a, 255) != payloads.fit_key(long_b, 255),
    )


def test_title_is_alertmanagers_default() -> None:
    """[FIRING:n] group values (other common values), like Alertmanager's default title."""
    assert "[FIRING:1] SLOBurn (payments page)" == payloads.title(note())
    assert "[RESOLVED] SLOBurn (payments page)" == payloads.title(note(status="resolved"))


def test_pagerduty_trigger_has_the_documented_fields() -> None:
    """A trigger carries routing key, action, dedup key and a payload with summary, source,
    severity and custom details, plus links."""
    event = body(payloads.build("pagerduty", {"routing_key": KEY}, note(), now=0.0))
    assert (
        KEY,
        "trigger",
        "payments-availability",
        "[FIRING:1] SLOBurn (payments page): budget burning",
        "payments",
        "critical",
        1,
        "SLOBurn",
    ) == (
        event["routing_key"],
        event["event_action"],
        event["dedup_key"],
        event["payload"]["summary"],
        event["payload"]["source"],
        event["payload"]["severity"],
        event["payload"]["custom_details"]["num_firing"],
        event["payload"]["class"],
    )
    assert [
        {"href": "http://runbooks.test/slo", "text": "Runbook"},
        {"href": "http://reliant.test/slo/payments", "text": "Source"},
        {"href": "http://reliant.test", "text": "reliant"},
    ] == event["links"]


def test_pagerduty_url_defaults_to_the_events_endpoint() -> None:
    """Without an override, events go to events.pagerduty.com/v2/enqueue."""
    request = payloads.build("pagerduty", {"routing_key": KEY}, note(), now=0.0)
    assert isinstance(request, HttpRequest)
    assert ("POST", "https://events.pagerduty.com/v2/enqueue") == (request.method, request.url)


@pytest.mark.parametrize(
    ("status", "action"), [("resolved", "resolve"), ("acknowledged", "acknowledge")]
)
def test_pagerduty_resolve_and_acknowledge_are_bare(status: str, action: str) -> None:
    """Resolve and acknowledge send only routing key, dedup key and action."""
    event = body(payloads.build("pagerduty", {"routing_key": KEY}, note(status=status), now=0.0))
    assert {"routing_key": KEY, "event_action": action, "dedup_key": "payments-availability"} == (
        event
    )


def test_pagerduty_limits_summary_and_dedup_key() -> None:
    """The summary is cut to 1024 characters; a key over 255 becomes its digest."""
    n = note(common_annotations={"summary": "x" * 5000}, dedup_key="k" * 400)
    event = body(payloads.build("pagerduty", {"routing_key": KEY}, n, now=0.0))
    assert (1024, True, 71) == (
        len(event["payload"]["summary"]),
        event["payload"]["summary"].endswith("…"),
        len(event["dedup_key"]),
    )


def test_pagerduty_body_stays_under_512_kb() -> None:
    """Huge alert details are dropped from custom details to fit the 512 KB body limit."""
    big = {"status": "firing", "labels": {"alertname": "A"}, "annotations": {"d": "x" * 200_000}}
    n = note(alerts=[dict(big) for _ in range(8)])
    request = payloads.build("pagerduty", {"routing_key": KEY}, n, now=0.0)
    assert isinstance(request, HttpRequest)
    assert len(request.body) <= 512 * 1024


@pytest.mark.parametrize(
    ("label", "severity", "priority"),
    [
        ("page", "critical", "P1"),
        ("critical", "critical", "P1"),
        ("error", "error", "P2"),
        ("ticket", "warning", "P3"),
        ("warning", "warning", "P3"),
        ("info", "info", "P5"),
        ("whatever", "error", "P2"),
    ],
)
def test_severity_maps_to_pagerduty_severity_and_opsgenie_priority(
    label: str, severity: str, priority: str
) -> None:
    """The severity label maps to critical|error|warning|info and to P1–P5."""
    n = note(common_labels={"alertname": "SLOBurn", "severity": label})
    assert (severity, priority) == (
        payloads.severity(n),
        payloads.opsgenie_alert({"api_key": "k"}, n)["priority"],
    )


def test_opsgenie_create_has_the_documented_fields_and_limits() -> None:
    """Create: message ≤ 130, alias = dedup key ≤ 512, ≤ 20 tags of ≤ 50, details, priority."""
    n = note(
        common_annotations={"summary": "y" * 400},
        dedup_key="d" * 600,
        group_labels={f"label{i:02}": "v" * 60 for i in range(30)},
    )
    request = payloads.build("opsgenie", {"api_key": "key-1", "region": "eu"}, n, now=0.0)
    assert isinstance(request, HttpRequest)
    alert = json.loads(request.body)
    assert (
        "https://api.eu.opsgenie.com/v2/alerts",
        "GenieKey key-1",
        130,
        "sha256:" + hashlib.sha256(("d" * 600).encode()).hexdigest(),
        20,
        50,
        "P1",
        "payments",
    ) == (
        request.url,
        request.headers["Authorization"],
        len(alert["message"]),
        alert["alias"],
        len(alert["tags"]),
        max(len(t) for t in alert["tags"]),
        alert["priority"],
        alert["entity"],
    )


def test_opsgenie_details_stay_under_8000_characters() -> None:
    """Details (common labels and the dedup key) total at most 8000 characters."""
    labels = {f"l{i}": "v" * 1000 for i in range(20)}
    details = payloads.opsgenie_alert({"api_key": "k"}, note(common_labels=labels))["details"]
    assert sum(len(k) + len(v) for k, v in details.items()) <= 8000


@pytest.mark.parametrize(
    ("status", "action"), [("resolved", "close"), ("acknowledged", "acknowledge")]
)
def test_opsgenie_close_and_acknowledge_by_alias(status: str, action: str) -> None:
    """Resolve closes, ack acknowledges POST /v2/alerts/{alias}/…?identifierType=alias."""
    n = note(status=status, dedup_key="group/1 a")
    request = payloads.build("opsgenie", {"api_key": "k"}, n, now=0.0)
    assert isinstance(request, HttpRequest)
    assert f"https://api.opsgenie.com/v2/alerts/group%2F1%20a/{action}?identifierType=alias" == (
        request.url
    )


def test_slack_message_has_fallback_text_and_blocks() -> None:
    """text is the fallback; blocks hold a header (≤ 150), sections, and a context line."""
    n = note(common_annotations={"summary": "<b>&</b>"})
    message = body(payloads.build("slack", {"url": "http://hooks.test/x"}, n, now=0.0))
    assert (
        "[FIRING:1] SLOBurn (payments page): <b>&</b>",
        ["header", "section", "section", "context"],
        "&lt;b&gt;&amp;&lt;/b&gt;",
    ) == (
        message["text"],
        [b["type"] for b in message["blocks"]],
        message["blocks"][1]["text"]["text"],
    )


def test_slack_shows_ten_alerts_and_counts_the_rest() -> None:
    """The summary and ten alerts get sections; the context line counts the rest."""
    alerts = [{"status": "firing", "labels": {"alertname": f"A{i}"}} for i in range(14)]
    message = payloads.slack_message(note(alerts=alerts))
    assert (11, True) == (
        len([b for b in message["blocks"] if b["type"] == "section"]),
        "4 more alerts" in message["blocks"][-1]["elements"][0]["text"],
    )


def test_webhook_body_is_alertmanagers_with_a_dedup_key() -> None:
    """Version 4 of Alertmanager's webhook, plus dedupKey; max_alerts truncates."""
    alerts = [{"status": "firing", "labels": {"alertname": f"A{i}"}} for i in range(3)]
    hook = payloads.webhook_body({"max_alerts": 2}, note(alerts=alerts))
    assert (
        [
            "version",
            "groupKey",
            "truncatedAlerts",
            "status",
            "receiver",
            "groupLabels",
            "commonLabels",
            "commonAnnotations",
            "externalURL",
            "alerts",
            "dedupKey",
        ],
        "4",
        1,
        2,
    ) == (list(hook), hook["version"], hook["truncatedAlerts"], len(hook["alerts"]))


def test_webhook_is_signed_over_timestamp_and_body() -> None:
    """X-Reliant-Signature is t=<ts>,v1=HMAC-SHA256(secret, "<ts>." + body)."""
    secret = "s" * 32
    request = payloads.build(
        "webhook", {"url": "http://h.test", "secret": secret}, note(), now=1234.9
    )
    assert isinstance(request, HttpRequest)
    mac = hmac.new(secret.encode(), b"1234." + request.body, hashlib.sha256).hexdigest()
    assert (f"t=1234,v1={mac}", "idem-1") == (
        request.headers["X-Reliant-Signature"],
        request.headers["Idempotency-Key"],
    )


def test_email_has_subject_text_and_html() -> None:
    """Subject is the one-line headline; text and HTML alternatives, HTML escaped."""
    n = note(common_annotations={"summary": "a <script>\r\nb"})
    settings = {"host": "smtp.test", "port": 25, "from": "reliant@x.test", "to": ["a@x.test"]}
    out = payloads.build("email", settings, n, now=1_800_000_000.0)
    assert isinstance(out, EmailOut)
    parsed = message_from_bytes(out.message.as_bytes())
    assert isinstance(out.message, EmailMessage)
    html_part = out.message.get_body(("html",))
    text_part = out.message.get_body(("plain",))
    assert html_part is not None
    assert text_part is not None
    assert (
        "[FIRING:1] SLOBurn (payments page): a <script> b",
        "a@x.test",
        "<idem-1@reliant>",
        True,
        True,
    ) == (
        parsed["Subject"],
        parsed["To"],
        parsed["Message-ID"],
        "&lt;script&gt;" in html_part.get_content(),
        "- SLOBurn {service=payments, severity=page}: budget burning" in text_part.get_content(),
    )


def test_email_subject_is_limited() -> None:
    """Subjects are cut to 250 characters."""
    settings = {"host": "h", "port": 25, "from": "r@x.test", "to": ["a@x.test"]}
    n = note(common_annotations={"summary": "z" * 1000})
    out = payloads.build("email", settings, n, now=0.0)
    assert isinstance(out, EmailOut)
    assert 250 == len(str(out.message["Subject"]))


def test_unknown_type_is_refused() -> None:
    """Building for a type that does not exist raises ValueError."""
    with pytest.raises(ValueError, match="unknown receiver type"):
        payloads.build("fax", {}, note(), now=0.0)
