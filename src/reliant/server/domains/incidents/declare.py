"""Declaring incidents from alerts: the ``incidents.declare`` job's pass over the event log.

Each pass reads the ``alert.firing`` and ``alert.resolved`` events appended since the last
one, from a cursor stored in ``incident_cursor`` (committed with the pass's changes, so an
event is handled exactly once). Like a live stream (``reliant.server.events.stream``), it
never passes a missing id younger than the gap grace: on PostgreSQL a later id can commit
before an earlier one, and the earlier one's alert must not be skipped.

- A firing alert already linked to an open incident marks it firing there again.
- Otherwise the first rule (by name) accepting its labels takes it: the alert attaches to
  that rule's open incident of the same group (the ``group_by`` label values), or a new
  incident is declared.
- A resolved alert is marked resolved on the open incidents linking it; when an incident
  declared by a rule has no firing alert left, it becomes ``mitigated`` (or ``resolved``
  with the rule's ``auto_resolve``) — if that is a move forward.

Every handled alert event is linked to the incident's timeline.
"""

from __future__ import annotations

import math
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reliant.server.domains.incidents import lifecycle, service
from reliant.server.domains.incidents.models import (
    IncidentAlertRow,
    IncidentCursorRow,
    IncidentRow,
    IncidentRuleRow,
)
from reliant.server.domains.incidents.recording import Acting, link
from reliant.server.domains.incidents.rules import (
    CompiledRule,
    RuleError,
    compile_rule,
    first_match,
    group_hash,
)
from reliant.server.events import EventFilter, EventRow
from reliant.server.events import query as events_query
from reliant.server.events.stream import Position
from reliant.spec.models import NAME_PATTERN, IncidentRuleSpec

#: The cursor row's name.
CURSOR = "declare"
#: Ids looked at per read of the log, and reads per pass at most.
SCAN = 1000
MAX_SCANS = 20
#: The events a pass handles.
ALERT_EVENTS = EventFilter(kinds=("alert.firing", "alert.resolved"))
_FINGERPRINT = re.compile(r"^[0-9a-f]{16}$")
_NAME = re.compile(NAME_PATTERN)


def ensure_cursor(session: Session, now: float) -> IncidentCursorRow:
    """The cursor, made at the log's newest event when there is none: a new installation
    (or the first rule) starts from now rather than from the whole history."""
    row = session.get(IncidentCursorRow, CURSOR)
    if row is not None:
        return row
    row = IncidentCursorRow(
        name=CURSOR,
        last_id=events_query.newest_id(session),
        gap=None,
        gap_since=0.0,
        given_up=0,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # made at the same moment by another transaction
        found = session.get(IncidentCursorRow, CURSOR, with_for_update=True, populate_existing=True)
        assert found is not None
        return found
    return row


def run(session: Session, now: float) -> int:
    """One pass: handle the alert events appended since the last pass.

    Returns:
        How many alert events were handled.
    """
    cursor = session.get(IncidentCursorRow, CURSOR, with_for_update=True)
    if cursor is None:
        ensure_cursor(session, now)
        return 0
    position = Position(
        last=cursor.last_id,
        gap=cursor.gap,
        gap_since=cursor.gap_since,
        given_up=cursor.given_up,
    )
    handler = _Pass(session, now)
    handled = 0
    for _ in range(MAX_SCANS):
        scanned = events_query.scan(session, after=position.last, limit=SCAN)
        safe = position.safe_upto(scanned, now=now, server_now=now)
        if safe > position.last:
            rows = events_query.between(
                session, ALERT_EVENTS, after=position.last, upto=safe, limit=SCAN
            )
            for row in rows:
                handler.handle(row)
            handled += len(rows)
            position.last = safe
        if len(scanned) < SCAN or safe < scanned[-1][0]:
            break
    cursor.last_id, cursor.gap, cursor.gap_since = position.last, position.gap, position.gap_since
    cursor.given_up, cursor.updated_at = position.given_up, now
    return handled


def load_rules(session: Session) -> list[CompiledRule]:
    """Every rule ready to match, in name order; a stored rule that no longer compiles is
    skipped."""
    found = []
    for row in session.scalars(select(IncidentRuleRow).order_by(IncidentRuleRow.name)):
        try:
            found.append(compile_rule(row.name, IncidentRuleSpec.model_validate(row.spec)))
        except (RuleError, ValueError):
            continue
    return found


def _labels(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return dict(value)


class _Pass:
    """The state of one pass: the session, the time, the rules (read when first needed)."""

    def __init__(self, session: Session, now: float) -> None:
        self.session = session
        self.now = now
        self._rules: list[CompiledRule] | None = None

    @property
    def rules(self) -> list[CompiledRule]:
        if self._rules is None:
            self._rules = load_rules(self.session)
        return self._rules

    def acting(self, rule: str) -> Acting:
        return Acting(self.session, self.now, actor=f"rule:{rule}", source="server")

    def handle(self, row: EventRow) -> None:
        """Handle one alert event (events of another shape are ignored)."""
        attributes = row.attributes if isinstance(row.attributes, dict) else {}
        fp = attributes.get("fingerprint")
        labels = _labels(attributes.get("labels"))
        if not isinstance(fp, str) or not _FINGERPRINT.match(fp) or labels is None:
            return
        if row.kind == "alert.firing":
            self.firing(row, fp, labels, str(attributes.get("summary") or ""))
        else:
            ends = attributes.get("ends_at")
            at = row.time
            if isinstance(ends, int | float) and not isinstance(ends, bool) and math.isfinite(ends):
                at = float(ends)
            self.resolved(row, fp, at)

    def _linked(self, fp: str, *, firing_only: bool) -> list[tuple[IncidentAlertRow, int]]:
        query = (
            select(IncidentAlertRow, IncidentRow.id)
            .join(IncidentRow, IncidentRow.id == IncidentAlertRow.incident_id)
            .where(
                IncidentAlertRow.fingerprint == fp,
                IncidentRow.state.in_(lifecycle.OPEN),
            )
        )
        if firing_only:
            query = query.where(IncidentAlertRow.state == "firing")
        return [(alert, int(incident)) for alert, incident in self.session.execute(query)]

    def firing(self, row: EventRow, fp: str, labels: dict[str, str], summary: str) -> None:
        """Refresh the alert where it is linked, or apply the rules to it."""
        linked = self._linked(fp, firing_only=False)
        for alert, incident_id in linked:
            alert.state, alert.resolved_at = "firing", None
            link(self.session, incident_id, row.id)
        if linked:
            return
        match = first_match(self.rules, labels)
        if match is None:
            return
        rule, severity = match
        group = rule.group_of(labels)
        key = group_hash(rule.name, group)
        new_alert = service.NewAlert(
            fingerprint=fp, alertname=labels.get("alertname", ""), labels=labels
        )
        query = (
            select(IncidentRow)
            .where(
                IncidentRow.rule == rule.name,
                IncidentRow.group_hash == key,
                IncidentRow.state.in_(lifecycle.OPEN),
            )
            .order_by(IncidentRow.id.desc())
            .limit(1)
        )
        incident = self.session.scalars(query).first()
        if incident is not None:
            self.session.add(
                IncidentAlertRow(
                    incident_id=incident.id,
                    fingerprint=fp,
                    alertname=new_alert.alertname[:256],
                    labels=labels,
                    state="firing",
                    linked_at=self.now,
                    resolved_at=None,
                )
            )
            incident.updated_at = self.now
            link(self.session, incident.id, row.id)
            return
        name = labels.get("service", "")
        declared = service.declare(
            self.acting(rule.name),
            title=rule.title_of(labels, summary),
            severity=severity,
            summary=summary,
            services=[name] if _NAME.match(name) else [],
            alerts=[new_alert],
            rule=rule.name,
            group_hash=key,
            group_labels=group,
        )
        link(self.session, declared.id, row.id)

    def resolved(self, row: EventRow, fp: str, at: float) -> None:
        """Mark the alert resolved where it fires; settle incidents left without alerts."""
        for alert, incident_id in self._linked(fp, firing_only=True):
            alert.state, alert.resolved_at = "resolved", at
            link(self.session, incident_id, row.id)
            self.session.flush()
            self.settle(incident_id)

    def settle(self, incident_id: int) -> None:
        """Mitigate (or resolve) a rule's incident whose alerts have all resolved."""
        firing = select(IncidentAlertRow.fingerprint).where(
            IncidentAlertRow.incident_id == incident_id, IncidentAlertRow.state == "firing"
        )
        if self.session.scalars(firing.limit(1)).first() is not None:
            return
        incident = self.session.get(
            IncidentRow, incident_id, with_for_update=True, populate_existing=True
        )
        if incident is None or incident.rule is None:
            return
        rule = next((r for r in self.rules if r.name == incident.rule), None)
        if rule is None:
            return
        target = lifecycle.RESOLVED if rule.spec.auto_resolve else lifecycle.MITIGATED
        if target in lifecycle.allowed(incident.state):
            service.change_state(self.acting(rule.name), incident, target)
