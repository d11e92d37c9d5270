"""Routes of incident rules (``/api/v1/incident-rules``) and of the server-wide incident
receivers (``/api/v1/settings/incident-notify``, admins); included by ``api.py``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from reliant.server.domains.incidents import notifications, rulebook, schemas
from reliant.server.domains.incidents.recording import Acting, IncidentError
from reliant.server.domains.incidents.rules import RuleError
from reliant.server.http import Admin, Operator, Problem, Viewer, decode_cursor, encode_cursor
from reliant.spec.models import NAME_HINT, NAME_PATTERN, IncidentRuleSpec

router = APIRouter(tags=["incidents"])

#: Largest page of rules.
MAX_PAGE = 500
RuleName = Annotated[
    str, Path(pattern=NAME_PATTERN, max_length=100, description=f"the rule's name: {NAME_HINT}")
]


@contextmanager
def problems() -> Iterator[None]:
    """Answer the domain's errors as problem documents; a bad matcher names its field."""
    try:
        yield
    except RuleError as exc:
        raise Problem(
            422,
            "Invalid Request",
            f"{exc.where('body')}: {exc.message}",
            errors=[{"loc": ["body", *exc.path], "msg": exc.message, "type": "value_error"}],
        ) from None
    except IncidentError as exc:
        raise Problem(exc.status, exc.title, str(exc), **exc.extra) from None


@router.get("/incident-rules")
def list_rules(
    ctx: Viewer,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
) -> schemas.RulePage:
    """Incident rules by name (the order they are tried in)."""
    after = None
    if cursor:
        after = decode_cursor(cursor).get("after")
        if not isinstance(after, str) or "\x00" in after:
            raise Problem(400, "Bad Request", "the cursor is malformed: pass back `next` unchanged")
    records = rulebook.page(ctx.session, limit=limit + 1, after=after)
    more = len(records) > limit
    records = records[:limit]
    return schemas.RulePage(
        items=[schemas.rule_out(r) for r in records],
        next=encode_cursor({"after": records[-1].name}) if more else None,
    )


@router.get("/incident-rules/{name}")
def get_rule(name: RuleName, ctx: Viewer) -> schemas.RuleOut:
    """One incident rule."""
    with problems():
        return schemas.rule_out(rulebook.get(ctx.session, name))


@router.put(
    "/incident-rules/{name}", responses={201: {"model": schemas.RuleOut, "description": "Created"}}
)
def put_rule(
    name: RuleName, body: IncidentRuleSpec, ctx: Operator, response: Response
) -> schemas.RuleOut:
    """Create (201) or replace (200) an incident rule; a matcher that does not parse is a
    422 naming it (``body.matchers.1``)."""
    with problems():
        record, created = rulebook.put(Acting(ctx.session, ctx.now, ctx.principal.name), name, body)
    if created:
        response.status_code = 201
    return schemas.rule_out(record)


@router.delete("/incident-rules/{name}", status_code=204)
def delete_rule(name: RuleName, ctx: Operator) -> Response:
    """Delete an incident rule (the incidents it declared stay)."""
    with problems():
        rulebook.delete(Acting(ctx.session, ctx.now, ctx.principal.name), name)
    return Response(status_code=204)


@router.get("/settings/incident-notify")
def get_notify_setting(ctx: Admin) -> schemas.NotifySettingOut:
    """The receivers told of every incident's changes."""
    return schemas.NotifySettingOut(**notifications.setting(ctx.session).as_dict())


@router.put("/settings/incident-notify")
def put_notify_setting(body: schemas.ReceiversIn, ctx: Admin) -> schemas.NotifySettingOut:
    """Replace the receivers told of every incident's changes (besides each rule's and each
    incident's own)."""
    before, after = notifications.set_setting(
        ctx.session, body.receivers, now=ctx.now, actor=ctx.principal.name
    )
    if before.receivers != after.receivers:
        key = notifications.SETTING_KEY
        ctx.audit("settings.update", "setting", key, before=before.as_dict(), after=after.as_dict())
        ctx.event(
            "settings.changed",
            attributes={"setting": key, "old": before.receivers, "new": after.receivers},
        )
    return schemas.NotifySettingOut(**after.as_dict())
