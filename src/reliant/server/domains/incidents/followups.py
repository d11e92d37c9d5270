"""Use cases of what people add to an incident: status updates and follow-up tasks.

A status update says what is known now; with ``notify`` (the default) its text goes to the
incident's receivers. Tasks are follow-ups with an owner and a due date. Nothing here
commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from reliant.server.domains.incidents import notifications
from reliant.server.domains.incidents.models import IncidentTaskRow, IncidentUpdateRow
from reliant.server.domains.incidents.recording import (
    Acting,
    IncidentNotFound,
    record_audit,
    require,
)
from reliant.server.domains.incidents.recording import event as record_event

#: Longest text kept in an event's attributes (the full text is in the update's row).
EVENT_TEXT = 2000


def add_update(
    acting: Acting, incident_id: int, text: str, *, notify: bool = True
) -> IncidentUpdateRow:
    """Post a status update; with ``notify``, send it to the incident's receivers."""
    row = require(acting.session, incident_id, lock=True)
    update = IncidentUpdateRow(
        incident_id=row.id,
        text=text,
        by=acting.actor,
        at=acting.now,
        state=row.state,
        notify=notify,
    )
    acting.session.add(update)
    acting.session.flush()
    row.updated_at = acting.now
    attributes = {"update": update.id, "text": text[:EVENT_TEXT], "by": acting.actor}
    record_event(acting, row, "incident.updated", {**attributes, "notify": notify})
    record_audit(acting, "incident.update", row, before=None, after=attributes)
    if notify:
        notifications.send(acting, row, change="status update", text=text)
    return update


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskChange:
    """Fields of a task to change; ``None`` leaves one as it is (``clear_*`` empties it)."""

    title: str | None = None
    owner: str | None = None
    due: str | None = None
    done: bool | None = None
    clear_owner: bool = False
    clear_due: bool = False


def add_task(
    acting: Acting, incident_id: int, *, title: str, owner: str | None, due: str | None
) -> IncidentTaskRow:
    """Add a follow-up task to an incident."""
    row = require(acting.session, incident_id, lock=True)
    task = IncidentTaskRow(
        incident_id=row.id,
        title=title,
        owner=owner,
        due=due,
        done=False,
        done_at=None,
        created_at=acting.now,
        created_by=acting.actor,
    )
    acting.session.add(task)
    acting.session.flush()
    row.updated_at = acting.now
    attributes = {"task": task.id, "title": title, "owner": owner, "due": due}
    record_event(acting, row, "incident.task_added", attributes)
    record_audit(acting, "incident.task_add", row, before=None, after=attributes)
    return task


def get_task(session: Session, incident_id: int, task_id: int) -> IncidentTaskRow:
    """A task of an incident.

    Raises:
        IncidentNotFound: no such task on this incident.
    """
    task = session.get(IncidentTaskRow, task_id)
    if task is None or task.incident_id != incident_id:
        raise IncidentNotFound(f"incident #{incident_id} has no task {task_id}")
    return task


def change_task(
    acting: Acting, incident_id: int, task_id: int, change: TaskChange
) -> IncidentTaskRow:
    """Change a task; marking it done records ``incident.task_done``, any other change
    ``incident.task_updated``."""
    row = require(acting.session, incident_id, lock=True)
    task = get_task(acting.session, row.id, task_id)
    before = _task_state(task)
    if change.title is not None:
        task.title = change.title
    if change.owner is not None or change.clear_owner:
        task.owner = change.owner
    if change.due is not None or change.clear_due:
        task.due = change.due
    finished = change.done is True and not task.done
    if change.done is not None:
        task.done = change.done
        task.done_at = (task.done_at or acting.now) if change.done else None
    after = _task_state(task)
    if after == before:
        return task
    row.updated_at = acting.now
    changed = [k for k in after if after[k] != before[k]]
    kind = "incident.task_done" if finished else "incident.task_updated"
    record_event(acting, row, kind, {"task": task.id, "title": task.title, "changed": changed})
    record_audit(acting, "incident.task_change", row, before=before, after=after)
    return task


def _task_state(task: IncidentTaskRow) -> dict[str, object]:
    return {
        "task": task.id,
        "title": task.title,
        "owner": task.owner,
        "due": task.due,
        "done": task.done,
    }
