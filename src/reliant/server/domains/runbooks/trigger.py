"""The ``runbooks.trigger`` job: alerts that start firing start the runbooks they match.

It reads ``alert.firing`` events after a stored cursor. Ids may commit out of order on
PostgreSQL, so, as the live event stream does, it never passes a missing id until the id
shows up or has been missing for ``GAP_GRACE`` seconds. For each event, every runbook
with a trigger whose matchers all match the alert's labels is started, within its
guardrails — otherwise a ``runbook.run_skipped`` event says why:

- the kill switch is off (``PUT /api/v1/settings/runbooks {"enabled": false}``);
- an automatic run of it is still active;
- its last automatic run ended less than ``cooldown`` ago;
- ``max_runs_per_hour`` automatic runs started in the last hour.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant._core.durations import parse_duration
from reliant.server.domains.alerts import matches_all, parse_matchers
from reliant.server.domains.runbooks import flow, runs, service
from reliant.server.domains.runbooks.adopt import adopt
from reliant.server.domains.runbooks.models import CursorRow, RunbookRow
from reliant.server.events import EventRow, Severity, append
from reliant.server.events.query import newest_id, scan
from reliant.server.events.stream import Position
from reliant.spec.models import RunbookSpec, RunbookTrigger
from reliant.spec.runbooks import render

log = logging.getLogger("reliant.server.runbooks")

#: The cursor's row.
CURSOR = "trigger"
#: Event ids looked at per run.
SCAN = 1000


class Trigger:
    """Starts runbooks from firing alerts; ``run(session, now)`` is the job's body.

    Args:
        env: where the executables' allow-list is read (``os.environ`` when omitted).
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = env

    def run(self, session: Session, now: float) -> None:
        """Handle the ``alert.firing`` events committed since the last run, then link
        recent automatic runs to their alerts' incidents (:mod:`.adopt`)."""
        cursor = session.get(CursorRow, CURSOR, with_for_update=True, populate_existing=True)
        if cursor is None:  # the first run: only alerts from now on
            start = newest_id(session)
            session.add(
                CursorRow(
                    name=CURSOR, last=start, gap=None, gap_since=0.0, given_up=0, updated_at=now
                )
            )
            return
        position = Position(cursor.last, cursor.gap, cursor.gap_since, cursor.given_up)
        scanned = scan(session, after=cursor.last, limit=SCAN)
        safe = position.safe_upto(scanned, now=now, server_now=now)
        if safe > cursor.last:
            query = (
                select(EventRow)
                .where(EventRow.id > cursor.last, EventRow.id <= safe)
                .where(EventRow.kind == "alert.firing")
                .order_by(EventRow.id)
            )
            firing = list(session.scalars(query))
            if firing:
                runbooks = _triggered(session)
                for found in firing:
                    self.handle(session, found, runbooks, now)
        cursor.last = max(cursor.last, safe)
        cursor.gap = position.gap
        cursor.gap_since = position.gap_since
        cursor.given_up = position.given_up
        cursor.updated_at = now
        adopt(session, now)

    def handle(
        self,
        session: Session,
        found: EventRow,
        runbooks: list[tuple[RunbookRow, RunbookSpec]],
        now: float,
    ) -> None:
        """Start (or skip) every runbook one firing alert matches."""
        labels = found.attributes.get("labels")
        if not isinstance(labels, dict):
            return
        labels = {str(k): str(v) for k, v in labels.items()}
        for row, spec in runbooks:
            trigger = _first_match(spec.triggers, labels)
            if trigger is None:
                continue
            alert = {
                "event": found.id,
                "fingerprint": found.attributes.get("fingerprint"),
                "alertname": labels.get("alertname", ""),
            }
            reason = _refusal(session, row, spec, now)
            params = {k: render(v, {"labels": labels}) for k, v in trigger.params.items()}
            if reason is None:
                try:
                    with session.begin_nested():
                        runs.start(
                            session,
                            row,
                            params,
                            now=now,
                            actor=f"alert:{alert['alertname']}"[:100],
                            trigger=alert,
                            service=labels.get("service") or None,
                            env=self.env,
                        )
                except service.Invalid as exc:
                    reason = f"cannot start: {exc}"
            if reason is not None:
                append(
                    session,
                    kind="runbook.run_skipped",
                    now=now,
                    service=spec.service or labels.get("service") or None,
                    severity=Severity.WARNING,
                    attributes={"runbook": row.name, "reason": reason, "alert": alert},
                )


def _triggered(session: Session) -> list[tuple[RunbookRow, RunbookSpec]]:
    found = []
    for row in session.scalars(select(RunbookRow).order_by(RunbookRow.name)):
        if not row.spec.get("triggers"):
            continue
        try:
            found.append((row, RunbookSpec.model_validate(row.spec)))
        except ValidationError:  # stored by a version that allowed more: never trigger it
            log.warning("runbook %s is no longer valid; its triggers are ignored", row.name)
    return found


def _first_match(
    triggers: list[RunbookTrigger], labels: Mapping[str, str]
) -> RunbookTrigger | None:
    for trigger in triggers:
        try:
            matchers = [m for text in trigger.matchers for m in parse_matchers(text)]
        except ValueError:
            continue  # refused when the runbook was written; the spec changed rules since
        if matches_all(matchers, labels):
            return trigger
    return None


def _refusal(session: Session, row: RunbookRow, spec: RunbookSpec, now: float) -> str | None:
    """Why the guardrails refuse an automatic run now, or ``None``."""
    if not service.automation(session)["enabled"]:
        return "automatic runs are switched off (the runbooks kill switch)"
    last = runs.last_automatic(session, row.name)
    if last is not None and last.state in flow.ACTIVE:
        return f"automatic run {last.id} of this runbook is still {last.state}"
    cooldown = parse_duration(spec.guardrails.cooldown, option="cooldown")
    if last is not None and last.finished_at is not None and now - last.finished_at < cooldown:
        left = cooldown - (now - last.finished_at)
        return f"cooling down after run {last.id}: {left:.0f}s of {spec.guardrails.cooldown} left"
    limit = spec.guardrails.max_runs_per_hour
    if runs.automatic_runs(session, row.name, now - 3600.0) >= limit:
        return f"{limit} automatic runs started in the last hour (max_runs_per_hour: {limit})"
    return None
