"""Telling receivers about incidents: one notification per change, through notify's outbox.

An incident's receivers are the union of three lists: the server-wide setting
``incident_notify`` (admins: ``PUT /api/v1/settings/incident-notify``), the ``notify`` list
of the rule that declared it, and its own subscribers (``PUT .../subscribers``). Each
notification carries the dedup key ``incident-<id>``, so a receiver keeps one alert per
incident: status ``firing`` while it is open, ``acknowledged`` once acknowledged,
``resolved`` when resolved or closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from reliant.server.domains import notify
from reliant.server.domains.incidents import lifecycle
from reliant.server.domains.incidents.models import IncidentRow, IncidentRuleRow
from reliant.server.domains.incidents.recording import Acting, services_of
from reliant.server.events.models import ServerSetting

#: Key of the server-wide receivers in ``server_settings``.
SETTING_KEY = "incident_notify"
#: Most receivers the setting or an incident's subscribers may name.
MAX_RECEIVERS = 20
#: The ``severity`` label of each incident severity (receivers map it to their own).
LABEL_SEVERITY = {
    "SEV1": "critical",
    "SEV2": "critical",
    "SEV3": "error",
    "SEV4": "warning",
    "SEV5": "info",
}
#: Longest description sent.
DESCRIPTION_LENGTH = 4000


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifySetting:
    """The server-wide receivers of every incident's changes."""

    receivers: list[str]
    updated_at: float | None = None
    updated_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The setting as the API shows it."""
        return {
            "receivers": list(self.receivers),
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        }


def setting(session: Session) -> NotifySetting:
    """The receivers told of every incident (none until an admin sets them)."""
    row = session.get(ServerSetting, SETTING_KEY)
    if row is None:
        return NotifySetting(receivers=[])
    names = row.value.get("receivers")
    receivers = [str(n) for n in names] if isinstance(names, list) else []
    return NotifySetting(receivers=receivers, updated_at=row.updated_at, updated_by=row.updated_by)


def set_setting(
    session: Session, receivers: list[str], *, now: float, actor: str
) -> tuple[NotifySetting, NotifySetting]:
    """Store the server-wide receivers; return the setting before and after."""
    before = setting(session)
    row = session.get(ServerSetting, SETTING_KEY, with_for_update=True)
    if row is None:
        row = ServerSetting(key=SETTING_KEY, value={}, updated_at=now, updated_by=actor)
        session.add(row)
    row.value = {"receivers": sorted(set(receivers))}
    row.updated_at, row.updated_by = now, actor
    session.flush()
    return before, setting(session)


def receivers_of(session: Session, row: IncidentRow) -> list[str]:
    """Everyone told of this incident's changes, by name."""
    names = set(setting(session).receivers) | {str(s) for s in row.subscribers}
    if row.rule is not None:
        rule = session.get(IncidentRuleRow, row.rule)
        if rule is not None:
            names |= {str(n) for n in rule.spec.get("notify", [])}
    return sorted(names)


def send(acting: Acting, row: IncidentRow, *, change: str, text: str = "") -> int:
    """Queue one notification about a change of ``row`` for each of its receivers.

    Args:
        change: what happened, e.g. ``declared``, ``acknowledged``, ``status update``.
        text: more about it (a status update's text), sent as the description.

    Returns:
        How many notifications were queued.
    """
    receivers = receivers_of(acting.session, row)
    if not receivers:
        return 0
    services = services_of(acting.session, row.id)
    labels = {
        "alertname": "Incident",
        "incident": str(row.id),
        "severity": LABEL_SEVERITY.get(row.severity, "error"),
        "incident_severity": row.severity,
        "state": row.state,
    }
    if services:
        labels["service"] = services[0]
    summary = f"[{row.severity}] Incident #{row.id}: {row.title} ({change})"
    annotations = {"summary": summary, "description": (text or row.summary)[:DESCRIPTION_LENGTH]}
    status = lifecycle.NOTIFY_STATUS[row.state]
    alert = {
        "status": "resolved" if status == "resolved" else "firing",
        "labels": labels,
        "annotations": annotations,
        "startsAt": row.created_at,
        "endsAt": row.resolved_at if status == "resolved" else None,
        "fingerprint": f"incident-{row.id}",
    }
    for receiver in receivers:
        notify.enqueue(
            acting.session,
            receiver=receiver,
            dedup_key=f"incident-{row.id}",
            status=status,
            group_key=f"incident-{row.id}",
            alerts=[alert],
            group_labels={"incident": str(row.id)},
            common_labels=labels,
            common_annotations=annotations,
            now=acting.now,
        )
    return len(receivers)
