"""Runbook use cases: runbooks, what only the server can check, and the kill switch.

Writes are audited and journaled; nothing here commits (the request or job does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.domains.alerts import parse_matchers
from reliant.server.domains.runbooks import allowlist
from reliant.server.domains.runbooks.models import RunbookRow
from reliant.server.events import append
from reliant.server.events.models import ServerSetting
from reliant.spec.models import RunbookSpec, ShellStep

if TYPE_CHECKING:
    from reliant.server.http import Ctx

#: ``managed_by`` of runbooks written through the API and by ``reliant apply``.
MANAGED_BY_API = "api"
MANAGED_BY_SPEC = "spec"
#: Key of the kill switch in ``server_settings``.
AUTOMATION_KEY = "runbook_automation"

Loc = tuple[str | int, ...]


class RunbookError(Exception):
    """A use case refused: ``status`` and ``title`` say how the API answers."""

    status = 400
    title = "Bad Request"


class NotFound(RunbookError):
    """No such runbook, run or step."""

    status = 404
    title = "Not Found"


class Conflict(RunbookError):
    """The request clashes with the current state (e.g. nothing waits for an approval)."""

    status = 409
    title = "Conflict"


class Invalid(RunbookError):
    """The runbook or the run's parameters are invalid; ``problems`` locate each problem."""

    status = 422
    title = "Invalid Request"

    def __init__(self, problems: list[tuple[Loc, str]], prefix: str = "") -> None:
        self.problems = problems
        text = "; ".join(f"{_path(loc)}: {msg}" if loc else msg for loc, msg in problems)
        super().__init__(f"{prefix}{text}")


def _path(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# -- runbooks ----------------------------------------------------------------------------


def server_problems(
    spec: RunbookSpec, env: Mapping[str, str] | None = None
) -> list[tuple[Loc, str]]:
    """What only the server can judge: executables against its allow-list, and matchers."""
    allowed = allowlist.read(env)
    problems: list[tuple[Loc, str]] = []
    for i, step in enumerate(spec.steps):
        if isinstance(step, ShellStep) and allowed.resolve(step.command[0]) is None:
            problems.append((("steps", i, "command", 0), allowed.refusal(step.command[0])))
    for i, trigger in enumerate(spec.triggers):
        for j, text in enumerate(trigger.matchers):
            try:
                parse_matchers(text)
            except ValueError as exc:
                problems.append((("triggers", i, "matchers", j), str(exc)))
    return problems


def get(session: Session, name: str) -> RunbookRow | None:
    """The runbook named ``name``, if any."""
    return session.get(RunbookRow, name)


def require(session: Session, name: str) -> RunbookRow:
    """The runbook named ``name``.

    Raises:
        NotFound: there is none.
    """
    row = get(session, name)
    if row is None:
        raise NotFound(f"no runbook named {name!r}")
    return row


def page(
    session: Session, *, service: str | None, limit: int, after: str | None
) -> tuple[list[RunbookRow], str | None]:
    """A page of runbooks by name; the name to continue after when more follow."""
    query = select(RunbookRow).order_by(RunbookRow.name).limit(limit + 1)
    if service is not None:
        query = query.where(RunbookRow.service == service)
    if after is not None:
        query = query.where(RunbookRow.name > after)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].name if more and rows else None


def put(
    ctx: Ctx,
    name: str,
    spec: RunbookSpec,
    *,
    managed_by: str | None = None,
    must_exist: bool | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[RunbookRow, bool, bool]:
    """Create or replace a runbook.

    Args:
        managed_by: ``"spec"`` when ``reliant apply`` writes; ``None`` keeps what it was
            (``"api"`` for a new one).
        must_exist: ``True`` only replace, ``False`` only create, ``None`` either.

    Returns:
        the runbook, whether it was created, and whether anything changed.

    Raises:
        Invalid: an executable is not allowed or a matcher is malformed.
        NotFound, Conflict: against ``must_exist``.
    """
    problems = server_problems(spec, env)
    if problems:
        raise Invalid(problems, prefix=f"runbook {name!r}: ")
    row = ctx.session.get(RunbookRow, name, with_for_update=True)
    if row is None and must_exist:
        raise NotFound(f"no runbook named {name!r}")
    if row is not None and must_exist is False:
        raise Conflict(f"a runbook named {name!r} exists")
    after = spec.model_dump(mode="json")
    managed_by = managed_by or (MANAGED_BY_API if row is None else row.managed_by)
    if row is not None and row.spec == after and row.managed_by == managed_by:
        return row, False, False
    before = None if row is None else dict(row.spec)
    created = row is None
    if row is None:
        row = RunbookRow(name=name, created_at=ctx.now)
        ctx.session.add(row)
    row.service = spec.service
    row.spec = after
    row.managed_by = managed_by
    row.updated_at = ctx.now
    row.updated_by = ctx.principal.name
    ctx.audit(
        "runbook.create" if created else "runbook.update",
        "runbook",
        name,
        before=before,
        after=after,
    )
    attributes: dict[str, Any] = {"runbook": name, "managed_by": managed_by}
    if created:
        attributes.update(steps=len(spec.steps), triggers=len(spec.triggers))
    else:
        assert before is not None
        attributes["changed"] = [k for k in after if before.get(k) != after[k]]
    ctx.event(
        "runbook.created" if created else "runbook.updated",
        service=spec.service,
        attributes=attributes,
    )
    return row, created, True


def delete(ctx: Ctx, name: str) -> None:
    """Delete a runbook; its runs, active ones included, keep their copy of it.

    Raises:
        NotFound: there is no such runbook.
    """
    row = ctx.session.get(RunbookRow, name, with_for_update=True)
    if row is None:
        raise NotFound(f"no runbook named {name!r}")
    before = dict(row.spec)
    ctx.session.delete(row)
    ctx.audit("runbook.delete", "runbook", name, before=before, after=None)
    ctx.event("runbook.deleted", service=row.service, attributes={"runbook": name})


# -- the kill switch ---------------------------------------------------------------------


def automation(session: Session) -> dict[str, Any]:
    """The kill switch: ``enabled`` (automatic runs and new steps), who set it, when."""
    row = session.get(ServerSetting, AUTOMATION_KEY)
    if row is None or not isinstance(row.value.get("enabled"), bool):
        return {"enabled": True, "updated_at": None, "updated_by": None}
    return {
        "enabled": row.value["enabled"],
        "updated_at": row.updated_at,
        "updated_by": row.updated_by,
    }


def set_automation(
    session: Session, enabled: bool, *, now: float, actor: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Switch automatic runs and new steps on or off, for every replica at once.

    Returns:
        the setting before and after.
    """
    before = automation(session)
    row = session.get(ServerSetting, AUTOMATION_KEY, with_for_update=True)
    if row is None:
        row = ServerSetting(key=AUTOMATION_KEY, value={}, updated_at=now, updated_by=actor[:100])
        session.add(row)
    row.value = {"enabled": enabled}
    row.updated_at = now
    row.updated_by = actor[:100]
    session.flush()
    after = automation(session)
    if before["enabled"] != enabled:
        append(
            session,
            kind="settings.changed",
            now=now,
            source=actor[:100],
            attributes={"setting": AUTOMATION_KEY, "old": before["enabled"], "new": enabled},
        )
    return before, after
