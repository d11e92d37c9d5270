"""Notify use cases: receivers, the outbox's ``enqueue``, listing and retrying notifications.

Receivers keep their secret settings encrypted (``crypto.py``); reads show them masked.
Writing a secret, or moving where stored secrets are sent (a URL, an SMTP host), needs the
admin role. Use cases never commit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from reliant.server.auth import Role, allows
from reliant.server.domains.notify import crypto, payloads
from reliant.server.domains.notify.models import (
    KEY_LENGTH,
    NAME_LENGTH,
    AttemptRow,
    NotificationRow,
    ReceiverRow,
)
from reliant.server.domains.notify.outbox import Result
from reliant.server.domains.notify.schemas import (
    DESTINATION_FIELDS,
    MASK,
    REQUIRED_SECRETS,
    SECRET_FIELDS,
    EmailIn,
    OpsgenieIn,
    PagerDutyIn,
    SlackIn,
    WebhookIn,
)
from reliant.server.domains.notify.sender import Sender

if TYPE_CHECKING:
    from reliant.server.http import Ctx

#: What a notification may say of its alerts.
STATUSES = ("firing", "resolved", "acknowledged")
#: States of a notification in the outbox.
STATES = ("pending", "delivered", "dead")
#: Alert name of the notification ``POST /receivers/{name}/test`` sends.
TEST_ALERT = "ReliantTestNotification"

ReceiverSpec = PagerDutyIn | OpsgenieIn | SlackIn | WebhookIn | EmailIn


class NotFoundError(LookupError):
    """The receiver or notification does not exist."""


class ConflictError(ValueError):
    """The request clashes with the current state."""


class ForbiddenError(PermissionError):
    """The caller's role does not allow this change."""


class InvalidError(ValueError):
    """A receiver lacks a setting it needs; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def masked(row: ReceiverRow) -> dict[str, Any]:
    """A receiver's settings as reads show them: every secret as ``********`` (unset: null)."""
    names = set(row.secret_names)
    secrets = {k: MASK if k in names else None for k in SECRET_FIELDS[row.type]}
    return {**row.settings, **secrets}


def _public(row: ReceiverRow) -> dict[str, Any]:
    return {"type": row.type, "settings": masked(row), "send_resolved": row.send_resolved}


def receiver_settings(row: ReceiverRow, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A receiver's settings with its secrets decrypted, for sending.

    Raises:
        crypto.SecretKeyError: the server has no usable key.
        crypto.UndecryptableError: no configured key decrypts the secrets.
    """
    secrets = crypto.keyring(env).decrypt(row.secrets) if row.secrets else {}
    return {**row.settings, **secrets}


def get_receiver(session: Session, name: str) -> ReceiverRow | None:
    """The receiver named ``name``, if any."""
    return session.get(ReceiverRow, name)


def list_receivers(
    session: Session, *, limit: int, after: str | None = None
) -> tuple[list[ReceiverRow], str | None]:
    """A page of receivers by name; the name to continue after when more follow."""
    query = select(ReceiverRow).order_by(ReceiverRow.name).limit(limit + 1)
    if after is not None:
        query = query.where(ReceiverRow.name > after)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].name if more and rows else None


def _secrets(
    row: ReceiverRow | None, kind: str, given: dict[str, str], kept: list[str]
) -> tuple[str | None, list[str]]:
    """The token to store and the names of the secrets whose values changed."""
    if not given:
        return (row.secrets if kept and row is not None else None), []
    ring = crypto.keyring()
    old: dict[str, str] | None = None
    if row is not None and row.secrets and row.type == kind:
        try:
            old = ring.decrypt(row.secrets)
        except crypto.UndecryptableError:
            if kept:
                raise
    values = {k: v for k, v in (old or {}).items() if k in kept} | given
    if old is not None and values == old and row is not None:
        return row.secrets, []
    changed = sorted(k for k in given if old is None or old.get(k) != given[k])
    return ring.encrypt(values), changed


def put_receiver(ctx: Ctx, name: str, spec: ReceiverSpec) -> tuple[ReceiverRow, bool]:
    """Create or replace a receiver; secret settings left out keep their stored values.

    Returns:
        the receiver and whether it was created.

    Raises:
        InvalidError: a required secret is neither given nor stored.
        ForbiddenError: secrets are written or moved by a non-admin.
        crypto.SecretKeyError: a secret is written but the server has no key.
        crypto.UndecryptableError: stored secrets must be kept but no key decrypts them.
    """
    kind = spec.type
    names = SECRET_FIELDS[kind]
    settings = spec.model_dump(
        mode="json", by_alias=True, exclude={"type", "send_resolved", *names}
    )
    values = {k: getattr(spec, k) for k in names if getattr(spec, k) is not None}
    given = {k: str(v) for k, v in values.items() if v != ""}
    row = ctx.session.get(ReceiverRow, name, populate_existing=True, with_for_update=True)
    same = row is not None and row.type == kind
    stored = row.secret_names if row is not None and same else []
    kept = [k for k in stored if k not in values]
    for field in REQUIRED_SECRETS[kind]:
        if field not in given and field not in kept:
            raise InvalidError(field, f"{field} is required: the {kind} receiver has none stored")
    moved = (
        row is not None
        and bool(kept)
        and any(row.settings.get(f) != settings.get(f) for f in DESTINATION_FIELDS[kind])
    )
    if (values or moved) and not allows(ctx.principal.role, Role.ADMIN):
        what = "writing secrets" if values else f"changing {', '.join(DESTINATION_FIELDS[kind])}"
        raise ForbiddenError(f"{what} of a receiver needs the admin role")
    token, changed_secrets = _secrets(row, kind, given, kept)
    secret_names = sorted({*kept, *given})
    before = None if row is None else _public(row)
    preview = {
        "type": kind,
        "settings": {**settings, **{k: MASK if k in secret_names else None for k in names}},
        "send_resolved": spec.send_resolved,
    }
    if row is not None and before == preview and not changed_secrets:
        return row, False
    created = row is None
    if row is None:
        row = ReceiverRow(name=name, created_at=ctx.now)
        ctx.session.add(row)
    row.type = kind
    row.settings = settings
    row.secrets = token
    row.secret_names = secret_names
    row.send_resolved = spec.send_resolved
    row.failures = 0
    row.paused_until = None
    row.last_error = None
    row.updated_at = ctx.now
    row.updated_by = ctx.principal.name
    after = _public(row)
    changed = [] if before is None else _changed(before, after)
    changed += [f"settings.{k}" for k in changed_secrets if before is not None]
    action = "create" if created else "update"
    ctx.audit(
        f"receiver.{action}",
        "receiver",
        name,
        before=before,
        after={**after, "secrets_changed": changed_secrets},
    )
    attributes = {"name": name, "type": kind, "changed": sorted(set(changed))}
    ctx.event(f"receiver.{action}d", attributes=attributes)
    return row, created


def _changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    fields = [k for k in ("type", "send_resolved") if before[k] != after[k]]
    keys = set(before["settings"]) | set(after["settings"])
    return fields + [
        f"settings.{k}"
        for k in sorted(keys)
        if before["settings"].get(k) != after["settings"].get(k)
    ]


def delete_receiver(ctx: Ctx, name: str) -> int:
    """Delete a receiver; its pending notifications become dead letters. Returns how many.

    Raises:
        NotFoundError: there is no such receiver.
    """
    row = ctx.session.get(ReceiverRow, name, populate_existing=True, with_for_update=True)
    if row is None:
        raise NotFoundError(f"no receiver named {name!r}")
    before = _public(row)
    ctx.session.delete(row)
    result = ctx.session.execute(
        update(NotificationRow)
        .where(NotificationRow.receiver == name, NotificationRow.state == "pending")
        .values(state="dead", finished_at=ctx.now, last_error=f"receiver {name!r} was deleted")
    )
    dropped = int(getattr(result, "rowcount", 0) or 0)
    ctx.audit("receiver.delete", "receiver", name, before=before, after=None)
    attributes = {"name": name, "type": before["type"], "dropped_notifications": dropped}
    ctx.event("receiver.deleted", attributes=attributes)
    return dropped


def send_test(ctx: Ctx, name: str, sender: Sender) -> Result:
    """Send a test notification (severity ``info``) to a receiver now, outside the outbox.

    Raises:
        NotFoundError: there is no such receiver.
        crypto.SecretKeyError, crypto.UndecryptableError: its secrets cannot be read.
    """
    row = get_receiver(ctx.session, name)
    if row is None:
        raise NotFoundError(f"no receiver named {name!r}")
    labels = {"alertname": TEST_ALERT, "severity": "info", "receiver": name}
    annotations = {"summary": f"Test notification from reliant to receiver {name}"}
    alert = _alert({"labels": labels, "annotations": annotations, "startsAt": ctx.now}, "firing")
    note = payloads.Notification(
        id=0,
        receiver=name,
        dedup_key=f"reliant-test-{name}-{int(ctx.now)}",
        status="firing",
        group_key=f"{{}}:{{receiver={name!r}}}",
        alerts=[alert],
        group_labels={"alertname": TEST_ALERT},
        common_labels=labels,
        common_annotations=annotations,
        idempotency_key=uuid.uuid4().hex,
    )
    out = payloads.build(row.type, receiver_settings(row), note, now=ctx.now)
    result = sender.send(out, now=ctx.now)
    ctx.audit("receiver.test", "receiver", name, after={"outcome": result.outcome})
    return result


def _clean(value: Any) -> Any:
    """JSON any store keeps: NULs and lone surrogates in text replaced."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, Mapping):
        return {str(_clean(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _time(value: Any, default: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return payloads.rfc3339(float(value))
    if isinstance(value, dt.datetime):
        return payloads.rfc3339(value.timestamp())
    return str(value) if value else default


def _alert(alert: Mapping[str, Any], status: str) -> dict[str, Any]:
    """An alert in the Alertmanager webhook form, times as RFC 3339."""
    fallback = "resolved" if status == "resolved" else "firing"
    cleaned: dict[str, Any] = _clean(
        {
            "status": str(alert.get("status") or fallback),
            "labels": {str(k): str(v) for k, v in dict(alert.get("labels") or {}).items()},
            "annotations": {
                str(k): str(v) for k, v in dict(alert.get("annotations") or {}).items()
            },
            "startsAt": _time(alert.get("startsAt", alert.get("starts_at")), payloads.ZERO_TIME),
            "endsAt": _time(alert.get("endsAt", alert.get("ends_at")), payloads.ZERO_TIME),
            "generatorURL": str(alert.get("generatorURL", alert.get("generator_url")) or ""),
            "fingerprint": str(alert.get("fingerprint") or ""),
        }
    )
    return cleaned


def enqueue(
    session: Session,
    *,
    receiver: str,
    dedup_key: str,
    status: str,
    group_key: str,
    alerts: list[dict[str, Any]],
    group_labels: dict[str, str],
    common_labels: dict[str, Any],
    common_annotations: dict[str, Any],
    now: float,
    external_url: str = "",
    links: list[tuple[str, str]] | None = None,
) -> None:
    """Put one notification in the durable outbox, in the caller's transaction.

    The delivery job sends it (at least once; in order per receiver and dedup key). A
    ``resolved`` notification for a receiver with ``send_resolved: false`` is dropped.

    Args:
        receiver: the receiver's name (one created later is used if it exists by then).
        dedup_key: the key the receiver deduplicates by (PagerDuty ``dedup_key``, Opsgenie
            ``alias``); keys over 255 characters are replaced by ``sha256:<hex>``.
        status: ``firing``, ``resolved`` or ``acknowledged``.
        group_key: the alert group's key (Alertmanager's ``groupKey``).
        alerts: the group's alerts, Alertmanager-webhook style (``status``, ``labels``,
            ``annotations``, ``startsAt``, ``endsAt``, ``generatorURL``, ``fingerprint``);
            times may be epoch seconds or RFC 3339 text.
        group_labels, common_labels, common_annotations: as in Alertmanager's webhook.
        now: the time.
        external_url: a link back to reliant, shown in notifications.
        links: more links to show, as ``(text, href)``: on-call's acknowledge and resolve
            links. Every receiver type shows them (PagerDuty ``links``, Opsgenie details and
            description, Slack, the webhook's ``links``, email).

    Raises:
        ValueError: an unknown status, an empty dedup key or receiver name too long.
    """
    if status not in STATUSES:
        raise ValueError(f"enqueue: status must be one of {', '.join(STATUSES)}, got {status!r}")
    if not dedup_key:
        raise ValueError("enqueue: dedup_key must not be empty")
    if not receiver or len(receiver) > NAME_LENGTH:
        raise ValueError(f"enqueue: receiver must be 1..{NAME_LENGTH} characters")
    target = session.get(ReceiverRow, receiver)
    if target is not None and status == "resolved" and not target.send_resolved:
        return
    payload = {
        "alerts": [_alert(a, status) for a in alerts],
        "group_labels": _clean({str(k): str(v) for k, v in group_labels.items()}),
        "common_labels": _clean({str(k): str(v) for k, v in common_labels.items()}),
        "common_annotations": _clean({str(k): str(v) for k, v in common_annotations.items()}),
        "external_url": _clean(external_url),
    }
    if links:
        payload["links"] = [{"text": _clean(str(t)), "href": _clean(str(h))} for t, h in links]
    session.add(
        NotificationRow(
            receiver=receiver,
            dedup_key=_clean(payloads.fit_key(dedup_key, KEY_LENGTH)),
            status=status,
            group_key=_clean(group_key),
            payload=payload,
            idempotency_key=uuid.uuid4().hex,
            state="pending",
            created_at=now,
            due_since=now,
            next_attempt_at=now,
            claimed_until=None,
            attempts=0,
        )
    )


def notification_of(row: NotificationRow) -> payloads.Notification:
    """What a stored notification says, for the payload builders."""
    data = row.payload
    return payloads.Notification(
        id=row.id,
        receiver=row.receiver,
        dedup_key=row.dedup_key,
        status=row.status,
        group_key=row.group_key,
        alerts=list(data.get("alerts", [])),
        group_labels=dict(data.get("group_labels", {})),
        common_labels=dict(data.get("common_labels", {})),
        common_annotations=dict(data.get("common_annotations", {})),
        external_url=str(data.get("external_url", "")),
        links=[
            (str(link.get("text", "")), str(link.get("href", "")))
            for link in data.get("links", [])
            if isinstance(link, dict)
        ],
        idempotency_key=row.idempotency_key,
    )


def list_notifications(
    session: Session,
    *,
    state: str | None,
    receiver: str | None,
    limit: int,
    before: int | None = None,
) -> tuple[list[NotificationRow], int | None]:
    """A page of notifications, newest first; the id to continue before when more follow."""
    query = select(NotificationRow).order_by(NotificationRow.id.desc()).limit(limit + 1)
    if state is not None:
        query = query.where(NotificationRow.state == state)
    if receiver is not None:
        query = query.where(NotificationRow.receiver == receiver)
    if before is not None:
        query = query.where(NotificationRow.id < before)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].id if more and rows else None


def get_notification(session: Session, notification_id: int) -> NotificationRow | None:
    """One notification, if it exists."""
    return session.get(NotificationRow, notification_id)


def attempts(session: Session, notification_id: int) -> list[AttemptRow]:
    """Every attempt to deliver a notification, oldest first."""
    query = (
        select(AttemptRow)
        .where(AttemptRow.notification_id == notification_id)
        .order_by(AttemptRow.id)
    )
    return list(session.scalars(query))


def retry(ctx: Ctx, notification_id: int) -> NotificationRow:
    """Send a dead letter again: it is pending from now, with a new retry window.

    Raises:
        NotFoundError: there is no such notification.
        ConflictError: it is not dead, or a newer notification under its dedup key was
            delivered since (sending it now would undo that one).
    """
    row = ctx.session.get(
        NotificationRow, notification_id, populate_existing=True, with_for_update=True
    )
    if row is None:
        raise NotFoundError(f"no notification {notification_id}")
    if row.state != "dead":
        raise ConflictError(
            f"notification {notification_id} is {row.state}; only dead ones are retried"
        )
    newer = ctx.session.scalar(
        select(
            exists().where(
                NotificationRow.receiver == row.receiver,
                NotificationRow.dedup_key == row.dedup_key,
                NotificationRow.id > row.id,
                NotificationRow.state == "delivered",
            )
        )
    )
    if newer:
        raise ConflictError(
            f"notification {notification_id} is superseded: a newer notification for dedup key "
            f"{row.dedup_key!r} was delivered to {row.receiver!r}"
        )
    row.state = "pending"
    row.due_since = ctx.now
    row.next_attempt_at = ctx.now
    row.claimed_until = None
    row.finished_at = None
    ctx.audit(
        "notification.retry",
        "notification",
        str(row.id),
        before={"state": "dead", "last_error": row.last_error},
        after={"state": "pending"},
    )
    ctx.event(
        "notification.retried",
        attributes={
            "id": row.id,
            "receiver": row.receiver,
            "dedup_key": row.dedup_key,
            "status": row.status,
        },
    )
    return row
