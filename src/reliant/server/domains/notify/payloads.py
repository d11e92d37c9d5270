"""Request bodies for each receiver type, built from a notification: pure, no I/O.

Each vendor's limits are applied here (docs/notifications.md lists them): text fields are
cut to their limit with a trailing ``…``; dedup keys longer than a vendor's limit are
replaced by ``sha256:<hex>`` of the key, so two keys never collide by truncation.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import quote

#: PagerDuty Events v2 endpoint.
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
#: Opsgenie API base URLs by region.
OPSGENIE_URLS = {"us": "https://api.opsgenie.com", "eu": "https://api.eu.opsgenie.com"}
PAGERDUTY_SUMMARY = 1024
PAGERDUTY_KEY = 255
PAGERDUTY_BODY = 512 * 1024
OPSGENIE_MESSAGE = 130
OPSGENIE_ALIAS = 512
OPSGENIE_DESCRIPTION = 15000
OPSGENIE_TAGS = 20
OPSGENIE_TAG = 50
OPSGENIE_DETAILS = 8000
SLACK_HEADER = 150
SLACK_SECTION = 3000
#: Alerts shown one by one in Slack and custom details; the rest are counted.
SHOWN_ALERTS = 10
EMAIL_SUBJECT = 250
SIGNATURE_HEADER = "X-Reliant-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "reliant-notify"
#: Alertmanager's "no end time" (firing alerts).
ZERO_TIME = "0001-01-01T00:00:00Z"
#: Label values mapped to PagerDuty severities; anything else is ``error``.
SEVERITIES = {
    "critical": "critical",
    "page": "critical",
    "p1": "critical",
    "error": "error",
    "high": "error",
    "warning": "warning",
    "warn": "warning",
    "ticket": "warning",
    "info": "info",
    "low": "info",
    "none": "info",
}
PRIORITIES = {"critical": "P1", "error": "P2", "warning": "P3", "info": "P5"}
PAGERDUTY_ACTIONS = {"firing": "trigger", "resolved": "resolve", "acknowledged": "acknowledge"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """What one notification says: a group of alerts in one state, under one dedup key."""

    id: int
    receiver: str
    dedup_key: str
    status: str
    group_key: str
    alerts: list[dict[str, Any]]
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    common_annotations: dict[str, str]
    external_url: str = ""
    #: Links to show first, as ``(text, href)`` (on-call's acknowledge and resolve links).
    links: list[tuple[str, str]] = field(default_factory=list)
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpRequest:
    """An HTTP request to send."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailOut:
    """An email to send over SMTP."""

    host: str
    port: int
    tls: str
    username: str
    password: str
    sender: str
    recipients: list[str]
    message: EmailMessage = field(repr=False)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the last one ``…`` when anything was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fit_key(key: str, limit: int) -> str:
    """``key`` if it fits in ``limit`` characters, else ``sha256:<hex digest of key>``."""
    return key if len(key) <= limit else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def rfc3339(epoch: float) -> str:
    """``epoch`` as an RFC 3339 UTC time (``2027-01-15T08:00:00Z``, milliseconds when any)."""
    import datetime as dt

    moment = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def firing(n: Notification) -> list[dict[str, Any]]:
    """The alerts of ``n`` still firing."""
    return [a for a in n.alerts if a.get("status", "firing") == "firing"]


def title(n: Notification) -> str:
    """Alertmanager's default title: ``[FIRING:2] <group values> (<other common values>)``."""
    head = n.status.upper() + (f":{len(firing(n))}" if n.status == "firing" else "")
    values = [n.group_labels[k] for k in sorted(n.group_labels)]
    others = [v for k, v in sorted(n.common_labels.items()) if k not in n.group_labels]
    text = f"[{head}] " + " ".join(values)
    return text + (f" ({' '.join(others)})" if others else "")


def headline(n: Notification) -> str:
    """The title, then the common ``summary`` annotation when there is one."""
    summary = n.common_annotations.get("summary", "")
    return f"{title(n)}: {summary}" if summary else title(n)


def severity(n: Notification) -> str:
    """PagerDuty's severity for the ``severity`` label (common, else the first alert's)."""
    label = n.common_labels.get("severity")
    if label is None and n.alerts:
        label = n.alerts[0].get("labels", {}).get("severity")
    return SEVERITIES.get(str(label or "").lower(), "error")


def _links(n: Notification) -> list[dict[str, str]]:
    links: list[dict[str, str]] = [{"href": href, "text": text} for text, href in n.links]
    for key in ("runbook_url", "dashboard_url"):
        if url := n.common_annotations.get(key):
            links.append({"href": url, "text": key.removesuffix("_url").capitalize()})
    seen = {link["href"] for link in links}
    for alert in n.alerts:
        url = str(alert.get("generatorURL") or "")
        if url and url not in seen and len(links) < 5:
            seen.add(url)
            links.append({"href": url, "text": "Source"})
    if n.external_url and n.external_url not in seen:
        links.append({"href": n.external_url, "text": "reliant"})
    return links


def _alert_line(alert: Mapping[str, Any]) -> str:
    labels = alert.get("labels", {})
    annotations = alert.get("annotations", {})
    name = labels.get("alertname", "alert")
    pairs = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname")
    text = annotations.get("summary") or annotations.get("description") or ""
    line = f"{name} {{{pairs}}}" if pairs else str(name)
    return f"{line}: {text}" if text else line


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def pagerduty_event(settings: Mapping[str, Any], n: Notification) -> dict[str, Any]:
    """The PagerDuty Events v2 event: trigger with a payload, or a bare resolve/acknowledge."""
    event: dict[str, Any] = {
        "routing_key": settings["routing_key"],
        "event_action": PAGERDUTY_ACTIONS[n.status],
        "dedup_key": fit_key(n.dedup_key, PAGERDUTY_KEY),
    }
    if n.status != "firing":
        return event
    shown = firing(n) or n.alerts
    details: dict[str, Any] = {
        "firing": "\n".join(_alert_line(a) for a in shown[:SHOWN_ALERTS]),
        "num_firing": len(firing(n)),
        "num_resolved": len(n.alerts) - len(firing(n)),
        "group_labels": n.group_labels,
        "common_labels": n.common_labels,
        "common_annotations": n.common_annotations,
        "alerts": [
            {k: a.get(k) for k in ("labels", "annotations", "startsAt")}
            for a in shown[:SHOWN_ALERTS]
        ],
    }
    payload: dict[str, Any] = {
        "summary": truncate(headline(n), PAGERDUTY_SUMMARY),
        "source": str(settings.get("source") or n.common_labels.get("service") or "reliant"),
        "severity": str(settings.get("severity") or severity(n)),
        "custom_details": details,
    }
    if "alertname" in n.common_labels:
        payload["class"] = n.common_labels["alertname"]
    if "service" in n.common_labels:
        payload["component"] = n.common_labels["service"]
    event["payload"] = payload
    event["links"] = _links(n)
    event["client"] = "reliant"
    if n.external_url:
        event["client_url"] = n.external_url
    while len(_json(event)) > PAGERDUTY_BODY and details["alerts"]:
        details["alerts"] = details["alerts"][: len(details["alerts"]) // 2]
    if len(_json(event)) > PAGERDUTY_BODY:
        details.clear()
        details["truncated"] = "custom details were over PagerDuty's 512 KB body limit"
    return event


def pagerduty(settings: Mapping[str, Any], n: Notification) -> HttpRequest:
    """``POST`` of :func:`pagerduty_event` to the Events v2 endpoint."""
    return HttpRequest(
        method="POST",
        url=str(settings.get("url") or PAGERDUTY_URL),
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        body=_json(pagerduty_event(settings, n)),
    )


def _tags(settings: Mapping[str, Any], n: Notification) -> list[str]:
    tags: list[str] = []
    wanted = [*settings.get("tags", []), *(f"{k}={v}" for k, v in sorted(n.group_labels.items()))]
    for tag in wanted:
        cut = truncate(str(tag), OPSGENIE_TAG)
        if cut not in tags and len(tags) < OPSGENIE_TAGS:
            tags.append(cut)
    return tags


def _details(n: Notification) -> dict[str, str]:
    details: dict[str, str] = {}
    used = 0
    # The links first, so that the size limit never drops them.
    items = [*((text, href) for text, href in n.links)]
    items += sorted({**n.common_labels, "dedup_key": n.dedup_key}.items())
    for key, value in items:
        room = OPSGENIE_DETAILS - used - len(key)
        if room <= 0:
            break
        details[key] = truncate(str(value), room)
        used += len(key) + len(details[key])
    return details


def opsgenie_alert(settings: Mapping[str, Any], n: Notification) -> dict[str, Any]:
    """The body of an Opsgenie create (firing) or close/acknowledge request."""
    if n.status != "firing":
        return {"source": "reliant", "note": f"{n.status} by reliant"}
    description = "\n".join(_alert_line(a) for a in (firing(n) or n.alerts))
    if text := n.common_annotations.get("description"):
        description = f"{text}\n\n{description}"
    if n.links:  # first, so that truncation never cuts them
        listed = "\n".join(f"{text}: {href}" for text, href in n.links)
        description = f"{listed}\n\n{description}"
    body: dict[str, Any] = {
        "message": truncate(headline(n), OPSGENIE_MESSAGE),
        "alias": fit_key(n.dedup_key, OPSGENIE_ALIAS),
        "description": truncate(description, OPSGENIE_DESCRIPTION),
        "tags": _tags(settings, n),
        "details": _details(n),
        "priority": PRIORITIES[severity(n)],
        "source": "reliant",
    }
    if "service" in n.common_labels:
        body["entity"] = n.common_labels["service"]
    if responders := settings.get("responders"):
        body["responders"] = list(responders)
    return body


def opsgenie(settings: Mapping[str, Any], n: Notification) -> HttpRequest:
    """Create ``POST /v2/alerts``, or ``POST /v2/alerts/{alias}/close|acknowledge``."""
    base = str(settings.get("url") or OPSGENIE_URLS[str(settings.get("region", "us"))])
    url = base.rstrip("/") + "/v2/alerts"
    if n.status != "firing":
        action = "close" if n.status == "resolved" else "acknowledge"
        alias = quote(fit_key(n.dedup_key, OPSGENIE_ALIAS), safe="")
        url = f"{url}/{alias}/{action}?identifierType=alias"
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Authorization": f"GenieKey {settings['api_key']}",
    }
    return HttpRequest(
        method="POST", url=url, headers=headers, body=_json(opsgenie_alert(settings, n))
    )


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(n: Notification) -> dict[str, Any]:
    """An incoming-webhook message: ``text`` (the fallback) and ``blocks``."""
    shown = firing(n) if n.status == "firing" else n.alerts
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(title(n), SLACK_HEADER)}}
    ]
    if summary := n.common_annotations.get("summary"):
        text = truncate(_mrkdwn(summary), SLACK_SECTION)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if n.links:
        text = " · ".join(f"<{_mrkdwn(href)}|{_mrkdwn(label)}>" for label, href in n.links)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    for alert in shown[:SHOWN_ALERTS]:
        text = truncate(_mrkdwn(_alert_line(alert)), SLACK_SECTION)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    context = [f"dedup key `{_mrkdwn(truncate(n.dedup_key, 200))}`"]
    if len(shown) > SHOWN_ALERTS:
        context.append(f"{len(shown) - SHOWN_ALERTS} more alerts")
    if n.external_url:
        context.append(f"<{n.external_url}|open in reliant>")
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]}
    )
    return {"text": truncate(headline(n), SLACK_SECTION), "blocks": blocks}


def slack(settings: Mapping[str, Any], n: Notification) -> HttpRequest:
    """``POST`` of :func:`slack_message` to the incoming webhook's URL."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    return HttpRequest(
        method="POST", url=str(settings["url"]), headers=headers, body=_json(slack_message(n))
    )


def webhook_body(settings: Mapping[str, Any], n: Notification) -> dict[str, Any]:
    """reliant's webhook payload: Alertmanager's webhook (version 4) plus ``dedupKey``, and
    ``links`` (``[{"text", "href"}]``) when the notification has any."""
    limit = int(settings.get("max_alerts") or 0)
    alerts = n.alerts[:limit] if limit else n.alerts
    body: dict[str, Any] = {
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": len(n.alerts) - len(alerts),
        "status": n.status,
        "receiver": n.receiver,
        "groupLabels": n.group_labels,
        "commonLabels": n.common_labels,
        "commonAnnotations": n.common_annotations,
        "externalURL": n.external_url,
        "alerts": alerts,
        "dedupKey": n.dedup_key,
    }
    if n.links:
        body["links"] = [{"text": text, "href": href} for text, href in n.links]
    return body


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Reliant-Signature`` value: ``t=<ts>,v1=<hex HMAC-SHA256 of "<ts>." + body>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def webhook(settings: Mapping[str, Any], n: Notification, *, now: float) -> HttpRequest:
    """``POST`` of :func:`webhook_body`, signed at ``now`` and carrying an idempotency key."""
    body = _json(webhook_body(settings, n))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        IDEMPOTENCY_HEADER: n.idempotency_key,
        SIGNATURE_HEADER: signature(str(settings["secret"]), int(now), body),
    }
    return HttpRequest(method="POST", url=str(settings["url"]), headers=headers, body=body)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def email_bodies(n: Notification) -> tuple[str, str]:
    """The text and HTML bodies of the email for ``n``."""
    lines = [headline(n), ""]
    if n.links:
        lines += [f"{text}: {href}" for text, href in n.links] + [""]
    lines += [f"- {_alert_line(a)}" for a in n.alerts]
    if text := n.common_annotations.get("description"):
        lines += ["", text]
    lines += ["", f"dedup key: {n.dedup_key}"]
    if n.external_url:
        lines.append(f"reliant: {n.external_url}")
    items = "".join(f"<li>{html.escape(_alert_line(a))}</li>" for a in n.alerts)
    parts = [f"<h2>{html.escape(headline(n))}</h2>"]
    if n.links:
        anchors = " · ".join(
            f'<a href="{html.escape(href)}">{html.escape(text)}</a>' for text, href in n.links
        )
        parts.append(f"<p><strong>{anchors}</strong></p>")
    parts.append(f"<ul>{items}</ul>")
    if text := n.common_annotations.get("description"):
        parts.append(f"<p>{html.escape(text)}</p>")
    parts.append(f"<p><small>dedup key: <code>{html.escape(n.dedup_key)}</code></small></p>")
    if n.external_url:
        parts.append(f'<p><a href="{html.escape(n.external_url)}">Open in reliant</a></p>')
    return "\n".join(lines) + "\n", "<html><body>" + "".join(parts) + "</body></html>\n"


def email(settings: Mapping[str, Any], n: Notification, *, now: float) -> EmailOut:
    """The email for ``n``: subject, text and HTML alternatives, threaded by dedup key."""
    message = EmailMessage()
    recipients = [str(r) for r in settings["to"]]
    message["Subject"] = truncate(_one_line(headline(n)), EMAIL_SUBJECT)
    message["From"] = str(settings["from"])
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(now, usegmt=True)
    message["Message-ID"] = f"<{n.idempotency_key or n.id}@reliant>"
    thread = hashlib.sha256(n.dedup_key.encode()).hexdigest()[:32]
    message["References"] = f"<{thread}@reliant>"
    message["X-Reliant-Dedup-Key"] = truncate(_one_line(n.dedup_key), 200)
    text, markup = email_bodies(n)
    message.set_content(text)
    message.add_alternative(markup, subtype="html")
    return EmailOut(
        host=str(settings["host"]),
        port=int(settings["port"]),
        tls=str(settings.get("tls", "starttls")),
        username=str(settings.get("username") or ""),
        password=str(settings.get("password") or ""),
        sender=str(settings["from"]),
        recipients=recipients,
        message=message,
    )


def build(
    kind: str, settings: Mapping[str, Any], n: Notification, *, now: float
) -> HttpRequest | EmailOut:
    """The request that delivers ``n`` to a receiver of type ``kind`` with ``settings``
    (secrets included).

    Raises:
        ValueError: ``kind`` is not a receiver type.
    """
    if kind == "pagerduty":
        return pagerduty(settings, n)
    if kind == "opsgenie":
        return opsgenie(settings, n)
    if kind == "slack":
        return slack(settings, n)
    if kind == "webhook":
        return webhook(settings, n, now=now)
    if kind == "email":
        return email(settings, n, now=now)
    raise ValueError(f"unknown receiver type {kind!r}")
