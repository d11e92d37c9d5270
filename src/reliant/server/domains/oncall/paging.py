"""Pages: alerts routed to an escalation policy, escalated until someone acknowledges.

:func:`route` stands in for the notify facade's ``enqueue`` in the alert dispatcher: a
notification for a receiver that names an escalation policy opens (or updates, reopens,
resolves) the page of its dedup key; any other goes to ``enqueue`` unchanged. A page's
notifications go through ``enqueue`` under the dedup key ``page-<id>``, to the members on
call and receivers of its current level, with signed acknowledge and resolve links.

:func:`escalate` (the ``oncall.escalate`` job) moves triggered pages past their level's
timeout to the next level, runs the levels again ``repeat`` times, and re-triggers pages
whose acknowledgement expired. Nothing here commits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant._core.durations import parse_duration
from reliant.server.auth import audit
from reliant.server.domains.notify import enqueue
from reliant.server.domains.oncall import links, service
from reliant.server.domains.oncall.models import BY_LENGTH, TITLE_LENGTH, PageRow, PolicyRow
from reliant.server.events import Severity, append
from reliant.server.settings import DEFAULT_HOST, DEFAULT_PORT
from reliant.spec.models import EscalationPolicySpec

TRIGGERED, ACKNOWLEDGED, RESOLVED = "triggered", "acknowledged", "resolved"
#: A page's states.
STATES = (TRIGGERED, ACKNOWLEDGED, RESOLVED)
OPEN = (TRIGGERED, ACKNOWLEDGED)
#: Where links point when the server's public URL is not known.
DEFAULT_PUBLIC_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
#: Who resolves a page when its alerts resolve.
BY_ALERTS = "alerts"
#: Source of the events the on-call machinery records by itself.
SOURCE = "oncall"
#: Most pages one escalation run moves.
BATCH = 500


@dataclass(slots=True)
class Escalation:
    """What one escalation run did: page ids escalated, exhausted, re-triggered."""

    escalated: list[int] = field(default_factory=list)
    exhausted: list[int] = field(default_factory=list)
    retriggered: list[int] = field(default_factory=list)


def key_hash(dedup_key: str) -> str:
    """The stored digest of a dedup key."""
    return hashlib.sha256(dedup_key.encode()).hexdigest()


def _title(payload: dict[str, Any]) -> str:
    labels: dict[str, Any] = payload["common_labels"] or payload["group_labels"]
    name = labels.get("alertname")
    if not name and payload["alerts"]:
        name = (payload["alerts"][0].get("labels") or {}).get("alertname")
    summary = payload["common_annotations"].get("summary")
    text = f"{name or 'alert'}: {summary}" if summary else str(name or "alert")
    return text[:TITLE_LENGTH]


def _policy(session: Session, name: str) -> EscalationPolicySpec | None:
    row = session.get(PolicyRow, name)
    return None if row is None else EscalationPolicySpec.model_validate(row.spec)


def _timeout(spec: EscalationPolicySpec, level: int) -> float:
    return parse_duration(spec.levels[level - 1].timeout)


def snapshot(page: PageRow) -> dict[str, Any]:
    """A page's state as audit records show it."""
    return {
        "state": page.state,
        "level": page.level,
        "cycle": page.cycle,
        "acknowledged_by": page.acknowledged_by,
        "resolved_by": page.resolved_by,
    }


def _event(
    session: Session,
    page: PageRow,
    kind: str,
    now: float,
    *,
    source: str = SOURCE,
    severity: Severity = Severity.INFO,
    **attributes: Any,
) -> None:
    append(
        session,
        kind=kind,
        now=now,
        service=page.service,
        severity=severity,
        source=source[:100],
        attributes={"id": page.id, "policy": page.policy, "title": page.title, **attributes},
    )


def _send(
    session: Session, page: PageRow, receiver: str, status: str, now: float, base: str
) -> None:
    """One notification of ``page`` to ``receiver`` through the notify outbox."""
    actions = {"firing": links.ACTIONS, "acknowledged": ("resolve",)}.get(status, ())
    shown = [
        (
            action.capitalize(),
            links.make(
                session, base_url=base, action=action, page_id=page.id, receiver=receiver, now=now
            ),
        )
        for action in actions
    ]
    data = page.payload
    shown += [(str(text), str(href)) for text, href in data.get("links", [])]
    enqueue(
        session,
        receiver=receiver,
        dedup_key=f"page-{page.id}",
        status=status,
        group_key=page.group_key,
        alerts=list(data["alerts"]),
        group_labels=dict(data["group_labels"]),
        common_labels=dict(data["common_labels"]),
        common_annotations=dict(data["common_annotations"]),
        now=now,
        external_url=f"{base.rstrip('/')}/pages#page-{page.id}",
        links=shown,
    )


def _notify_level(
    session: Session, page: PageRow, spec: EscalationPolicySpec, now: float, base: str
) -> tuple[list[str], list[str]]:
    """Notify the targets of the page's level; the receivers notified, and the schedules
    on which nobody is on call."""
    receivers: list[str] = []
    nobody: list[str] = []
    for target in spec.levels[page.level - 1].targets:
        if target.receiver is not None:
            receivers.append(target.receiver)
            continue
        assert target.schedule is not None
        member = service.on_call(session, target.schedule, now)
        if member is None:
            nobody.append(target.schedule)
        else:
            receivers.append(member)
    receivers = list(dict.fromkeys(receivers))
    for receiver in receivers:
        _send(session, page, receiver, "firing", now, base)
    page.notified = list(dict.fromkeys([*page.notified, *receivers]))
    return receivers, nobody


def _trigger(
    session: Session, page: PageRow, spec: EscalationPolicySpec, now: float, base: str
) -> tuple[list[str], list[str]]:
    """(Re)start escalation at level 1 now."""
    page.state = TRIGGERED
    page.level = 1
    page.cycle = 0
    page.exhausted = False
    page.triggered_at = now
    page.updated_at = now
    page.acknowledged_at = page.acknowledged_by = page.ack_expires_at = None
    page.resolved_at = page.resolved_by = None
    page.next_escalation_at = now + _timeout(spec, 1)
    return _notify_level(session, page, spec, now, base)


def _severity(nobody: list[str]) -> Severity:
    return Severity.ERROR if nobody else Severity.WARNING


def route(
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
    public_url: str = "",
) -> None:
    """Page through the escalation policy named ``receiver``, else ``enqueue`` unchanged.

    Takes ``enqueue``'s arguments (see ``reliant.server.domains.notify.enqueue``). For a
    policy: ``firing`` opens a page for the dedup key (notifying level 1), updates the open
    one's alerts (notifying nobody), or reopens the page resolved less than the policy's
    ``reopen_within`` ago; ``resolved`` resolves the open page, telling every receiver it
    notified.

    Args:
        links: shown after the page's own acknowledge and resolve links.
        public_url: the server's URL, for the links in page notifications (default
            ``external_url``, else ``http://127.0.0.1:7474``).
    """
    row = session.get(PolicyRow, receiver)
    if row is None:
        enqueue(
            session,
            receiver=receiver,
            dedup_key=dedup_key,
            status=status,
            group_key=group_key,
            alerts=alerts,
            group_labels=group_labels,
            common_labels=common_labels,
            common_annotations=common_annotations,
            now=now,
            external_url=external_url,
            links=links,
        )
        return
    spec = EscalationPolicySpec.model_validate(row.spec)
    base = public_url or external_url or DEFAULT_PUBLIC_URL
    payload = {
        "alerts": list(alerts),
        "group_labels": dict(group_labels),
        "common_labels": dict(common_labels),
        "common_annotations": dict(common_annotations),
        "links": [[str(text), str(href)] for text, href in links or []],
    }
    digest = key_hash(dedup_key)
    latest = session.scalars(
        select(PageRow)
        .where(PageRow.key_hash == digest, PageRow.policy == receiver)
        .order_by(PageRow.id.desc())
        .limit(1)
        .with_for_update()
    ).first()
    if status == "firing":
        if latest is not None and latest.state in OPEN:
            latest.payload, latest.title, latest.updated_at = payload, _title(payload), now
            return
        reopen = parse_duration(spec.reopen_within)
        resolved_at = latest.resolved_at if latest is not None else None
        if latest is not None and resolved_at is not None and now - resolved_at <= reopen:
            latest.payload, latest.title = payload, _title(payload)
            latest.reopened += 1
            sent, nobody = _trigger(session, latest, spec, now, base)
            _event(
                session,
                latest,
                "oncall.page.reopened",
                now,
                severity=_severity(nobody),
                receivers=sent,
                nobody_on_call=nobody,
                reopened=latest.reopened,
            )
            return
        _open(session, receiver, dedup_key, group_key, payload, spec, now, base)
    elif status == "resolved" and latest is not None and latest.state in OPEN:
        latest.payload = payload
        resolve_page(session, latest, by=BY_ALERTS, now=now, base=base)


def _open(
    session: Session,
    policy: str,
    dedup_key: str,
    group_key: str,
    payload: dict[str, Any],
    spec: EscalationPolicySpec,
    now: float,
    base: str,
) -> PageRow:
    labels = payload["common_labels"]
    service_label = labels.get("service")
    page = PageRow(
        policy=policy,
        dedup_key=dedup_key,
        key_hash=key_hash(dedup_key),
        state=TRIGGERED,
        level=1,
        cycle=0,
        exhausted=False,
        title=_title(payload),
        service=str(service_label)[:200] if service_label else None,
        group_key=group_key,
        payload=payload,
        created_at=now,
        updated_at=now,
        triggered_at=now,
        notified=[],
        reopened=0,
    )
    session.add(page)
    session.flush()
    sent, nobody = _trigger(session, page, spec, now, base)
    _event(
        session,
        page,
        "oncall.page.triggered",
        now,
        severity=_severity(nobody),
        dedup_key=dedup_key,
        receivers=sent,
        nobody_on_call=nobody,
    )
    return page


def escalate(session: Session, now: float, *, public_url: str = "") -> Escalation:
    """One escalation run at ``now`` (the ``oncall.escalate`` job); it never commits.

    A triggered page past its level's timeout moves to the next level; after the last it
    starts again at level 1 while its cycle is below the policy's ``repeat``, else it stays
    at the last level (``oncall.page.exhausted``, once). An acknowledged page past its
    ``ack_timeout`` is triggered again at level 1.
    """
    base = public_url or DEFAULT_PUBLIC_URL
    done = Escalation()
    due = (
        select(PageRow)
        .where(PageRow.state == TRIGGERED, PageRow.next_escalation_at <= now)
        .order_by(PageRow.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    for page in session.scalars(due):
        spec = _policy(session, page.policy)
        if spec is None:  # the policy was deleted: nothing to escalate to
            page.next_escalation_at = None
            continue
        if page.level < len(spec.levels):
            page.level += 1
        elif page.cycle < spec.repeat:
            page.cycle, page.level = page.cycle + 1, 1
        else:
            page.exhausted, page.next_escalation_at, page.updated_at = True, None, now
            done.exhausted.append(page.id)
            _event(
                session,
                page,
                "oncall.page.exhausted",
                now,
                severity=Severity.ERROR,
                level=page.level,
                cycle=page.cycle,
                notified=list(page.notified),
            )
            continue
        page.updated_at = now
        page.next_escalation_at = now + _timeout(spec, page.level)
        sent, nobody = _notify_level(session, page, spec, now, base)
        done.escalated.append(page.id)
        _event(
            session,
            page,
            "oncall.page.escalated",
            now,
            severity=_severity(nobody),
            level=page.level,
            cycle=page.cycle,
            receivers=sent,
            nobody_on_call=nobody,
        )
    expired = (
        select(PageRow)
        .where(PageRow.state == ACKNOWLEDGED, PageRow.ack_expires_at <= now)
        .order_by(PageRow.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    for page in session.scalars(expired):
        spec = _policy(session, page.policy)
        if spec is None:
            page.ack_expires_at = None
            continue
        by = page.acknowledged_by
        sent, nobody = _trigger(session, page, spec, now, base)
        done.retriggered.append(page.id)
        _event(
            session,
            page,
            "oncall.page.ack_expired",
            now,
            severity=_severity(nobody),
            acknowledged_by=by,
            receivers=sent,
            nobody_on_call=nobody,
        )
    return done


def _locked(session: Session, page_id: int) -> PageRow:
    page = session.get(PageRow, page_id, populate_existing=True, with_for_update=True)
    if page is None:
        raise service.NotFound(f"no page {page_id}; list them with GET /api/v1/oncall/pages")
    return page


def acknowledge(
    session: Session, page_id: int, *, by: str, now: float, public_url: str = ""
) -> tuple[PageRow, bool]:
    """Acknowledge a page: escalation stops, its notified receivers hear it.

    Returns:
        the page and whether it changed (acknowledging an acknowledged page changes nothing).

    Raises:
        service.NotFound: there is no such page.
        service.Conflict: the page is resolved.
    """
    page = _locked(session, page_id)
    if page.state == RESOLVED:
        raise service.Conflict(
            f"page {page_id} was resolved by {page.resolved_by}; there is nothing to acknowledge"
        )
    if page.state == ACKNOWLEDGED:
        return page, False
    before = snapshot(page)
    spec = _policy(session, page.policy)
    page.state = ACKNOWLEDGED
    page.acknowledged_at = now
    page.acknowledged_by = by[:BY_LENGTH]
    page.next_escalation_at = None
    page.updated_at = now
    if spec is not None and spec.ack_timeout is not None:
        page.ack_expires_at = now + parse_duration(spec.ack_timeout)
    base = public_url or DEFAULT_PUBLIC_URL
    for receiver in page.notified:
        _send(session, page, receiver, "acknowledged", now, base)
    audit.record(
        session,
        actor=by[:100],
        action="page.acknowledge",
        target_kind="page",
        target_id=str(page.id),
        now=now,
        before=before,
        after=snapshot(page),
    )
    _event(
        session,
        page,
        "oncall.page.acknowledged",
        now,
        source=by,
        by=by,
        level=page.level,
        seconds_to_acknowledge=now - page.triggered_at,
        ack_expires_at=page.ack_expires_at,
    )
    return page, True


def resolve(
    session: Session, page_id: int, *, by: str, now: float, public_url: str = ""
) -> tuple[PageRow, bool]:
    """Resolve a page by hand: escalation stops, its notified receivers hear it.

    Returns:
        the page and whether it changed (resolving a resolved page changes nothing).

    Raises:
        service.NotFound: there is no such page.
    """
    page = _locked(session, page_id)
    if page.state == RESOLVED:
        return page, False
    before = snapshot(page)
    resolve_page(session, page, by=by, now=now, base=public_url or DEFAULT_PUBLIC_URL)
    audit.record(
        session,
        actor=by[:100],
        action="page.resolve",
        target_kind="page",
        target_id=str(page.id),
        now=now,
        before=before,
        after=snapshot(page),
    )
    return page, True


def resolve_page(session: Session, page: PageRow, *, by: str, now: float, base: str) -> None:
    """Resolve an open page now and tell every receiver it notified."""
    page.state = RESOLVED
    page.resolved_at = now
    page.resolved_by = by[:BY_LENGTH]
    page.next_escalation_at = None
    page.ack_expires_at = None
    page.updated_at = now
    for receiver in page.notified:
        _send(session, page, receiver, "resolved", now, base)
    _event(
        session,
        page,
        "oncall.page.resolved",
        now,
        source=by,
        by=by,
        seconds_open=now - page.triggered_at,
    )


def get(session: Session, page_id: int) -> PageRow | None:
    """A page, if it exists."""
    return session.get(PageRow, page_id)


def pages(
    session: Session,
    *,
    states: list[str] | None = None,
    limit: int,
    before: int | None = None,
) -> tuple[list[PageRow], int | None]:
    """A page of pages, newest first; the id to continue before when more follow."""
    query = select(PageRow).order_by(PageRow.id.desc()).limit(limit + 1)
    if states:
        query = query.where(PageRow.state.in_(states))
    if before is not None:
        query = query.where(PageRow.id < before)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].id if more and rows else None
